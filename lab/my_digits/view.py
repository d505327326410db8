"""My digits in the app: "Is it right?" and Teach it on the Draw page, the My digits page, their callbacks.

The pages call `is_it_right`, `teach_it` and `page_body`; what is computed lives in lab/my_digits/digit_set.py.
"""
from __future__ import annotations

import streamlit as st

from . import digit_set as md, digits_state
from ..drawing import draw
from ..frame import actions, page
from ..plots import figures, images, words
from ..session import browser, state
from ..session.state import Key, Notice
from ..store import mnist, models
from ..training import checkpoints

SLOT = "my_digits"            # where this module's messages are shown
PAGE = "pages/6_My_digits.py"
THUMBNAIL = 2                 # 28 px enlarged to 56
SHOWN_PER_DIGIT = 60          # thumbnails per digit on the page; the rest are counted
MODEL_NAMES = {state.SHIPPED: "shipped", state.TRAINED: "trained", state.OWN: "own"}
FILE_NAME = "my_digits.npz"
EMPTY_POPOVER, FORGET_POPOVER = "my_digits_empty_popover", "forget_browser_popover"
KEPT_NAMES = {checkpoints.RUN: "your training run", checkpoints.DIGITS: "this set", checkpoints.MODEL: "your model"}


# -- the Draw page ---------------------------------------------------------------------------------

def is_it_right(answer: draw.Answer, drawing: state.Drawing) -> None:
    """Under the Draw page's answer: confirm or correct it, and the drawing joins My digits."""
    st.markdown("**Is it right?**")
    state.follow(Key.TEACH_LABEL, answer.digit, drawing.digest)
    yes, pick, fix = st.columns([3, 2.2, 2.8], vertical_alignment="bottom")
    yes.button(f"Yes, it is {words.article(answer.digit)}", icon=":material/check:", on_click=confirm,
               args=(answer.digit,), key="confirm_digit")
    pick.selectbox("The right digit is", range(10), key=Key.TEACH_LABEL)
    fix.button("Correct it", icon=":material/edit:", on_click=correct, key="correct_digit")
    page.show(state.take_notice(SLOT))
    digits = digits_state.my_digits()
    known = digits.label_of(drawing.x)
    if known is not None:
        st.markdown(f"This drawing is in **My digits** as {words.article(known)}; the set holds "
                    f"{words.count(len(digits), 'drawing')}.")
        st.page_link(PAGE, label="See My digits and fine-tune on them", icon=":material/collections_bookmark:")
    else:
        st.caption("Either answer adds the drawing to *My digits*, your own labelled set: see what each model "
                   "reads, keep it as a file, and fine-tune on it there.")


def teach_it(drawing: state.Drawing) -> None:
    """Teach it: one SGD step on the drawing, labelled as chosen under the answer, and what it cost."""
    st.subheader("Teach it")
    label = state.widget_value(Key.TEACH_LABEL)
    st.caption(f"One SGD step, θ ← θ − η∇θ, on this drawing alone, labelled {label} (the digit chosen under "
               "the prediction). The updated copy becomes your model; the shipped weights are never changed. "
               "One drawing is no average over a batch: a large η moves the whole network, so what the step "
               "costs on the 10,000 MNIST test digits is shown.")
    rate, go = st.columns([6, 2], vertical_alignment="bottom")
    rate.slider("Step size η", *md.LESSON_LR_RANGE, step=0.001, format="%.3f", **state.kept(Key.TEACH_LR))
    go.button("Teach it", icon=":material/school:", on_click=actions.teach_drawing, type="primary")
    lesson = digits_state.teach_result()
    if lesson is not None and lesson.digest == drawing.digest:
        st.plotly_chart(figures.before_after(lesson.before, lesson.after, lesson.label), config=page.PLOT,
                        key="lesson")
        st.caption(f"p({lesson.label}) went from {lesson.before[lesson.label]:.1%} "
                   f"to {lesson.after[lesson.label]:.1%}.")
        cost_line(lesson.cost)


