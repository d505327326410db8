"""What one training run may take of a shared server: memory, and time per step.

The settings allow batch 60,000 × hidden 4,096, whose buffers alone are 2 GB and whose
step took 18 s (Stop waits for the step in progress).  A run's needs follow from its
settings, so they are worked out before it starts, and a run over either limit is
refused with the reason.
"""
from __future__ import annotations

import os

from mlp.augment import CHUNK
from mlp.model import CLASSES, INPUTS
from mlp.train import Config

from ..plots import words

TRAINING_IMAGES = 60_000
FLOAT = 4                        # bytes: runs train in float32
MODEL_COPIES = 5                 # the model, its last good copy, the gradients, the page's snapshot, one spare
AUGMENT_WORKSPACE = CHUNK * 36 * 1024   # mlp.augment's per-chunk arrays (~36 kB an image)
EVALUATION_BYTES = 32 * 2**20    # a test-set pass (a run's, a page's) runs in slices this big (see eval_batch)
MAX_RUN_MB = 512                 # default memory one run may use; $MLP_LAB_MAX_RUN_MB changes it
# A step's work in multiply-adds: its two big products (batch × 784 × hidden each), plus PIXEL_WORK per input
# pixel for what runs far below BLAS speed (gathering and converting the batch, the products' thin ends).
# Stop waits for the step in progress, so the cap is what this machine does in well under a second
# (the fit is in docs/constants.md).
PIXEL_WORK = 128
MAX_STEP_WORK = 6_000_000_000


class OverBudget(ValueError):
    """A run's settings need more than one run may take; the message says what and how much."""


def max_run_bytes() -> int:
    try:
        return max(1, int(os.environ["MLP_LAB_MAX_RUN_MB"])) * 2**20
    except (KeyError, ValueError):
        return MAX_RUN_MB * 2**20


def memory_parts(config: Config) -> dict[str, int]:
    """Bytes a run with these settings holds while it trains, by what holds them."""
    B, h = min(config.batch_size, TRAINING_IMAGES), config.hidden
    params = (INPUTS * h + h + h * CLASSES + CLASSES) * FLOAT
    parts = {
        "hidden-layer buffers": B * h * (2 * FLOAT + 1),           # a1/h, δh, and the 1[h > 0] mask
        "input batch": B * INPUTS * (FLOAT + 1) + 2 * B * CLASSES * FLOAT + 2 * 8 * B,   # X, z/p and δz
        "model copies": (MODEL_COPIES + (config.momentum > 0)) * params,
        "shuffled order": TRAINING_IMAGES * 8,
        "test-set pass": EVALUATION_BYTES,
    }
    if config.augment:
        parts["augmentation"] = AUGMENT_WORKSPACE + 2 * B * INPUTS
    return parts


def step_work(config: Config) -> int:
    """Multiply-adds of one SGD step: X W1 and Xᵀ δa1, plus PIXEL_WORK an input pixel."""
    return min(config.batch_size, TRAINING_IMAGES) * INPUTS * (2 * config.hidden + PIXEL_WORK)


def check(config: Config) -> Config:
    """Raise OverBudget saying what is too big (with numbers) unless the run fits; return config."""
    parts = memory_parts(config)
    need, limit = sum(parts.values()), max_run_bytes()
    shape = f"batch {config.batch_size:,} × hidden {config.hidden:,}"
    if need > limit:
        biggest = max(parts, key=parts.get)
        raise OverBudget(f"{shape} needs about {_size(need)} of memory ({_size(parts[biggest])} of {biggest}), "
                         f"more than the {_size(limit)} one run may use on this server; "
                         "use a smaller batch or fewer hidden units")
    if step_work(config) > MAX_STEP_WORK:
        work, most = words.apart(step_work(config) / 1e9, MAX_STEP_WORK / 1e9)
        raise OverBudget(f"{shape} makes each step about {work} billion multiply-adds, more "
                         f"than the {most} billion that keep a step under a second (Stop waits "
                         "for the step in progress); use a smaller batch or fewer hidden units")
    return config


def eval_batch(hidden: int, itemsize: int = FLOAT) -> int:
    """Test images per slice of a test-set pass (a run's end-of-epoch accuracy, and the pages' passes over
    any model, whose weights may be float64): its activations within EVALUATION_BYTES, its work within
    half a step's (a run checks for Stop between slices)."""
    by_bytes = EVALUATION_BYTES // ((INPUTS + 2 * hidden + CLASSES) * itemsize)
    by_work = MAX_STEP_WORK // 2 // (INPUTS * (hidden + PIXEL_WORK))
    return max(1, min(by_bytes, by_work))


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
