"""What the Boundaries page remembers between reruns (its part of st.session_state, as lab/state.py does).

Widget values are mirrored in `SETTINGS`, a plain entry, because Streamlit drops a widget's value
when the user is on another page; `prepare()` writes them back before the widgets are drawn.
The link's query parameters are read once per session (a reload or a shared link is a new
session); after that the widgets lead and the link follows them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import streamlit as st

from .boundaries import QUERY_KEYS, Settings, SideBySide, from_query, to_query

PLAY_CHUNK = 20_000     # steps per press of Play, so a forgotten tab stops using the CPU

SETTINGS, ADOPTED = "boundaries_settings", "boundaries_adopted"
LINKED, NOTES = "boundaries_linked", "boundaries_link_notes"   # what the link gave, what it could not
SIDE, PLAY_UNTIL, NOTICE = "boundaries_side", "boundaries_play_until", "boundaries_notice"
SHOW_LINES = "bd_show_lines"


def widget_key(field: str) -> str:
    return f"bd_{field}"


def prepare(query: Mapping[str, Any]) -> None:
    """Call before drawing the widgets: adopt the link's settings once, restore widget values."""
    s = st.session_state
    if not s.get(ADOPTED):
        settings, notes = from_query(query)
        s[SETTINGS], s[LINKED], s[NOTES], s[ADOPTED] = settings, settings, notes, True
    for field, value in asdict(s[SETTINGS]).items():
        if widget_key(field) not in s:
            s[widget_key(field)] = value
    s[SHOW_LINES] = s.get(SHOW_LINES, True)


def settings() -> Settings:
    """The settings the widgets show now (after they are drawn)."""
    s = st.session_state
    return replace(s[SETTINGS], **{field: s[widget_key(field)] for field in QUERY_KEYS if widget_key(field) in s})


def commit(settings: Settings, query) -> None:
    """Remember `settings` and put them in the link (writing only keys that differ; other keys stay)."""
    st.session_state[SETTINGS] = settings
    for key, value in to_query(settings).items():
        if query.get(key) != value:
            query[key] = value


def show_lines() -> bool:
    return bool(st.session_state.get(SHOW_LINES, True))


def link_notes(settings: Settings) -> list[str]:
    """Notes about ignored link values, until the user changes the settings the link gave."""
    return st.session_state[NOTES] if settings == st.session_state.get(LINKED) else []


def side(settings: Settings) -> SideBySide:
    """The session's two models for these settings; new ones (step 0) when the problem changed."""
    current = st.session_state.get(SIDE)
    if current is None or current.problem != settings.problem():
        current = st.session_state[SIDE] = SideBySide(settings)
        st.session_state[NOTICE] = None     # it was about the old models
    return current


def reset() -> None:
    """On-click for Reset: fresh models on the same data, paused."""
    st.session_state.pop(SIDE, None)
    pause()


def playing() -> bool:
    return st.session_state.get(PLAY_UNTIL) is not None


def toggle_play() -> None:
    """On-click for Play/Pause."""
    s = st.session_state
    current = s.get(SIDE)
    s[PLAY_UNTIL] = None if playing() else (current.steps if current is not None else 0) + PLAY_CHUNK
    s[NOTICE] = None


def should_pause(steps: int) -> bool:
    until = st.session_state.get(PLAY_UNTIL)
    return until is not None and steps >= until


def pause(notice: str | None = None) -> None:
    st.session_state[PLAY_UNTIL] = None
    st.session_state[NOTICE] = notice


def notice() -> str | None:
    return st.session_state.get(NOTICE)