def cost_line(cost: md.Cost | None) -> None:
    """What one lesson did to MNIST test accuracy, in a warning when it cost more than fine-tuning may."""
    if cost is None:
        st.caption("Its price on MNIST test is not known: MNIST is not downloaded.")
        return
    text = (f"MNIST test accuracy: {cost.test_before:.2%} → {cost.test_after:.2%} "
            f"({-cost.drop_points:+.2f} points).")
    if cost.drop_points > 100 * md.MAX_TEST_DROP:
        st.warning(f"{text} That one lesson cost more than {100 * md.MAX_TEST_DROP:.1f} points: "
                   "a smaller η, or fine-tuning on My digits, teaches with less damage.", icon=":material/warning:")
    else:
        st.markdown(text)


# -- the My digits page ------------------------------------------------------------------------------

def page_body() -> None:
    digits = digits_state.my_digits()
    st.caption("The drawings you confirmed or corrected on the Draw page, with the digit you said they are. "
               "See what each model reads, keep the set as a file, and fine-tune a model on it.")
    # One container each for the parts whose length varies, so the uploader below keeps its place in the
    # page's tree: a widget that moves is drawn anew, and a file dropped on the old copy during the rerun
    # was lost (seen in CI after "Remove the last one").
    page.show(state.take_notice(SLOT), where=st.container())
    with st.container():
        if not len(digits):
            st.info("No drawings yet. On the Draw page, answer *Is it right?* below the prediction and the "
                    "drawing comes here; or load a set you saved before.", icon=":material/draw:")
        else:
            _readings(digits)
    _file(digits)
    if len(digits):
        _fine_tune(digits)
    _kept_on_server()


def _models() -> dict[str, models.ModelRef]:
    """Every model this session has, by source."""
    found = {state.SHIPPED: models.shipped()}
    trained = state.trained_model()
    if trained is not None:
        found[state.TRAINED] = trained
    if state.own_model() is not None:
        found[state.OWN] = state.own_model()
    return found


def _readings(digits: md.DigitSet) -> None:
    refs = _models()
    answers = {source: md.answers(ref.model, digits) for source, ref in refs.items()}
    st.subheader(f"{words.count(len(digits), 'drawing')}: what each model reads")
    st.markdown("\n".join(f"- **{MODEL_NAMES[s]}**: reads {int((answers[s] == digits.y).sum())} of {len(digits)} "
                          f"right ({md.accuracy(ref.model, digits):.0%}) · {ref.label}" for s, ref in refs.items()))
    st.caption("Under each drawing: what " + ", ".join(f"**{MODEL_NAMES[s][0].upper()}** = {MODEL_NAMES[s]}"
                                                       for s in refs) + " reads; ✗ marks a misreading.")
    for digit, indices in digits.by_digit().items():
        shown = indices[-SHOWN_PER_DIGIT:]
        right = {s: int((a[indices] == digit).sum()) for s, a in answers.items()}
        st.markdown(f"**{digit}** · {words.count(len(indices), 'drawing')} · "
                    + " · ".join(f"{MODEL_NAMES[s]} {right[s]}/{len(indices)}" for s in refs))
        st.image([images.digit(digits.x[i], THUMBNAIL) for i in shown],
                 caption=[" ".join(f"{MODEL_NAMES[s][0].upper()}{a[i]}{'' if a[i] == digit else '✗'}"
                                   for s, a in answers.items()) for i in shown])
        if len(indices) > len(shown):
            st.caption(f"and {words.count(len(indices) - len(shown), 'older one')}")


