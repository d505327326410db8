"""The Train page: its figures (lab/training/train_view.py: divergence on the curve, earlier runs) and the page
itself through AppTest (settings from the link, slow motion, a reload, the next run over the last).  The runner
is tested in test_runner.py, checkpoints in test_persistence.py, links in test_share.py."""
from __future__ import annotations

import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.session.state import Key
from lab.training import checkpoints, train_view
from lab.training import runner as runner_module
from lab.training.runner import TrainingRunner
from support import (APP, TIMEOUT, TRAIN, click, needs_mnist, plotly, session_runner, start_runner, tiny_data,
                     track_session, wait_for)
from mlp.train import EXPLODED, Config


def started(config: Config, load=lambda progress: tiny_data(), **kwargs) -> TrainingRunner:
    return start_runner(load, config=config, **kwargs)


# -- the figures: divergence, earlier runs -------------------------------------------------------------

def test_a_diverged_run_ends_its_curve_on_the_explosion():
    run = started(Config(epochs=5, batch_size=32, lr=100.0, hidden=16))
    assert run.join(30)
    status = run.status()
    assert status.phase == runner_module.DIVERGED and len(status.losses) >= 1
    assert status.losses[-1] > EXPLODED * np.log(10)     # the running loss that set off the guard
    figure = train_view.loss_curve(status, run.config).to_plotly_json()
    marks = [t for t in figure["data"] if t.get("name") == "diverged"]
    assert marks and marks[0]["customdata"][0] == pytest.approx(float(status.losses[-1]))


def test_earlier_runs_are_overlaid_with_their_settings_and_at_most_five_are_kept():
    run = started(Config(epochs=2, batch_size=32, lr=0.05, hidden=16, seed=3))
    assert run.join(30)
    summary = train_view.summarise(run.config, run.status())
    assert summary.label == "η 0.05 · batch 32 · h 16 · seed 3"
    assert len(summary.steps) <= train_view.EARLIER_POINTS and summary.test_accuracy is not None
    earlier = []
    for _ in range(7):
        earlier = train_view.remember(earlier, summary)
    assert len(earlier) == train_view.MAX_EARLIER
    figure = train_view.loss_curve(run.status(), run.config, earlier[:2]).to_plotly_json()
    names = [t["name"] for t in figure["data"]]
    assert names.count("earlier: η 0.05 · batch 32 · h 16 · seed 3") == 2
    assert "dead units" in names and figure["layout"]["yaxis2"]["overlaying"] == "y"
    accuracy = train_view.accuracy_curve(run.status()).to_plotly_json()
    assert [t["name"] for t in accuracy["data"]] == ["test", "training"]


def test_a_run_that_never_stepped_leaves_no_earlier_curve():
    run = TrainingRunner(Config(epochs=1, batch_size=32, hidden=16), load_data=lambda p: tiny_data())
    assert train_view.summarise(run.config, run.status()) is None


# -- the Train page (AppTest) ----------------------------------------------------------------------

def train_page(token: str | None = None, query: dict | None = None) -> AppTest:
    """A new session opening the Train page, from the browser with `token` in its cookie if given."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if token is not None:
        at.session_state[Key.BROWSER_TOKEN] = token       # the browser's cookie, as a reload would send it
    at.switch_page(TRAIN)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    track_session(at)
    return at


def finish(at: AppTest, timeout: float = 120) -> TrainingRunner:
    run = session_runner(at)
    assert run is not None and run.join(timeout)
    at.run()
    return run


def test_settings_come_from_the_link_and_go_back_into_it():
    at = train_page(query={"lr": "0.05", "epochs": "7", "seed": "3", "hidden": "5000", "batch_size": "ten"})
    assert at.number_input(key=Key.train("lr")).value == 0.05
    assert at.number_input(key=Key.train("epochs")).value == 7
    assert at.number_input(key=Key.train("seed")).value == 3
    assert at.number_input(key=Key.train("hidden")).value == 128            # out of range: the default stays
    warnings = " ".join(w.value for w in at.warning)
    assert "hidden='5000' ignored" in warnings and "batch_size='ten' ignored" in warnings
    at.number_input(key=Key.train("epochs")).set_value(9).run()
    assert at.query_params["epochs"] in ("9", ["9"]) and at.query_params["lr"] in ("0.05", ["0.05"])


@needs_mnist
@pytest.mark.slow
def test_slow_motion_reaches_the_run_and_can_change_while_it_runs():
    at = train_page()
    at.select_slider(key=Key.SLOW_MOTION).set_value(0.5).run()
    click(at, "Start")
    run = session_runner(at)
    assert run.step_delay == 0.5
    wait_for(lambda: run.status().steps >= 1, 60)
    time.sleep(1.0)
    assert run.status().steps <= 5
    at.select_slider(key=Key.SLOW_MOTION).set_value(0.0).run()
    assert run.step_delay == 0.0
    wait_for(lambda: run.status().steps > 50, 60)


@needs_mnist
@pytest.mark.slow
def test_divergence_is_plotted_and_says_no_epoch_completed():
    at = train_page()
    at.number_input(key=Key.train("lr")).set_value(50.0).run()
    click(at, "Start")
    finish(at)
    names = [trace.get("name") for trace in plotly(at, "loss_curve")["data"]]
    assert "diverged" in names
    assert any("No epoch was completed" in i.value for i in at.info)
    assert not any("appear after the first epoch" in i.value for i in at.info)


@needs_mnist
@pytest.mark.slow
def test_a_reload_finds_the_run_again_and_continue_finishes_it():
    token = checkpoints.new_token()
    first = train_page(token)
    first.number_input(key=Key.train("epochs")).set_value(3).run()
    click(first, "Start")
    run = session_runner(first)
    wait_for(lambda: run.status().epoch >= 1, 120)
    click(first, "Stop")
    finish(first)
    steps = run.status().steps

    again = train_page(token)          # a new session of the same browser: a reload, or a restarted server
    restored = session_runner(again)
    assert restored is not None and restored.checkpoint_restored and restored.status().steps == steps
    assert any("Restored your last run" in i.value for i in again.info)
    assert "Stopped after" in " ".join(m.value for m in again.sidebar.markdown)
    np.testing.assert_array_equal(restored.snapshot()[0].W1, run.snapshot()[0].W1)
    [resume] = [b for b in again.button if b.label.startswith("Continue:")]
    resume.click().run()
    continued = finish(again)
    assert continued is not restored and continued.status().phase == runner_module.FINISHED
    assert continued.status().epoch == 3 and continued.status().steps > steps

    click(again, "Reset")                # Reset forgets the checkpoint: the next visit starts clean
    assert checkpoints.load(token) is None
    assert session_runner(train_page(token)) is None


@needs_mnist
@pytest.mark.slow
def test_the_next_run_is_drawn_over_the_earlier_one_with_its_settings():
    at = train_page()
    at.number_input(key=Key.train("epochs")).set_value(1).run()
    at.number_input(key=Key.train("lr")).set_value(0.05).run()
    click(at, "Start")
    finish(at)
    at.number_input(key=Key.train("lr")).set_value(0.2).run()
    click(at, "Start")
    finish(at)
    names = [trace.get("name") for trace in plotly(at, "loss_curve")["data"]]
    assert "earlier: η 0.05 · batch 128 · h 128 · seed 0" in names
    assert "smoothed: η 0.2 · batch 128 · h 128 · seed 0" in names
    assert [t["name"] for t in plotly(at, "accuracy_curve")["data"]] == ["test", "training"]
