"""Checking backprop against the definition of a derivative.

    ∂f/∂θ ≈ (f(θ + ε) − f(θ − ε)) / 2ε        (central difference, error O(ε²))

Run in float64: in float32 the rounding of f swamps a difference of size ε.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .model import Classifier, cross_entropy

# Central differences carry round-off of about ε_machine·L/ε ≈ 1e-11 in absolute terms, so a
# tiny gradient (1e-8) can show a large relative error while agreeing to all the digits it has.
# An entry agrees when |a − n| ≤ ABS_TOLERANCE + REL_TOLERANCE·max(|a|, |n|), like np.isclose.
ABS_TOLERANCE = 1e-9
REL_TOLERANCE = 1e-5


class Check(NamedTuple):
    """One entry of one parameter: backward()'s gradient beside the central difference."""
    parameter: str       # W1, b1, W2, b2 (MLP) or W, b (softmax regression)
    index: tuple         # which entry
    analytic: float      # from model.backward
    numerical: float     # from central differences

    @property
    def absolute_error(self) -> float:
        return abs(self.analytic - self.numerical)

    @property
    def relative_error(self) -> float:
        """|a − n| / max(|a|, |n|), with a floor so two near-zeros don't blow up."""
        return self.absolute_error / max(abs(self.analytic), abs(self.numerical), 1e-10)

    def within(self, rel_tolerance: float = REL_TOLERANCE, abs_tolerance: float = ABS_TOLERANCE) -> bool:
        """|a − n| ≤ abs_tolerance + rel_tolerance·max(|a|, |n|)."""
        return self.absolute_error <= abs_tolerance + rel_tolerance * max(abs(self.analytic), abs(self.numerical))

    @property
    def agrees(self) -> bool:
        return self.within()


def numerical_grad(f: Callable[[], float], theta: np.ndarray, index: tuple, eps: float = 1e-6) -> float:
    """∂f/∂θ[index] by central differences, f reading θ in place; θ is restored afterwards."""
    saved = theta[index]
    theta[index] = saved + eps
    f_plus = f()
    theta[index] = saved - eps
    f_minus = f()
    theta[index] = saved
    return (f_plus - f_minus) / (2 * eps)


def check(model: Classifier, X: np.ndarray, y: np.ndarray, per_parameter: int = 20, largest: int = 0,
          seed: int = 0, eps: float = 1e-6) -> list[Check]:
    """Compare backward() with central differences of the loss on `per_parameter` entries of each parameter.

    `largest` of them are the entries with the largest analytic gradient (random
    entries of W1 are mostly exact zeros: background pixels), the rest random,
    so both the big and the ordinary cases are tested.  Works on a float64
    copy, so `model` itself is never touched.
    """
    model64 = model.astype(np.float64)
    X = np.asarray(X, dtype=np.float64)
    grads = model64.backward(X, y, model64.forward(X))
    loss = lambda: cross_entropy(model64.forward(X).p, y)  # noqa: E731
    rng = np.random.default_rng(seed)
    results = []
    for name, theta in model64.params().items():
        g = getattr(grads, name).reshape(-1)
        top = np.argsort(np.abs(g))[::-1][:min(largest, per_parameter)]
        others = np.setdiff1d(np.arange(g.size), top)
        chosen = np.concatenate([top, rng.choice(others, size=min(per_parameter - len(top), others.size),
                                                 replace=False)])
        for flat in chosen:
            index = tuple(int(i) for i in np.unravel_index(flat, theta.shape))
            results.append(Check(name, index, float(g[flat]), numerical_grad(loss, theta, index, eps)))
    return results
