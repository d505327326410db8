"""The training loss of every step, kept in bounded memory.

A run of 1000 epochs at batch 1 is 60 million steps; a list of floats grew 32 B a step
without end.  Here at most `capacity` points are kept: when the buffer fills, neighbouring
pairs merge into their mean and from then on each point is the mean of twice as many
steps.  The curve keeps its shape (each point is the mean over its stretch of steps),
memory stays flat, and a snapshot costs the same at step 100 and at step 10⁷.
"""
from __future__ import annotations

import numpy as np

CAPACITY = 8192   # points kept; twice the loss figure's resolution, so thinning never shows


class LossHistory:
    """Append one loss per step; `curve()` gives (step numbers, losses) of the kept points."""

    def __init__(self, capacity: int = CAPACITY):
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number ≥ 2")
        self._losses = np.empty(capacity, np.float32)
        self._ends = np.empty(capacity, np.int64)   # the last step each point covers
        self._kept = 0
        self._width = 1            # steps per point
        self._open_sum, self._open_steps = 0.0, 0   # the point being filled
        self.steps = 0

    @classmethod
    def restored(cls, steps: np.ndarray, losses: np.ndarray, capacity: int = CAPACITY) -> "LossHistory":
        """A history that goes on from a kept curve (steps (n,) increasing, losses (n,)), e.g. a checkpoint's."""
        steps, losses = np.asarray(steps, np.int64), np.asarray(losses, np.float32)
        if steps.shape != losses.shape or steps.ndim != 1 or (np.diff(steps) <= 0).any():
            raise ValueError("a loss curve needs increasing steps, one per loss")
        history = cls(capacity)
        while len(steps) > capacity:   # each halving pairs neighbours, as appending would have
            half = len(steps) // 2
            steps, losses = steps[1:2 * half:2], losses[:2 * half].reshape(half, 2).mean(axis=1)
        history._kept = len(steps)
        history._ends[:len(steps)], history._losses[:len(steps)] = steps, losses
        history.steps = int(steps[-1]) if len(steps) else 0
        history._width = int(np.median(np.diff(steps))) if len(steps) > 1 else 1
        return history

    def append(self, loss: float) -> None:
        self.steps += 1
        self._open_sum += loss
        self._open_steps += 1
        if self._open_steps < self._width:
            return
        if self._kept == len(self._losses):
            self._halve()            # the open point goes on filling, up to the new width
            return
        self._losses[self._kept] = self._open_sum / self._width
        self._ends[self._kept] = self.steps
        self._kept += 1
        self._open_sum, self._open_steps = 0.0, 0

    def _halve(self) -> None:
        half = len(self._losses) // 2
        self._losses[:half] = self._losses.reshape(half, 2).mean(axis=1)
        self._ends[:half] = self._ends[1::2]
        self._kept = half
        self._width *= 2

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (n,) int64, losses (n,) float32): copies, the point still filling included."""
        steps, losses = self._ends[:self._kept].copy(), self._losses[:self._kept].copy()
        if self._open_steps:
            steps = np.append(steps, self.steps)
            losses = np.append(losses, np.float32(self._open_sum / self._open_steps))
        return steps, losses

    @property
    def nbytes(self) -> int:
        return self._losses.nbytes + self._ends.nbytes
