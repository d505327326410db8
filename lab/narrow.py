"""The Draw page on a phone: the answer right under the canvas, where the thumb just lifted.

Below 640 px Streamlit stacks the page's columns, so the prediction column ends up under the
canvas, the Clear button and the model choice, out of sight on a 390×844 screen.  A one-line
answer under the canvas is shown on narrow screens only; wide screens have the full one beside it.
"""
from __future__ import annotations

import streamlit as st

KEY = "prediction_line"
STACKED_BELOW = 640   # px: Streamlit's breakpoint for stacking columns
STYLE = f"<style>@media (min-width: {STACKED_BELOW}px) {{ .st-key-{KEY} {{ display: none; }} }}</style>"


def prediction_line(where, digit: int, confidence: float) -> None:
    """`Prediction: d` and its confidence, in `where` (the canvas's column); hidden on wide screens."""
    where.html(STYLE)
    with where.container(key=KEY, horizontal=True, vertical_alignment="center"):
        st.markdown(f"#### Prediction: {digit}")
        st.caption(f"{confidence:.0%} sure · more below")
