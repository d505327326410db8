"""Softmax regression beside the MLP: the same SGD steps, on 2-D toy sets and on MNIST.

Softmax (logistic) regression scores each class with a linear function of the input, so the
border between two classes is where two linear functions are equal: a straight line. The MLP's
hidden ReLU units each switch on along their own line a1_j = 0, and the output adds up those
bent pieces, so its border can turn at every such line.

Both models are trained by the project's one SGD loop (mlp.train.Trainer) and read through the
engine's interface (`predict_proba`, `accuracy`, `params`); nothing here repeats their equations.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from mlp import idx
from mlp.model import MLP, SoftmaxRegression
from mlp.train import Config, Diverged, Trainer

from . import toy
from ..session import share
from ..store import mnist

# -- settings, and the link that carries them ---------------------------------------------------

LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)   # η offered (as TensorFlow Playground)
LIMITS = {"noise": (0.0, 0.5), "points": (20, 1000), "hidden": (1, 64), "seed": (0, 9999)}


@dataclass(frozen=True)
class Settings:
    """Everything that defines a Boundaries experiment; each field is also a URL query parameter."""
    data: str = "xor"       # a key of toy.MAKERS
    noise: float = 0.1      # σ of the Gaussian jitter, in plot units
    points: int = 400
    hidden: int = 8         # the MLP's hidden units
    lr: float = 0.3         # η, one of LEARNING_RATES
    seed: int = 0           # data and initial weights

    def problem(self) -> tuple:
        """What a fresh pair of models depends on: all but η, which may change mid-training."""
        return self.data, self.noise, self.points, self.hidden, self.seed


DEFAULTS = Settings()
QUERY_KEYS = tuple(f.name for f in fields(Settings))


QUERY_FIELDS = [share.Field("data", str, choices=tuple(toy.MAKERS)),
                share.Field("noise", float, *LIMITS["noise"]), share.Field("points", int, *LIMITS["points"]),
                share.Field("hidden", int, *LIMITS["hidden"]), share.Field("lr", float, choices=LEARNING_RATES),
                share.Field("seed", int, *LIMITS["seed"])]


def to_query(settings: Settings) -> dict[str, str]:
    """The settings as URL query parameters, e.g. {"data": "xor", "noise": "0.1", ...}."""
    return share.encode(asdict(settings), QUERY_FIELDS)


def from_query(params: Mapping[str, Any]) -> tuple[Settings, list[str]]:
    """Settings from URL query parameters, and one note per value that was ignored.

    Missing keys take their default silently; a value that cannot be used takes its default and
    is named in a note. Keys that are not settings are left alone (other pages may use them).
    """
    chosen, notes = share.parse(params, QUERY_FIELDS)
    if "noise" in chosen:
        chosen["noise"] = round(chosen["noise"], 2)
    defaults = to_query(DEFAULTS)
    return Settings(**chosen), [f"{note}; using {defaults[note.split('=')[0]]}" for note in notes]


# -- the two models on a toy set ------------------------------------------------------------------

LINEAR, NETWORK = "linear", "mlp"
NAMES = {LINEAR: "Softmax regression", NETWORK: "MLP"}
GRID = 61                     # grid points per axis for the decision regions (smoothed when drawn)
TICK = 0.8                    # seconds between redraws while playing: each redraw costs the browser too
STEPS_PER_TICK = 80           # both toy models together take ~0.2 ms a step: a tick trains in ~16 ms
HISTORY = 2000                # accuracy records kept (oldest thinned out)


class Record(NamedTuple):
    steps: int
    linear: float     # training accuracy of softmax regression
    mlp: float        # training accuracy of the MLP


class SideBySide:
    """Softmax regression and an MLP on one toy set, trained with the same full-batch SGD steps."""

    def __init__(self, settings: Settings):
        self.problem = settings.problem()
        self.X, self.y = toy.make(settings.data, settings.points, settings.noise, settings.seed)
        # Large noise throws a few points past the usual view; widen it to keep them in sight.
        self.extent = max(toy.EXTENT, math.ceil(float(np.abs(self.X).max()) * 10 + 1) / 10)
        self.models = {
            LINEAR: SoftmaxRegression.init(seed=settings.seed, inputs=2, classes=toy.CLASSES),
            NETWORK: MLP.init(hidden=settings.hidden, seed=settings.seed, inputs=2, classes=toy.CLASSES),
        }
        # Full-batch steps, with the page's own rule for divergence: weights that stop being finite
        # (exploded=None: the trainer's "running loss > 4 ln C" was measured on MNIST, not on toy
        # sets), and back to where the model was before the call's steps (checkpoint() in `train`,
        # none every 50 steps), so that the step counter can stay where it was.
        config = Config(batch_size=len(self.y), lr=settings.lr, hidden=settings.hidden, seed=settings.seed)
        self.trainers = {name: Trainer(model, self.X, self.y, config, checkpoint_every=None, exploded=None)
                         for name, model in self.models.items()}
        self.steps = 0
        self.history = [self._record()]

    def train(self, steps: int, lr: float) -> list[str]:
        """`steps` full-batch SGD steps of each model; the names of models that diverged (usually none).

        A model whose loss or gradients stop being finite is put back where it was before these
        steps (the other keeps its progress), and the step counter does not move.
        """
        diverged = []
        for name, trainer in self.trainers.items():
            trainer.lr = lr
            trainer.checkpoint()
            try:
                with np.errstate(over="ignore", invalid="ignore"):   # the trainer checks every step's loss
                    for _ in range(steps):
                        trainer.train_batch()
            except Diverged:   # the trainer has put it back to the checkpoint
                diverged.append(NAMES[name])
        if not diverged:
            self.steps += steps
            self.history.append(self._record())
            if len(self.history) > HISTORY:
                self.history = self.history[::2]
        return diverged

    def accuracy(self) -> dict[str, float]:
        """Training accuracy of each model."""
        return {name: float(model.accuracy(self.X, self.y)) for name, model in self.models.items()}

    def _record(self) -> Record:
        accuracy = self.accuracy()
        return Record(self.steps, accuracy[LINEAR], accuracy[NETWORK])

    def axis(self) -> np.ndarray:
        """(GRID,) coordinates of the grid along x and along y."""
        return axis(self.extent)

    def regions(self, name: str) -> np.ndarray:
        """(GRID, GRID) probability of class 1 over the plot, row i at y = self.axis()[i]."""
        return self.models[name].predict_proba(_grid_points(self.extent))[:, 1].reshape(GRID, GRID)

    def unit_lines(self) -> list[tuple[tuple[float, float], tuple[float, float]] | None]:
        """For each hidden unit j, the segment of its line a1_j = x·W1[:, j] + b1[j] = 0 inside the plot.

        On one side of its line the unit is off (ReLU gives 0); on the other it grows linearly.
        None for a unit whose line misses the plot (it is on, or off, everywhere in view).
        """
        mlp = self.models[NETWORK]
        return [clip_line(float(w[0]), float(w[1]), float(b), self.extent) for w, b in zip(mlp.W1.T, mlp.b1)]


def axis(extent: float = toy.EXTENT) -> np.ndarray:
    return np.linspace(-extent, extent, GRID, dtype=np.float32)


@lru_cache(maxsize=8)
def _grid_points(extent: float) -> np.ndarray:
    xx, yy = np.meshgrid(axis(extent), axis(extent))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)   # (GRID², 2), row-major in y
    points.flags.writeable = False
    return points


def clip_line(a: float, b: float, c: float, extent: float):
    """The segment of the line a·x + b·y + c = 0 inside [-extent, extent]², or None if it misses."""
    hits = []
    if abs(b) > 1e-12:
        for x in (-extent, extent):
            y = -(a * x + c) / b
            if -extent <= y <= extent:
                hits.append((x, y))
    if abs(a) > 1e-12:
        for y in (-extent, extent):
            x = -(b * y + c) / a
            if -extent <= x <= extent:
                hits.append((x, y))
    if len(hits) < 2:
        return None
    start = hits[0]
    end = max(hits[1:], key=lambda p: (p[0] - start[0]) ** 2 + (p[1] - start[1]) ** 2)
    return start, end


# -- the same comparison on MNIST -----------------------------------------------------------------

MNIST_EPOCHS, MNIST_LR, MNIST_BATCH, MNIST_HIDDEN = 3, 0.1, 64, 128


class MnistComparison(NamedTuple):
    linear: float        # test accuracy of softmax regression
    mlp: float           # test accuracy of the MLP, trained the same way
    epochs: int
    lr: float
    batch: int
    hidden: int


@lru_cache(maxsize=1)
def mnist_comparison(seed: int = 0) -> MnistComparison | None:
    """Both models trained with the same plain SGD on the MNIST training set, scored on the test set.

    Computed once per process (a few seconds); None when MNIST is not downloaded.
    """
    test = mnist.test_set()
    if test is None:
        return None
    try:
        X, y = mnist.load("train")
    except (OSError, idx.MnistError):
        return None
    linear = SoftmaxRegression.init(seed=seed, inputs=784, classes=10)
    network = MLP.init(hidden=MNIST_HIDDEN, seed=seed)
    config = Config(epochs=MNIST_EPOCHS, lr=MNIST_LR, batch_size=MNIST_BATCH, hidden=MNIST_HIDDEN, seed=seed)
    for model in (linear, network):
        Trainer(model, X, y, config).train()
    return MnistComparison(float(linear.accuracy(*test)), float(network.accuracy(*test)),
                           MNIST_EPOCHS, MNIST_LR, MNIST_BATCH, MNIST_HIDDEN)
