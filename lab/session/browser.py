"""Which browser this is, across reloads and server restarts: a random token in a cookie.

Streamlit reads cookies only from the request that opened the session and has
no way to set one, so the token is written into the cookie by a line of
JavaScript in the sidebar; the next session of the same browser sends it back.
The token names what this browser keeps on the server (lab/training/checkpoints.py: its
run, its My digits set, its own model) and nothing else: it is random, so it
reveals nothing and cannot be guessed.  Changes to the set and the model go
through `keep_my_digits` and `adopt_model`, which keep them under the token.
"""
from __future__ import annotations

import json
import logging

import streamlit as st

from . import state
from ..my_digits import digit_set as md
from ..store import models
from ..training import checkpoints

log = logging.getLogger(__name__)

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
        _kept_safely("note the return of", lambda: checkpoints.seen_again(sent))
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


def keep_my_digits(digits: md.DigitSet) -> None:
    """The session's My digits set becomes `digits`, kept on the server for this browser."""
    state.set_my_digits(digits)
    _kept_safely("keep My digits", lambda: checkpoints.save_digits(token(), digits))


def adopt_model(ref: models.ModelRef) -> None:
    """`ref` (taught, fine-tuned or loaded) becomes the session's own model, in use, kept for this browser."""
    state.set_own_model(ref)
    state.set_model_source(state.OWN)
    _kept_safely("keep your model", lambda: checkpoints.save_model(token(), ref))


def _kept_safely(what: str, keep) -> None:
    """Keeping is a safety net: when the disk refuses, the work stays in the session and the page says so."""
    try:
        keep()
    except OSError as e:   # checkpoints.KeepError is one
        log.warning("could not %s for a browser: %s", what, e)
        state.set_notice(state.Notice("warning", f"Could not {what} on the server ({e}); it stays in this tab "
                                                 "until it is closed or reloaded."), state.KEPT)
