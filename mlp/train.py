"""Minibatch SGD for the MLP, fast enough to watch: `python -m mlp.train`.

Each minibatch runs the engine's own `MLP.forward`, `MLP.backward` and
`MLP.step` (mlp/model.py); speed comes only from *how* memory is used:

- the data stay uint8; each batch is converted to floats into one buffer,
- the epoch's order is shuffled once; each batch gathers its rows from it
  into a contiguous buffer (cheaper than copying the whole epoch first),
- every intermediate (a1, h, z, p, δz, δh, δa1) and gradient lives in a
  buffer allocated once (`forward(out=)`, `backward(out=)`),
- no one-hot matrix: "P - Y" is "subtract 1 at the true class".
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, NamedTuple

import numpy as np

from .model import INPUTS, MLP, Cache, Grads, cross_entropy


class Diverged(RuntimeError):
    """The loss blew up or stopped being finite; the model was put back to its last good weights."""


# A ReLU net fed too large a step rarely reaches NaN: its units die and the loss
# sits at a large finite value. So "diverged" also means a running loss four times
# that of guessing uniformly (4 ln 10 ≈ 9.2); healthy runs stay below ln 10.
EXPLODED = 4.0
CHECKPOINT_EVERY = 50  # steps between snapshots of known-good weights


@dataclass
class Config:
    """Hyperparameters. Defaults are the design document's plain SGD."""
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1
    hidden: int = 128
    seed: int = 0
    momentum: float = 0.0     # classic heavy-ball momentum; 0 = plain SGD
    lr_decay: float = 1.0     # η is multiplied by this after every epoch
    l2: float = 0.0           # weight decay on W1, W2 (not the biases)
    augment: bool = False     # random affine + stroke-width changes per batch

    LIMITS = {  # name: (low, high), inclusive; checked by validate()
        "epochs": (1, 1000), "batch_size": (1, 60_000), "lr": (1e-6, 100.0),
        "hidden": (1, 4096), "seed": (0, 2**32 - 1), "momentum": (0.0, 0.999),
        "lr_decay": (0.01, 1.0), "l2": (0.0, 1.0),
    }

    def validate(self) -> "Config":
        """Raise ValueError naming the first setting out of range; return self."""
        for name, (low, high) in self.LIMITS.items():
            value = getattr(self, name)
            integral = isinstance(low, int) and isinstance(high, int)
            if integral and not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool) \
                    or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
        return self

    def as_meta(self) -> dict:
        return {k: v for k, v in asdict(self).items()}


class StepResult(NamedTuple):
    epoch: int          # 0-based epoch this step belongs to
    batch: int          # 0-based batch index within the epoch
    loss: float         # cross-entropy of this batch before the update
    epoch_done: bool    # this was the last batch of the epoch


