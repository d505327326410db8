"""Everything a session remembers between reruns, behind typed accessors.

This is the only module that touches st.session_state.  Two kinds of entries:
- widget values that must survive a page switch.  Streamlit forgets the value
  of a widget that is not on the page being run, and what its key then reads is
  not to be trusted: a fragment rerun (the sidebar's heartbeat while training)
  files a value written back under the key under the widget's element id, the
  next page switch drops that, and the key falls back to whatever Streamlit
  last stored under it (the default of the page first opened).  So the values
  live under a key no widget has (`_KEPT`): a widget's on_change copies the
  user's choice there (`kept(key)` gives a widget its key and that callback),
  setters here write there too, and `init()` writes every value back from
  there before any widget is drawn;
- app objects: the drawing, the session's own model, the training runner, ...
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import streamlit as st

from mlp import preprocess
from mlp.train import Config

from . import models
from .runner import TrainingRunner

# Widget keys (pages create their widgets with these keys).
STROKE_WIDTH = "stroke_width"
MODEL_SOURCE = "model_source"
TEACH_LR = "teach_lr"
TRAIN_FIELDS = ("lr", "batch_size", "epochs", "hidden", "seed")   # Config fields the Train page sets
UNIT = "hidden_unit"
BACKPROP_LABEL = "backprop_label"
TEACH_LABEL = "teach_label"
CELL_TRUE, CELL_PREDICTED = "cell_true", "cell_predicted"

SHIPPED, TRAINED, OWN = "shipped", "trained", "own"   # where the model in use comes from

_DEFAULT_CONFIG = Config(epochs=5)   # ~3 s to ~96%: long enough to watch, short enough to wait for


def train_key(field: str) -> str:
    return f"train_{field}"


_WIDGET_DEFAULTS: dict[str, Any] = {
    STROKE_WIDTH: 18,
    MODEL_SOURCE: SHIPPED,
    TEACH_LR: 0.005,   # one example, no batch average: larger steps wreck the test accuracy (0.1 → 42%)
    UNIT: 0,
    CELL_TRUE: 0,
    CELL_PREDICTED: 0,
    **{train_key(name): getattr(_DEFAULT_CONFIG, name) for name in TRAIN_FIELDS},
}


class Drawing(NamedTuple):
    """What the Draw page made of the canvas, kept for the other pages."""
    x: np.ndarray            # (784,) float32 in [0,1]: what the network sees
    stages: preprocess.Stages  # every step from canvas to x
    strokes: dict | None     # the canvas's JSON, to redraw it after a page switch
    digest: str              # identifies this drawing (Teach it results belong to one drawing)


class TeachResult(NamedTuple):
    digest: str              # the drawing it was taught on
    label: int
    before: np.ndarray       # (10,) probabilities
    after: np.ndarray


_KEPT = "kept_widget_values"   # {widget key: value}; never a widget's key, so Streamlit never drops it


def init() -> None:
    """Call first on every page run: defaults, and widget values kept across pages."""
    s = st.session_state
    if _KEPT not in s:
        s[_KEPT] = dict(_WIDGET_DEFAULTS)
    for key, value in s[_KEPT].items():
        s[key] = value


def kept(key: str) -> dict[str, Any]:
    """Keyword arguments for a widget whose value is kept across pages: `st.slider(..., **state.kept(KEY))`."""
    return dict(key=key, on_change=_keep, args=(key,))


def _keep(key: str) -> None:
    """on_change of a kept widget: the user's choice becomes the value kept."""
    _set_widget(key, st.session_state[key])


def _set_widget(key: str, value: Any) -> None:
    """Set a widget's value (before the widget is drawn in this run, or from a callback)."""
    st.session_state[key] = value
    if key in _WIDGET_DEFAULTS:
        if _KEPT not in st.session_state:
            st.session_state[_KEPT] = dict(_WIDGET_DEFAULTS)
        st.session_state[_KEPT][key] = value


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


# -- the canvas ------------------------------------------------------------------

def canvas_key() -> str:
    """The canvas's widget key; a new key is a new, empty canvas (that is how Clear works)."""
    return f"draw_canvas_{st.session_state.get('canvas_generation', 0)}"


