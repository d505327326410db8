"""Checking backprop against the definition of a derivative.

    ∂L/∂θ ≈ (L(θ + ε) − L(θ − ε)) / 2ε        (central difference, error O(ε²))

Run in float64: in float32 the rounding of L swamps a difference of size ε.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .model import MLP, cross_entropy


class Check(NamedTuple):
    name: str                # parameter: W1, b1, W2 or b2
    index: tuple             # which entry
    analytic: float          # from model.backward
    numerical: float         # from central differences
    rel_error: float


def relative_error(a: float, n: float) -> float:
    """|a − n| / max(|a|, |n|), with a floor so two near-zeros don't blow up."""
    return abs(a - n) / max(abs(a), abs(n), 1e-10)


def numerical_grad(model: MLP, X: np.ndarray, y: np.ndarray, name: str, index: tuple,
                   eps: float = 1e-6) -> float:
    """∂L/∂θ[index] by central differences; θ is restored afterwards."""
    theta = getattr(model, name)
    saved = theta[index]
    theta[index] = saved + eps
    loss_plus = cross_entropy(model.forward(X).p, y)
    theta[index] = saved - eps
    loss_minus = cross_entropy(model.forward(X).p, y)
    theta[index] = saved
    return (loss_plus - loss_minus) / (2 * eps)


def check(model: MLP, X: np.ndarray, y: np.ndarray, per_param: int = 20, seed: int = 0,
          eps: float = 1e-6) -> list[Check]:
    """Compare backward() with finite differences on `per_param` random entries of each parameter.

    Works on a float64 copy, so `model` itself is never touched.
    """
    model64 = MLP(*(a.astype(np.float64) for a in model.params().values()))
    X = np.asarray(X, dtype=np.float64)
    grads = model64.backward(X, y, model64.forward(X))
    rng = np.random.default_rng(seed)
    results = []
    for name, theta in model64.params().items():
        flat = rng.choice(theta.size, size=min(per_param, theta.size), replace=False)
        for index in (np.unravel_index(i, theta.shape) for i in flat):
            analytic = float(getattr(grads, name)[index])
            numerical = numerical_grad(model64, X, y, name, index, eps)
            results.append(Check(name, tuple(int(i) for i in index), analytic, numerical,
                                 relative_error(analytic, numerical)))
    return results