class Trainer:
    """Trains `model` in place on X (N,d) — uint8 pixels 0..255 or floats — and y (N,) labels,
    one minibatch at a time.

    `train_batch()` is the unit a live UI can pause between; `train()` runs whole epochs.
    """

    def __init__(self, model: MLP, X: np.ndarray, y: np.ndarray, config: Config):
        config.validate()
        X, y = np.asarray(X), np.asarray(y)
        d, C = model.inputs, model.classes
        if X.ndim != 2 or X.shape[1] != d or y.shape != (len(X),) or len(y) == 0:
            raise ValueError(f"need X (N,{d}) and y (N,) for this model, got {X.shape} and {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= C:
            raise ValueError(f"labels y must be integers in 0..{C - 1}")
        if model.hidden != config.hidden:
            raise ValueError(f"model has {model.hidden} hidden units, config says {config.hidden}")
        if config.augment and d != INPUTS:
            raise ValueError(f"augmentation works on 28×28 images ({INPUTS} inputs); this model has {d}")
        self.model, self.config = model, config
        self.X, self.y = X, y.astype(np.intp)
        self.rng = np.random.default_rng(config.seed)
        self.lr = config.lr
        self.epoch, self.batch, self.steps = 0, 0, 0
        self.running_loss = math.log(C)
        self._explode_at = EXPLODED * math.log(C)
        # Running loss over ~256 samples, so one unlucky small batch is not called divergence.
        self._loss_weight = min(1.0, config.batch_size / 256)
        self._good = model.copy()
        B = min(config.batch_size, len(y))
        self.steps_per_epoch = math.ceil(len(y) / B)
        # Per-step buffers, sized for a full batch; the last batch of an epoch uses their first rows.
        self._x = np.empty((B, d), model.dtype)
        self._xb = np.empty((B, d), X.dtype)
        self._cache, self._grads = model.buffers(B)
        self._velocity = {k: np.zeros_like(v) for k, v in model.params().items()} if config.momentum else None
        self._augment = None
        if config.augment:
            from .augment import Augmenter
            self._augment = Augmenter(seed=config.seed + 1)
        self._shuffle()

    def _shuffle(self) -> None:
        # Only the order is shuffled; each batch gathers its rows (half the time of
        # copying the whole 47 MB set once an epoch, and no second copy in memory).
        self._order = self.rng.permutation(len(self.y))

    def train_batch(self) -> StepResult:
        """One minibatch of SGD.

        Raises Diverged, with the model restored to its last good weights, when the
        loss is not finite or the running loss exploded.
        """
        B = self.config.batch_size
        lo = self.batch * B
        rows = self._order[lo:lo + B]
        # mode="clip" (the rows are in range anyway) lets take write into out unbuffered
        xb = np.take(self.X, rows, axis=0, out=self._xb[:len(rows)], mode="clip")
        y = self.y[rows]
        if self._augment is not None:
            xb = self._augment(xb)
        N = len(y)
        X = self._x[:N]
        if xb.dtype == np.uint8:
            np.multiply(xb, self.model.dtype.type(1 / 255), out=X)
        else:
            X[...] = xb
        try:
            loss = self._sgd_step(X, y)
        except Diverged:
            self._restore_good()
            raise
        self.running_loss += self._loss_weight * (loss - self.running_loss)
        if self.running_loss > self._explode_at:
            self._restore_good()
            raise Diverged(f"the loss exploded to {self.running_loss:.1f} at epoch {self.epoch + 1}, "
                           f"batch {self.batch + 1}: the learning rate {self.lr:g} is too large")
        self.steps += 1
        if self.steps % CHECKPOINT_EVERY == 0:
            self._good = self.model.copy()
        result = StepResult(self.epoch, self.batch, loss, self.batch + 1 == self.steps_per_epoch)
        self.batch += 1
        if result.epoch_done:
            self.epoch, self.batch = self.epoch + 1, 0
            self.lr *= self.config.lr_decay
            self._shuffle()
        return result

    def _restore_good(self) -> None:
        for name, theta in self.model.params().items():
            theta[...] = getattr(self._good, name)

    def _sgd_step(self, X: np.ndarray, y: np.ndarray) -> float:
        m, N = self.model, len(y)
        cache = m.forward(X, out=Cache(*(a[:N] for a in self._cache)))
        loss = cross_entropy(cache.p, y)
        if not math.isfinite(loss):
            raise Diverged(f"the loss is not finite ({loss}) at epoch {self.epoch + 1}, batch {self.batch + 1}")
        grads = m.backward(X, y, cache, out=self._grads._replace(
            dz=self._grads.dz[:N], dh=self._grads.dh[:N], da1=self._grads.da1[:N]))
        # A NaN or inf in δa1 shows in ∇b1 = Σᵢ δa1 (128 numbers) as surely as in
        # ∇W1 = Xᵀ δa1 (100 352 numbers, 4% of the step to sum), X being finite.
        if not (np.isfinite(grads.b1.sum()) and np.isfinite(grads.W2.sum())):
            raise Diverged(f"the gradients are not finite at epoch {self.epoch + 1}, batch {self.batch + 1}")
        self._update(grads)
        return loss

    def _update(self, grads: Grads) -> None:
        """θ ← θ - η∇θ, with optional L2 and momentum."""
        cfg = self.config
        if not cfg.l2 and self._velocity is None:
            self.model.step(grads, self.lr)
            return
        for name, theta in self.model.params().items():
            step = np.multiply(getattr(grads, name), self.lr, out=getattr(grads, name))   # η∇θ
            if cfg.l2 and name in ("W1", "W2"):
                step += (self.lr * cfg.l2) * theta
            if self._velocity is not None:
                v = self._velocity[name]
                v *= cfg.momentum
                v += step
                step = v
            theta -= step

    def train(self, epochs: int | None = None, X_test=None, y_test=None,
              on_epoch: Callable[[int, float, float | None], None] | None = None,
              on_step: Callable[[StepResult], None] | None = None) -> list[dict]:
        """Run whole epochs; returns one record per epoch (mean loss, test accuracy, seconds)."""
        history = []
        for _ in range(epochs or self.config.epochs):
            start, losses = time.perf_counter(), []
            while True:
                result = self.train_batch()
                losses.append(result.loss)
                if on_step:
                    on_step(result)
                if result.epoch_done:
                    break
            seconds = time.perf_counter() - start
            acc = self.model.accuracy(X_test, y_test) if X_test is not None else None
            history.append({"epoch": self.epoch, "loss": float(np.mean(losses)),
                            "test_accuracy": acc, "seconds": seconds})
            if on_epoch:
                on_epoch(self.epoch, history[-1]["loss"], acc)
        return history


def parse_args(argv=None) -> argparse.Namespace:
    d = Config()
    p = argparse.ArgumentParser(prog="python -m mlp.train", description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate η")
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--lr-decay", type=float, default=d.lr_decay, help="η multiplier per epoch")
    p.add_argument("--l2", type=float, default=d.l2)
    p.add_argument("--augment", action="store_true", help="random affine + stroke-width augmentation")
    p.add_argument("--out", default=None, help="save the trained weights here (.npz)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from tqdm import tqdm

    from . import data, weights

    args = parse_args(argv)
    config = Config(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, hidden=args.hidden,
                    seed=args.seed, momentum=args.momentum, lr_decay=args.lr_decay, l2=args.l2,
                    augment=args.augment)
    try:
        config.validate()
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    X, y = data.load_mnist("train")
    X_test, y_test = data.load_mnist("test")
    model = MLP.init(hidden=config.hidden, seed=config.seed)
    trainer = Trainer(model, X, y, config)
    bar = tqdm(total=config.epochs * trainer.steps_per_epoch, unit="batch", dynamic_ncols=True)
    on_step = lambda r: (bar.update(1), bar.set_postfix(epoch=r.epoch + 1, loss=f"{r.loss:.3f}", refresh=False))
    on_epoch = lambda e, loss, acc: tqdm.write(f"epoch {e:3d}  loss {loss:.4f}  test accuracy {acc:.2%}")
    try:
        trainer.train(X_test=X_test, y_test=y_test, on_step=on_step, on_epoch=on_epoch)
    except Diverged as e:
        bar.close()
        raise SystemExit(f"error: training diverged ({e}); try a smaller --lr")
    bar.close()
    accuracy = model.accuracy(X_test, y_test)
    print(f"final test accuracy {accuracy:.2%}")
    if args.out:
        weights.save(model, args.out, recipe=config.as_meta(), seed=config.seed,
                     test_accuracy=accuracy, date=time.strftime("%Y-%m-%d"),
                     command="python -m mlp.train " + " ".join(argv if argv is not None else __import__("sys").argv[1:]))
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
