"""The frame every page shares: page config, the sidebar, the title, what went wrong, the no-model guard.

    model = page.frame("Hidden units", ":material/grid_view:")
    st.plotly_chart(figure, config=page.PLOT)
"""
from __future__ import annotations

import streamlit as st

from . import sidebar
from ..session import browser, state
from ..store import blas, models
from ..training import train_session

PLOT = {"displayModeBar": False}   # every plotly chart's config: no toolbar over small figures
STATIC_PLOT = {**PLOT, "staticPlot": True}   # a chart redrawn at every stroke: no hover layers to rebuild
NO_MODEL = "No model to use: the shipped weights cannot be loaded (see the sidebar)."

# Once per server process, before any page multiplies a matrix (see lab/store/blas.py).
blas.use_one_thread()


def frame(title: str, icon: str, heading: str | None = None, needs_model: bool = True) -> models.ModelRef | None:
    """Set up a page and return the model in use.

    `title` names the browser tab ("<title> · MLP Lab"), `icon` is a Material icon
    (":material/draw:"), `heading` is the page's title (default `title`).  When no model
    can be loaded the page says so and stops, unless `needs_model` is False: then None.
    A callback that failed since the last run is reported here, on whichever page follows.
    """
    st.set_page_config(page_title=f"{title} · MLP Lab", page_icon=icon, layout="wide")
    state.init()
    restored = train_session.restore_session()   # after a reload or a restart, on whichever page comes first
    if restored.train is not None:
        state.set_notice(state.Notice("info", restored.train))
    for note in restored.elsewhere:
        st.toast(note, icon=":material/restore:")
    model = sidebar.render()
    browser.remember()
    st.title(heading or title)
    show(state.take_notice(state.KEPT))
    failure = state.take_failure()
    if failure is not None:
        st.error(f"That did not work ({failure.action}): {failure.error}. The page goes on; "
                 "the details are in the server's log.", icon=":material/error:")
    if model is None and needs_model:
        st.error(NO_MODEL)
        st.stop()
    return model


def show(notice: state.Notice | None, where=st) -> None:
    """A callback's message, in its colour, in `where` (st, a column, a container)."""
    if notice is not None:
        {"error": where.error, "warning": where.warning, "success": where.success, "info": where.info}[
            notice.kind](notice.text)
