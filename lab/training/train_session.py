"""What a session finds when it begins: the browser's run (still training, or from its checkpoint), its
My digits set and its own model, and the Train settings in a link, said plainly when they and the run differ.

The runs still training are known per browser token, process-wide, so that a reload (a new session of
the same browser in the same server) follows its run again instead of restoring an older checkpoint.
"""
from __future__ import annotations

import atexit
import threading
from dataclasses import replace
from typing import Any, Callable, NamedTuple

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mlp.train import Config

from . import checkpoints, describe, runner, train_state
from ..plots import words
from ..session import browser, share, state
from ..session.state import Key
from .runner import TrainingRunner

LINK_FIELDS = [share.Field(name, type(getattr(Config(), name)), *Config.LIMITS[name])
               for name in train_state.TRAIN_FIELDS]
DIVERGED_LR_CUT = 10     # a diverged run is offered to continue at this many times smaller η
SHUTDOWN_WAIT = 5.0      # seconds the server's exit waits for its runs to keep their last steps

_live_lock = threading.Lock()
_live: dict[str, TrainingRunner] = {}   # token -> the run it started last, while it trains


def follow(token: str, run: TrainingRunner) -> None:
    """Remember `run` as the browser's run while it trains (runs that have ended are let go)."""
    with _live_lock:
        for other in [t for t, r in _live.items() if not r.alive]:
            del _live[other]
        _live[token] = run


def live_run(token: str) -> TrainingRunner | None:
    with _live_lock:
        run = _live.get(token)
    return run if run is not None and run.alive else None


def let_go(token: str) -> None:
    with _live_lock:
        _live.pop(token, None)


@atexit.register
def _keep_last_steps() -> None:
    """The server is going down: stop its runs so each keeps a checkpoint of every step it took."""
    with _live_lock:
        runs = list(_live.values())
    for run in runs:
        run.stop()
    for run in runs:
        run.join(SHUTDOWN_WAIT)


def session_connected() -> Callable[[], bool] | None:
    """Asks, from any thread, whether this browser session is still connected; None when that cannot be known.

    Streamlit's Runtime.is_active_session is documented thread-safe.  Under AppTest the
    runtime is a mock whose answers are not booleans: then None, and runs fall back
    on the heartbeat.
    """
    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    server, session_id = runtime.get_instance(), ctx.session_id
    if not isinstance(server.is_active_session(session_id), bool):
        return None
    return lambda: server.is_active_session(session_id)


# -- a session begins -------------------------------------------------------------------------------

class Restored(NamedTuple):
    train: str | None        # for the Train page: the run found again, or why it could not be
    elsewhere: list[str]     # for whichever page opens first: the set and the model found again


def restore_session() -> Restored:
    """Once per session: what this browser keeps becomes the session's again."""
    if not state.first_time(Key.RESTORE_TRIED):
        return Restored(None, [])
    token = browser.token()
    return Restored(_restore_run(token), [note for note in (_restore_digits(token), _restore_model(token)) if note])


def _restore_run(token: str) -> str | None:
    if state.runner() is not None:
        return None
    live = live_run(token)
    if live is not None:   # a reload: the run never stopped
        live.watch(session_connected())
        state.set_runner(live)
        train_state.set_train_settings(settings_of(live.config))
        return f"Your run is still training ({describe.run(live.status())}): this page follows it again."
    try:
        checkpoint = checkpoints.load(token)
    except checkpoints.CheckpointError as e:
        return f"Your last run could not be restored: {e}."
    if checkpoint is None:
        return None
    run = TrainingRunner.restored(checkpoint)
    state.set_runner(run)
    train_state.set_train_settings(settings_of(checkpoint.config))
    return restored_message(checkpoint, run)


def restored_message(checkpoint: runner.Checkpoint, run: TrainingRunner) -> str:
    status = run.status()
    if checkpoint.phase not in runner.ACTIVE or checkpoint.phase == runner.PAUSED:
        when = "was paused." if checkpoint.phase == runner.PAUSED else "stopped."
        return (f"Restored your last run from this browser ({words.clause(describe.run(status))}). "
                f"Nothing was lost: it was saved when it {when}")
    # It was training when the server stopped without its last save: the steps since are gone.
    lost = round(checkpoint.samples_per_second * runner.CHECKPOINT_EVERY / checkpoint.config.batch_size)
    return (f"The server stopped while your run trained. Restored it from its last checkpoint, at step "
            f"{status.steps:,} (epoch {checkpoint.epoch} of {checkpoint.config.epochs} done); the steps after it "
            f"were lost: up to {words.number(runner.CHECKPOINT_EVERY)} s of training"
            + (f", about {words.count(lost, 'step')}." if lost else "."))


