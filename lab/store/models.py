"""Models as the app hands them around, and what is computed from them, cached per model.

A `ModelRef` pairs a network with a version string that is unique in the
process; its arrays are read-only, so anything computed from it stays valid
and is cached under the version (lab.store.model_cache: the cache never holds the
model, and is bounded in bytes).  The shipped model is loaded once and shared
by every session.
"""
from __future__ import annotations

import itertools

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, NamedTuple

import numpy as np

from mlp import weights
from mlp.model import MLP, Cache, as_inputs

from . import budget, mnist, model_cache
from ..plots import images, words

_versions = itertools.count(1)


@dataclass(frozen=True, eq=False)
class ModelRef:
    model: MLP
    version: str     # unique per process: cache key for everything derived from the weights
    label: str       # what the sidebar says, e.g. "Shipped weights (97.9% test accuracy)"

    def __hash__(self) -> int:
        return hash(self.version)

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelRef) and other.version == self.version


def new_ref(model: MLP, label: str, prefix: str = "model") -> ModelRef:
    """Freeze `model` (the caller hands it over) and give it a fresh version.

    The label may carry a stranger's text (a file name, a file's meta), and pages show
    labels as Markdown: it is made plain text first (see `words.plain`).
    """
    for array in model.params().values():
        array.flags.writeable = False
    return ModelRef(model, f"{prefix}-{next(_versions)}", words.plain(label))


def taught_from(ref: ModelRef) -> str:
    """The name of the model that Teach it or fine-tuning builds on: where a chain of lessons started,
    else the ref's label without its parenthesis."""
    return ref.model.meta.get("taught_from", ref.label.split(" (")[0])


@lru_cache(maxsize=1)
def shipped() -> ModelRef:
    """The shipped weights (raises mlp.weights.WeightsError if the file is missing or bad)."""
    model = weights.load_shipped()
    accuracy = model.meta.get("test_accuracy")
    label = "Shipped weights" + (f" ({accuracy:.1%} test accuracy)" if isinstance(accuracy, float) else "")
    return ModelRef(model, "shipped", label)


# -- derived from the weights, cached by version -------------------------------

@model_cache.per_model(max_entries=512, max_bytes=32 * 2**20)
def incoming_image(ref: ModelRef, unit: int, factor: int = 3) -> np.ndarray:
    """(28f, 28f, 3) uint8: W1[:, unit] as a picture on its own ± colour scale."""
    return images.signed(ref.model.W1[:, unit], factor)


@mnist.cached_on_mnist(maxsize=8, max_bytes=2**20)
def dead_units(ref: ModelRef) -> np.ndarray:
    """(h,) bool: units that never fire on the reference inputs (see mnist.reference_inputs)."""
    X, _ = mnist.reference_inputs()
    dead = ref.model.dead_units(X)
    dead.flags.writeable = False
    return dead


def in_slices(model: MLP, X: np.ndarray, use: Callable[[slice, Cache], None]) -> None:
    """use(rows, forward cache) over X (N,784) uint8, in slices whose activations fit budget.EVALUATION_BYTES:
    a page's pass over a 4096-unit float64 upload holds 32 MB of activations, not 700 MB.  (A callback,
    not a generator: a slice's activations are gone before the next slice's are made.)"""
    step = budget.eval_batch(model.hidden, np.dtype(model.dtype).itemsize)
    for start in range(0, len(X), step):
        rows = slice(start, start + step)
        use(rows, model.forward(as_inputs(X[rows], model.dtype)))


class TestOutputs(NamedTuple):
    p: np.ndarray       # (10000,10) probabilities
    fired: np.ndarray   # (h,) bool: the unit's h > 0 on at least one test digit (the others are dead)


@mnist.cached_on_mnist(maxsize=4, max_bytes=8 * 2**20)   # ~0.8 MB a model, whatever its size
def test_outputs(ref: ModelRef) -> TestOutputs | None:
    """Probabilities and which units fire, on the test set, or None without MNIST."""
    test = mnist.test_set()
    if test is None:
        return None
    m = ref.model
    p, fired = np.empty((len(test[1]), m.classes), m.dtype), np.zeros(m.hidden, bool)

    def keep(rows: slice, cache: Cache) -> None:
        p[rows] = cache.p
        np.logical_or(fired, (cache.h > 0).any(axis=0), out=fired)
    in_slices(m, test[0], keep)
    p.flags.writeable = False
    fired.flags.writeable = False
    return TestOutputs(p, fired)


@mnist.cached_on_mnist(maxsize=64, max_bytes=8 * 2**20)   # 40-80 KB a unit
def unit_activations(ref: ModelRef, unit: int) -> np.ndarray | None:
    """(10000,) h of one hidden unit on the test set, or None without MNIST: one column of W1, so the
    whole (10000, h) matrix is never held."""
    test = mnist.test_set()
    if test is None:
        return None
    m = ref.model
    X, w, b = test[0], m.W1[:, unit], m.b1[unit]
    step = budget.eval_batch(1, np.dtype(m.dtype).itemsize)
    h = np.concatenate([np.maximum(as_inputs(X[i:i + step], m.dtype) @ w + b, 0) for i in range(0, len(X), step)])
    h.flags.writeable = False
    return h
