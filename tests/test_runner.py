"""lab.training.runner without Streamlit: a training run in a background thread, steered and capped."""
from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest

from lab.store import mnist
from lab.training import runner as runner_module
from lab.training.runner import TrainingBusy, TrainingRunner
from mlp.train import Config
from support import needs_mnist, start_runner, tiny_data, wait_for


def test_runner_pause_resume_stop():
    run = start_runner()
    wait_for(lambda: run.status().steps > 10)
    run.pause()
    wait_for(lambda: run.status().phase == runner_module.PAUSED)
    paused_at = run.status().steps
    time.sleep(0.3)
    assert run.status().steps <= paused_at + 1, "at most the step in flight finishes after pause"
    run.resume()
    wait_for(lambda: run.status().steps > paused_at + 10)
    run.stop()
    assert run.join(5)
    status = run.status()
    assert status.phase == runner_module.STOPPED and not status.active
    assert len(status.losses) == status.steps and np.isfinite(status.losses).all()


@pytest.mark.slow
def test_runner_learns_and_finishes_with_test_accuracy():
    run = start_runner(config=Config(epochs=3, batch_size=32, lr=0.1, hidden=16))
    assert run.join(30)
    status = run.status()
    assert status.phase == runner_module.FINISHED and status.epoch == 3
    assert len(status.test_accuracy) == 3 and status.test_accuracy[-1] > 0.9
    assert status.losses[-20:].mean() < status.losses[:20].mean()


@pytest.mark.slow
def test_runner_stops_itself_when_the_heartbeat_stops():
    run = start_runner(heartbeat_timeout=0.5)
    for _ in range(10):                 # a live page keeps it going...
        run.touch()
        time.sleep(0.1)
    assert run.alive
    started = time.monotonic()         # ...an orphaned one ends within the timeout (the app uses ~8 s)
    assert run.join(10)
    assert time.monotonic() - started < 10
    assert run.status().phase == runner_module.ORPHANED
    assert "went away" in run.status().message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_runner_threads_give_way_to_page_threads():
    """A lower CPU priority than the server's threads, and a GIL handed over within 0.5 ms, not 5."""
    default = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        run = start_runner()
        wait_for(lambda: run.status().steps > 0)
        server_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        training_nice = os.getpriority(os.PRIO_PROCESS, run._thread.native_id)
        assert training_nice == min(19, server_nice + runner_module.TRAINING_NICENESS) > server_nice
        assert sys.getswitchinterval() <= runner_module.GIL_SWITCH_INTERVAL < 0.005
    finally:
        sys.setswitchinterval(default)


def test_runner_caps_concurrent_runs(monkeypatch):
    monkeypatch.setenv("MLP_LAB_MAX_TRAINING", str(runner_module.active_runs() + 2))
    first, second = start_runner(), start_runner()
    with pytest.raises(TrainingBusy, match="busy"):
        start_runner()
    first.stop()
    assert first.join(5)
    third = start_runner()              # a finished run frees its slot
    assert third.alive and second.alive


def test_runner_divergence_keeps_last_good_finite_weights():
    run = start_runner(config=Config(epochs=5, batch_size=32, lr=100.0, hidden=16))
    assert run.join(30)
    status = run.status()
    assert status.phase == runner_module.DIVERGED
    assert "diverged" in status.message.lower() and "last good weights" in status.message
    model, _ = run.snapshot()
    assert model.is_finite()


def test_runner_reports_a_data_failure():
    def missing(progress):
        raise mnist.idx.MnistError("no MNIST here")
    run = start_runner(missing)
    assert run.join(5)
    assert run.status().phase == runner_module.FAILED and "no MNIST here" in run.status().message


def test_runner_shows_fetch_progress():
    release = threading.Event()

    def fetching(progress):
        progress(0.4, "train-images-idx3-ubyte")
        release.wait(10)
        return tiny_data()
    run = start_runner(fetching)
    wait_for(lambda: run.status().phase == runner_module.FETCHING)
    assert run.status().fetch_fraction == pytest.approx(0.4)
    assert run.status().fetch_step == "train-images-idx3-ubyte"
    release.set()
    wait_for(lambda: run.status().phase == runner_module.RUNNING)


def test_snapshot_is_a_read_only_copy_that_changes_only_with_the_weights():
    run = start_runner()
    wait_for(lambda: run.snapshot() is not None and run.status().steps > 5)
    run.pause()
    wait_for(lambda: run.status().phase == runner_module.PAUSED)
    (model, version), (again, version_again) = run.snapshot(), run.snapshot()
    assert version == version_again and model is again        # cheap while nothing changes
    with pytest.raises(ValueError):
        model.W1[0, 0] = 1.0
    run.resume()
    wait_for(lambda: run.snapshot()[1] != version)
    assert not np.array_equal(run.snapshot()[0].W1, model.W1)


# -- measured every epoch, slow motion, a stop as the last epoch is measured ----------------------

def test_every_epoch_records_training_accuracy_and_dead_units():
    run = start_runner(config=Config(epochs=3, batch_size=32, lr=0.1, hidden=16))
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
        run = start_runner(config=Config(epochs=1, batch_size=128, lr=lr, hidden=128),
                           load=lambda progress: (X, y, X_test[:1000], y_test[:1000]), heartbeat_timeout=600)
        assert run.join(120)
        dead[lr] = run.status().dead_units[-1]
    assert dead[1.0] > dead[0.1]


def test_slow_motion_paces_the_steps_and_stop_does_not_wait_for_it():
    run = start_runner(config=Config(epochs=1000, batch_size=32, lr=0.1, hidden=16), step_delay=0.1)
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


def test_stop_pressed_as_the_last_epoch_is_measured_leaves_a_finished_run(monkeypatch):
    """Seen in CI: such a run ended "stopped" with every epoch done, and continuing it failed (0 epochs)."""
    measure = TrainingRunner._measure_epoch

    def measure_then_stop(self, *args):
        measure(self, *args)
        self.stop()
    monkeypatch.setattr(TrainingRunner, "_measure_epoch", measure_then_stop)
    run = start_runner(config=Config(epochs=1, batch_size=32, lr=0.1, hidden=16))
    assert run.join(30)
    assert run.status().phase == runner_module.FINISHED and run.status().epoch == 1
