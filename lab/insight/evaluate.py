"""The model in use on the 10,000 MNIST test digits: accuracy, confusion, mistakes."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..store import mnist, models


class Evaluation(NamedTuple):
    p: np.ndarray           # (N,10) probabilities
    predicted: np.ndarray   # (N,)
    y: np.ndarray           # (N,) true labels
    confusion: np.ndarray   # (10,10) counts, row = true digit, column = predicted
    accuracy: float
    per_class: np.ndarray   # (10,) accuracy on each true digit


@mnist.cached_on_mnist(maxsize=4)
def evaluate(ref: models.ModelRef) -> Evaluation | None:
    """None when MNIST is not available."""
    outputs = models.test_outputs(ref)
    if outputs is None:
        return None
    _, y = mnist.test_set()
    p = outputs.p
    predicted = p.argmax(axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (y, predicted), 1)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return Evaluation(p, predicted, y, confusion, float((predicted == y).mean()), per_class)


def cell(evaluation: Evaluation, true: int, predicted: int) -> np.ndarray:
    """Indices of test digits that are `true` and were predicted `predicted`, most confident first."""
    idx = np.flatnonzero((evaluation.y == true) & (evaluation.predicted == predicted))
    return idx[np.argsort(evaluation.p[idx, predicted])[::-1]]


def most_confused(evaluation: Evaluation) -> tuple[int, int]:
    """(true, predicted) of the most frequent mistake: the largest off-diagonal count of the confusion matrix."""
    off_diagonal = evaluation.confusion - np.diag(np.diag(evaluation.confusion))
    true, predicted = np.unravel_index(int(off_diagonal.argmax()), off_diagonal.shape)
    return int(true), int(predicted)


def mistakes(evaluation: Evaluation) -> np.ndarray:
    """Indices of misclassified test digits, the most confidently wrong first."""
    idx = np.flatnonzero(evaluation.predicted != evaluation.y)
    return idx[np.argsort(evaluation.p[idx, evaluation.predicted[idx]])[::-1]]
