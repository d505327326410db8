"""A training run in words, for the sidebar, the Train page and the model's label."""
from __future__ import annotations

from ..plots import words
from .runner import DIVERGED, FAILED, FETCHING, FINISHED, ORPHANED, PAUSED, RUNNING, STARTING, STOPPED, Status


def run(status: Status | None) -> str:
    """One line for the sidebar."""
    if status is None:
        return "Not started (see Train)."
    where = f"epoch {min(status.epoch + 1, status.epochs)}/{status.epochs} · {status.fraction:.0%}"
    last = status.test_accuracy[-1] if status.test_accuracy else None
    accuracy = f", test accuracy {last:.1%}" if last is not None else ""
    return {
        STARTING: "Loading MNIST…",
        FETCHING: f"Fetching MNIST: {status.fetch_step} {status.fetch_fraction or 0:.0%}",
        RUNNING: f"Running: {where}",
        PAUSED: f"Paused at {where}",
        FINISHED: f"Finished {words.count(status.epochs, 'epoch')}{accuracy}.",
        STOPPED: f"Stopped after {words.count(status.steps, 'step')}{accuracy}.",
        DIVERGED: "Diverged; last good weights kept.",
        FAILED: "Failed (see Train).",
        ORPHANED: "Stopped: its page went away.",
    }[status.phase]


def trained_model(status: Status) -> str:
    """The label of the run's weights as the model in use."""
    if status.active:
        return f"Model being trained (epoch {min(status.epoch + 1, status.epochs)}/{status.epochs}, " \
               f"step {status.steps:,})"
    last = status.test_accuracy[-1] if status.test_accuracy else None
    return f"Trained model ({words.count(status.steps, 'step')}" + (f", {last:.1%} test accuracy)" if last else ")")
