"""The Boundaries page's session entries: its settings as kept widgets (one per Settings field, adopted once from
the link), the two models being trained, Play's run of steps, and the notice that paused them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import streamlit as st

from .side_by_side import DEFAULTS, QUERY_KEYS, Settings, SideBySide, from_query, to_query
from ..session import state
from ..session.state import Key

BOUNDARIES_PLAY_CHUNK = 20_000     # steps per press of Play, so a forgotten tab stops using the CPU


def boundaries_widget_key(field: str) -> str:
    return f"bd_{field}"


state.register({**{boundaries_widget_key(field): value for field, value in asdict(DEFAULTS).items()},
                Key.BD_SHOW_LINES: True})


def boundaries_prepare(query: Mapping[str, Any]) -> None:
    """Call before drawing the widgets: adopt the link's settings once (the widgets keep them from then on)."""
    s = st.session_state
    if not s.get(Key.BD_ADOPTED):
        settings, notes = from_query(query)
        for field, value in asdict(settings).items():
            state.choose(boundaries_widget_key(field), value)
        s[Key.BD_LINKED], s[Key.BD_NOTES], s[Key.BD_ADOPTED] = settings, notes, True


def boundaries_settings() -> Settings:
    """The settings the widgets show now."""
    return Settings(**{field: st.session_state[boundaries_widget_key(field)] for field in QUERY_KEYS})


def boundaries_commit(settings: Settings, query) -> None:
    """Put `settings` in the link (writing only keys that differ; other keys stay)."""
    for key, value in to_query(settings).items():
        if query.get(key) != value:
            query[key] = value


def boundaries_show_lines() -> bool:
    return bool(st.session_state.get(Key.BD_SHOW_LINES, True))


def boundaries_link_notes(settings: Settings) -> list[str]:
    """Notes about ignored link values, until the user changes the settings the link gave."""
    return st.session_state[Key.BD_NOTES] if settings == st.session_state.get(Key.BD_LINKED) else []


def boundaries_side(settings: Settings) -> SideBySide:
    """The session's two models for these settings; new ones (step 0) when the problem changed."""
    current = st.session_state.get(Key.BD_SIDE)
    if current is None or current.problem != settings.problem():
        current = st.session_state[Key.BD_SIDE] = SideBySide(settings)
        st.session_state[Key.BD_NOTICE] = None     # it was about the old models
    return current


@state.callback
def boundaries_reset() -> None:
    """On-click of Reset: fresh models on the same data, paused."""
    st.session_state.pop(Key.BD_SIDE, None)
    boundaries_pause()


def boundaries_playing() -> bool:
    return st.session_state.get(Key.BD_PLAY_UNTIL) is not None


@state.callback
def boundaries_set_playing(play: bool) -> None:
    """On-click of Play (play=True) or Pause (play=False). Setting, not toggling: a click that reaches the server
    twice, or after the state it was pressed in has changed, still means what its label said."""
    if not play:
        return boundaries_pause()
    current = st.session_state.get(Key.BD_SIDE)
    st.session_state[Key.BD_PLAY_UNTIL] = (current.steps if current is not None else 0) + BOUNDARIES_PLAY_CHUNK
    st.session_state[Key.BD_NOTICE] = None


def boundaries_should_pause(steps: int) -> bool:
    until = st.session_state.get(Key.BD_PLAY_UNTIL)
    return until is not None and steps >= until


def boundaries_pause(notice: str | None = None) -> None:
    st.session_state[Key.BD_PLAY_UNTIL] = None
    st.session_state[Key.BD_NOTICE] = notice


def boundaries_notice() -> str | None:
    return st.session_state.get(Key.BD_NOTICE)
