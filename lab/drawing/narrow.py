"""The Draw page on a phone: the answer right under the canvas, where the thumb just lifted.

Below 640 px Streamlit stacks the page's columns, so the prediction column ends up under the
canvas, the Clear button and the model choice, out of sight on a 390×844 screen.  A one-line
answer under the canvas is shown on narrow screens only; wide screens have the full one beside it.
"""
from __future__ import annotations

import streamlit as st

KEY = "prediction_line"
STACKED_UP_TO = 640   # px: Streamlit stacks columns on screens this wide or narrower
STYLE = f"<style>@media (min-width: {STACKED_UP_TO + 1}px) {{ .st-key-{KEY} {{ display: none !important; }} }}</style>"


def prediction_line(where, digit: int, confidence: float, settled: bool = True) -> None:
    """`Prediction: d` and its confidence (only "so far" until `settled`), in `where` (the canvas's column);
    hidden on wide screens."""
    with where.container(key=KEY, gap=None):
        # The rule comes first, so the line is never drawn on a wide screen before it is hidden.
        # (st.html's style-only path puts it in the event container, which did not reach the page.)
        st.markdown(STYLE, unsafe_allow_html=True)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"#### Prediction: {digit}")
            st.caption(f"{confidence:.0%} sure · more below" if settled else f"so far ({confidence:.0%})")
