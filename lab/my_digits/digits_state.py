"""My digits' session entries: its kept widgets (Teach it's step size, fine-tuning's epochs and η), the last
lesson on a drawing and the last fine-tuning, and the set itself (empty at first)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import streamlit as st

from . import digit_set as md
from ..session import state
from ..session.state import Key

state.register({Key.TEACH_LR: md.LESSON_LR, Key.FINE_TUNE_EPOCHS: md.FineTuneSettings().epochs,
                Key.FINE_TUNE_LR: md.FineTuneSettings().lr})

_EMPTY_SET = md.DigitSet()


class TeachResult(NamedTuple):
    digest: str              # the drawing it was taught on
    label: int
    before: np.ndarray       # (10,) probabilities
    after: np.ndarray
    cost: md.Cost | None = None   # MNIST test accuracy before and after (None without MNIST)


def teach_result() -> TeachResult | None:
    return st.session_state.get(Key.TEACH_RESULT)


def set_teach_result(value: TeachResult | None) -> None:
    st.session_state[Key.TEACH_RESULT] = value


def my_digits() -> md.DigitSet:
    """The drawings this session confirmed or corrected (an empty set at first)."""
    found = state.my_digits()
    return found if found is not None else _EMPTY_SET


def fine_tune_result() -> tuple | None:
    """(label of the model it started from, set size, md.FineTuneResult without its model) or None."""
    return st.session_state.get(Key.FINE_TUNE_RESULT)


def set_fine_tune_result(value: tuple | None) -> None:
    st.session_state[Key.FINE_TUNE_RESULT] = value
