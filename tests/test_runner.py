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
from lab.training.runner import TrainingBusy
from mlp.train import Config
from support import start_runner, tiny_data, wait_for


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


