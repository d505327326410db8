"""Two-dimensional toy data sets, made with NumPy, for watching decision boundaries form.

Every set lies roughly inside [-1, 1]², has two classes of (nearly) equal size, and is a
pure function of (name, points, noise, seed): the same arguments give the same points.
`noise` is the standard deviation of Gaussian jitter added to every point, in the same
units as the coordinates, so 0.1 moves a point by about a twentieth of the plot's width.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

CLASSES = 2
EXTENT = 1.5   # the plots show [-EXTENT, EXTENT]²: every set plus its noise fits


def _xor(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """Four squares: class 1 where x and y have the same sign. No straight line separates them."""
    n = len(y)
    # Keep a margin from the axes so that, without noise, the classes do not touch.
    magnitude = rng.uniform(0.1, 1.0, (n, 2))
    first = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    second = np.where(y == 1, first, -first)
    return magnitude * np.stack([first, second], axis=1)


def _moons(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """Two interleaved half circles; each moon's tip reaches into the other's bay."""
    t = rng.uniform(0.0, np.pi, len(y))
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    points = np.where((y == 0)[:, None], upper, lower)
    return (points - [0.5, 0.25]) * 0.75   # centre the pair and fit it in [-1, 1]²


def _circles(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """A disc (class 1) inside a ring (class 0): the boundary must close around the middle."""
    n = len(y)
    radius = np.where(y == 1, rng.uniform(0.0, 0.45, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _spiral(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """Two arms winding one and a quarter turns around each other."""
    t = rng.uniform(0.05, 1.0, len(y))
    angle = 2.5 * np.pi * t + np.pi * y
    return t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


MAKERS: dict[str, Callable[[np.random.Generator, np.ndarray], np.ndarray]] = {
    "xor": _xor, "moons": _moons, "circles": _circles, "spiral": _spiral}
NAMES = {"xor": "XOR", "moons": "Two moons", "circles": "Circles", "spiral": "Spiral"}


def make(name: str, points: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (points,2), y int64 (points,) in {0, 1}) for the data set `name` (a key of MAKERS)."""
    if name not in MAKERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(MAKERS)}")
    if not (isinstance(points, (int, np.integer)) and points >= 2):
        raise ValueError(f"points must be a whole number of at least 2, got {points!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number ≥ 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(points) % CLASSES)           # balanced, in random order
    X = MAKERS[name](rng, y) + rng.normal(0.0, noise, (points, 2))
    return X.astype(np.float32), y.astype(np.int64)
