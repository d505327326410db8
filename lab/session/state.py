"""Everything a session remembers between reruns, behind typed accessors.

This is the only module that touches st.session_state.  Two kinds of entries:
- widget values that must survive a page switch.  Streamlit forgets the value
  of a widget that is not on the page being run, and what its key then reads is
  not to be trusted: a fragment rerun (the sidebar's heartbeat while training)
  files a value written back under the key under the widget's element id, the
  next page switch drops that, and the key falls back to whatever Streamlit
  last stored under it (the default of the page first opened).  So the values
  live under a key no widget has (`Key.KEPT`): a widget's on_change copies the
  user's choice there (`kept(key)` gives a widget its key and that callback),
  setters here write there too, and `init()` writes every value back from
  there before any widget is drawn;
- app objects: the drawing, the session's own model, the training runner, ...

Here live the mechanism and the entries every page shares (the drawing, which model answers, the run and
the My digits set a browser keeps); each feature keeps its own accessors, callbacks and widget defaults
beside it (lab/training/train_state.py, lab/my_digits/digits_state.py, lab/boundaries/boundaries_state.py,
lab/drawing/canvas.py, lab/insight/clicks.py) and registers those defaults here with `register`, so this
module imports no feature.  The keys stay listed together in `Key`, so no two features pick the same one.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Literal, NamedTuple

import numpy as np
import streamlit as st

from mlp import preprocess

from ..store import models

log = logging.getLogger(__name__)


class Key:
    """Every session-state key: widgets' (pages create them with these) and the app's own entries."""
    # widgets whose values are kept across pages (create them with **kept(Key.X))
    STROKE_WIDTH = "stroke_width"        # the canvas's pen, in screen px (preprocess.STROKE_WIDTH is MNIST's)
    MODEL_SOURCE = "model_source"
    TEACH_LR = "teach_lr"
    UNIT = "hidden_unit"
    CELL_TRUE, CELL_PREDICTED = "cell_true", "cell_predicted"
    SLOW_MOTION = "train_slow_motion"    # seconds of pause after every training step
    FINE_TUNE_EPOCHS, FINE_TUNE_LR = "fine_tune_epochs", "fine_tune_lr"
    # widgets reset when what they are about changes (see follow())
    TEACH_LABEL = "teach_label"
    BACKPROP_LABEL = "backprop_label"
    # widgets that handle themselves
    UPLOAD = "weights_upload"
    SAVE_NAME = "save_name"
    SAVED_PICK = "saved_pick"
    MY_DIGITS_UPLOAD = "my_digits_upload"
    # the app's own entries
    KEPT = "kept_widget_values"          # {widget key: value}; never a widget's key, so Streamlit never drops it
    CANVAS_GENERATION = "canvas_generation"
    CANVAS_RESTORE = "canvas_restore"
    DRAWING = "drawing"
    OWN_MODEL = "own_model"
    TEACH_RESULT = "teach_result"
    RUNNER = "runner"
    UPLOAD_OUTCOME = "upload_outcome"
    RENDERED_PHASE = "rendered_phase"
    FAILURE = "failed_callback"
    EARLIER_RUNS = "earlier_runs"        # [train_view.EarlierRun]: the session's replaced runs, to overlay
    BROWSER_TOKEN = "browser_token"      # names this browser's checkpoint (lab/session/browser.py)
    RESTORE_TRIED = "restore_tried"      # the checkpoint was looked for in this session
    LINK_READ = "link_settings_read"     # the Train settings in the address bar were taken, once
    LINK_CONFLICT = "link_conflict"      # train_session.LinkConflict: the link's settings and the run's differ
    MY_DIGITS = "my_digits"
    MY_DIGITS_UPLOAD_OUTCOME = "my_digits_upload_outcome"
    FINE_TUNE_RESULT = "fine_tune_result"
    # the Boundaries page
    BD_ADOPTED = "boundaries_adopted"
    BD_LINKED, BD_NOTES = "boundaries_linked", "boundaries_link_notes"   # what the link gave, what it could not
    BD_SIDE, BD_PLAY_UNTIL, BD_NOTICE = "boundaries_side", "boundaries_play_until", "boundaries_notice"
    BD_SHOW_LINES = "bd_show_lines"

    @staticmethod
    def train(field: str) -> str:
        """The Train page's widget for a Config field."""
        return f"train_{field}"

    @staticmethod
    def canvas(generation: int) -> str:
        return f"draw_canvas_{generation}"

    @staticmethod
    def notice(slot: str) -> str:
        return f"notice_{slot}"


