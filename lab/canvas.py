"""The Draw page's canvas between reruns: reopened after a page switch, its picture read into the drawing.

Kept apart from lab/draw.py, which is pure image code, because this reads and writes session state.
"""
from __future__ import annotations

from . import draw, state


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
    """
    try:
        image = draw.canvas_image(canvas)
        prepared = draw.prepare(image)
    except draw.CanvasError as e:
        state.set_drawing(None)
        return str(e)
    if image is not None:
        state.set_drawing(None if prepared is None else
                          state.Drawing(prepared[0], prepared[1], canvas.json_data, draw.digest(prepared[0])))
    elif state.canvas_initial_strokes() is None:
        state.set_drawing(None)
    return None
