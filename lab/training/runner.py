"""Training in a background thread, one per session, in pure NumPy (no Streamlit here).

A page script dies on every click, so the loop lives in a thread that the
page only steers (start, pause, resume, stop) and reads (`status()`,
`snapshot()`).  One lock guards the model and the history: a step happens
under it, so a snapshot is never half-updated.

Two things keep threads from piling up on a shared server:
- a run stops once the page that started it has gone (tab closed, reloaded).
  Under `streamlit run` the page says how to ask whether its browser session
  is still connected (`connected`), and a run stops ~4 s after the session
  disconnects.  Otherwise (AppTest, or no way to ask) a heartbeat decides:
  the page calls `touch()` every ~2 s and the run stops once the heartbeat is
  older than ~8 s.  The heartbeat alone is not enough on a busy server: with
  every core taken, a watched page's reruns were seen to come more than 8 s
  apart, and its run was stopped as if nobody watched (tests/test_load.py);
- a process-wide cap on concurrent runs (env MLP_LAB_MAX_TRAINING, default
  the number of CPUs): `start()` beyond it raises `TrainingBusy`.
"""
from __future__ import annotations

import collections
import itertools
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from mlp.model import MLP
from mlp.train import Config, Diverged, Trainer

from ..plots import words
from ..store import budget
from .loss_history import LossHistory

HEARTBEAT_TIMEOUT = 8.0   # seconds without touch() before the thread decides nobody is watching
DISCONNECT_GRACE = 4.0    # seconds a session may be disconnected (a network blip reconnects) before the run stops
CONNECTED_SILENCE = 300.0  # a connected session silent this long is a hung browser: stop anyway
CONNECTION_CHECK_EVERY = 0.5   # seconds between asking whether the session is connected
# Training is batch work: its threads run at this much lower priority (Linux: per thread), so with
# every core busy the scheduler serves page reruns first and training takes what is left.
TRAINING_NICENESS = 10
# Niceness does not reach the GIL: a training thread holds it between NumPy calls, and a page's
# thread that gave it up (for I/O, or inside NumPy) waits for it up to Python's switch interval,
# 5 ms by default, many times per rerun.  A tenth of that made answers under load faster and cost the
# runs nothing (docs/constants.md).
GIL_SWITCH_INTERVAL = 0.0005   # seconds; process-wide, set when a run starts
RATE_WINDOW = 2.0         # seconds of recent steps that samples/s is measured over
# Training accuracy and dead units are measured at the end of every epoch on this many training
# images (a fixed sample): enough for a tenth of a percent, cheap enough not to pause the run.
TRAIN_SAMPLE = 10_000
CHECKPOINT_EVERY = 5.0    # seconds between checkpoints handed to `on_checkpoint`
MAX_WATCHERS = 8          # sessions remembered as following one run (each reload adds one)

# Phases. "starting" covers loading (and fetching, which has its own phase) before the first step.
STARTING, FETCHING, RUNNING, PAUSED = "starting", "fetching", "running", "paused"
FINISHED, STOPPED, DIVERGED, FAILED, ORPHANED = "finished", "stopped", "diverged", "failed", "orphaned"
ACTIVE = frozenset({STARTING, FETCHING, RUNNING, PAUSED})

Data = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]   # X, y, X_test, y_test


@dataclass(frozen=True)
class Checkpoint:
    """Enough of a run to show it again and continue it: settings, weights, history."""
    config: Config
    model: MLP
    loss_steps: np.ndarray      # (n,) the step each loss point ends at (see LossHistory)
    losses: np.ndarray          # (n,) float32
    test_accuracy: tuple
    train_accuracy: tuple
    dead_units: tuple
    epoch: int                  # epochs completed
    phase: str                  # what the run was doing when this was taken
    total_steps: int            # steps the whole run takes
    message: str = ""           # why it stopped, diverged or failed
    samples_per_second: float = 0.0   # how fast it trained then (what a crash right after it costs)


class TrainingBusy(RuntimeError):
    """Too many training runs at once on this server."""


# -- the process-wide cap -----------------------------------------------------