SHIPPED, TRAINED, OWN = "shipped", "trained", "own"   # where the model in use comes from
CONTROLS, WEIGHTS = "controls", "weights"             # where on the Train page a notice is shown
KEPT = "kept"                                         # under every page's title: what the server keeps

# Every kept widget's default, by key: the model source here, the rest registered by the features that draw them.
_WIDGET_DEFAULTS: dict[str, Any] = {Key.MODEL_SOURCE: SHIPPED}


def register(defaults: dict[str, Any]) -> None:
    """A feature's kept widgets and their defaults. Call at import: a page imports the modules that draw its
    widgets before page.frame() runs init(), which adds a default registered after the session began."""
    _WIDGET_DEFAULTS.update(defaults)


class Drawing(NamedTuple):
    """What the Draw page made of the canvas, kept for the other pages."""
    x: np.ndarray            # (784,) float32 in [0,1]: what the network sees
    stages: preprocess.Stages  # every step from canvas to x
    strokes: dict | None     # the canvas's JSON, to redraw it after a page switch
    digest: str              # identifies this drawing (Teach it results belong to one drawing)
    picture: str = ""        # identifies the canvas's picture it was read from (read once, not every rerun)
    drawn_at: float = 0.0    # time.monotonic() when that picture arrived: the pen may still be drawing


class Notice(NamedTuple):
    """A message a callback leaves for the page, shown once."""
    kind: Literal["error", "warning", "success", "info"]
    text: str


class Failure(NamedTuple):
    """A callback that raised: what it was doing and the exception, for the page to say (the log has the rest)."""
    action: str              # the callback's name, in words ("save to folder")
    error: str               # "ExceptionType: message", cut short


def init() -> None:
    """Call first on every page run: defaults, and widget values kept across pages."""
    s = st.session_state
    if Key.KEPT not in s:
        s[Key.KEPT] = {}
    for key, value in _WIDGET_DEFAULTS.items():     # also a default registered after this session began
        s[Key.KEPT].setdefault(key, value)
    for key, value in s[Key.KEPT].items():
        s[key] = value


