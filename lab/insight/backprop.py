"""One example through the engine's equations, every intermediate kept, and a gradient check."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mlp.gradcheck import ABS_TOLERANCE, REL_TOLERANCE, Check, check  # noqa: F401  (the page's caption)
from mlp.model import MLP, cross_entropy

from ..store.model_cache import per_model
from ..store.models import ModelRef


class Trace(NamedTuple):
    """Forward and backward for X (1,784) with label y, named as in the design document."""
    X: np.ndarray
    a1: np.ndarray
    h: np.ndarray
    z: np.ndarray
    p: np.ndarray
    L: float
    dz: np.ndarray
    gW2: np.ndarray
    gb2: np.ndarray
    dh: np.ndarray
    da1: np.ndarray
    gW1: np.ndarray
    gb1: np.ndarray


def trace(model: MLP, x: np.ndarray, label: int) -> Trace:
    """MLP.forward and MLP.backward on one example, their intermediates under the design document's names."""
    X, y = np.asarray(x, model.dtype).reshape(1, -1), np.array([label])
    cache = model.forward(X)
    g = model.backward(X, y, cache)
    return Trace(X, cache.a1, cache.h, cache.z, cache.p, cross_entropy(cache.p, y),
                 g.dz, g.W2, g.b2, g.dh, g.da1, g.W1, g.b1)


@per_model(max_entries=16, max_bytes=2**20)
def gradient_check(ref: ModelRef, x_bytes: bytes, label: int, per_parameter: int = 6, seed: int = 0) -> list[Check]:
    """mlp.gradcheck.check on one example: half the entries per parameter with the largest gradient, half random."""
    X = np.frombuffer(x_bytes, np.float32).reshape(1, -1)
    return check(ref.model, X, np.array([label]), per_parameter=per_parameter, largest=per_parameter // 2, seed=seed)
