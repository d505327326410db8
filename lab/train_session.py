"""What the Train page finds when a session begins: the browser's last run, and settings from a link."""
from __future__ import annotations

import streamlit as st

from mlp.train import Config

from . import browser, checkpoints, describe, share, state, words
from .runner import TrainingRunner
from .state import Key

LINK_FIELDS = [share.Field(name, type(getattr(Config(), name)), *Config.LIMITS[name]) for name in state.TRAIN_FIELDS]


def restore_run() -> str | None:
    """Once per session with no run: the browser's checkpoint becomes the session's run again.

    Returns a message for the page when something was restored or could not be.
    """
    if not state.first_time(Key.RESTORE_TRIED) or state.runner() is not None:
        return None
    try:
        checkpoint = checkpoints.load(browser.token())
    except checkpoints.CheckpointError as e:
        return f"Your last run could not be restored: {e}."
    if checkpoint is None:
        return None
    run = TrainingRunner.restored(checkpoint)
    state.set_runner(run)
    state.set_train_settings({name: getattr(checkpoint.config, name) for name in state.TRAIN_FIELDS})
    left = checkpoint.config.epochs - checkpoint.epoch
    return (f"Restored your last run from this browser ({words.clause(describe.run(run.status()))}), as it was "
            f"when the page was closed or the server restarted." + (f" {words.count(left, 'epoch')} left: "
                                                    "press Continue to train them." if left > 0 else ""))


def read_link() -> list[str]:
    """Once per session: the settings in the address bar become the Train page's; notes on any ignored."""
    if not state.first_time(Key.LINK_READ):
        return []
    values, notes = share.parse(st.query_params, LINK_FIELDS)
    if values and (state.runner() is None or not state.runner().alive):
        state.set_train_settings(values)
    return notes


def write_link() -> None:
    """Keep the address bar in step with the settings, so copying it shares them."""
    wanted = share.encode(state.train_settings(), LINK_FIELDS)
    if {k: st.query_params.get(k) for k in wanted} != wanted:
        st.query_params.update(wanted)
