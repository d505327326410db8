"""Minibatch SGD for the MLP, fast enough to watch: `python -m mlp.train`.

Each minibatch runs the engine's own `MLP.forward` and the two halves of
`MLP.backward` (mlp/model.py); speed comes only from *how* memory is used:

- the data stay uint8; each batch is converted to floats into one buffer,
- the epoch's order is shuffled once; each batch gathers its rows from it
  into a contiguous buffer (cheaper than copying the whole epoch first),
- every intermediate (a1, h, z, p, δz, δh, δa1) and gradient lives in a
  buffer allocated once (`forward(out=)`, `backward(out=)`),
- η is folded into δz, so every ∇θ already carries the step size and the
  update is one in-place subtraction,
- no one-hot matrix: "P - Y" is "subtract 1 at the true class".
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, NamedTuple, Protocol

import numpy as np

from .model import INPUTS, MLP, Classifier, cross_entropy, output_delta


class Diverged(RuntimeError):
    """The loss blew up or stopped being finite; the model was put back to its last good weights."""


# A ReLU net fed too large a step rarely reaches NaN: its units die and the loss
# sits at a large finite value. So "diverged" also means a running loss four times
# that of guessing uniformly (4 ln 10 ≈ 9.2); healthy runs stay below ln 10.
EXPLODED = 4.0
CHECKPOINT_EVERY = 50  # steps between snapshots of known-good weights


@dataclass(frozen=True)
class Config:
    """Hyperparameters. Defaults are the design document's plain SGD.

    Checked once, where it is made: a Config that exists is in range (ValueError otherwise), so the Trainer,
    the app's runner and the command line take it as it is, and the Train page's widgets read their bounds
    from LIMITS."""
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1
    hidden: int = 128
    seed: int = 0
    momentum: float = 0.0     # classic heavy-ball momentum; 0 = plain SGD
    lr_decay: float = 1.0     # η is multiplied by this after every epoch
    l2: float = 0.0           # weight decay on W1, W2 (not the biases)
    augment: bool = False     # random affine + stroke-width changes per batch
    elastic: float = 0.0      # with augment: α of the elastic distortion, pixels; 0 = none
    augment_share: float = 0.3  # with augment: share of each batch distorted
    synthetic: int = 0        # stroke digits from mlp.strokes' train families added to the training set

    LIMITS = {  # name: (low, high), inclusive; checked by validate() when a Config is made
        "epochs": (1, 1000), "batch_size": (1, 60_000), "lr": (1e-6, 100.0),
        "hidden": (1, 4096), "seed": (0, 2**32 - 1), "momentum": (0.0, 0.999),
        "lr_decay": (0.01, 1.0), "l2": (0.0, 1.0), "elastic": (0.0, 100.0), "augment_share": (0.0, 1.0),
        "synthetic": (0, 200_000),
    }

    def __post_init__(self) -> None:
        self.validate()

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


class Batches(Protocol):
    """A caller's own minibatches, for a Trainer that is not to shuffle one (X, y): fine-tuning mixes
    drawings with MNIST. Batch i (0 ≤ i < steps_per_epoch) of the current epoch is X (N,d), uint8 or
    floats, and y (N,), with N ≤ config.batch_size; i = 0 starts an epoch."""
    steps_per_epoch: int

    def __call__(self, i: int) -> tuple[np.ndarray, np.ndarray]: ...


class Trainer:
    """Trains `model` (an MLP, or a SoftmaxRegression) in place on X (N,d) — uint8 pixels 0..255
    or floats — and y (N,) labels, one minibatch at a time.

    `train_batch()` is the unit a live UI can pause between; `train()` runs whole epochs.
    The one SGD loop of the project:
    - the Train page and `python -m mlp.train` shuffle (X, y) into minibatches;
    - Boundaries takes full-batch steps (batch_size = N) and sets `lr` between them;
    - fine-tuning on My digits hands in its own `batches` and keeps its own checkpoints.

    A step whose loss or gradients are not finite, or that takes the running loss past `exploded`
    × ln C (None: only non-finite counts), raises Diverged with the model put back to the last
    checkpoint: the start, every `checkpoint_every` steps, or whenever the caller calls
    `checkpoint()` (None: only then).
    """

    def __init__(self, model: Classifier, X: np.ndarray, y: np.ndarray, config: Config,
                 batches: Batches | None = None, checkpoint_every: int | None = CHECKPOINT_EVERY,
                 exploded: float | None = EXPLODED):
        X, y = np.asarray(X), np.asarray(y)
        d, C = model.inputs, model.classes
        if X.ndim != 2 or X.shape[1] != d or y.shape != (len(X),) or len(y) == 0:
            raise ValueError(f"need X (N,{d}) and y (N,) for this model, got {X.shape} and {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= C:
            raise ValueError(f"labels y must be integers in 0..{C - 1}")
        hidden = getattr(model, "hidden", config.hidden)   # softmax regression has no hidden layer
        if hidden != config.hidden:
            raise ValueError(f"model has {hidden} hidden units, config says {config.hidden}")
        if config.augment and d != INPUTS:
            raise ValueError(f"augmentation works on 28×28 images ({INPUTS} inputs); this model has {d}")
        self.model, self.config = model, config
        self.X, self.y = X, y.astype(np.intp)
        self.rng = np.random.default_rng(config.seed)
        self.lr = config.lr   # η of the next step; callers may change it between steps (Boundaries' slider)
        self.epoch, self.batch, self.steps = 0, 0, 0
        self.running_loss = math.log(C)
        self._explode_at = math.inf if exploded is None else exploded * math.log(C)
        # Running loss over ~256 samples, so one unlucky small batch is not called divergence.
        self._loss_weight = min(1.0, config.batch_size / 256)
        self._checkpoint_every = checkpoint_every
        self._good = model.copy()
        self._batches = batches
        B = min(config.batch_size, len(y)) if batches is None else config.batch_size
        self.steps_per_epoch = math.ceil(len(y) / B) if batches is None else batches.steps_per_epoch
        # Per-step buffers, sized for a full batch; a shorter batch uses their first rows.
        self._x = np.empty((B, d), model.dtype)
        self._xb = np.empty((B, d), X.dtype)
        self._views = {B: model.buffers(B, overwrite=True)}   # rows in the batch → (cache, grads) buffers
        self._velocity = {k: np.zeros_like(v) for k, v in model.params().items()} if config.momentum else None
        self._augment = None
        if config.augment:
            from .augment import Augmenter
            self._augment = Augmenter(seed=config.seed + 1, share=config.augment_share, elastic=config.elastic)
        self._shuffle()

    def _shuffle(self) -> None:
        # Only the order is shuffled; each batch gathers its rows (half the time of
        # copying the whole 47 MB set once an epoch, and no second copy in memory).
        # A full batch sums the same rows in any order: it keeps the data's own, so Boundaries'
        # full-batch step is bit for bit the engine's equations on the toy set as drawn.
        if self._batches is None:
            many = self.steps_per_epoch > 1
            self._order = self.rng.permutation(len(self.y)) if many else np.arange(len(self.y))

    def train_batch(self) -> StepResult:
        """One minibatch of SGD.

        Raises Diverged, with the model restored to its last checkpoint, when the
        loss is not finite or the running loss exploded.
        """
        if self._batches is None:
            B = self.config.batch_size
            lo = self.batch * B
            rows = self._order[lo:lo + B]
            # mode="clip" (the rows are in range anyway) lets take write into out unbuffered
            xb = np.take(self.X, rows, axis=0, out=self._xb[:len(rows)], mode="clip")   # (N,d)
            y = self.y[rows]                                                             # (N,)
        else:
            xb, y = self._batches(self.batch)
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
            self.restore()
            raise
        self.running_loss += self._loss_weight * (loss - self.running_loss)
        if self.running_loss > self._explode_at:
            self.restore()
            raise Diverged(f"the loss exploded to {self.running_loss:.1f} at epoch {self.epoch + 1}, "
                           f"batch {self.batch + 1}: the learning rate {self.lr:g} is too large")
        self.steps += 1
        if self._checkpoint_every and self.steps % self._checkpoint_every == 0:
            self.checkpoint()
        result = StepResult(self.epoch, self.batch, loss, self.batch + 1 == self.steps_per_epoch)
        self.batch += 1
        if result.epoch_done:
            self.epoch, self.batch = self.epoch + 1, 0
            self.lr *= self.config.lr_decay
            self._shuffle()
        return result

    def checkpoint(self) -> None:
        """Keep the model's present weights as the ones a divergence, or `restore()`, goes back to."""
        self._good = self.model.copy()

    def restore(self) -> None:
        """Put the model back to its weights at the last checkpoint."""
        for name, theta in self.model.params().items():
            theta[...] = getattr(self._good, name)

    def _sgd_step(self, X: np.ndarray, y: np.ndarray) -> float:
        m, N = self.model, len(y)
        cache_out, grads_out = self._buffers(N)
        cache = m.forward(X, out=cache_out)
        loss = cross_entropy(cache.p, y)
        if not math.isfinite(loss):
            raise Diverged(f"the loss is not finite ({loss}) at epoch {self.epoch + 1}, batch {self.batch + 1}")
        # backward() is output_delta then backprop; splitting them lets η join δz (N,C) once,
        # so every ∇ comes out as η∇ (backprop is linear in δz) and the update below is a
        # subtraction, where scaling ∇W1 would cost a pass over d·h numbers per step.
        dz = output_delta(cache.p, y, out=grads_out.dz)   # δz = (P - Y)/N
        dz *= self.lr                                     # η δz
        grads = m.backprop(X, cache, dz, out=grads_out)   # η∇θ for every θ
        # The first parameter's gradient (∇W1 = Xᵀ δa1: 100 352 numbers, 4% of the step to sum)
        # is finite when its bias's is (∇b1 = Σᵢ δa1: 128 numbers), X being finite.
        if not all(np.isfinite(g.sum()) for g in grads[1:len(self.model.params())]):
            raise Diverged(f"the gradients are not finite at epoch {self.epoch + 1}, batch {self.batch + 1}")
        self._update(grads)
        return loss

    def _buffers(self, N: int) -> tuple:
        """The per-step buffers for a batch of N rows: all of them, or their first N rows for the short last batch."""
        if N not in self._views:
            cache, grads = self._views[len(self._x)]
            params = len(self.model.params())   # grads: the parameters' gradients, then per-row arrays
            self._views[N] = (type(cache)(*(a[:N] for a in cache)),
                              type(grads)(*grads[:params], *(a[:N] for a in grads[params:])))
        return self._views[N]

    def _update(self, grads) -> None:
        """θ ← θ - η∇θ (η already in `grads`), with optional L2 and momentum.

        `MLP.step` is the same line written as the equations read; this one subtracts η∇θ
        as it comes out of backprop, where `step` would first scale ∇θ (a pass over W1).
        """
        cfg = self.config
        for name, theta in self.model.params().items():
            step = getattr(grads, name)
            if cfg.l2 and theta.ndim == 2:   # weights, not biases
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
    p.add_argument("--elastic", type=float, default=d.elastic, help="with --augment: elastic distortion α (pixels)")
    p.add_argument("--augment-share", type=float, default=d.augment_share, help="share of each batch distorted")
    p.add_argument("--synthetic", type=int, default=d.synthetic,
                   help="add this many stroke digits drawn in mlp.strokes' train families")
    p.add_argument("--out", default=None, help="save the trained weights here (.npz)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from tqdm import tqdm

    from . import idx, weights

    args = parse_args(argv)
    try:
        config = Config(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, hidden=args.hidden,
                        seed=args.seed, momentum=args.momentum, lr_decay=args.lr_decay, l2=args.l2,
                        augment=args.augment, elastic=args.elastic, augment_share=args.augment_share,
                        synthetic=args.synthetic)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    X, y = idx.load_mnist("train")
    X_test, y_test = idx.load_mnist("test")
    if config.synthetic:
        from .strokes import training_set
        with tqdm(total=config.synthetic, desc="drawing stroke digits", unit="digit", dynamic_ncols=True) as bar:
            X_drawn, y_drawn = training_set(config.synthetic, seed=config.seed, progress=lambda i: bar.update(1))
        X, y = np.concatenate([X, X_drawn]), np.concatenate([y, y_drawn])
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
