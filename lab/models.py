"""Models as the app hands them around, and what is computed from them, cached per model.

A `ModelRef` pairs a network with a version string that is unique in the
process; its arrays are read-only, so anything computed from it stays valid
and is cached under the version (lab.model_cache: the cache never holds the
model, and is bounded in bytes).  The shipped model is loaded once and shared
by every session.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mlp import weights
from mlp.model import MLP, as_inputs

from . import images, mnist, model_cache

_versions = itertools.count(1)


@dataclass(frozen=True, eq=False)
class ModelRef:
    model: MLP
    version: str     # unique per process: cache key for everything derived from the weights
    label: str       # what the sidebar says, e.g. "Shipped weights (97.9% test accuracy)"

    def __hash__(self) -> int:
        return hash(self.version)

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelRef) and other.version == self.version


def new_ref(model: MLP, label: str, prefix: str = "model") -> ModelRef:
    """Freeze `model` (the caller hands it over) and give it a fresh version.

    The label may carry a stranger's text (a file name, a file's meta), and pages show
    labels as Markdown: it is made plain text first (see `plain`).
    """
    for array in model.params().values():
        array.flags.writeable = False
    return ModelRef(model, f"{prefix}-{next(_versions)}", plain(label))


def taught_from(ref: ModelRef) -> str:
    """The name of the model that Teach it or fine-tuning builds on: where a chain of lessons started,
    else the ref's label without its parenthesis."""
    return ref.model.meta.get("taught_from", ref.label.split(" (")[0])


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")      # a backslash before ASCII punctuation
_ACTIVE = re.compile(r"([\\`*_\[\]<>!$|~#:@])")     # what makes links, images, HTML, LaTeX, colours, icons
# Some of Markdown's actors work on the text after escapes are undone: GFM's bare links (http://…,
# www.…, a@b.c), emoji and Streamlit's :material/…: icons.  An invisible break stops each.
BREAK = "\u200b"                                    # zero-width space
_BARE = re.compile(r"(?<=[:@])(?=\S)|(?i:(?<=www)(?=\.))")


def plain(text: str) -> str:
    """`text` on one line, shown as written: everything Markdown (and Streamlit's :colour[]/:icon:) would
    act on is escaped, and an invisible break follows each ':' and '@' and splits 'www.', so no bare
    link, emoji or icon forms either.

    Idempotent, so a label built from another label is not escaped twice.  Every message that quotes
    a stranger's text (a file's name, its meta, a link's value, a refusal of a file) goes through it.
    """
    one_line = " ".join(str(text).replace(BREAK, "").split())
    escaped = _ACTIVE.sub(r"\\\1", _ESCAPED.sub(r"\1", one_line))
    return _BARE.sub(BREAK, escaped)


@lru_cache(maxsize=1)
def shipped() -> ModelRef:
    """The shipped weights (raises mlp.weights.WeightsError if the file is missing or bad)."""
    model = weights.load_shipped()
    accuracy = model.meta.get("test_accuracy")
    label = "Shipped weights" + (f" ({accuracy:.1%} test accuracy)" if isinstance(accuracy, float) else "")
    return ModelRef(model, "shipped", label)


# -- derived from the weights, cached by version -------------------------------

@model_cache.per_model(max_entries=512, max_bytes=32 * 2**20)
def incoming_image(ref: ModelRef, unit: int, factor: int = 3) -> np.ndarray:
    """(28f, 28f, 3) uint8: W1[:, unit] as a picture on its own ± colour scale."""
    return images.signed(ref.model.W1[:, unit], factor)


@mnist.cached_on_mnist(maxsize=8, max_bytes=2**20)
def dead_units(ref: ModelRef) -> np.ndarray:
    """(h,) bool: units that never fire on the reference inputs (see mnist.reference_inputs)."""
    X, _ = mnist.reference_inputs()
    dead = ref.model.dead_units(X)
    dead.flags.writeable = False
    return dead


@mnist.cached_on_mnist(maxsize=2, max_bytes=256 * 2**20)   # one 4096-unit model's (10000,4096) h fits
def test_outputs(ref: ModelRef) -> tuple[np.ndarray, np.ndarray] | None:
    """(hidden activations (10000,h), probabilities (10000,10)) on the test set, or None without MNIST."""
    test = mnist.test_set()
    if test is None:
        return None
    m = ref.model
    cache = m.forward(as_inputs(test[0], m.dtype))
    h, p = cache.h, cache.p
    h.flags.writeable = False
    p.flags.writeable = False
    return h, p