def _file(digits: md.DigitSet) -> None:
    st.subheader("Keep it")
    save, load = st.columns(2, gap="large")
    save.download_button(f"Download the set ({words.count(len(digits), 'drawing')})",
                         data=md.to_bytes(digits) if len(digits) else b"", file_name=FILE_NAME,
                         mime="application/octet-stream", icon=":material/download:",
                         disabled=not len(digits), on_click="ignore", key="my_digits_download")
    save.caption("A plain .npz: x (n,784) inputs in [0,1], y (n,) digits, and the canvas strokes.")
    undo, empty = save.columns(2)
    undo.button("Remove the last one", icon=":material/undo:", on_click=remove_last, disabled=not len(digits),
                key="my_digits_remove_last")
    # on_change and a key let the callback close it: left open, it covered the message that followed.
    with empty.popover("Empty the set", icon=":material/delete:", disabled=not len(digits), key=EMPTY_POPOVER,
                       on_change="rerun"):
        st.button(f"Yes, remove {words.count(len(digits), 'drawing')}", on_click=empty_set, key="my_digits_empty")
    load.file_uploader("Load a set (.npz); its drawings join yours", type=["npz"], key=Key.MY_DIGITS_UPLOAD,
                       on_change=load_set, max_upload_size=max(1, md.MAX_BYTES // 2**20))
    uploaded = state.widget_value(Key.MY_DIGITS_UPLOAD)
    if uploaded is not None:
        page.show(state.upload_outcome(uploaded.file_id, Key.MY_DIGITS_UPLOAD_OUTCOME), where=load)


def _fine_tune(digits: md.DigitSet) -> None:
    st.subheader("Fine-tune on it")
    ref = state.model_in_use()
    defaults = md.FineTuneSettings()
    st.caption(f"A few epochs of SGD on My digits starting from the model in use ({ref.label}). Each batch "
               f"holds {defaults.mine_per_batch} of your drawings and {defaults.replay_per_batch} MNIST training "
               "digits, so the network learns your hand without forgetting everyone else's. An epoch that "
               f"would cost more than {100 * md.MAX_TEST_DROP:.1f} points of MNIST test accuracy is undone. "
               "The result becomes your model; the model it started from is not changed.")
    epochs, rate, go = st.columns([3, 3, 2], vertical_alignment="bottom")
    epochs.slider("Epochs over My digits", *md.FineTuneSettings.LIMITS["epochs"], **state.kept(Key.FINE_TUNE_EPOCHS))
    rate.select_slider("Step size η", [0.01, 0.02, 0.05, 0.1, 0.2], **state.kept(Key.FINE_TUNE_LR))
    ready = mnist.is_ready()
    clicked = go.button("Fine-tune", icon=":material/tune:", type="primary", disabled=not ready,
                        key="fine_tune")
    if not ready:
        st.info("Fine-tuning mixes in MNIST digits, which are not downloaded yet: press Start on the Train page "
                "once to fetch them (about 11 MB).", icon=":material/cloud_download:")
    if clicked and ready:
        _run_fine_tune(ref, digits)
    done = digits_state.fine_tune_result()
    if done is not None:
        _show_fine_tune(*done)


def _run_fine_tune(ref: models.ModelRef, digits: md.DigitSet) -> None:
    """Fine-tune here, in the page's run, with a progress bar; the result becomes the own model, in use."""
    settings = md.FineTuneSettings(epochs=int(state.widget_value(Key.FINE_TUNE_EPOCHS)),
                                   lr=float(state.widget_value(Key.FINE_TUNE_LR)))
    bar = st.progress(0.0, text="Fine-tuning: measuring where it starts…")
    try:
        result = md.fine_tune(ref.model, digits, mnist.load("train"), mnist.load("test"), settings,
                              progress=lambda fraction, text: bar.progress(fraction, text=f"Fine-tuning: {text}"))
    except (ValueError, OSError, mnist.idx.MnistError) as e:
        bar.empty()
        st.error(f"Fine-tuning did not run: {e}. Nothing changed.", icon=":material/error:")
        return
    bar.empty()
    base = models.taught_from(ref)
    tuned = result.model
    tuned.meta.update(taught_from=base, test_accuracy=result.test_after, fine_tuned_on=len(digits),
                      fine_tune=dict(epochs=result.epochs_done, lr=settings.lr, mine_per_batch=settings.mine_per_batch,
                                     replay_per_batch=settings.replay_per_batch))
    label = f"Your model: {base} fine-tuned on {len(digits)} of my digits ({result.test_after:.1%} test accuracy)"
    browser.adopt_model(models.new_ref(tuned, label, prefix="tuned"))
    digits_state.set_fine_tune_result((ref.label, len(digits), result._replace(model=None)))
    st.rerun()   # the sidebar and the readings above now show the new model


def _show_fine_tune(started_from: str, size: int, result: md.FineTuneResult) -> None:
    st.markdown(f"**Fine-tuned** {started_from} on {words.count(size, 'drawing')}: it is now your model, in use.")
    st.dataframe([{"": "My digits", "before": f"{result.mine_before:.1%}", "after": f"{result.mine_after:.1%}"},
                  {"": "MNIST test", "before": f"{result.test_before:.2%}", "after": f"{result.test_after:.2%}"}],
                 hide_index=True, key="fine_tune_table")
    drop = result.drop_points
    st.markdown(f"MNIST test moved by {-drop:+.2f} points (at most {100 * md.MAX_TEST_DROP:.1f} allowed), "
                f"after {words.count(result.epochs_done, 'epoch')}.")
    if result.note:
        st.warning(f"Fine-tuning {result.note}.", icon=":material/warning:")


def _kept_on_server() -> None:
    """What this browser keeps on the server, and the button that forgets it."""
    st.subheader("Kept on this server")
    kept = checkpoints.kept(browser.token())
    what = ", ".join(KEPT_NAMES[kind] for kind in kept) if kept else "nothing yet"
    st.caption(f"So that a reload or a server restart loses nothing, the server keeps, for this browser only "
               f"(a random token in a cookie): {what}. When the server's share for browsers fills up, the "
               "longest unused go first; or forget it now:")
    with st.popover("Forget what this browser keeps", icon=":material/delete_forever:", key=FORGET_POPOVER,
                    on_change="rerun"):
        st.button("Yes, forget my run, My digits and my model", on_click=actions.forget_browser,
                  args=(FORGET_POPOVER,), key="forget_browser", type="primary")


# -- callbacks ------------------------------------------------------------------------------------------

@state.callback
def confirm(label: int) -> None:
    """"Yes, it is a d": the drawing joins My digits as what the network read."""
    _add(label)


@state.callback
def correct() -> None:
    """"Correct it": the drawing joins My digits as the digit chosen."""
    _add(int(state.widget_value(Key.TEACH_LABEL)))


def _add(label: int) -> None:
    drawing = state.drawing()
    if drawing is None:
        return
    try:
        digits = digits_state.my_digits().add(drawing.x, label, drawing.strokes)
    except ValueError as e:
        return state.set_notice(Notice("error", f"Not added: {e}."), SLOT)
    browser.keep_my_digits(digits)
    state.set_notice(Notice("success", f"Added to My digits as {words.article(label)}."), SLOT)


@state.callback
def load_set() -> None:
    """On-change of the set uploader: a good file's drawings join the set; a bad one leaves it as it was."""
    uploaded = state.widget_value(Key.MY_DIGITS_UPLOAD)
    if uploaded is None or state.upload_outcome(uploaded.file_id, Key.MY_DIGITS_UPLOAD_OUTCOME) is not None:
        return
    mine = digits_state.my_digits()
    try:
        loaded = md.from_bytes(uploaded.getvalue())
        merged = mine.merged(loaded)
    except ValueError as e:   # md.SetError is one
        outcome = Notice("error", f"That file was not loaded: {words.plain(e)}. Your set is unchanged "
                                  f"({words.count(len(mine), 'drawing')}).")
    else:
        browser.keep_my_digits(merged)
        outcome = Notice("success", f"Loaded {words.count(len(loaded), 'drawing')}; the set now holds {len(merged)}.")
    state.set_upload_outcome(uploaded.file_id, outcome, Key.MY_DIGITS_UPLOAD_OUTCOME)


@state.callback
def remove_last() -> None:
    digits = digits_state.my_digits()
    if len(digits):
        browser.keep_my_digits(digits.without(len(digits) - 1))
        state.set_notice(Notice("info", "Removed the last drawing."), SLOT)


@state.callback
def empty_set() -> None:
    browser.keep_my_digits(md.DigitSet())
    state.close_popover(EMPTY_POPOVER)
    state.set_notice(Notice("info", "My digits is empty."), SLOT)
