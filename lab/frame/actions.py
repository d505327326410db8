"""What the buttons do (on-click/on-change callbacks, each wrapped by state.callback): Train, Teach it, Clear."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from mlp import weights
from mlp.model import MLP

from ..drawing import draw
from ..insight import evaluate
from ..my_digits import digit_set as my_digits, digits_state
from ..plots import words
from ..session import browser, state
from ..session.state import Key, Notice
from ..store import mnist, models, user_weights
from ..training import checkpoints, train_session, train_state, train_view
from ..training.runner import TrainingBusy, TrainingRunner

MAX_UPLOAD_MB = weights.MAX_BYTES // 2**20


@state.callback
def start() -> None:
    """Start a new run with the page's settings (replacing a finished one).

    If the pages answer with the Train page's model, they now follow the new run as it learns.
    """
    current = state.runner()
    if current is not None and current.alive:
        return
    try:
        config = train_state.train_config()
    except ValueError as e:
        return _cannot_start(e)
    _launch(config)


@state.callback
def continue_run() -> None:
    """Continue a run shown again from its checkpoint, for the epochs it had left (a diverged one at a
    smaller η: train_session.continue_config)."""
    current = state.runner()
    config = train_session.continue_config(current) if current is not None else None
    checkpoint = current.checkpoint() if config is not None else None
    if checkpoint is not None:
        _launch(config, resume_from=replace(checkpoint, config=config))
        if state.runner() is not current:   # it started: the fields show what it trains with
            train_state.set_train_settings(train_session.settings_of(config))


def _cannot_start(reason: ValueError) -> None:
    state.set_notice(Notice("error", f"Cannot start: {reason}."))


def _launch(config, resume_from=None) -> None:
    token = browser.token()
    try:   # the constructor checks the settings and their budget
        run = TrainingRunner(config, connected=train_session.session_connected(), step_delay=train_state.slow_motion(),
                             on_checkpoint=lambda checkpoint: checkpoints.save(token, checkpoint),
                             resume_from=resume_from)
    except ValueError as e:
        return _cannot_start(e)
    try:
        run.start()
    except TrainingBusy as e:
        return state.set_notice(Notice("warning", str(e)))
    _retire(state.runner())
    state.set_runner(run)
    train_session.follow(token, run)
    state.set_notice(None)
    train_state.set_link_conflict(None)


def _retire(run: TrainingRunner | None) -> None:
    """Keep a replaced run's curve to overlay on the next ones."""
    if run is not None:
        summary = train_view.summarise(run.config, run.status())
        train_state.set_earlier_runs(train_view.remember(train_state.earlier_runs(), summary))


@state.callback
def set_slow_motion() -> None:
    """On-change of Slow motion: it takes effect on the run at once, and on the next ones."""
    state.keep(Key.SLOW_MOTION)
    if state.runner() is not None:
        state.runner().step_delay = train_state.slow_motion()


@state.callback
def teach_drawing() -> None:
    """Teach it: one SGD step on the current drawing; the result becomes the session's own model, in use,
    and what the step cost on MNIST test is kept with it."""
    drawing = state.drawing()
    if drawing is None:
        return
    ref = state.model_in_use()
    label, lr = int(state.widget_value(Key.TEACH_LABEL)), float(state.widget_value(Key.TEACH_LR))
    taught, before, after = draw.teach(ref, drawing.x, label, lr)
    scored = evaluate.evaluate(ref)   # cached per model: only the taught copy is measured here
    cost = my_digits.test_cost(ref.model, taught, mnist.test_set(), scored.accuracy if scored is not None else None)
    lessons = int(ref.model.meta.get("lessons", 0)) + 1
    base = models.taught_from(ref)
    taught.meta.update(lessons=lessons, taught_from=base)
    name = f"Your model: {base} + {lessons} lesson{'s' if lessons > 1 else ''}"
    browser.adopt_model(models.new_ref(taught, name, prefix="taught"))
    digits_state.set_teach_result(digits_state.TeachResult(drawing.digest, label, before, after, cost))


@state.callback
def pause() -> None:
    if (run := state.runner()) is not None:
        run.pause()


@state.callback
def resume() -> None:
    if (run := state.runner()) is not None:
        run.resume()


@state.callback
def stop() -> None:
    if (run := state.runner()) is not None:
        run.stop()


@state.callback
def reset() -> None:
    """Stop and forget the run (its weights and its checkpoint too; its curve stays as an earlier run)."""
    _discard_run()
    state.set_notice(None)


