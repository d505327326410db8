"""The drawing canvas without its toolbar.

streamlit-drawable-canvas 0.13 floats a toolbar (undo, redo, reset, and a pencil that switches
to "edit/move") over the canvas's top-right corner: invisible until hovered, it swallows strokes
that start in the top ~28 px there, and on a phone it is never hovered at all.  The package has
no switch for it (only `disabled` hides it), and its styles live in a shadow root that the page's
CSS cannot reach.  So the component is registered once more under its own name, with its own
JavaScript and stylesheet plus one rule that hides the toolbar; the page keeps its one Clear button.

Importing this module imports streamlit_drawable_canvas, which needs a Streamlit script run.
"""
from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st
import streamlit_drawable_canvas as package
from streamlit_drawable_canvas import st_canvas

NAME = "streamlit-drawable-canvas.streamlit_drawable_canvas"
HIDE_TOOLBAR = ".dc-toolbar{display:none!important}"   # the script sets display inline; !important wins


def _stylesheet() -> str:
    [css] = (Path(package.__file__).parent / "frontend" / "build").glob("index-*.css")
    return css.read_text() + "\n" + HIDE_TOOLBAR


def _register() -> None:
    """Replace the package's definition and its mount command (st_canvas looks `out` up when called).

    Once per process is enough: a later runtime (AppTest makes one per test) gets this definition
    from the mount command itself when its registry lacks one.
    """
    registry = logging.getLogger("streamlit.components.v2.component_registry")
    level = registry.level
    registry.setLevel(logging.ERROR)   # it warns that a name is registered twice: that is the point
    try:
        package.out = st.components.v2.component(NAME, js="index-*.js", css=_stylesheet(),
                                                 html='<div class="canvas-root"></div>', isolate_styles=True)
    finally:
        registry.setLevel(level)


_register()
__all__ = ["st_canvas"]   # the package's st_canvas, same arguments and result, now without the toolbar