def canvas_mounted() -> bool:
    """Whether the canvas was on the page in the previous run (its state is dropped otherwise)."""
    return canvas_key() in st.session_state


def canvas_initial_strokes() -> dict | None:
    """Strokes to redraw in the current canvas (after a page switch), or None for an empty one."""
    restore = st.session_state.get("canvas_restore")
    return restore[1] if restore and restore[0] == canvas_key() else None


def clear_canvas() -> None:
    """On-click for Clear: a fresh canvas and no drawing."""
    st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1
    st.session_state["canvas_restore"] = None
    st.session_state["drawing"] = None


def reopen_canvas(strokes: dict) -> None:
    """A fresh canvas that starts with `strokes` (the old one was dropped by a page switch)."""
    st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1
    st.session_state["canvas_restore"] = (canvas_key(), strokes)


def drawing() -> Drawing | None:
    return st.session_state.get("drawing")


def set_drawing(value: Drawing | None) -> None:
    st.session_state["drawing"] = value


# -- which model answers ---------------------------------------------------------------

def model_source() -> str:
    return st.session_state.get(MODEL_SOURCE, SHIPPED)


def set_model_source(source: str) -> None:
    """Only before the source radio is drawn in this run, or from a callback."""
    _set_widget(MODEL_SOURCE, source)


def own_model() -> models.ModelRef | None:
    """The session's own model: taught on drawings or loaded from a file."""
    return st.session_state.get("own_model")


def set_own_model(ref: models.ModelRef) -> None:
    st.session_state["own_model"] = ref


def trained_model() -> models.ModelRef | None:
    """The training run's current weights (a consistent copy), or None if there is none yet."""
    run = runner()
    snap = run.snapshot() if run is not None else None
    if snap is None:
        return None
    model, version = snap
    status = run.status()
    if status.active:
        label = f"Model being trained (epoch {min(status.epoch + 1, status.epochs)}/{status.epochs}, " \
                f"step {status.steps:,})"
    else:
        last = status.test_accuracy[-1] if status.test_accuracy else None
        label = f"Trained model ({status.steps:,} steps" + (f", {last:.1%} test accuracy)" if last else ")")
    return models.ModelRef(model, f"run{run.id}-v{version}", label)


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


# -- teaching on a drawing ----------------------------------------------------------------

def teach_result() -> TeachResult | None:
    return st.session_state.get("teach_result")


def set_teach_result(value: TeachResult | None) -> None:
    st.session_state["teach_result"] = value


# -- training ----------------------------------------------------------------------------

def runner() -> TrainingRunner | None:
    return st.session_state.get("runner")


def set_runner(value: TrainingRunner | None) -> None:
    st.session_state["runner"] = value


def train_config() -> Config:
    """The Train page's settings as a Config (validate() it before use)."""
    values = {name: st.session_state.get(train_key(name), getattr(_DEFAULT_CONFIG, name)) for name in TRAIN_FIELDS}
    return Config(**values)


def take_notice(slot: str = "controls") -> tuple[str, str] | None:
    """The message a Train button's callback left for the page, (kind, text), shown once where `slot` is."""
    return st.session_state.pop(f"notice_{slot}", None)


def set_notice(kind: str | None, text: str = "", slot: str = "controls") -> None:
    st.session_state[f"notice_{slot}"] = (kind, text) if kind else None


def upload_outcome(file_id: str) -> tuple[bool, str] | None:
    """(ok, message) for an uploaded file already handled, so it is loaded once, not every rerun."""
    seen = st.session_state.get("upload_outcome")
    return seen[1] if seen and seen[0] == file_id else None


def set_upload_outcome(file_id: str, ok: bool, message: str) -> None:
    st.session_state["upload_outcome"] = (file_id, (ok, message))


def rendered_phase() -> str | None:
    """The training phase the Train page's controls were last drawn for."""
    return st.session_state.get("rendered_phase")


def set_rendered_phase(phase: str | None) -> None:
    st.session_state["rendered_phase"] = phase


def widget_value(key: str) -> Any:
    """The current value of a widget that handles itself (e.g. the weights uploader)."""
    return st.session_state.get(key)
