"""The Train page's lab side: epoch measurements, slow motion, divergence on the curve, earlier runs,
checkpoints that outlive a reload, and settings in the URL."""
from __future__ import annotations

import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.session import share
from lab.session.state import Key
from lab.store import mnist
from lab.training import checkpoints, train_view
from lab.training import runner as runner_module
from lab.training.loss_history import LossHistory
from lab.training.runner import Checkpoint, TrainingRunner
from support import (APP, TIMEOUT, TRAIN, click, needs_mnist, plotly, session_runner, start_runner, tiny_data,
                     track_session, wait_for)
from mlp.model import MLP
from mlp.train import EXPLODED, Config


def started(config: Config, load=lambda progress: tiny_data(), **kwargs) -> TrainingRunner:
    return start_runner(load, config=config, **kwargs)


# -- the runner's measurements ------------------------------------------------------------

def test_every_epoch_records_training_accuracy_and_dead_units():
    run = started(Config(epochs=3, batch_size=32, lr=0.1, hidden=16))
    assert run.join(30)
    status = run.status()
    assert len(status.train_accuracy) == len(status.test_accuracy) == len(status.dead_units) == 3
    assert status.train_accuracy[-1] > 0.9
    assert all(0 <= d <= 16 for d in status.dead_units)


@needs_mnist
@pytest.mark.slow
def test_a_learning_rate_of_one_kills_units_that_point_one_does_not():
    X, y = mnist.load("train")
    X, y = X[:12_000], y[:12_000]        # an epoch of 94 steps is enough to see units die
    X_test, y_test = mnist.load("test")
    dead = {}
    for lr in (0.1, 1.0):
        run = started(Config(epochs=1, batch_size=128, lr=lr, hidden=128),
                      load=lambda progress: (X, y, X_test[:1000], y_test[:1000]), heartbeat_timeout=600)
        assert run.join(120)
        dead[lr] = run.status().dead_units[-1]
    assert dead[1.0] > dead[0.1]


def test_slow_motion_paces_the_steps_and_stop_does_not_wait_for_it():
    run = started(Config(epochs=1000, batch_size=32, lr=0.1, hidden=16), step_delay=0.1)
    wait_for(lambda: run.status().steps >= 1)
    first = run.status().steps
    time.sleep(1.0)
    assert run.status().steps - first <= 12          # ~10 steps a second, not thousands
    run.step_delay = 5.0
    time.sleep(0.3)
    asked = time.monotonic()
    run.stop()
    assert run.join(2) and time.monotonic() - asked < 1.0
    assert run.status().step_delay == 5.0


def test_a_diverged_run_ends_its_curve_on_the_explosion():
    run = started(Config(epochs=5, batch_size=32, lr=100.0, hidden=16))
    assert run.join(30)
    status = run.status()
    assert status.phase == runner_module.DIVERGED and len(status.losses) >= 1
    assert status.losses[-1] > EXPLODED * np.log(10)     # the running loss that set off the guard
    figure = train_view.loss_curve(status, run.config).to_plotly_json()
    marks = [t for t in figure["data"] if t.get("name") == "diverged"]
    assert marks and marks[0]["customdata"][0] == pytest.approx(float(status.losses[-1]))


# -- earlier runs and figures -----------------------------------------------------------------

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


# -- checkpoints ----------------------------------------------------------------------------

def test_stop_pressed_as_the_last_epoch_is_measured_leaves_a_finished_run(monkeypatch):
    """Seen in CI: such a run ended "stopped" with every epoch done, and continuing it failed (0 epochs)."""
    measure = TrainingRunner._measure_epoch

    def measure_then_stop(self, *args):
        measure(self, *args)
        self.stop()
    monkeypatch.setattr(TrainingRunner, "_measure_epoch", measure_then_stop)
    run = started(Config(epochs=1, batch_size=32, lr=0.1, hidden=16))
    assert run.join(30)
    assert run.status().phase == runner_module.FINISHED and run.status().epoch == 1