def _restore_digits(token: str) -> str | None:
    kept = state.my_digits()
    if kept is not None and len(kept):
        return None
    return _restore("Your My digits set", lambda: checkpoints.load_digits(token), state.set_my_digits,
                    lambda digits: f"My digits: your {words.count(len(digits), 'drawing')} "
                                   f"{'is' if len(digits) == 1 else 'are'} back.")


def _restore_model(token: str) -> str | None:
    if state.own_model() is not None:
        return None

    def adopt(ref) -> None:
        state.set_own_model(ref)
        state.set_model_source(state.OWN)
    return _restore("Your model", lambda: checkpoints.load_model(token), adopt,
                    lambda ref: f"Your model is back, in use: {ref.label}.")


def _restore(what: str, load: Callable, adopt: Callable, found: Callable) -> str | None:
    """What `load` reads becomes the session's (`adopt`); the note to show, if any."""
    try:
        value = load()
    except checkpoints.CheckpointError as e:
        return f"{what} could not be restored: {e}."
    if value is None:
        return None
    adopt(value)
    return found(value)


# -- the link ---------------------------------------------------------------------------------------

class LinkConflict(NamedTuple):
    """The link's Train settings differ from the session's run: which are in the fields, and the other."""
    link: dict[str, Any]     # the link's values that differ
    run: dict[str, Any]      # the run's values for the same settings
    applied: str             # "link" or "run": whose values are in the fields


def settings_of(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in train_state.TRAIN_FIELDS}


def settings_text(values: dict[str, Any]) -> str:
    return " · ".join(f"{train_state.TRAIN_FIELDS[name].short} {value:g}" for name, value in values.items())


def read_link() -> list[str]:
    """Once per session: the settings in the address bar become the Train page's; notes on any ignored.

    With a run in the session whose settings differ, the fields keep the run's while it trains
    (they cannot change then) and take the link's otherwise; either way the page says which apply
    (`link_conflict`) and offers the other."""
    if not state.first_time(Key.LINK_READ):
        return []
    values, notes = share.parse(st.query_params, LINK_FIELDS)
    run = state.runner()
    if not values:
        return notes
    if run is None:
        train_state.set_train_settings(values)
        return notes
    ran = settings_of(run.config)
    differ = {name: value for name, value in values.items() if ran[name] != value}
    if differ:
        applied = "run" if run.alive else "link"
        if applied == "link":
            train_state.set_train_settings(values)
        train_state.set_link_conflict(LinkConflict(differ, {name: ran[name] for name in differ}, applied))
    return notes


def conflict_message(conflict: LinkConflict, run: TrainingRunner) -> str:
    """Which settings apply: the fields' (what Start uses) and the run's (what it trains, or Continue uses)."""
    link, ran = settings_text(conflict.link), settings_text(conflict.run)
    if run.alive:
        if conflict.applied == "run":
            return (f"The link asks for {link}, but your run is still training with {ran}: the fields show the "
                    "run's settings.")
        return f"The link's settings ({link}) are in the fields for the next Start; your run goes on with {ran}."
    if conflict.applied == "link":
        return (f"The link's settings ({link}) are in the fields: Start trains a new run with them. Your restored "
                f"run has {ran}; Continue trains it with its own settings.")
    return f"The fields show your run's settings ({ran}), for Start and Continue; the link asked for {link}."


def apply_conflict_side(side: str) -> None:
    """Put the link's (`side`="link") or the run's ("run") values in the fields."""
    conflict = train_state.link_conflict()
    if conflict is None:
        return
    train_state.set_train_settings(conflict.link if side == "link" else conflict.run)
    train_state.set_link_conflict(conflict._replace(applied=side))


def write_link() -> None:
    """Keep the address bar in step with the settings, so copying it shares them."""
    wanted = share.encode(train_state.train_settings(), LINK_FIELDS)
    if {k: st.query_params.get(k) for k in wanted} != wanted:
        st.query_params.update(wanted)


# -- continuing a restored run ------------------------------------------------------------------------

def continue_config(run: TrainingRunner) -> Config | None:
    """The settings Continue trains a restored run with: its own; a tenth of its η if it diverged (so it
    is not offered to diverge again); None when it has no epoch left or cannot be continued."""
    status = run.status()
    if not run.checkpoint_restored or status.active or status.epoch >= status.epochs:
        return None
    if status.phase == runner.DIVERGED:
        lower = run.config.lr / DIVERGED_LR_CUT
        return replace(run.config, lr=lower) if lower >= Config.LIMITS["lr"][0] else None
    return run.config
