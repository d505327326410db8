"""The Draw page's canvas between reruns: reopened after a page switch, its picture read into the drawing.

Kept apart from lab/drawing/draw.py, which is pure image code, because this reads and writes session state.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import streamlit as st

from . import draw
from ..session import state
from ..session.state import Key

state.register({Key.STROKE_WIDTH: 18})   # the canvas's pen, in screen px (preprocess.STROKE_WIDTH is MNIST's)

# The canvas sends its picture at every pen-up, so the answer to the first stroke of a 4 comes
# while the second is on its way: until the pen has rested this long, the answer is "so far".
PEN_REST_S = 1.0


def _generation() -> int:
    return st.session_state.get(Key.CANVAS_GENERATION, 0)


def canvas_key() -> str:
    """The canvas's widget key; a new key is a new, empty canvas (that is how Clear works)."""
    return Key.canvas(_generation())


def canvas_mounted() -> bool:
    """Whether the canvas was on the page in the previous run (its state is dropped otherwise)."""
    return canvas_key() in st.session_state


def canvas_initial_strokes() -> dict | None:
    """Strokes to redraw in the current canvas (after a page switch), or None for an empty one."""
    restore = st.session_state.get(Key.CANVAS_RESTORE)
    return restore[1] if restore and restore[0] == canvas_key() else None


@state.callback
def clear_canvas() -> None:
    """On-click of Clear: a fresh canvas and no drawing."""
    st.session_state[Key.CANVAS_GENERATION] = _generation() + 1
    st.session_state[Key.CANVAS_RESTORE] = None
    state.set_drawing(None)


def reopen_canvas(strokes: dict) -> None:
    """A fresh canvas that starts with `strokes` (the old one was dropped by a page switch)."""
    st.session_state[Key.CANVAS_GENERATION] = _generation() + 1
    st.session_state[Key.CANVAS_RESTORE] = (canvas_key(), strokes)


def reopen_if_dropped() -> None:
    """Before the canvas is drawn: a page switch dropped it, so reopen it with the strokes it had."""
    drawing = state.drawing()
    if canvas_mounted() or drawing is None or canvas_initial_strokes() is not None:
        return
    if drawing.strokes:
        reopen_canvas(drawing.strokes)
    else:
        state.set_drawing(None)


class Reading(NamedTuple):
    """What the canvas's picture is now: the drawing (None when blank), or why it could not be read."""
    drawing: state.Drawing | None
    unreadable: str | None = None     # what was wrong with the picture; the drawing is then None


def read(canvas) -> Reading:
    """After the canvas is drawn: its picture as a drawing, for the page to keep (state.set_drawing) and show.

    While a reopened canvas has not sent its picture yet, the drawing it was reopened with stays.
    A picture already read (the page reran for another reason) is not read again: the kept drawing is returned.
    """
    kept = state.drawing()
    try:
        raw = draw.canvas_bytes(canvas)
        picture = "" if raw is None else draw.digest(raw)
        if raw is not None and kept is not None and kept.picture == picture:
            return Reading(kept)
        image = draw.canvas_image(raw)
        prepared = draw.prepare(image)
    except draw.CanvasError as e:
        return Reading(None, str(e))
    if image is not None:
        return Reading(None if prepared is None else
                       state.Drawing(prepared[0], prepared[1], canvas.json_data, draw.digest(prepared[0]),
                                     picture, time.monotonic()))
    return Reading(kept if canvas_initial_strokes() is not None else None)


def pen_resting(drawing: state.Drawing) -> bool:
    """Whether no stroke has come for PEN_REST_S since this drawing's last one (a reopened drawing has rested)."""
    return time.monotonic() - drawing.drawn_at >= PEN_REST_S


@st.fragment(run_every=PEN_REST_S)
def settle_when_resting() -> None:
    """Called while the answer is "so far": once the pen has rested, the page is drawn again with the answer settled.

    A timer that exists only on those runs: the run that settles the answer does not call it, so it stops.
    """
    drawing = state.drawing()
    if drawing is not None and pen_resting(drawing):
        st.rerun()
