"""Train: train a fresh network on MNIST in the background and watch the loss fall."""
import streamlit as st

from lab.frame import actions, mnist_panel, page
from lab.plots import words
from lab.session import state
from lab.session.state import Key
from lab.store import mnist, user_weights
from lab.training import describe, runner, train_session, train_state, train_view
from mlp.train import Config

model = page.frame("Train", ":material/model_training:", needs_model=False)   # None: Save offers the run only
REFRESH_EVERY = 1.0   # seconds between redraws while training
SLOW_MOTION = (0.0, 0.05, 0.2, 0.5, 1.0)   # seconds of pause after each step

st.caption("Minibatch SGD from scratch in NumPy, in a background thread: it keeps going while you look at "
           "other pages, and the Draw page can use the model while it learns.")

run = state.runner()
status = run.status() if run is not None else None
active = status is not None and status.active
train_state.set_rendered_phase(status.phase if status else None)
for note in train_session.read_link():
    st.warning(f"A setting in the link was not used: {note}.", icon=":material/link_off:")

# -- settings ---------------------------------------------------------------------
for column, (name, field) in zip(st.columns(len(train_state.TRAIN_FIELDS)), train_state.TRAIN_FIELDS.items()):
    low, high = Config.LIMITS[name]
    number = dict(step=0.01, format="%g") if isinstance(low, float) else dict(step=1)
    column.number_input(field.label, min_value=low, max_value=high, **state.kept(Key.train(name)),
                        disabled=active, help=field.help, **number)
motion, link = st.columns([2, 3], vertical_alignment="bottom")
motion.select_slider("Slow motion", SLOW_MOTION, key=Key.SLOW_MOTION, on_change=actions.set_slow_motion,
                     format_func=lambda s: "off" if s == 0 else f"{words.number(s)} s a step",
                     help="Pause after every SGD step, so a short run can be watched step by step. "
                          "Takes effect at once, also on a running run.")
link.caption("The address bar holds these settings: copy it to share them, and the link opens this page with them.")
train_session.write_link()

# -- controls -----------------------------------------------------------------------
buttons = st.columns(6)
buttons[0].button("Start", icon=":material/play_arrow:", type="primary", on_click=actions.start,
                  disabled=active, width="stretch")
buttons[1].button("Pause", icon=":material/pause:", on_click=actions.pause,
                  disabled=status is None or status.phase != runner.RUNNING, width="stretch")
buttons[2].button("Resume", icon=":material/resume:", on_click=actions.resume,
                  disabled=status is None or status.phase != runner.PAUSED, width="stretch")
buttons[3].button("Stop", icon=":material/stop:", on_click=actions.stop, disabled=not active,
                  width="stretch")
buttons[4].button("Reset", icon=":material/restart_alt:", on_click=actions.reset, disabled=run is None,
                  width="stretch", help="Stop and discard this run and its weights.")
buttons[5].button("Use on Draw", icon=":material/draw:", on_click=actions.use_trained,
                  disabled=run is None or run.snapshot() is None or state.model_source() == state.TRAINED,
                  width="stretch", help="Answer with the model being trained on every page.")

page.show(state.take_notice())
conflict = train_state.link_conflict()
if conflict is not None and run is not None:
    st.info(train_session.conflict_message(conflict, run), icon=":material/link:")
    if conflict.applied == "run":
        st.button("Use the link's settings", icon=":material/link:", on_click=actions.use_link_settings)
    else:
        st.button("Use my run's settings", icon=":material/history:", on_click=actions.use_run_settings)
# Continue has a row of its own: a seventh button beside the six cut their labels off at 1280 px.
resume_with = train_session.continue_config(run) if run is not None else None
if resume_with is not None:
    left = status.epochs - status.epoch
    diverged = status.phase == runner.DIVERGED
    st.button(f"Continue: {left} epoch{'s' if left != 1 else ''} left at η {resume_with.lr:g}",
              icon=":material/fast_forward:", on_click=actions.continue_run,
              help="Train the epochs this run had left, from its weights as they were, with its settings"
                   + (f", but η {resume_with.lr:g}: at η {run.config.lr:g} it diverged." if diverged else "."))
if status is not None and status.phase == runner.DIVERGED:
    st.error(status.message or "Training diverged; the last good weights are kept.", icon=":material/trending_up:")
    if run.checkpoint_restored:
        st.caption(f"Continuing at η {run.config.lr:g} would diverge again: continue at a smaller η, or change the "
                   "settings and press Start for a fresh run.")
elif status is not None and status.phase == runner.FAILED:
    st.error(f"Training could not start: {status.message}")
    st.button("Try again" if mnist.is_ready() else "Fetch again", icon=":material/refresh:", on_click=actions.start)