def _discard_run() -> None:
    run = state.runner()
    if run is not None:
        run.abandon()   # its thread keeps no checkpoint after this
    _retire(run)
    checkpoints.forget(browser.token(), checkpoints.RUN)
    train_session.let_go(browser.token())
    state.set_runner(None)
    train_state.set_link_conflict(None)
    if state.model_source() == state.TRAINED:
        state.set_model_source(state.SHIPPED)


@state.callback
def forget_browser(popover_key: str) -> None:
    """Forget everything this browser keeps on the server: its run (stopped), My digits and its own model."""
    _discard_run()
    browser.keep_my_digits(my_digits.DigitSet())
    state.drop_own_model()
    checkpoints.forget(browser.token())
    state.close_popover(popover_key)
    state.set_notice(Notice("info", "Forgotten: this browser's run, My digits set and model are no longer kept "
                                    "on the server."), state.KEPT)


@state.callback
def use_link_settings() -> None:
    train_session.apply_conflict_side("link")


@state.callback
def use_run_settings() -> None:
    train_session.apply_conflict_side("run")


@state.callback
def use_trained() -> None:
    state.set_model_source(state.TRAINED)


@state.callback
def load_upload() -> None:
    """On-change of the weights uploader: a good file becomes the session's own model, in use.

    A bad one is refused with mlp.weights' message and the model in use stays as it was.
    """
    uploaded = state.widget_value(Key.UPLOAD)
    if uploaded is None or state.upload_outcome(uploaded.file_id) is not None:
        return
    name = words.plain(uploaded.name)   # a stranger's file name, shown as Markdown
    try:
        model = weights.load(uploaded.getvalue(), max_bytes=weights.MAX_BYTES)
    except weights.WeightsError as e:
        return state.set_upload_outcome(uploaded.file_id, Notice("error", f"Could not load {name}: {words.plain(e)}"))
    browser.adopt_model(models.new_ref(model, f"Loaded from {uploaded.name}", prefix="upload"))
    state.set_upload_outcome(uploaded.file_id, Notice(
        "success", f"Loaded {name} ({words.count(model.hidden, 'hidden unit')}); it is now the model in use."))


def weights_to_save(run: TrainingRunner | None, fallback: models.ModelRef) -> tuple[MLP, dict]:
    """(model, meta) that Save writes: the run's weights at this moment if it has any, else `fallback`'s."""
    snapshot = run.snapshot() if run is not None else None
    meta = {"date": time.strftime("%Y-%m-%d")}
    if snapshot is None:
        return fallback.model, dict(source=fallback.label, **meta)
    status = run.status()
    accuracy = status.test_accuracy[-1] if status.test_accuracy else None
    return snapshot[0], dict(source="MLP Lab Train page", recipe=run.config.as_meta(), seed=run.config.seed,
                             steps=status.steps, test_accuracy=accuracy, **meta)


def weights_file(run: TrainingRunner | None, fallback: models.ModelRef | None) -> Callable[[], bytes] | None:
    """What Save weights downloads, made when clicked: the run's weights at that moment, else `fallback`.

    Streamlit calls it on another thread, so it uses only what it was given, never the session.
    """
    if run is None and fallback is None:
        return None

    def contents() -> bytes:
        model, meta = weights_to_save(run, fallback)
        return weights.to_bytes(model, **meta)
    return contents


@state.callback
def save_to_folder() -> None:
    """On-click of "Save to the weights folder": the weights Save would download, under the name typed."""
    run = state.runner()
    run = run if run is not None and run.snapshot() is not None else None
    try:
        model, meta = weights_to_save(run, state.model_in_use())
        path = user_weights.save(model, state.widget_value(Key.SAVE_NAME) or "", **meta)
    except (user_weights.SaveError, weights.WeightsError) as e:
        return state.set_notice(Notice("error", words.plain(e)), slot=state.WEIGHTS)
    state.set_notice(Notice("success", f"Saved as {words.plain(path.name)} in the weights folder."),
                     slot=state.WEIGHTS)


@state.callback
def load_saved() -> None:
    """On-click of "Load" beside the saved files: the chosen one becomes the session's own model, in use."""
    name = state.widget_value(Key.SAVED_PICK)
    if not name:
        return
    try:
        model = user_weights.load(name)
    except (user_weights.SaveError, weights.WeightsError) as e:
        return state.set_notice(Notice("error", f"Could not load {words.plain(name)}: {words.plain(e)}"),
                                slot=state.WEIGHTS)
    browser.adopt_model(models.new_ref(model, f"Loaded from {name}", prefix="saved"))
    state.set_notice(Notice("success", f"Loaded {words.plain(name)} ({words.count(model.hidden, 'hidden unit')}); "
                                       "it is now the model in use."), slot=state.WEIGHTS)