_slots_lock = threading.Lock()
_active_runs = 0
_run_ids = itertools.count(1)


def capacity() -> int:
    """How many runs may train at once: $MLP_LAB_MAX_TRAINING, else the number of CPUs."""
    try:
        return max(1, int(os.environ["MLP_LAB_MAX_TRAINING"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1


def active_runs() -> int:
    with _slots_lock:
        return _active_runs


def _take_slot() -> bool:
    global _active_runs
    with _slots_lock:
        if _active_runs >= capacity():
            return False
        _active_runs += 1
        return True


def _release_slot() -> None:
    global _active_runs
    with _slots_lock:
        _active_runs -= 1


# -- what the page reads -------------------------------------------------------

@dataclass(frozen=True)
class Status:
    """A consistent picture of a run at one moment (copies, safe to keep)."""
    phase: str
    message: str               # why it stopped, diverged or failed; "" otherwise
    epoch: int                 # epochs completed
    epochs: int
    steps: int                 # SGD steps done
    total_steps: int           # 0 until the data are loaded
    samples_per_second: float
    eta_seconds: float | None
    fetch_fraction: float | None   # while fetching MNIST: how far the current step is
    fetch_step: str                # and what that step is (a file name, or npm)
    losses: np.ndarray         # (n,) training loss, one point per step or the mean of several (LossHistory)
    loss_steps: np.ndarray     # (n,) the step each point of `losses` ends at
    test_accuracy: tuple       # one per completed epoch (None when there is no test set)
    train_accuracy: tuple = ()  # one per completed epoch, on TRAIN_SAMPLE training images
    dead_units: tuple = ()      # one per completed epoch: units with a1 ≤ 0 on all of those images
    step_delay: float = 0.0     # seconds of slow motion after every step

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE

    @property
    def fraction(self) -> float:
        return self.steps / self.total_steps if self.total_steps else 0.0


def _share_gil() -> None:
    """Make threads waiting for the GIL (page reruns, the server's event loop) get it sooner."""
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))


def _lower_priority() -> None:
    """Raise this thread's nice value by TRAINING_NICENESS (Linux applies it per thread; elsewhere a no-op)."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + TRAINING_NICENESS))
    except (AttributeError, OSError):   # no setpriority (Windows), or not allowed
        pass


def load_mnist(progress: Callable[[float, str], None]) -> Data:
    """The default data: MNIST, fetched first if it is not on disk yet."""
    from ..store import mnist
    if not mnist.is_ready():
        mnist.fetch(progress)
    X, y = mnist.load("train")
    X_test, y_test = mnist.load("test")
    return X, y, X_test, y_test


class TrainingRunner:
    """One training run: `start()` once, then steer it; it never restarts (make a new runner)."""

    def __init__(self, config: Config, load_data: Callable[[Callable[[float, str], None]], Data] = load_mnist,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT, clock: Callable[[], float] = time.monotonic,
                 connected: Callable[[], bool] | None = None, step_delay: float = 0.0,
                 on_checkpoint: Callable[["Checkpoint"], None] | None = None,
                 resume_from: "Checkpoint | None" = None):
        """`connected`: whether the starting page's browser session is still connected (any thread may ask).

        `step_delay`: slow motion, seconds to wait after every step (Stop still takes effect at once).
        `on_checkpoint`: called from the training thread every CHECKPOINT_EVERY seconds and when the
        run ends, with a Checkpoint to keep (e.g. on disk, so a reload finds the run again).
        `resume_from`: a checkpoint whose weights and history this run continues from.

        Raises budget.OverBudget for a run too big for a shared server (the Config itself is in range: made so).
        """
        self.config = budget.check(config)
        self.id = next(_run_ids)
        self._load_data = load_data
        self._heartbeat_timeout = heartbeat_timeout
        self._clock = clock
        self._watchers: list[Callable[[], bool]] = [connected] if connected is not None else []
        self.step_delay = max(0.0, float(step_delay))
        self._on_checkpoint = on_checkpoint
        self._resume_from = resume_from
        self.checkpoint_restored = False   # True for a run shown again from a checkpoint (restored())
        self._last_checkpoint = clock()
        self._disconnected_since: float | None = None
        self._next_connection_check = 0.0
        self._lock = threading.Lock()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = clock()
        # Everything below is guarded by _lock.
        self._phase = STARTING
        self._message = ""
        self._model: MLP | None = None
        self._version = 0              # bumps whenever the weights change
        self._snapshot: tuple[int, MLP] | None = None
        self._losses = LossHistory()
        self._accuracy: list[float | None] = []
        self._train_accuracy: list[float] = []
        self._dead_units: list[int] = []
        self._epoch = 0
        if resume_from is not None:
            self._losses = LossHistory.restored(resume_from.loss_steps, resume_from.losses)
            self._accuracy = list(resume_from.test_accuracy)
            self._train_accuracy = list(resume_from.train_accuracy)
            self._dead_units = list(resume_from.dead_units)
            self._epoch = resume_from.epoch
        self._total_steps = 0
        self._fetch_fraction: float | None = None
        self._fetch_step = ""
        self._recent = collections.deque()   # (time, steps) for samples/s

    @classmethod
    def restored(cls, checkpoint: Checkpoint) -> "TrainingRunner":
        """A run shown again from its checkpoint (after a reload or a restart): its weights and curves,
        never started; `resume_from=checkpoint` on a new runner continues it."""
        run = cls(checkpoint.config, resume_from=checkpoint)
        with run._lock:
            run._model = checkpoint.model.copy()
            # A run that diverged stays diverged: continuing it as it was would diverge again.
            run._phase = checkpoint.phase if checkpoint.phase in (FINISHED, DIVERGED) else STOPPED
            run._message = checkpoint.message if checkpoint.phase == DIVERGED else ""
            run._total_steps = checkpoint.total_steps
        run.checkpoint_restored = True
        return run

    # -- steering (any thread) --------------------------------------------------

    def start(self) -> None:
        """Begin in a daemon thread; raises TrainingBusy when the server's cap is reached."""
        if self._thread is not None:
            raise RuntimeError("this run was already started")
        if not _take_slot():
            busy = capacity()
            raise TrainingBusy(f"Training is busy: {words.count(busy, 'run')} {words.plural(busy, 'is', 'are')} "
                               "already training on this server, the most it allows at once. "
                               "Try again when one finishes.")
        self.touch()
        self._thread = threading.Thread(target=self._run, name=f"mlp-lab-training-{self.id}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        with self._lock:
            if self._phase == RUNNING:
                self._phase = PAUSED
                self._unpaused.clear()

    def resume(self) -> None:
        with self._lock:
            if self._phase == PAUSED:
                self._phase = RUNNING
                self._recent.clear()   # the pause is not slowness
                self._unpaused.set()

    def stop(self) -> None:
        """Ask the thread to end after the current step; the weights so far are kept."""
        self._stop.set()
        self._unpaused.set()

    def watch(self, connected: Callable[[], bool] | None) -> None:
        """Another browser session follows this run (a reload of the page that started it): the run goes on
        while any session watching it is connected."""
        self.touch()
        if connected is None:
            return
        with self._lock:
            self._watchers = (self._watchers + [connected])[-MAX_WATCHERS:]
            self._disconnected_since = None

    def abandon(self) -> None:
        """Stop, and keep no checkpoint from now on (the user discarded the run)."""
        self._on_checkpoint = None
        self.stop()

    def touch(self) -> None:
        """Heartbeat: somebody is still looking at this run."""
        self._last_beat = self._clock()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- reading (any thread) -----------------------------------------------------

    def status(self) -> Status:
        with self._lock:
            rate = self._rate()
            remaining = self._total_steps - self._losses.steps
            eta = remaining * self.config.batch_size / rate if rate > 0 and self._phase == RUNNING else None
            loss_steps, losses = self._losses.curve()
            return Status(self._phase, self._message, self._epoch, self.config.epochs, self._losses.steps,
                          self._total_steps, rate, eta, self._fetch_fraction, self._fetch_step,
                          losses, loss_steps, tuple(self._accuracy), tuple(self._train_accuracy),
                          tuple(self._dead_units), self.step_delay)

    def model_ref(self):
        """The current weights as the model in use (a store.models.ModelRef), or None before the first model."""
        from ..store import models
        from .describe import trained_model     # describe reads this module's Status
        snap = self.snapshot()
        if snap is None:
            return None
        model, version = snap
        return models.ModelRef(model, f"run{self.id}-v{version}", trained_model(self.status()))

    def snapshot(self) -> tuple[MLP, int] | None:
        """(a read-only copy of the weights, version), or None before the first model exists.

        The copy is remade only when the weights changed, so repeated calls are cheap
        and callers can cache work on the version.
        """
        with self._lock:
            if self._model is None:
                return None
            if self._snapshot is None or self._snapshot[0] != self._version:
                copy = self._model.copy()
                for array in copy.params().values():
                    array.flags.writeable = False
                self._snapshot = (self._version, copy)
            return self._snapshot[1], self._version

    # -- the thread ---------------------------------------------------------------

    def _run(self) -> None:
        _lower_priority()
        _share_gil()
        try:
            X, y, X_test, y_test = self._load_data(self._on_fetch_progress)
            cfg = self.config
            if self._resume_from is not None:
                model = self._resume_from.model.copy()
                trainer = Trainer(model, X, y, replace(cfg, epochs=cfg.epochs - self._epoch))
            else:
                model = MLP.init(hidden=cfg.hidden, seed=cfg.seed)
                trainer = Trainer(model, X, y, cfg)
            sample = np.random.default_rng(cfg.seed).choice(len(y), size=min(TRAIN_SAMPLE, len(y)), replace=False)
            # A stopped run may be mid-epoch: it goes on with the steps that epoch had left, so every
            # epoch is steps_per_epoch steps and no step is counted twice.
            into_epoch = self._losses.steps - self._epoch * trainer.steps_per_epoch
            with self._lock:
                self._model, self._fetch_fraction = model, None
                self._total_steps = cfg.epochs * trainer.steps_per_epoch
                if self._phase in (STARTING, FETCHING):
                    self._phase = RUNNING
            if into_epoch >= trainer.steps_per_epoch:   # its steps were taken; Stop came as it was measured
                self._measure_epoch(trainer, X_test, y_test, X[sample], y[sample])
                into_epoch = 0
            trainer.batch = max(0, into_epoch)
            trainer.lr = cfg.lr * cfg.lr_decay ** self._epoch
            if self._epoch >= cfg.epochs:
                return self._end(FINISHED, "")
            self._train(trainer, X_test, y_test, X[sample], y[sample])
        except Diverged as e:
            # Trainer has already put the last good weights back.
            self._end(DIVERGED, f"Training diverged: {e}. The last good weights are kept.")
        except Exception as e:  # noqa: BLE001 -- the page shows it; a thread has nobody else to tell
            if self._stop.is_set():
                self._end(STOPPED, "Stopped before training began.")
            elif self._orphaned():
                self._end(ORPHANED, "Stopped because the page that started it went away.")
            else:
                self._end(FAILED, f"{type(e).__name__}: {e}")
        finally:
            _release_slot()

    def _train(self, trainer: Trainer, X_test, y_test, X_sample, y_sample) -> None:
        while True:
            if self._stop.is_set():
                return self._end(STOPPED, "Stopped; the weights so far are kept.")
            if self._orphaned():
                return self._end(ORPHANED, "Stopped because the page that started it went away.")
            if not self._unpaused.is_set():
                self._unpaused.wait(0.2)
                continue
            with self._lock:
                try:
                    result = trainer.train_batch()
                except Diverged:
                    # The exploded running loss goes on the curve, so the page can plot what it speaks of.
                    self._losses.append(trainer.running_loss)
                    raise
                finally:
                    self._version += 1   # a Diverged step restored older weights: still a change
                self._losses.append(result.loss)
                now = self._clock()
                self._recent.append((now, self._losses.steps))
                while now - self._recent[0][0] > RATE_WINDOW:
                    self._recent.popleft()
            if result.epoch_done:
                self._measure_epoch(trainer, X_test, y_test, X_sample, y_sample)
                # Every epoch trained and measured is a finished run, even if Stop came during the last
                # measurement: "stopped" after the last epoch left a checkpoint with no epoch to continue.
                if self._epoch >= self.config.epochs:
                    return self._end(FINISHED, "")
                if self._stop.is_set():
                    continue
            if self._on_checkpoint is not None and self._clock() - self._last_checkpoint >= CHECKPOINT_EVERY:
                self._checkpoint()
            if self.step_delay:
                self._stop.wait(self.step_delay)   # slow motion, cut short by Stop
            time.sleep(0)   # let the page's threads have the GIL between steps

    def _measure_epoch(self, trainer: Trainer, X_test, y_test, X_sample, y_sample) -> None:
        """Test accuracy, training accuracy and dead units after an epoch (the thread only; given up on Stop)."""
        model = trainer.model
        accuracy = self._accuracy_on(model, X_test, y_test)
        train_accuracy = self._accuracy_on(model, X_sample, y_sample)
        if self._stop.is_set():
            return
        dead = int(model.dead_units(X_sample).sum())
        with self._lock:
            self._epoch += 1
            self._accuracy.append(accuracy)
            self._train_accuracy.append(train_accuracy)
            self._dead_units.append(dead)

    def _accuracy_on(self, model: MLP, X, y) -> float | None:
        """Accuracy in slices of bounded memory and time, given up (None) once Stop is pressed."""
        if X is None:
            return None
        return model.accuracy(X, y, budget.eval_batch(self.config.hidden), given_up=self._stop.is_set)

    def checkpoint(self) -> "Checkpoint | None":
        """The run as it is now, to keep and resume from; None before the first model exists."""
        with self._lock:
            if self._model is None:
                return None
            loss_steps, losses = self._losses.curve()
            return Checkpoint(self.config, self._model.copy(), loss_steps, losses, tuple(self._accuracy),
                              tuple(self._train_accuracy), tuple(self._dead_units), self._epoch, self._phase,
                              self._total_steps, self._message, self._rate())

    def _checkpoint(self) -> None:
        self._last_checkpoint = self._clock()
        keep = self._on_checkpoint
        checkpoint = self.checkpoint()
        if checkpoint is None or keep is None:
            return
        try:
            keep(checkpoint)
        except Exception:  # noqa: BLE001 -- a full disk must not stop training; the next one may work
            logging.getLogger(__name__).exception("could not keep a checkpoint of run %s", self.id)

    def _end(self, phase: str, message: str) -> None:
        with self._lock:
            self._phase, self._message = phase, message
            self._unpaused.set()
        if self._on_checkpoint is not None:
            self._checkpoint()

    def _orphaned(self) -> bool:
        """Nobody is watching any more (called by the thread only)."""
        now = self._clock()
        silence = now - self._last_beat
        with self._lock:
            watchers = list(self._watchers)
        if not watchers:
            return silence > self._heartbeat_timeout
        if now >= self._next_connection_check:
            self._next_connection_check = now + CONNECTION_CHECK_EVERY
            if any(connected() for connected in watchers):
                self._disconnected_since = None
            elif self._disconnected_since is None:
                self._disconnected_since = now
        if self._disconnected_since is not None and now - self._disconnected_since > DISCONNECT_GRACE:
            return True
        return silence > CONNECTED_SILENCE

    def _on_fetch_progress(self, fraction: float, step: str) -> None:
        with self._lock:
            self._phase, self._fetch_fraction, self._fetch_step = FETCHING, fraction, step
        if self._stop.is_set() or self._orphaned():
            raise InterruptedError("fetching was cancelled")

    def _rate(self) -> float:
        """Samples per second over the last RATE_WINDOW seconds of steps (call under the lock)."""
        if self._phase != RUNNING or len(self._recent) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self._recent[0], self._recent[-1]
        return (s1 - s0) * self.config.batch_size / (t1 - t0) if t1 > t0 else 0.0
