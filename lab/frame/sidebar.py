"""The sidebar every page shares: navigation, the model in use, training status, heartbeat."""
from __future__ import annotations

import streamlit as st

from mlp.weights import WeightsError

from ..session import state
from ..store import models
from ..training import describe

HEARTBEAT_EVERY = 2.0   # seconds; the runner gives up after runner.HEARTBEAT_TIMEOUT without one

PAGES = (("app.py", "Draw", ":material/draw:"),
         ("pages/1_Train.py", "Train", ":material/model_training:"),
         ("pages/2_Hidden_units.py", "Hidden units", ":material/grid_view:"),
         ("pages/3_Backprop.py", "Backprop", ":material/functions:"),
         ("pages/4_Evaluate.py", "Evaluate", ":material/fact_check:"),
         ("pages/5_Boundaries.py", "Boundaries", ":material/scatter_plot:"),
         ("pages/6_My_digits.py", "My digits", ":material/collections_bookmark:"))


def render() -> models.ModelRef | None:
    """Draw the sidebar; return the model in use (None, with the reason shown, if none can be loaded)."""
    state.init()
    with st.sidebar:
        st.markdown("### MLP Lab")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
        run = state.runner()
        live = st.fragment(_status, run_every=HEARTBEAT_EVERY if run is not None and run.alive else None)
        live()
    try:
        return state.model_in_use()
    except WeightsError:
        return None


def _status() -> None:
    """Reruns on its own while training, which is also the heartbeat that keeps the run alive."""
    run = state.runner()
    if run is not None:
        run.touch()
    st.caption("Model in use")
    try:
        st.markdown(f"**{state.model_in_use().label}**")
    except WeightsError as e:
        st.error(f"The shipped weights cannot be loaded: {e}. Train a model on the Train page, "
                 "or recreate them with `python -m mlp.train --out weights/mlp_784_128_10.npz`.")
    st.caption("Training")
    st.markdown(describe.run(run.status() if run is not None else None))
