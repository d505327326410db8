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

with d = 784 inputs, h = 128 hidden units and C = 10 classes by default (any d
and C work: 2 inputs for a toy 2-D set).  Labels y are integers (N,); the
one-hot Y of the equations is never built, because "subtract 1 at the true
class" is the same thing and costs nothing.

Every function below is both the readable path and the fast one: given
preallocated arrays (`out=`) it writes into them, otherwise it allocates, so
the trainer, the Backprop page and the tests all run these same lines.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

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
    """∇L with respect to each parameter (same shapes as the parameters), then the
    backward pass's intermediates δz, δh, δa1."""
    W1: np.ndarray   # (d,h)
    b1: np.ndarray   # (h,)
    W2: np.ndarray   # (h,C)
    b2: np.ndarray   # (C,)
    dz: np.ndarray   # (N,C)
    dh: np.ndarray   # (N,h)
    da1: np.ndarray  # (N,h)


def affine(X: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """X W + b: (N,d) (d,k) (k,) → (N,k), into `out` if given."""
    out = np.matmul(X, W, out=out)
    out += b
    return out


def softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax (N,C) → (N,C), into `out` if given (may be z itself).

    Subtracting the row maximum leaves the result unchanged (it cancels in
    the ratio) but keeps exp() from overflowing for logits like 1000.
    """
    out = np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """L = -(1/N) Σᵢ log P[i, yᵢ] for probabilities p (N,C) and labels y (N,).

    The tiny floor keeps a confidently wrong prediction at a large finite
    loss instead of inf.
    """
    N = len(y)
    picked = p[np.arange(N), y]
    return float(-np.log(np.maximum(picked, np.finfo(p.dtype).tiny)).sum() / N)


def output_delta(p: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """δz = (P − Y)/N (N,C) for probabilities p (N,C) and labels y (N,), into `out` if given."""
    N = len(y)
    dz = np.empty_like(p) if out is None else out
    np.copyto(dz, p)
    dz[np.arange(N), y] -= 1          # P - Y without building Y
    dz /= N
    return dz


class Classifier:
    """What the MLP and softmax regression share beyond the equations.

    A subclass defines `params()` (first array (d,…), last (C,)), `dtype`,
    `forward(X)` returning something with `.p` (N,C), `backward` and `step`, and a constructor taking
    the parameters in the order of `params()` plus `meta`.
    """
    meta: dict

    def params(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def forward(self, X: np.ndarray):
        raise NotImplementedError

    def sgd_step(self, X: np.ndarray, y: np.ndarray, lr: float):
        """One step of plain SGD on the batch (X (N,d), y (N,)), in place: θ ← θ − η∇θ through the
        model's own forward, backward and step. Returns the forward pass's cache (p before the step)."""
        cache = self.forward(X)
        self.step(self.backward(X, y, cache), lr)
        return cache

    @property
    def inputs(self) -> int:
        return next(iter(self.params().values())).shape[0]

    @property
    def classes(self) -> int:
        return list(self.params().values())[-1].shape[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N,d) or (d,) → (N,C) class probabilities."""
        return self.forward(np.atleast_2d(X)).p

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray, batch: int = 10_000,
                 given_up: Callable[[], bool] | None = None) -> float | None:
        """Share of rows of X whose predicted class is y. X may be uint8 0..255.

        `batch` rows at a time, so memory and the time between two looks at `given_up` stay bounded;
        None once `given_up()` is true (a live run's Stop)."""
        correct = 0
        for i in range(0, len(y), batch):
            if given_up is not None and given_up():
                return None
            correct += int((self.predict(as_inputs(X[i:i + batch], self.dtype)) == y[i:i + batch]).sum())
        return correct / max(len(y), 1)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return cross_entropy(self.predict_proba(as_inputs(X, self.dtype)), y)

    def astype(self, dtype) -> "Classifier":
        """A copy with every parameter in `dtype` (float64 for gradient checks)."""
        return type(self)(*(a.astype(dtype) for a in self.params().values()), meta=self.meta)

    def copy(self) -> "Classifier":
        return self.astype(self.dtype)

    def is_finite(self) -> bool:
        return all(np.isfinite(a).all() for a in self.params().values())


