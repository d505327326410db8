"""What the Draw page computes: the drawing as the network sees it, its answer, and a lesson."""
from __future__ import annotations

import binascii
import hashlib
import io
from typing import NamedTuple

import numpy as np
from PIL import Image

from mlp import preprocess
from mlp.model import MLP

from ..plots import images, words
from ..store import models

LOW_CONFIDENCE = 0.6     # below this the answer is a guess, and the page says so
# The canvas is 280 px, times the screen's pixel ratio at most; a bigger picture did not come from
# it, and decoding one from a few KB of PNG could take hundreds of MB.
MAX_CANVAS_SIDE = 2048
TINY_MARK = 0.08         # ink no longer than this fraction of the canvas side is a dot, not a digit
COVERED = 0.6            # ink on more than this fraction of the canvas is a scribble over everything


# The Draw page's details, each behind an expander (these are its widget keys) and computed only while open.
PIPELINE, WHY, HIDDEN = "draw_pipeline", "draw_why", "draw_hidden"
DETAILS = (PIPELINE, WHY, HIDDEN)


class CanvasError(ValueError):
    """What the canvas sent cannot be read as a drawing; the message says why."""


class Answer(NamedTuple):
    p: np.ndarray        # (10,) probabilities
    h: np.ndarray        # (hidden,) activations
    digit: int
    confidence: float


def canvas_bytes(canvas) -> bytes | None:
    """The canvas's picture as sent (PNG bytes, unchecked), or None before the first stroke."""
    try:
        return canvas.image_bytes
    except (ValueError, TypeError, AttributeError, binascii.Error):   # not a base64 data URL
        raise CanvasError("the canvas sent something that is not a picture") from None


def canvas_image(raw: bytes | None) -> np.ndarray | None:
    """The canvas's picture (canvas_bytes) as (H,W,4) uint8 ((H,W) for 16-bit grey), or None before the first stroke.

    The picture arrives from the browser as a PNG data URL, so anything may come:
    CanvasError for what is not a PNG, or too large, instead of a crash.
    """
    if raw is None:
        return None
    try:
        with Image.open(io.BytesIO(raw)) as picture:   # reads the header only: the size is known before decoding
            width, height = picture.size
            if max(width, height) > MAX_CANVAS_SIDE:
                raise CanvasError(f"the canvas sent {words.article(width)}×{height} picture; "
                                  f"the most accepted is {MAX_CANVAS_SIDE}×{MAX_CANVAS_SIDE}")
            if picture.mode.startswith("I"):             # 16-bit grey: RGBA conversion would saturate it
                return (np.asarray(picture, np.uint32) >> 8).astype(np.uint8)
            return np.asarray(picture.convert("RGBA"))   # grey, palette, with or without alpha: one layout
    except CanvasError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise CanvasError(f"the canvas sent a picture that cannot be read ({type(e).__name__})") from None


def prepare(image: np.ndarray | None) -> tuple[np.ndarray, preprocess.Stages] | None:
    """Canvas RGBA → (x (784,) float32 in [0,1], the pipeline's stages), or None when blank."""
    if image is None:
        return None
    try:
        stages = preprocess.stages(image)
    except ValueError as e:
        raise CanvasError(str(e)) from None
    if stages is None:
        return None
    return stages.centred28.reshape(-1), stages


def oddity(stages: preprocess.Stages) -> str | None:
    """Why the answer to this drawing means little (a dot, ink everywhere), or None for a normal drawing."""
    side = max(stages.gray.shape)
    height, width = stages.cropped.shape
    if max(height, width) < TINY_MARK * side:
        return (f"That is a very small mark ({width}×{height} px). Like MNIST, the network sees it enlarged to "
                "a 20-pixel digit, so the answer below means little: draw the digit large.")
    if (stages.gray > preprocess.INK_THRESHOLD).mean() > COVERED:
        return ("The ink covers most of the canvas, which no digit does, so the answer below is a guess. "
                "Press Clear and draw one digit.")
    return None


# The pipeline's stages worth showing, in order, with what each one did.
STAGE_CAPTIONS = (("cropped", "cropped ink"), ("restroked", "stroke width like MNIST"),
                  ("scaled20", "longer side 20 px"), ("centred28", "28×28 input x"))


def stage_pictures(stages: preprocess.Stages) -> list[tuple[np.ndarray, str]]:
    """(image in [0,1], caption) for each stage this version of mlp.preprocess reports."""
    return [(getattr(stages, name), caption) for name, caption in STAGE_CAPTIONS if hasattr(stages, name)]


def digest(x: np.ndarray | bytes) -> str:
    return hashlib.blake2b(x if isinstance(x, bytes) else np.ascontiguousarray(x).tobytes(), digest_size=8).hexdigest()


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
    return (f"Low confidence: only {a.confidence:.0%}; it might be {words.article(runner_up)} ({a.p[runner_up]:.0%}). "
            "The network is unsure, try drawing bigger, centred and with one clear stroke.")


def so_far_words(a: Answer) -> str:
    """The answer while strokes may still come: what it reads so far, no claim of confidence yet."""
    return (f"So far it reads {words.article(a.digit)} ({a.confidence:.0%}). Still drawing? The answer settles when "
            "the pen rests.")


def hidden_picture(h: np.ndarray, factor: int = 10, columns: int = 16) -> np.ndarray:
    """The activations h (hidden,) as a grey grid, unit j at row j // columns, brighter = stronger, black = silent."""
    columns = columns * max(1, round(np.sqrt(len(h) / (8 * columns))))   # a big layer stays roughly 2:1
    grid = np.zeros(-(-len(h) // columns) * columns, np.float32)
    grid[:len(h)] = h / (h.max() or 1.0)
    return images.digit(grid.reshape(-1, columns), factor)


def top_units(model: MLP, h: np.ndarray, digit: int, k: int = 6) -> list[tuple[int, float, float]]:
    """The k units that pushed `digit`'s logit up the most: (unit j, h_j, h_j · W2[j, digit]), largest first."""
    contribution = h * model.W2[:, digit]
    order = np.argsort(contribution)[::-1][:k]
    return [(int(j), float(h[j]), float(contribution[j])) for j in order if contribution[j] > 0]


def teach(ref: models.ModelRef, x: np.ndarray, label: int, lr: float) -> tuple[MLP, np.ndarray, np.ndarray]:
    """One SGD step on this drawing alone, on a copy: (new model, p before, p after)."""
    model = ref.model.copy()   # writeable arrays; the ref's own stay frozen and shared
    X, y = x[None, :], np.array([label])
    cache = model.sgd_step(X, y, lr)
    return model, cache.p[0].copy(), model.predict_proba(X)[0]
