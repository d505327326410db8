"""The Draw page's canvas between reruns: reopened after a page switch, its picture read into the drawing.

Kept apart from lab/drawing/draw.py, which is pure image code, because this reads and writes session state.
"""
from __future__ import annotations

import time

import streamlit as st

from . import draw
from ..session import state

# The canvas sends its picture at every pen-up, so the answer to the first stroke of a 4 comes
# while the second is on its way: until the pen has rested this long, the answer is "so far".
PEN_REST_S = 1.0


def reopen_if_dropped() -> None:
    """Before the canvas is drawn: a page switch dropped it, so reopen it with the strokes it had."""
    drawing = state.drawing()
    if state.canvas_mounted() or drawing is None or state.canvas_initial_strokes() is not None:
        return
    if drawing.strokes:
        state.reopen_canvas(drawing.strokes)
    else:
        state.set_drawing(None)


def read(canvas) -> str | None:
    """After the canvas is drawn: its picture becomes the session's drawing (None when blank).

    Returns what was wrong with the picture, if it could not be read; the drawing is then None.
    While a reopened canvas has not sent its picture yet, the drawing it was reopened with stays.
    A picture already read (the page reran for another reason) is not read again.
    """
    try:
        raw = draw.canvas_bytes(canvas)
        picture = "" if raw is None else draw.digest(raw)
        kept = state.drawing()
        if raw is not None and kept is not None and kept.picture == picture:
            return None
        image = draw.canvas_image(raw)
        prepared = draw.prepare(image)
    except draw.CanvasError as e:
        state.set_drawing(None)
        return str(e)
    if image is not None:
        state.set_drawing(None if prepared is None else
                          state.Drawing(prepared[0], prepared[1], canvas.json_data, draw.digest(prepared[0]),
                                        picture, time.monotonic()))
    elif state.canvas_initial_strokes() is None:
        state.set_drawing(None)
    return None


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
