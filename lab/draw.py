"""What the Draw page computes: the drawing as the network sees it, its answer, and a lesson."""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

from mlp import preprocess
from mlp.model import MLP

from . import models

LOW_CONFIDENCE = 0.6     # below this the answer is a guess, and the page says so


class Answer(NamedTuple):
    p: np.ndarray        # (10,) probabilities
    h: np.ndarray        # (hidden,) activations
    digit: int
    confidence: float


def prepare(image: np.ndarray | None) -> tuple[np.ndarray, preprocess.Stages] | None:
    """Canvas RGBA → (x (784,) float32 in [0,1], the pipeline's stages), or None when blank."""
    if image is None:
        return None
    stages = preprocess.stages(image)
    if stages is None:
        return None
    return stages.centred28.reshape(-1), stages


# The pipeline's stages worth showing, in order, with what each one did.
STAGE_CAPTIONS = (("cropped", "cropped ink"), ("restroked", "stroke width like MNIST"),
                  ("scaled20", "longer side 20 px"), ("centred28", "28×28 input x"))


def stage_pictures(stages: preprocess.Stages) -> list[tuple[np.ndarray, str]]:
    """(image in [0,1], caption) for each stage this version of mlp.preprocess reports."""
    return [(getattr(stages, name), caption) for name, caption in STAGE_CAPTIONS if hasattr(stages, name)]


def digest(x: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=8).hexdigest()


def answer(model: MLP, x: np.ndarray) -> Answer:
    cache = model.forward(x[None, :])
    p = cache.p[0]
    digit = int(p.argmax())
    return Answer(p, cache.h[0], digit, float(p[digit]))


def confidence_words(a: Answer) -> str:
    """The answer's certainty in words, naming the runner-up when it is a guess."""
    runner_up = int(np.argsort(a.p)[-2])
    if a.confidence >= 0.9:
        return f"Confident: {a.confidence:.0%}."
    if a.confidence >= LOW_CONFIDENCE:
        return f"Fairly sure: {a.confidence:.0%} (next best {runner_up} at {a.p[runner_up]:.0%})."
    return (f"Low confidence: only {a.confidence:.0%}; it might be a {runner_up} ({a.p[runner_up]:.0%}). "
            "The network is unsure, try drawing bigger, centred and with one clear stroke.")


def top_units(model: MLP, h: np.ndarray, digit: int, k: int = 6) -> list[tuple[int, float, float]]:
    """The k units that pushed `digit`'s logit up the most: (unit j, h_j, h_j · W2[j, digit]), largest first."""
    contribution = h * model.W2[:, digit]
    order = np.argsort(contribution)[::-1][:k]
    return [(int(j), float(h[j]), float(contribution[j])) for j in order if contribution[j] > 0]


def teach(ref: models.ModelRef, x: np.ndarray, label: int, lr: float) -> tuple[MLP, np.ndarray, np.ndarray]:
    """One SGD step on this drawing alone, on a copy: (new model, p before, p after)."""
    model = ref.model.copy()   # writeable arrays; the ref's own stay frozen and shared
    X, y = x[None, :], np.array([label])
    cache = model.forward(X)
    model.step(model.backward(X, y, cache), lr)
    return model, cache.p[0].copy(), model.predict_proba(X)[0]
