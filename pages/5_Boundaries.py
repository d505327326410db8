"""Boundaries: softmax regression beside the MLP on points in the plane, trained live; then on MNIST."""
from urllib.parse import urlencode

import streamlit as st

from lab.boundaries import boundaries_state as bd, figures as boundary_figures, side_by_side as boundaries, toy
from lab.frame import mnist_panel, page
from lab.plots import words
from lab.session import state

page.frame("Boundaries", ":material/scatter_plot:", needs_model=False)
PLOT = page.PLOT

st.markdown(
    "Why does a network need a hidden layer? Below, **softmax regression** (the MLP without its hidden "
    "layer: `z = x W + b`, `p = softmax(z)`) and **the MLP** (`2 → h ReLU → 2`, the same engine as the digit "
    "reader) learn to tell orange points from blue ones with the same SGD steps. The shading is what each "
    "model answers at every spot of the plane; the black line is its border, where it is 50/50.")

bd.boundaries_prepare(st.query_params)
with st.container(border=True):
    data, noise, points, seed = st.columns([2.1, 1, 1, 0.7], gap="medium")
    data.radio("Data", list(toy.MAKERS), format_func=toy.NAMES.get, horizontal=True,
               **state.kept(bd.boundaries_widget_key("data")))
    noise.slider("Noise", *boundaries.LIMITS["noise"], step=0.05, **state.kept(bd.boundaries_widget_key("noise")))
    points.slider("Points", *boundaries.LIMITS["points"], step=20, **state.kept(bd.boundaries_widget_key("points")))
    seed.number_input("Seed", *boundaries.LIMITS["seed"], step=1, **state.kept(bd.boundaries_widget_key("seed")),
                      help="Chooses the points and the initial weights.")
    hidden, lr, controls = st.columns([1.6, 1, 2.3], gap="medium", vertical_alignment="bottom")
    hidden.slider("Hidden units of the MLP", *boundaries.LIMITS["hidden"],
                  **state.kept(bd.boundaries_widget_key("hidden")),
                  help="Softmax regression has none.")
    lr.select_slider("Learning rate η", boundaries.LEARNING_RATES, format_func=words.number,
                     **state.kept(bd.boundaries_widget_key("lr")), help="May be changed while training.")

settings = bd.boundaries_settings()
bd.boundaries_commit(settings, st.query_params)
playing = bd.boundaries_playing()
with controls:
    play, step, reset = st.columns(3)
    play.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                key="bd_play", type="primary", on_click=bd.boundaries_set_playing,
                args=(not playing,), width="stretch")
    step_clicked = step.button("Step", key="bd_step", disabled=playing, width="stretch",
                               help=f"{boundaries.STEPS_PER_TICK} SGD steps")
    reset.button("Reset", key="bd_reset", on_click=bd.boundaries_reset, width="stretch",
                 help="Back to step 0: the same points and initial weights")
    st.toggle("Hidden units' lines", **state.kept(state.Key.BD_SHOW_LINES),
              help="Dotted on the MLP's plot: where each hidden unit j switches on (a1_j = 0).")
for note in bd.boundaries_link_notes(settings):
    st.warning(note, icon=":material/link_off:")


def diverged_note(models: list[str]) -> str:
    return (f"{' and '.join(models)} diverged at η = {words.number(settings.lr)}: the weights stopped being finite, "
            "so they were put back and training paused. Choose a smaller η.")


if step_clicked and (diverged := bd.boundaries_side(settings).train(boundaries.STEPS_PER_TICK, settings.lr)):
    bd.boundaries_pause(diverged_note(diverged))


