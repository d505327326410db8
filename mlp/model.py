"""The 2-layer MLP of the design document, forward and backward written by hand.

    a1 = X W1 + b1          X (N,d)   W1 (d,h)  b1 (h,)   a1 (N,h)
    h  = ReLU(a1)                                          h  (N,h)
    z  = h W2 + b2          W2 (h,C)  b2 (C,)              z  (N,C)
    p  = softmax(z)                                        p  (N,C)
    L  = -(1/N) Σᵢ Σ_c Y_ic log P_ic

    δz  = (P - Y) / N                 (N,C)
    ∇W2 = hᵀ δz                       (h,C)
    ∇b2 = Σᵢ δz                       (C,)
    δh  = δz W2ᵀ                      (N,h)
    δa1 = δh ⊙ 1[a1 > 0]              (N,h)
    ∇W1 = Xᵀ δa1                      (d,h)
    ∇b1 = Σᵢ δa1                      (h,)

    θ ← θ - η ∇θ

with d = 784 inputs, h = 128 hidden units and C = 10 classes.  Labels y are
integers (N,); the one-hot Y of the equations is never built, because
"subtract 1 at the true class" is the same thing and costs nothing.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

INPUTS = 784
CLASSES = 10


class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass."""
    a1: np.ndarray  # (N,h) pre-activation of the hidden layer
    h: np.ndarray   # (N,h) ReLU(a1)
    z: np.ndarray   # (N,C) logits
    p: np.ndarray   # (N,C) softmax(z), rows sum to 1


class Grads(NamedTuple):
    """∇L with respect to each parameter, same shapes as the parameters."""
    W1: np.ndarray  # (d,h)
    b1: np.ndarray  # (h,)
    W2: np.ndarray  # (h,C)
    b2: np.ndarray  # (C,)


def relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax (N,C) → (N,C).

    Subtracting the row maximum leaves the result unchanged (it cancels in
    the ratio) but keeps exp() from overflowing for logits like 1000.
    """
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """L = -(1/N) Σᵢ log P[i, yᵢ] for probabilities p (N,C) and labels y (N,).

    The tiny floor keeps a confidently wrong prediction at a large finite
    loss instead of inf.
    """
    y = np.asarray(y)
    picked = p[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(picked, np.finfo(p.dtype).tiny))))


class MLP:
    """784 → h (ReLU) → 10 (softmax). Keeps the dtype of the arrays it is given."""

    def __init__(self, W1, b1, W2, b2, meta: dict | None = None):
        self.W1, self.b1, self.W2, self.b2 = W1, b1, W2, b2
        self.meta = dict(meta or {})  # how it was made: recipe, seed, accuracy (see mlp.weights)

    @classmethod
    def init(cls, hidden: int = 128, seed: int = 0, dtype=np.float32) -> "MLP":
        """A fresh network with He initialisation (variance 2/fan_in suits ReLU)."""
        if not (isinstance(hidden, (int, np.integer)) and hidden >= 1):
            raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
        rng = np.random.default_rng(seed)
        W1 = rng.normal(0.0, np.sqrt(2.0 / INPUTS), (INPUTS, hidden)).astype(dtype)
        W2 = rng.normal(0.0, np.sqrt(2.0 / hidden), (hidden, CLASSES)).astype(dtype)
        return cls(W1, np.zeros(hidden, dtype), W2, np.zeros(CLASSES, dtype))

    # -- the equations -------------------------------------------------------

    def forward(self, X: np.ndarray) -> Cache:
        """X (N,784) floats in [0,1] → Cache(a1, h, z, p)."""
        X = np.asarray(X, dtype=self.dtype)
        a1 = X @ self.W1 + self.b1
        h = relu(a1)
        z = h @ self.W2 + self.b2
        p = softmax(z)
        return Cache(a1, h, z, p)

    def backward(self, X: np.ndarray, y: np.ndarray, cache: Cache) -> Grads:
        """Gradients of the mean cross-entropy for labels y (N,) given forward(X)."""
        X = np.asarray(X, dtype=self.dtype)
        y = np.asarray(y)
        N = len(y)
        dz = cache.p.copy()
        dz[np.arange(N), y] -= 1          # P - Y without building Y
        dz /= N                           # δz = (P - Y)/N
        gW2 = cache.h.T @ dz              # ∇W2 = hᵀ δz
        gb2 = dz.sum(axis=0)              # ∇b2 = Σᵢ δz
        dh = dz @ self.W2.T               # δh = δz W2ᵀ
        da1 = dh * (cache.a1 > 0)         # δa1 = δh ⊙ 1[a1 > 0]
        gW1 = X.T @ da1                   # ∇W1 = Xᵀ δa1
        gb1 = da1.sum(axis=0)             # ∇b1 = Σᵢ δa1
        return Grads(gW1, gb1, gW2, gb2)

    def step(self, grads: Grads, lr: float) -> None:
        """SGD: θ ← θ - η ∇θ, in place."""
        for name in ("W1", "b1", "W2", "b2"):
            getattr(self, name)[...] -= lr * getattr(grads, name)

    # -- conveniences --------------------------------------------------------

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N,784) or (784,) → (N,10) class probabilities."""
        X = np.atleast_2d(X)
        return self.forward(X).p

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray, batch: int = 10_000) -> float:
        """Share of rows of X whose predicted class is y. X may be uint8 0..255."""
        correct = 0
        for i in range(0, len(y), batch):
            correct += int((self.predict(as_inputs(X[i:i + batch], self.dtype)) == y[i:i + batch]).sum())
        return correct / max(len(y), 1)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return cross_entropy(self.predict_proba(as_inputs(X, self.dtype)), y)

    @property
    def dtype(self):
        return self.W1.dtype

    @property
    def hidden(self) -> int:
        return self.W1.shape[1]

    def params(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def copy(self) -> "MLP":
        return MLP(*(a.copy() for a in self.params().values()), meta=self.meta)

    def is_finite(self) -> bool:
        return all(np.isfinite(a).all() for a in self.params().values())

    def dead_units(self, X: np.ndarray) -> np.ndarray:
        """Boolean (h,): units with a1 ≤ 0 for every row of X, so no gradient reaches them."""
        a1 = as_inputs(X, self.dtype) @ self.W1 + self.b1
        return (a1 <= 0).all(axis=0)


def as_inputs(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Pixels as the network wants them: uint8 0..255 → floats in [0,1]; floats pass through."""
    X = np.asarray(X)
    if X.dtype == np.uint8:
        return np.multiply(X, 1 / 255, dtype=dtype)
    return X.astype(dtype, copy=False)