def test_a_run_checkpoints_and_a_new_runner_continues_it_to_the_end():
    token = checkpoints.new_token()
    kept = []
    run = started(Config(epochs=4, batch_size=32, lr=0.1, hidden=16),
                  on_checkpoint=lambda c: (kept.append(c), checkpoints.save(token, c)))
    wait_for(lambda: run.status().epoch >= 2, 30)
    run.stop()
    assert run.join(5)
    assert kept and kept[-1].phase == runner_module.STOPPED
    back = checkpoints.load(token)
    np.testing.assert_array_equal(back.model.W1, run.snapshot()[0].W1)
    assert back.epoch == run.status().epoch and back.loss_steps[-1] == run.status().steps
    assert back.config == run.config
    resumed = started(back.config, resume_from=back)
    assert resumed.join(30)
    status = resumed.status()
    assert status.phase == runner_module.FINISHED and status.epoch == 4
    assert len(status.test_accuracy) == 4 and status.steps == status.total_steps
    assert status.losses[:len(back.losses)].tolist() == back.losses.tolist()
    assert status.loss_steps[:len(back.losses)].tolist() == back.loss_steps.tolist()


def test_checkpoint_tokens_cannot_name_other_files():
    for bad in ("../../etc/passwd", "A" * 32, "", None, 5, "0" * 31):
        assert not checkpoints.is_token(bad)
        assert checkpoints.load(bad) is None
        with pytest.raises(ValueError):
            checkpoints.path_for(bad)


def small_checkpoint() -> Checkpoint:
    model = MLP.init(hidden=8, seed=1)
    return Checkpoint(Config(epochs=3, hidden=8), model, np.arange(1, 101), np.linspace(2, 0.5, 100, dtype=np.float32),
                      (0.8,), (0.82,), (1,), 1, runner_module.RUNNING, 300)


def test_damaged_checkpoints_are_refused_with_a_reason(tmp_path):
    token = checkpoints.new_token()
    path = checkpoints.save(token, small_checkpoint())
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read"):
        checkpoints.load(token)
    path.write_bytes(b"not a zip")
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load(token)
    np.savez(path, W1=np.zeros((784, 8)), b1=np.zeros(8), W2=np.zeros((8, 10)), b2=np.zeros(10),
             loss_steps=np.arange(1, 4), losses=np.zeros(3, np.float32),
             info=np.frombuffer(b'{"config": {"hidden": 9}}', np.uint8))
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load(token)
    np.savez(path, evil=np.array([object()], dtype=object))
    with pytest.raises(checkpoints.CheckpointError, match="unexpected members"):
        checkpoints.load(token)


def test_a_restored_loss_history_goes_on_like_the_one_it_was_kept_from():
    kept, fresh = LossHistory(capacity=64), LossHistory(capacity=64)
    for i in range(1000):
        kept.append(float(i))
    restored = LossHistory.restored(*kept.curve(), capacity=64)
    for i in range(1000):
        fresh.append(float(i))
    for i in range(1000, 1500):
        restored.append(float(i))
        fresh.append(float(i))
    assert restored.steps == fresh.steps == 1500
    steps, losses = restored.curve()
    assert len(steps) <= 65 and steps[-1] == 1500 and (np.diff(steps) > 0).all()
    np.testing.assert_allclose(np.interp(steps, *fresh.curve()), losses, atol=16)


# -- settings in the URL ------------------------------------------------------------------------

FIELDS = [share.Field("lr", float, 1e-6, 100.0), share.Field("epochs", int, 1, 1000),
          share.Field("data", str, choices=("xor", "moons"))]


def test_good_query_values_are_taken_and_bad_ones_noted_not_raised():
    values, notes = share.parse({"lr": "0.05", "epochs": "200", "data": "moons"}, FIELDS)
    assert values == {"lr": 0.05, "epochs": 200, "data": "moons"} and notes == []
    values, notes = share.parse({"lr": "nan", "epochs": "2.5", "data": "<script>", "other": "1"}, FIELDS)
    assert values == {}
    assert len(notes) == 3 and "finite" in notes[0] and "whole" in notes[1] and "one of" in notes[2]
    values, notes = share.parse({"lr": "500", "epochs": "0"}, FIELDS)
    assert values == {} and all("outside" in n for n in notes)


def test_encoded_settings_parse_back_to_themselves():
    values = {"lr": 0.0123, "epochs": 7, "data": "xor"}
    assert share.parse(share.encode(values, FIELDS), FIELDS) == (values, [])


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