def live() -> None:
    """The part that trains and redraws; reruns on its own every boundaries.TICK seconds while playing."""
    side = bd.boundaries_side(settings)
    if bd.boundaries_playing():
        diverged = side.train(boundaries.STEPS_PER_TICK, settings.lr)
        if diverged or bd.boundaries_should_pause(side.steps):
            bd.boundaries_pause(diverged_note(diverged) if diverged else
                                 f"Paused after {bd.BOUNDARIES_PLAY_CHUNK:,} steps; press Play to go on.")
            st.rerun(scope="app")
    if bd.boundaries_notice():
        st.info(bd.boundaries_notice())
    record = side.history[-1]
    axis = side.axis()
    linear_column, mlp_column = st.columns(2, gap="large")
    with linear_column:
        st.metric("Softmax regression · training accuracy", f"{record.linear:.1%}", "no hidden layer",
                  delta_color="off", delta_arrow="off", border=True)
        st.plotly_chart(boundary_figures.regions(axis, side.regions(boundaries.LINEAR), side.X, side.y,
                                                 "Softmax regression: one straight border"),
                        config=PLOT, key="bd_linear_regions")
    with mlp_column:
        st.metric(f"MLP ({settings.hidden} hidden) · training accuracy", f"{record.mlp:.1%}",
                  f"{record.mlp - record.linear:+.1%} vs softmax regression", delta_arrow="off", border=True)
        lines = side.unit_lines() if bd.boundaries_show_lines() else None
        st.plotly_chart(boundary_figures.regions(axis, side.regions(boundaries.NETWORK), side.X, side.y,
                                                 "MLP: a border that bends", lines),
                        config=PLOT, key="bd_mlp_regions")
    counter, race = st.columns([1.2, 4], gap="large", vertical_alignment="center")
    counter.metric("SGD steps", f"{side.steps:,}", help="Full batch: every step sees every point.")
    race.plotly_chart(boundary_figures.accuracy_race([r.steps for r in side.history],
                                                     [r.linear for r in side.history],
                                                     [r.mlp for r in side.history]),
                      config=PLOT, key="bd_race")


st.fragment(live, run_every=boundaries.TICK if playing else None)()

explain_linear, explain_mlp = st.columns(2, gap="large")
with explain_linear:
    st.markdown("#### Why a straight line cannot separate XOR")
    st.markdown(
        "Softmax regression gives each class a score that is linear in the point, `z_c = x·w_c + b_c`. "
        "It answers orange where `z₁ − z₀ = x·w + b > 0`, so its border is always one straight line.\n\n"
        "XOR puts orange at the corners (1, 1) and (−1, −1) and blue at (1, −1) and (−1, 1). Orange at both "
        "means `w₁ + w₂ + b > 0` and `−w₁ − w₂ + b > 0`; adding them, `b > 0`. Blue at both means "
        "`w₁ − w₂ + b < 0` and `−w₁ + w₂ + b < 0`; adding them, `b < 0`. Both cannot hold: **no line** does it. "
        "The best line gets three corners of four (75%); softmax regression, which minimises cross-entropy "
        "rather than mistakes, settles near 50%.")
with explain_mlp:
    st.markdown("#### What each hidden unit adds")
    st.markdown(
        "Hidden unit *j* computes `h_j = ReLU(x·W1[:, j] + b1[j])`: zero on one side of its dotted line, a "
        "ramp rising on the other. The output scores `z = h W2 + b2` are sums of these ramps, so the border "
        "can **bend where it crosses a dotted line** and is straight in between.\n\n"
        "- **1 unit**: one ramp, one bend at most: still no better than a line on XOR.\n"
        "- **2–4 units**: enough folds to cut the plane into the four XOR corners.\n"
        "- **Circles** need a closed border (≈ 3+ pieces); the **spiral** needs many units and many steps.\n"
        "- **η = 3** makes steps too big: watch units die (their line leaves the plot) or training diverge.")

st.divider()
st.subheader("On real digits")
with st.spinner("Training softmax regression and the MLP on MNIST (once per server, a few seconds)…"):
    comparison = boundaries.mnist_comparison()
if comparison is None:
    mnist_panel.offer_fetch("Comparing the two models on digits needs MNIST, which is not downloaded yet.")
else:
    linear_metric, mlp_metric, gap_metric = st.columns(3)
    linear_metric.metric("Softmax regression · test accuracy", f"{comparison.linear:.2%}", border=True)
    mlp_metric.metric(f"MLP ({comparison.hidden} hidden) · test accuracy", f"{comparison.mlp:.2%}", border=True)
    gap_metric.metric("Test errors: softmax regression → MLP",
                      f"{1 - comparison.linear:.1%} → {1 - comparison.mlp:.1%}", border=True)
    st.markdown(
        f"**An MLP learns non-linear boundaries, unlike logistic regression.** Both were trained here on the "
        f"60,000 training digits with the same plain SGD ({comparison.epochs} epochs, batch {comparison.batch}, "
        f"η = {words.number(comparison.lr)}) and scored on the 10,000 test digits. Softmax regression can only cut the "
        f"784-dimensional pixel space with flat walls, one score per digit linear in the pixels; the MLP's "
        f"{comparison.hidden} hidden units first build features (strokes, loops) whose combinations bend the "
        f"walls around the digits.")

st.divider()
st.markdown("#### Share this setting")
st.caption("The address bar holds the settings, so a copy of it reproduces this experiment "
           "(as in TensorFlow Playground):")
st.code("?" + urlencode(boundaries.to_query(settings)), language=None)
