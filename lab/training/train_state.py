"""The Train page's session entries: its settings (kept widgets, one per Config field), slow motion, the session's
earlier runs, the link's conflict with a run, and the phase its controls were drawn for."""
from __future__ import annotations

from typing import Any, NamedTuple

import streamlit as st

from mlp.train import Config

from ..session import state
from ..session.state import Key



class TrainField(NamedTuple):
    """How the Train page names one Config field it sets."""
    label: str      # the widget's
    short: str      # in a line of settings ("η 0.1 · batch 128")
    help: str


TRAIN_FIELDS = {   # the Config fields the Train page sets, in its order
    "lr": TrainField("Learning rate η", "η", "Learning rate η in θ ← θ − η∇θ. Too large and the loss explodes."),
    "batch_size": TrainField("Batch size", "batch", "Training images per SGD step."),
    "epochs": TrainField("Epochs", "epochs", "Passes over the 60,000 training images."),
    "hidden": TrainField("Hidden units", "hidden units",
                         "Units in the hidden layer (the design document's network has 128)."),
    "seed": TrainField("Seed", "seed",
                       "Seeds the initial weights and the shuffling: the same seed gives the same run."),
}
_DEFAULT_CONFIG = Config()   # mlp.train's 15 epochs: still live well after the charts first draw (docs/app.md)

state.register({Key.SLOW_MOTION: 0.0, **{Key.train(name): getattr(_DEFAULT_CONFIG, name) for name in TRAIN_FIELDS}})


def train_config() -> Config:
    """The Train page's settings as a Config (ValueError if one is out of range)."""
    return Config(**train_settings())


def train_settings() -> dict[str, Any]:
    """The Train page's settings, by Config field."""
    return {name: st.session_state.get(Key.train(name), getattr(_DEFAULT_CONFIG, name)) for name in TRAIN_FIELDS}


def set_train_settings(values: dict[str, Any]) -> None:
    """Only before the Train page's widgets are drawn in this run, or from a callback."""
    for name, value in values.items():
        if name in TRAIN_FIELDS:
            state.choose(Key.train(name), value)


def slow_motion() -> float:
    return float(st.session_state.get(Key.SLOW_MOTION, 0.0))


def earlier_runs() -> list:
    return st.session_state.get(Key.EARLIER_RUNS, [])


def set_earlier_runs(runs: list) -> None:
    st.session_state[Key.EARLIER_RUNS] = runs


def link_conflict():
    """train_session.LinkConflict, or None."""
    return st.session_state.get(Key.LINK_CONFLICT)


def set_link_conflict(value) -> None:
    st.session_state[Key.LINK_CONFLICT] = value


def rendered_phase() -> str | None:
    """The training phase the Train page's controls were last drawn for."""
    return st.session_state.get(Key.RENDERED_PHASE)


def set_rendered_phase(phase: str | None) -> None:
    st.session_state[Key.RENDERED_PHASE] = phase