def callback(function: Callable[..., None]) -> Callable[..., None]:
    """Wrap an on_click/on_change callback: an exception is logged with its traceback and kept as a
    Failure for the page to show (page.frame does), instead of replacing the page with a traceback."""
    @functools.wraps(function)
    def guarded(*args, **kwargs) -> None:
        try:
            function(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 -- whatever it was, the page goes on and says so
            log.exception("callback %s failed", function.__qualname__)
            action = function.__name__.strip("_").replace("_", " ")
            st.session_state[Key.FAILURE] = Failure(action, f"{type(e).__name__}: {e}"[:300])
    return guarded


def take_failure() -> Failure | None:
    return st.session_state.pop(Key.FAILURE, None)


def kept(key: str) -> dict[str, Any]:
    """Keyword arguments for a widget whose value is kept across pages: `st.slider(..., **state.kept(KEY))`."""
    return dict(key=key, on_change=_keep, args=(key,))


@callback
def _keep(key: str) -> None:
    """on_change of a kept widget: the user's choice becomes the value kept."""
    keep(key)


def keep(key: str) -> None:
    """Keep a widget's current value across pages (for widgets with an on_change of their own)."""
    _set_widget(key, st.session_state[key])


def _set_widget(key: str, value: Any) -> None:
    """Set a widget's value (before the widget is drawn in this run, or from a callback)."""
    st.session_state[key] = value
    if key in _WIDGET_DEFAULTS:
        if Key.KEPT not in st.session_state:
            st.session_state[Key.KEPT] = dict(_WIDGET_DEFAULTS)
        st.session_state[Key.KEPT][key] = value


def choose(key: str, value: Any) -> None:
    """From a callback (a click on a chart): set a widget as if the user had chosen `value` in it."""
    _set_widget(key, value)


def clamp(key: str, low: int, high: int) -> None:
    """Keep a number widget's remembered value inside bounds that just changed (another model)."""
    value = st.session_state.get(key, low)
    if not low <= value <= high:
        _set_widget(key, min(max(value, low), high))


def follow(key: str, default: Any, subject: str) -> None:
    """Reset a widget to `default` whenever `subject` (e.g. the drawing's digest) changes."""
    seen = f"{key}__subject"
    if st.session_state.get(seen) != subject or key not in st.session_state:
        _set_widget(key, default)
        st.session_state[seen] = subject


# -- the drawing (the Draw page makes it, every page reads it) --------------------------

def drawing() -> Drawing | None:
    return st.session_state.get(Key.DRAWING)


def set_drawing(value: Drawing | None) -> None:
    st.session_state[Key.DRAWING] = value


# -- which model answers ---------------------------------------------------------------

def model_source() -> str:
    return st.session_state.get(Key.MODEL_SOURCE, SHIPPED)


def set_model_source(source: str) -> None:
    """Only before the source radio is drawn in this run, or from a callback."""
    _set_widget(Key.MODEL_SOURCE, source)


def own_model() -> models.ModelRef | None:
    """The session's own model: taught on drawings or loaded from a file."""
    return st.session_state.get(Key.OWN_MODEL)


def set_own_model(ref: models.ModelRef) -> None:
    st.session_state[Key.OWN_MODEL] = ref


def trained_model() -> models.ModelRef | None:
    """The training run's current weights (a consistent copy), or None if there is none yet."""
    run = runner()
    return run.model_ref() if run is not None else None


def available_sources() -> list[str]:
    sources = [SHIPPED]
    if runner() is not None and runner().snapshot() is not None:
        sources.append(TRAINED)
    if own_model() is not None:
        sources.append(OWN)
    return sources


def model_in_use() -> models.ModelRef:
    """The model every page uses, as chosen on the Draw page (shipped if the choice is gone)."""
    source = model_source()
    if source == TRAINED:
        ref = trained_model()
        if ref is not None:
            return ref
    if source == OWN and own_model() is not None:
        return own_model()
    return models.shipped()


# -- the My digits set (kept per browser, restored with the run) --------------------------------

def my_digits():
    """The drawings this session confirmed or corrected (a my_digits.digit_set.DigitSet), or None for none yet."""
    return st.session_state.get(Key.MY_DIGITS)


def set_my_digits(value) -> None:
    st.session_state[Key.MY_DIGITS] = value


# -- training ----------------------------------------------------------------------------

def runner():
    """The session's training run (a training.runner.TrainingRunner), or None."""
    return st.session_state.get(Key.RUNNER)


def set_runner(value) -> None:
    st.session_state[Key.RUNNER] = value


def browser_token() -> str | None:
    return st.session_state.get(Key.BROWSER_TOKEN)


def set_browser_token(token: str) -> None:
    st.session_state[Key.BROWSER_TOKEN] = token


def close_popover(key: str) -> None:
    """From a callback: close the popover created with `key` (and on_change set)."""
    st.session_state[key] = False


def drop_own_model() -> None:
    """The session no longer has its own model; the pages answer with the shipped one if it was in use."""
    st.session_state[Key.OWN_MODEL] = None
    if model_source() == OWN:
        set_model_source(SHIPPED)


def first_time(flag: str) -> bool:
    """True the first time it is asked for `flag` (a Key) in this session."""
    if st.session_state.get(flag):
        return False
    st.session_state[flag] = True
    return True


def take_notice(slot: str = CONTROLS) -> Notice | None:
    """The message a Train button's callback left for the page, shown once where `slot` is."""
    return st.session_state.pop(Key.notice(slot), None)


def set_notice(notice: Notice | None, slot: str = CONTROLS) -> None:
    st.session_state[Key.notice(slot)] = notice


def upload_outcome(file_id: str, key: str = Key.UPLOAD_OUTCOME) -> Notice | None:
    """What came of an uploaded file already handled, so it is loaded once, not every rerun.

    `key` tells the uploaders apart: the weights' (default) and My digits' (Key.MY_DIGITS_UPLOAD_OUTCOME)."""
    seen = st.session_state.get(key)
    return seen[1] if seen and seen[0] == file_id else None


def set_upload_outcome(file_id: str, outcome: Notice, key: str = Key.UPLOAD_OUTCOME) -> None:
    st.session_state[key] = (file_id, outcome)


def widget_value(key: str) -> Any:
    """The current value of a widget that handles itself (e.g. the weights uploader)."""
    return st.session_state.get(key)