def _check_size(name: str, value, low: int) -> None:
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low):
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")


class MLP(Classifier):
    """d → h (ReLU) → C (softmax). Keeps the dtype of the arrays it is given."""

    def __init__(self, W1, b1, W2, b2, meta: dict | None = None):
        self.W1, self.b1, self.W2, self.b2 = W1, b1, W2, b2
        self.meta = dict(meta or {})  # how it was made: recipe, seed, accuracy (see mlp.weights)

    @classmethod
    def init(cls, hidden: int = 128, seed: int = 0, inputs: int = INPUTS, classes: int = CLASSES,
             dtype=np.float32) -> "MLP":
        """A fresh network with He initialisation (variance 2/fan_in suits ReLU)."""
        _check_size("hidden", hidden, 1)
        _check_size("inputs", inputs, 1)
        _check_size("classes", classes, 2)
        rng = np.random.default_rng(seed)
        W1 = rng.normal(0.0, np.sqrt(2.0 / inputs), (inputs, hidden)).astype(dtype)
        W2 = rng.normal(0.0, np.sqrt(2.0 / hidden), (hidden, classes)).astype(dtype)
        return cls(W1, np.zeros(hidden, dtype), W2, np.zeros(classes, dtype))

    # -- the equations -------------------------------------------------------

    def forward(self, X: np.ndarray, out: Cache | None = None) -> Cache:
        """X (N,d) → Cache(a1, h, z, p); written into `out` if given (arrays of the Cache's
        shapes, possibly shared as `buffers(N, overwrite=True)` shares them)."""
        X = np.asarray(X, dtype=self.dtype)
        a1, h, z, p = out if out is not None else (None,) * 4
        a1 = affine(X, self.W1, self.b1, out=a1)   # a1 = X W1 + b1     (N,h)
        h = np.maximum(a1, 0, out=h)               # h = ReLU(a1)       (N,h)
        z = affine(h, self.W2, self.b2, out=z)     # z = h W2 + b2      (N,C)
        p = softmax(z, out=p)                      # p = softmax(z)     (N,C)
        return Cache(a1, h, z, p)

    def backward(self, X: np.ndarray, y: np.ndarray, cache: Cache, out: Grads | None = None) -> Grads:
        """Gradients of the mean cross-entropy for labels y (N,) given cache = forward(X).

        Written into `out` if given (a Grads of arrays of its shapes).
        """
        dz = output_delta(cache.p, y, out=None if out is None else out.dz)   # δz = (P - Y)/N
        return self.backprop(X, cache, dz, out)

    def backprop(self, X: np.ndarray, cache: Cache, dz: np.ndarray, out: Grads | None = None) -> Grads:
        """The backward pass from any δz = ∂(something)/∂z (N,C): the loss's in `backward`,
        e_a − e_b in `input_gradient`."""
        X = np.asarray(X, dtype=self.dtype)
        gW1, gb1, gW2, gb2, _, dh, da1 = out if out is not None else (None,) * 7
        gW2 = np.matmul(cache.h.T, dz, out=gW2)          # ∇W2 = hᵀ δz          (h,C)
        gb2 = np.sum(dz, axis=0, out=gb2)                # ∇b2 = Σᵢ δz          (C,)
        dh = np.matmul(dz, self.W2.T, out=dh)            # δh = δz W2ᵀ          (N,h)
        da1 = np.multiply(dh, cache.a1 > 0, out=da1)     # δa1 = δh ⊙ 1[a1 > 0] (N,h)
        gW1 = np.matmul(X.T, da1, out=gW1)               # ∇W1 = Xᵀ δa1         (d,h)
        gb1 = np.sum(da1, axis=0, out=gb1)               # ∇b1 = Σᵢ δa1         (h,)
        return Grads(gW1, gb1, gW2, gb2, dz, dh, da1)

    def step(self, grads: Grads, lr: float) -> None:
        """SGD: θ ← θ - η ∇θ, in place.

        This is the line as the equations read, run by `sgd_step` (the Draw page's one-drawing
        lesson). Training (mlp/train.py's Trainer, behind Train, Boundaries and fine-tuning) runs
        the same update with η folded into δz before backprop: backprop is linear in δz, so the
        gradients come out as η∇θ and `Trainer._update` only subtracts them, without the pass
        over W1 that scaling ∇W1 costs (a few % of a step). tests/test_train.py checks that the
        two give the same weights.
        """
        self.W1 -= lr * grads.W1
        self.b1 -= lr * grads.b1
        self.W2 -= lr * grads.W2
        self.b2 -= lr * grads.b2

    def input_gradient(self, x: np.ndarray, a: int, b: int | None = None) -> np.ndarray:
        """∂z_a/∂x, or ∂(z_a − z_b)/∂x, for one input x (d,) → (d,).

        The chain rule one step further than ∇W1, with δz set to what is differentiated:

            δz  = e_a − e_b          (1,C)   e_k one-hot at class k; no e_b when b is None
            δh  = δz W2ᵀ             (1,h)
            δa1 = δh ⊙ 1[a1 > 0]     (1,h)
            δx  = δa1 W1ᵀ            (1,d)

        Positive entries are pixels whose brightening raises z_a over z_b.
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.shape != (self.inputs,):
            raise ValueError(f"need one input of shape ({self.inputs},), got {x.shape}")
        for name, k in (("a", a), ("b", b)):
            if k is not None and not (isinstance(k, (int, np.integer)) and 0 <= k < self.classes):
                raise ValueError(f"{name} must be a class in 0..{self.classes - 1}, got {k!r}")
        X = x[None, :]
        cache = self.forward(X)
        dz = np.zeros((1, self.classes), self.dtype)
        dz[0, a] += 1                                    # δz = e_a − e_b
        if b is not None:
            dz[0, b] -= 1
        da1 = self.backprop(X, cache, dz).da1
        return (da1 @ self.W1.T)[0]                      # δx = δa1 W1ᵀ         (d,)

    def buffers(self, N: int, overwrite: bool = False) -> tuple[Cache, Grads]:
        """Empty arrays for `forward(out=)` and `backward(out=)` on N rows, in the model's dtype.

        overwrite=True lets h share a1's array, p share z's and δa1 share δh's: each is
        computed from the one it overwrites, and backward needs only p and 1[a1 > 0],
        which is 1[h > 0].  For callers that keep nothing else (the trainer).
        """
        d, h, C = self.inputs, self.hidden, self.classes
        empty = lambda *shape: np.empty(shape, self.dtype)  # noqa: E731
        a1, z, dh = empty(N, h), empty(N, C), empty(N, h)
        cache = Cache(a1, a1, z, z) if overwrite else Cache(a1, empty(N, h), z, empty(N, C))
        da1 = dh if overwrite else empty(N, h)
        return cache, Grads(empty(d, h), empty(h), empty(h, C), empty(C), empty(N, C), dh, da1)

    # -- conveniences --------------------------------------------------------

    @property
    def dtype(self):
        return self.W1.dtype

    @property
    def hidden(self) -> int:
        return self.W1.shape[1]

    def params(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def dead_units(self, X: np.ndarray) -> np.ndarray:
        """Boolean (h,): units with a1 ≤ 0 for every row of X, so no gradient reaches them."""
        a1 = affine(as_inputs(X, self.dtype), self.W1, self.b1)
        return (a1 <= 0).all(axis=0)


class SoftmaxCache(NamedTuple):
    z: np.ndarray   # (N,C) logits
    p: np.ndarray   # (N,C) softmax(z)


class SoftmaxGrads(NamedTuple):
    W: np.ndarray   # (d,C)
    b: np.ndarray   # (C,)
    dz: np.ndarray  # (N,C)


class SoftmaxRegression(Classifier):
    """Multinomial logistic regression: the MLP without its hidden layer.

        z  = X W + b          X (N,d)   W (d,C)   b (C,)   z (N,C)
        p  = softmax(z)                                    p (N,C)
        L  = -(1/N) Σᵢ Σ_c Y_ic log P_ic

        δz = (P - Y) / N                  (N,C)
        ∇W = Xᵀ δz                        (d,C)
        ∇b = Σᵢ δz                        (C,)

        θ ← θ - η ∇θ

    Class c wins where z_c is largest, and z is linear in X: the boundaries
    between classes are straight (hyperplanes), which is what the MLP's hidden
    layer is there to overcome (XOR cannot be separated by one line).
    """

    def __init__(self, W, b, meta: dict | None = None):
        self.W, self.b = W, b
        self.meta = dict(meta or {})

    @classmethod
    def init(cls, seed: int = 0, inputs: int = INPUTS, classes: int = CLASSES,
             dtype=np.float32) -> "SoftmaxRegression":
        """Small random weights (variance 1/inputs); the loss is convex, so any start reaches the same optimum."""
        _check_size("inputs", inputs, 1)
        _check_size("classes", classes, 2)
        rng = np.random.default_rng(seed)
        W = rng.normal(0.0, np.sqrt(1.0 / inputs), (inputs, classes)).astype(dtype)
        return cls(W, np.zeros(classes, dtype))

    def forward(self, X: np.ndarray, out: SoftmaxCache | None = None) -> SoftmaxCache:
        """X (N,d) → SoftmaxCache(z, p); written into `out` if given."""
        X = np.asarray(X, dtype=self.dtype)
        z, p = out if out is not None else (None, None)
        z = affine(X, self.W, self.b, out=z)       # z = X W + b        (N,C)
        p = softmax(z, out=p)                      # p = softmax(z)     (N,C)
        return SoftmaxCache(z, p)

    def backward(self, X: np.ndarray, y: np.ndarray, cache: SoftmaxCache,
                 out: SoftmaxGrads | None = None) -> SoftmaxGrads:
        """Gradients of the mean cross-entropy for labels y (N,) given cache = forward(X)."""
        dz = output_delta(cache.p, y, out=None if out is None else out.dz)   # δz = (P - Y)/N
        return self.backprop(X, cache, dz, out)

    def backprop(self, X: np.ndarray, cache: SoftmaxCache, dz: np.ndarray,
                 out: SoftmaxGrads | None = None) -> SoftmaxGrads:
        """The backward pass from any δz (N,C), as MLP.backprop."""
        X = np.asarray(X, dtype=self.dtype)
        gW, gb, _ = out if out is not None else (None,) * 3
        gW = np.matmul(X.T, dz, out=gW)            # ∇W = Xᵀ δz         (d,C)
        gb = np.sum(dz, axis=0, out=gb)            # ∇b = Σᵢ δz         (C,)
        return SoftmaxGrads(gW, gb, dz)

    def buffers(self, N: int, overwrite: bool = False) -> tuple[SoftmaxCache, SoftmaxGrads]:
        """Empty arrays for `forward(out=)` and `backward(out=)` on N rows; overwrite=True lets p share z's."""
        d, C = self.inputs, self.classes
        z = np.empty((N, C), self.dtype)
        cache = SoftmaxCache(z, z if overwrite else np.empty_like(z))
        return cache, SoftmaxGrads(np.empty((d, C), self.dtype), np.empty(C, self.dtype), np.empty_like(z))

    def step(self, grads: SoftmaxGrads, lr: float) -> None:
        """SGD: θ ← θ - η ∇θ, in place (training runs it η-folded, as MLP.step says)."""
        self.W -= lr * grads.W
        self.b -= lr * grads.b

    @property
    def dtype(self):
        return self.W.dtype

    def params(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "b": self.b}


def as_inputs(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Pixels as the network wants them: uint8 0..255 → floats in [0,1]; floats pass through."""
    X = np.asarray(X)
    if X.dtype == np.uint8:
        return np.multiply(X, 1 / 255, dtype=dtype)
    return X.astype(dtype, copy=False)