elif status is not None and status.phase in (runner.STOPPED, runner.ORPHANED) and status.message:
    st.info(status.message)
elif status is not None and status.phase == runner.FINISHED:
    st.success(f"{describe.run(status)} Press “Use on Draw” to answer with it on every page.")
elif status is None:
    if mnist.is_ready():
        epochs = train_state.train_settings()["epochs"]
        st.info(f"MNIST is on disk. Press Start to train {words.count(epochs, 'epoch')} "
                "and watch the curves grow; Stop ends it early.")
    elif mnist.damaged():
        mnist_panel.offer_fetch("")   # names the refused files; Start would also fetch them again first
    else:
        st.info("MNIST (about 11 MB) is not downloaded yet: it is fetched when you press Start.")


# -- live view ------------------------------------------------------------------------
def live() -> None:
    """Redraws itself while training; a change of phase redraws the whole page (buttons, messages)."""
    run = state.runner()
    if run is None:
        return
    run.touch()
    status = run.status()
    if status.phase != train_state.rendered_phase():
        st.rerun()
    if status.phase == runner.FETCHING:
        st.progress(status.fetch_fraction or 0.0,
                    text=f"Fetching MNIST (first use only): {status.fetch_step} {status.fetch_fraction or 0:.0%}")
        return
    if status.phase == runner.STARTING:
        st.progress(0.0, text="Loading MNIST…")
        return
    rate = f" · {status.samples_per_second:,.0f} samples/s" if status.samples_per_second else ""
    eta = f" · ETA {status.eta_seconds:.0f} s" if status.eta_seconds is not None else ""
    st.progress(min(status.fraction, 1.0),
                text=f"epoch {min(status.epoch + 1, status.epochs)}/{status.epochs} · "
                     f"steps: {status.steps:,}/{status.total_steps:,}{rate}{eta}")
    if status.steps == 0:
        return
    loss, accuracy = st.columns(2)
    loss.plotly_chart(train_view.loss_curve(status, run.config, train_state.earlier_runs()), config=page.PLOT,
                      key="loss_curve")
    if status.test_accuracy:
        accuracy.plotly_chart(train_view.accuracy_curve(status), config=page.PLOT, key="accuracy_curve")
    elif status.active:
        accuracy.info("Test and training accuracy appear after the first epoch.")
    else:
        accuracy.info("No epoch was completed, so there is no accuracy to show.")
    if status.dead_units:
        loss.caption(f"Dead units (a1 ≤ 0 on all of 10,000 training images, so no gradient reaches them) after "
                     f"epoch {len(status.dead_units)}: {status.dead_units[-1]} of {run.config.hidden}. "
                     "A learning rate of 1 shows units dying.")


st.fragment(live, run_every=REFRESH_EVERY if active else None)()

# -- weights in and out -------------------------------------------------------------------
st.subheader("Weights")
save, load = st.columns(2)
trained = run is not None and run.snapshot() is not None
contents = actions.weights_file(run if trained else None, model)
if contents is not None:
    save.download_button(f"Save weights ({'from this run' if trained else 'model in use'})", data=contents,
                         file_name="mlp_weights.npz", mime="application/octet-stream",
                         icon=":material/download:", on_click="ignore")
    save.caption(("The run's weights at the moment you click. " if trained else f"{model.label}. ")
                 + "Load the file here later, or with `mlp.weights.load`.")
    # The name and its button one under the other: side by side the button's label was cut off at 1280 px.
    save.text_input("Name", key=Key.SAVE_NAME, max_chars=user_weights.MAX_NAME, placeholder="e.g. five-epochs",
                    help="Letters, digits, '-', '_' and '.'; an existing file is never replaced.")
    save.button("Save to the weights folder", icon=":material/save:", on_click=actions.save_to_folder,
                width="stretch", help="On the server, in the app's weights folder, for anyone using this app.")
load.file_uploader("Load weights (.npz)", type=["npz"], key=Key.UPLOAD, on_change=actions.load_upload,
                   max_upload_size=actions.MAX_UPLOAD_MB,
                   help="A file saved by this app or by `python -m mlp.train --out`.")
uploaded = state.widget_value(Key.UPLOAD)
page.show(state.upload_outcome(uploaded.file_id) if uploaded is not None else None, where=load)
saved = user_weights.saved()
if saved:
    pick, go = load.columns([3, 2], vertical_alignment="bottom")
    pick.selectbox("Or one from the weights folder", saved, key=Key.SAVED_PICK)
    go.button("Load", icon=":material/upload_file:", on_click=actions.load_saved, width="stretch")
page.show(state.take_notice(state.WEIGHTS))
