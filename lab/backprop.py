"""One example through the design document's equations, every intermediate kept, and a gradient check."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mlp.gradcheck import numerical_grad, relative_error
from mlp.model import MLP

from .model_cache import per_model
from .models import ModelRef


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
    engine_gap: float   # max |difference| between these gradients and model.backward's


# Central differences carry round-off of about ε_machine·L/ε ≈ 1e-11 in absolute terms, so a
# tiny gradient (1e-8) can show a large relative error while agreeing to all the digits it has.
# An entry agrees when |a − n| ≤ ABS_TOLERANCE + REL_TOLERANCE·max(|a|, |n|), like np.isclose.
ABS_TOLERANCE = 1e-9
REL_TOLERANCE = 1e-5


class CheckRow(NamedTuple):
    parameter: str
    index: tuple
    analytic: float
    numerical: float
    relative_error: float

    @property
    def absolute_error(self) -> float:
        return abs(self.analytic - self.numerical)

    @property
    def agrees(self) -> bool:
        return self.absolute_error <= ABS_TOLERANCE + REL_TOLERANCE * max(abs(self.analytic), abs(self.numerical))


def trace(model: MLP, x: np.ndarray, label: int) -> Trace:
    """The equations written out once more, so the intermediates δz, δh, δa1 can be shown."""
    X, y = np.asarray(x, model.dtype).reshape(1, -1), np.array([label])
    a1 = X @ model.W1 + model.b1
    h = np.maximum(a1, 0)
    z = h @ model.W2 + model.b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    L = float(-np.log(max(float(p[0, label]), np.finfo(p.dtype).tiny)))
    Y = np.zeros_like(p)
    Y[0, label] = 1
    dz = (p - Y) / len(X)
    gW2, gb2 = h.T @ dz, dz.sum(axis=0)
    dh = dz @ model.W2.T
    da1 = dh * (a1 > 0)
    gW1, gb1 = X.T @ da1, da1.sum(axis=0)
    engine = model.backward(X, y, model.forward(X))
    gap = max(float(np.abs(mine - theirs).max()) for mine, theirs in zip((gW1, gb1, gW2, gb2), engine))
    return Trace(X, a1, h, z, p, L, dz, gW2, gb2, dh, da1, gW1, gb1, gap)


@per_model(max_entries=16, max_bytes=2**20)
def gradient_check(ref: ModelRef, x_bytes: bytes, label: int, per_parameter: int = 6, seed: int = 0) -> list[CheckRow]:
    """∇ from backward() against central differences, in float64 on a float64 copy of the model.

    Half of the entries per parameter are those with the largest analytic
    gradient (random entries of W1 are mostly exact zeros: background pixels),
    half are random, so both the big and the ordinary cases are tested.
    """
    model = MLP(*(a.astype(np.float64) for a in ref.model.params().values()))
    X = np.frombuffer(x_bytes, np.float32).astype(np.float64).reshape(1, -1)
    y = np.array([label])
    grads = model.backward(X, y, model.forward(X))._asdict()
    rng = np.random.default_rng(seed)
    rows = []
    for name, theta in model.params().items():
        g = grads[name].reshape(-1)
        largest = np.argsort(np.abs(g))[::-1][:per_parameter // 2]
        others = np.setdiff1d(np.arange(g.size), largest)
        chosen = np.concatenate([largest, rng.choice(others, size=min(per_parameter - len(largest), others.size),
                                                     replace=False)])
        for flat in chosen:
            index = tuple(int(i) for i in np.unravel_index(flat, theta.shape))
            analytic = float(g[flat])
            numerical = numerical_grad(model, X, y, name, index)
            rows.append(CheckRow(name, index, analytic, numerical, relative_error(analytic, numerical)))
    return rows
