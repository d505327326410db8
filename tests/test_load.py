"""Many users at once, in a real browser: 8 sessions drawing while 2 train, on one server on 127.0.0.1.

One `streamlit run` server, one Chromium with ten contexts (ten separate users).  Two
start long training runs on the Train page, then go to the Draw page while their runs
go on; eight draw digits at the same time, each a few times, clearing in between.
Every answer must arrive, be the digit drawn, and come quickly: the time from
mouse-up to "Prediction: d" on the page has a median under a second.  Both runs must have kept training, and the
server log must stay free of errors.  Everything runs under one overall deadline and
the server is killed at the end whatever happens.

The ten browsers stand for ten users' computers but share this machine's two cores with
the server; at equal priority they would take most of them, so they run at a lower
priority than the server (see `give_way_to`).  A Train page left open costs its browser
about a quarter of a core (it redraws the loss curve every second), so the trainers look
at the Draw page during the load, as a user does who draws while a model trains; their
sessions stay connected and their runs go on.

Run with -s to see the latencies printed.
"""
from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from crowd import DEADLINE, DRAWERS, DRAWINGS_EACH, MEDIAN_LIMIT, TRAINERS, load
from lab.store import mnist
from support import streamlit_server

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(not mnist.is_ready(), reason="MNIST is not downloaded (run `python -m mlp.fetch`)"),
]


@pytest.fixture
def server(tmp_path):
    """The app's server allowing both training users; yields (url, log path, pid)."""
    log_path = tmp_path / "server.log"
    with streamlit_server(log_path, max_training=TRAINERS) as (url, process):
        yield url, log_path, process.pid


def test_eight_users_drawing_while_two_train(server):
    url, log_path, server_pid = server
    started = time.monotonic()
    answers, before, after = asyncio.run(asyncio.wait_for(load(url, server_pid), DEADLINE))
    elapsed = time.monotonic() - started

    lost = [a for a in answers if a[3] is None]
    assert not lost and len(answers) == DRAWERS * DRAWINGS_EACH, f"answers lost (user, digit): {lost}"
    seconds = sorted(a[3] for a in answers)
    median = statistics.median(seconds)
    p90 = seconds[max(0, round(0.9 * len(seconds)) - 1)]
    print(f"\nload: {DRAWERS} users drawing {DRAWINGS_EACH} digits each while {TRAINERS} train; "
          f"{len(seconds)} answers, mouse-up → prediction: median {median:.2f} s, p90 {p90:.2f} s, "
          f"max {seconds[-1]:.2f} s; training steps during the load {[b - a for a, b in zip(before, after)]}; "
          f"whole test {elapsed:.0f} s")

    wrong = [a for a in answers if a[1] != a[2]]
    assert not wrong, f"(user, drawn, read, s) answers that are not the digit drawn: {wrong}"
    assert median < MEDIAN_LIMIT, f"median {median:.2f} s"
    assert all(b > a for a, b in zip(before, after)), "both runs kept training during the load"
    log = log_path.read_text()
    assert "Traceback" not in log and "Error" not in log, log
