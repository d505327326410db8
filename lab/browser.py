"""Which browser this is, across reloads and server restarts: a random token in a cookie.

Streamlit reads cookies only from the request that opened the session and has
no way to set one, so the token is written into the cookie by a line of
JavaScript in the sidebar; the next session of the same browser sends it back.
The token names this browser's training checkpoint (lab/checkpoints.py) and
nothing else: it is random, so it reveals nothing and cannot be guessed.
"""
from __future__ import annotations

import json

import streamlit as st

from . import checkpoints, state

COOKIE = "mlp_lab_browser"
MAX_AGE = 30 * 24 * 3600   # seconds: a month of coming back to a run


def token() -> str:
    """This browser's token, made (and sent to the browser's cookie) on its first visit."""
    known = state.browser_token()
    if known is not None:
        return known
    try:
        sent = st.context.cookies.get(COOKIE)
    except Exception:   # noqa: BLE001 -- no request behind this session (AppTest, a bare script run)
        sent = None
    if checkpoints.is_token(sent):
        state.set_browser_token(sent)
        return sent
    made = checkpoints.new_token()
    state.set_browser_token(made)
    return made


def remember() -> None:
    """Put the token in the browser's cookie: on every run, at the sidebar's end, so that the element
    never appears or moves between runs (an element that does shifts the page's tree, and the canvas,
    remounted, loses its strokes)."""
    st.sidebar.html(f"<script>document.cookie = {json.dumps(cookie_line(token()))};</script>",
                    unsafe_allow_javascript=True, width=1)


def cookie_line(value: str) -> str:
    # SameSite=Strict: no other site can make a browser send it along.
    return f"{COOKIE}={value}; path=/; max-age={MAX_AGE}; SameSite=Strict"
