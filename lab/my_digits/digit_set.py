"""My digits: the drawings a user confirmed or corrected, kept as a labelled set (no Streamlit here).

What is done with the set:
- each model's answers to it and its accuracy on it;
- written to and read from a plain `.npz` that may come from a stranger (an upload),
  so reading it never unpickles, caps every size, and checks each member's
  `.npy` header (dtype, shape) before a byte of its data is read;
- fine-tuning: a few epochs of SGD on it, every batch mixed with MNIST training
  digits ("replay") so the network keeps what it knew;
- the price of one Teach-it step: MNIST test accuracy before and after.

File format (`.npz`, members exactly):
    x.npy        (n,784) float32 in [0,1]: the inputs the network saw
    y.npy        (n,)    uint8 0..9:       the digit the user said it is
    strokes.npy  (k,)    uint8:            UTF-8 JSON list of n canvas drawings (object or null); optional
"""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from mlp.model import CLASSES, INPUTS, MLP, as_inputs
from mlp.npz import MAX_DIRECTORY_BYTES, UNSUPPORTED, directory, dtype_text, read_header, shape_text, shown, unreadable
from mlp.train import Config, Diverged, Trainer

from ..plots import words

MAX_DIGITS = 1000               # a set is drawn by hand: a thousand is far more than anyone draws
# One drawing's canvas JSON: a digit's few strokes are 2-8 KB (a path object's ~700 characters of
# settings and ~30 per point); a longer one is kept without its strokes.  Each drawing's JSON is parsed
# on its own, so a file's strokes never become more than one drawing's tree of Python objects at once.
MAX_STROKES_CHARS = 16_000
STROKES_SLACK = 16              # per drawing in strokes.npy: the comma, and a little whitespace
MAX_BYTES = 32 * 1024 * 1024    # the file; x in float64 for MAX_DIGITS is 6.3 MB, strokes at most 16 MB raw
MEMBERS = ("x", "y", "strokes")
REQUIRED = ("x", "y")
READ_ORDER = ("y", "x", "strokes")   # y first: its length bounds what strokes may hold
MAX_LISTED = 16                 # members an archive may list before it is refused unread (a weights file has 5)

# Teach it: one SGD step on one drawing, with no batch average to temper it.  The default puts most
# misread drawings right for about a tenth of a point of MNIST test; the top of the range already costs
# points (bench/my_digits.py; docs/benchmarks.md).
LESSON_LR = 0.005
LESSON_LR_RANGE = (0.001, 0.02)

MAX_TEST_DROP = 0.003           # fine-tuning never hands back a model 0.3 points worse on MNIST test


class SetError(ValueError):
    """A My digits file was refused; the message says why."""


# -- the set --------------------------------------------------------------------------------

def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class DigitSet:
    """n labelled drawings; immutable (every change returns a new set)."""
    x: np.ndarray = field(default_factory=lambda: _frozen(np.zeros((0, INPUTS), np.float32)))   # (n,784)
    y: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0, np.uint8)))               # (n,)
    strokes: tuple = ()   # n canvas drawings (JSON text) or None

    def __post_init__(self):
        n = len(self.y)
        if self.x.shape != (n, INPUTS) or len(self.strokes) != n:
            raise ValueError(f"x {self.x.shape}, y ({n},) and {len(self.strokes)} strokes do not match")
        _frozen(self.x)
        _frozen(self.y)

    def __len__(self) -> int:
        return len(self.y)

    def label_of(self, x: np.ndarray) -> int | None:
        """The label of the drawing with exactly these inputs, or None if it is not in the set."""
        same = np.flatnonzero((self.x == np.asarray(x, np.float32)).all(axis=1))
        return int(self.y[same[0]]) if len(same) else None

    def add(self, x: np.ndarray, label: int, strokes: dict | str | None = None) -> "DigitSet":
        """The set with this drawing labelled `label` (a drawing already in it gets the new label).

        ValueError for inputs that are not 784 numbers in [0,1], a label outside 0..9, or a full set.
        """
        x = np.asarray(x, np.float32).reshape(-1)
        if x.shape != (INPUTS,) or not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise ValueError(f"a drawing is {INPUTS} numbers in [0,1]")
        if not (isinstance(label, (int, np.integer)) and 0 <= label < CLASSES):
            raise ValueError(f"a label is a digit 0..9, got {label!r}")
        text = strokes if isinstance(strokes, str) or strokes is None else json.dumps(strokes, separators=(",", ":"))
        text = text if text is None or len(text) <= MAX_STROKES_CHARS else None
        return self.merged(DigitSet(x[None], np.array([label], np.uint8), (text,)))

    def merged(self, other: "DigitSet") -> "DigitSet":
        """This set with `other`'s drawings added; a drawing already in it takes `other`'s label (and
        strokes, if it has some) instead of being added twice.

        ValueError, and nothing merged, when the result would hold more than MAX_DIGITS.
        """
        index = {row.tobytes(): i for i, row in enumerate(self.x)}
        y, strokes, new = list(self.y), list(self.strokes), []
        for j, row in enumerate(other.x):
            i = index.setdefault(row.tobytes(), len(y))
            if i == len(y):
                new.append(j)
                y.append(other.y[j])
                strokes.append(other.strokes[j])
            else:
                y[i] = other.y[j]
                strokes[i] = other.strokes[j] if other.strokes[j] is not None else strokes[i]
        if len(y) > MAX_DIGITS:
            raise ValueError(f"that makes {len(y)} drawings; My digits keeps at most {MAX_DIGITS}")
        return DigitSet(np.vstack([self.x, other.x[new]]), np.array(y, np.uint8), tuple(strokes))

    def without(self, i: int) -> "DigitSet":
        keep = np.arange(len(self)) != i
        return DigitSet(self.x[keep], self.y[keep], tuple(s for s, k in zip(self.strokes, keep) if k))

    def by_digit(self) -> dict[int, np.ndarray]:
        """{digit: indices of its drawings, oldest first} for the digits present."""
        return {d: np.flatnonzero(self.y == d) for d in range(CLASSES) if (self.y == d).any()}

    def counts(self) -> np.ndarray:
        """(10,) how many drawings of each digit."""
        return np.bincount(self.y, minlength=CLASSES)


# -- what models make of it ------------------------------------------------------------------

def answers(model: MLP, digits: DigitSet) -> np.ndarray:
    """(n,) the digit `model` reads for each drawing."""
    if not len(digits):
        return np.zeros(0, np.intp)
    return model.predict(digits.x)


def accuracy(model: MLP, digits: DigitSet) -> float | None:
    """Share of the set `model` reads as labelled; None for an empty set."""
    return float((answers(model, digits) == digits.y).mean()) if len(digits) else None


# -- the file ---------------------------------------------------------------------------------

def to_bytes(digits: DigitSet) -> bytes:
    """The `.npz` for a download (see the module docstring for its members)."""
    strokes = "[" + ",".join("null" if s is None else s for s in digits.strokes) + "]"   # each already JSON
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.ascontiguousarray(digits.x, np.float32), y=digits.y.astype(np.uint8),
                        strokes=np.frombuffer(strokes.encode(), np.uint8))
    return buffer.getvalue()


def from_bytes(raw: bytes, max_bytes: int = MAX_BYTES) -> DigitSet:
    """Read a `.npz` written by to_bytes (or by anyone); SetError naming the first problem found."""
    if len(raw) > max_bytes:
        raise SetError(f"the file is {len(raw) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    if not raw:
        raise SetError("the file is empty")
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise SetError("not a My digits file: expected an .npz (zip) archive")
    declared = directory(raw)
    if declared is None:
        raise SetError("not a My digits file: expected an .npz (zip) archive")
    if declared.members > MAX_LISTED:   # checked before ZipFile reads a directory that may list a million names
        raise SetError(f"the archive lists {declared.members:,} members; a My digits file holds {len(MEMBERS)}")
    if declared.bytes > MAX_DIRECTORY_BYTES:   # ZipFile walks all of it, whatever the count says
        raise SetError(f"the archive's directory is {declared.bytes:,} bytes long; a My digits file's "
                       f"is under {MAX_DIRECTORY_BYTES // 1024} KB")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            problems = [problem for problem in map(unreadable, archive.infolist()) if problem]
            if problems:
                raise SetError(f"cannot read the archive: {problems[0]}")
            names = archive.namelist()
            if "W1.npy" in names:
                raise SetError("this is a weights file, not a My digits set (weights are loaded on the Train page)")
            stems = [n[:-4] if n.endswith(".npy") else n for n in names]
            unexpected = [n for n, s in zip(names, stems) if s not in MEMBERS]
            if unexpected:
                raise SetError(f"unexpected member '{shown(unexpected[0])}'; a My digits file holds only "
                               f"{', '.join(m + '.npy' for m in MEMBERS)}")
            if len(set(stems)) != len(stems):
                raise SetError("a member appears twice in the archive")
            missing = [m for m in REQUIRED if m not in stems]
            if missing:
                raise SetError(f"missing {' and '.join(m + '.npy' for m in missing)}")
            arrays: dict[str, np.ndarray] = {}
            for stem, name in sorted(zip(stems, names), key=lambda member: READ_ORDER.index(member[0])):
                drawings = min(len(arrays["y"]), MAX_DIGITS) if "y" in arrays else MAX_DIGITS
                arrays[stem] = _read_member(archive, name, stem, drawings)
    except SetError:
        raise
    except NotImplementedError:
        raise SetError(UNSUPPORTED) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as e:
        # zipfile's messages quote names and bytes from the file: only the kind of failure is shown
        raise SetError(f"corrupt or truncated .npz ({type(e).__name__})") from None
    return _checked(arrays)


# What each member may be: (allowed dtype kinds, allowed item sizes, number of dimensions).
_LAYOUT = {"x": ("f", (4, 8), 2), "y": ("iu", (1, 2, 4, 8), 1), "strokes": ("u", (1,), 1)}


def _read_member(archive: zipfile.ZipFile, name: str, stem: str, drawings: int) -> np.ndarray:
    """One `.npy`: its header is read and checked before its data, and only as many bytes as it declares
    (strokes: at most what `drawings` drawings' strokes may be)."""
    kinds, sizes, ndim = _LAYOUT[stem]
    with archive.open(name) as f:
        try:
            shape, fortran, dtype = read_header(f)
        except ValueError as e:   # read_header's messages quote nothing from the file
            raise SetError(f"{name} is not a plain .npy array ({e})") from None
        if dtype.hasobject:
            raise SetError(f"refused: {name} holds pickled Python objects, which could run code; "
                           "only plain numeric arrays are accepted")
        if dtype.kind not in kinds or dtype.itemsize not in sizes or dtype.fields is not None or dtype.subdtype:
            raise SetError(f"{name} has dtype {dtype_text(dtype)}; expected {_expected(stem)}")
        if len(shape) != ndim:
            raise SetError(f"{name} has shape {shape_text(shape)}; expected {_expected(stem)}")
        size = math.prod(shape) * dtype.itemsize
        if stem == "strokes" and size > _strokes_limit(drawings):
            raise SetError(_strokes_too_long(size, drawings))
        if size > {"x": MAX_DIGITS * INPUTS * 8, "y": MAX_DIGITS * 8, "strokes": _strokes_limit(MAX_DIGITS)}[stem]:
            raise SetError(f"{name} declares {shape_text(shape)}, more than a My digits file may hold "
                           f"({MAX_DIGITS} drawings)")
        data = f.read(size + 1)
    if len(data) != size:
        raise SetError(f"{name} is truncated or has trailing bytes: {len(data):,} bytes of data, "
                       f"its header declares {size:,}")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _expected(stem: str) -> str:
    return {"x": f"(n, {INPUTS}) floats", "y": "(n,) integers", "strokes": "(k,) uint8 (UTF-8 JSON)"}[stem]


def _checked(arrays: dict[str, np.ndarray]) -> DigitSet:
    x, y = arrays["x"], arrays["y"]
    n = len(y)
    if x.shape[1] != INPUTS:
        raise SetError(f"x.npy has shape {x.shape}; each drawing must be {INPUTS} numbers (28×28)")
    if x.shape[0] != n:
        raise SetError(f"x.npy holds {words.count(x.shape[0], 'drawing')} but y.npy {words.count(n, 'label')}")
    if n == 0:
        raise SetError("the file holds no drawings")
    if n > MAX_DIGITS:
        raise SetError(f"the file holds {n} drawings; the most is {MAX_DIGITS}")
    if not np.isfinite(x).all():
        raise SetError("x.npy contains NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        raise SetError(f"x.npy has values from {words.number(x.min())} to {words.number(x.max())}; "
                       "inputs are in [0, 1]")
    if y.min() < 0 or y.max() >= CLASSES:
        raise SetError(f"y.npy has labels from {y.min()} to {y.max()}; a label is a digit 0..9")
    strokes = (None,) * n
    if "strokes" in arrays:
        strokes = _parse_strokes(arrays["strokes"], n)
    return DigitSet(np.array(x, np.float32), y.astype(np.uint8), strokes)


def _strokes_limit(n: int) -> int:
    """Bytes strokes.npy may hold for n drawings: each drawing's JSON at most MAX_STROKES_CHARS."""
    return n * (MAX_STROKES_CHARS + STROKES_SLACK) + STROKES_SLACK


def _strokes_too_long(size: int, n: int) -> str:
    return (f"strokes.npy is {size:,} bytes; {n} drawings' strokes are at most {_strokes_limit(n):,} "
            f"({MAX_STROKES_CHARS:,} characters each)")


def _parse_strokes(raw: np.ndarray, n: int) -> tuple:
    """n drawings' canvas JSON texts (compact) or None, from a JSON list of n objects or nulls.

    The list is walked one drawing at a time, each parsed from at most MAX_STROKES_CHARS characters:
    a list of millions of empty lists (a few KB deflated) is refused before it is built.
    """
    if raw.nbytes > _strokes_limit(n):
        raise SetError(_strokes_too_long(raw.nbytes, n))
    try:
        text = raw.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SetError("strokes.npy is not UTF-8 JSON") from None
    not_a_list = f"strokes.npy must be a JSON list of {n} drawings (one per label)"
    decoder, texts = json.JSONDecoder(), []
    at = _space.match(text).end()
    if text[at:at + 1] != "[":
        raise SetError(not_a_list)
    at = _space.match(text, at + 1).end()
    while text[at:at + 1] != "]" or texts:
        if len(texts) == n:
            raise SetError(not_a_list)
        window = text[at:at + MAX_STROKES_CHARS + 1]
        try:
            drawing, length = decoder.raw_decode(window)
        except (ValueError, RecursionError):
            if len(window) > MAX_STROKES_CHARS:
                raise SetError(f"strokes.npy: drawing {len(texts) + 1}'s strokes are longer than "
                               f"{MAX_STROKES_CHARS:,} characters, or not JSON") from None
            raise SetError("strokes.npy is not UTF-8 JSON") from None
        if drawing is not None and not isinstance(drawing, dict):
            raise SetError("strokes.npy: each drawing must be a JSON object or null")
        texts.append(None if drawing is None else json.dumps(drawing, separators=(",", ":")))
        at = _space.match(text, at + length).end()
        if text[at:at + 1] == "]":
            break
        if text[at:at + 1] != ",":
            raise SetError("strokes.npy is not UTF-8 JSON")
        at = _space.match(text, at + 1).end()
    if _space.match(text, at + 1).end() != len(text):
        raise SetError("strokes.npy is not UTF-8 JSON")
    if len(texts) != n:
        raise SetError(not_a_list)
    return tuple(t if t is None or len(t) <= MAX_STROKES_CHARS else None for t in texts)


_space = re.compile(r"[ \t\n\r]*")   # JSON's whitespace


# -- a lesson and its price ------------------------------------------------------------------------

class Cost(NamedTuple):
    test_before: float
    test_after: float

    @property
    def drop_points(self) -> float:
        """How many percentage points of MNIST test accuracy were lost (negative: gained)."""
        return 100 * (self.test_before - self.test_after)


def test_cost(before: MLP, after: MLP, test: tuple[np.ndarray, np.ndarray] | None,
              before_accuracy: float | None = None) -> Cost | None:
    """MNIST test accuracy of `before` and `after` (None without the test set)."""
    if test is None:
        return None
    X, y = test
    start = before.accuracy(X, y) if before_accuracy is None else before_accuracy
    return Cost(start, after.accuracy(X, y))


# -- fine-tuning ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FineTuneSettings:
    """Defaults measured with bench/my_digits.py on 20–100 drawn digits, some misread (numbers in docs/benchmarks.md):
    a larger share of My digits per batch learns a little more of the hand and costs more MNIST test."""
    epochs: int = 10              # passes over My digits
    lr: float = 0.05
    mine_per_batch: int = 8       # drawings from My digits in each batch...
    replay_per_batch: int = 56    # ...and MNIST training digits, so the network keeps what it knew
    seed: int = 0
    max_test_drop: float = MAX_TEST_DROP

    LIMITS = {"epochs": (1, 50), "lr": (0.001, 0.2)}

    def validate(self) -> "FineTuneSettings":
        for name, (low, high) in self.LIMITS.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
        return self


class FineTuneResult(NamedTuple):
    model: MLP                 # the fine-tuned copy (the model given is never changed)
    mine_before: float
    mine_after: float
    test_before: float
    test_after: float
    epochs_done: int
    note: str                  # "" when every epoch ran; else why it stopped early

    @property
    def drop_points(self) -> float:
        return 100 * (self.test_before - self.test_after)


class _MixedBatches:
    """Fine-tuning's minibatches for the Trainer: `mine` of your drawings (each once an epoch; the last
    batch is topped up at random, so each holds that many of yours) and `replay` random MNIST
    training digits, so the network keeps what it knew."""

    def __init__(self, digits: DigitSet, replay: tuple[np.ndarray, np.ndarray], mine: int, replay_rows: int,
                 rng: np.random.Generator, dtype):
        self.digits, (self.X_replay, self.y_replay) = digits, replay
        self.mine, self.replay_rows, self.rng, self.dtype = mine, replay_rows, rng, dtype
        self.steps_per_epoch = -(-len(digits) // mine)
        self.order = np.arange(len(digits))   # drawn anew as each epoch starts (i = 0)

    def __call__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        k, n = self.mine, len(self.digits)
        if i == 0:
            self.order = self.rng.permutation(n)
        mine = self.order[i * k:(i + 1) * k]
        if len(mine) < k:
            mine = np.concatenate([mine, self.rng.integers(0, n, k - len(mine))])
        rows = self.rng.integers(0, len(self.y_replay), self.replay_rows)
        X = np.concatenate([self.digits.x[mine], as_inputs(self.X_replay[rows], self.dtype)])          # (k+r,784)
        y = np.concatenate([self.digits.y[mine].astype(np.intp), np.asarray(self.y_replay[rows], np.intp)])
        return X, y


def fine_tune(model: MLP, digits: DigitSet, replay: tuple[np.ndarray, np.ndarray],
              test: tuple[np.ndarray, np.ndarray], settings: FineTuneSettings = FineTuneSettings(),
              progress: Callable[[float, str], None] | None = None) -> FineTuneResult:
    """SGD on `digits` mixed with `replay` (MNIST train, uint8 (N,784) and (N,)), on a copy of `model`.

    After each epoch MNIST `test` accuracy is measured; an epoch that takes it more than
    `max_test_drop` below the start is undone and training stops there, as does one the
    trainer's divergence guard stops (its loss not finite, or exploded).
    ValueError for an empty set or bad settings; the weights given are never touched.
    """
    settings.validate()
    if not len(digits):
        raise ValueError("My digits is empty: confirm or correct a few drawings on the Draw page first")
    X_test, y_test = test
    tuned = model.copy()   # writeable arrays even when the model's own are frozen and shared
    mine_before, test_before = accuracy(model, digits), model.accuracy(X_test, y_test)
    k, r = settings.mine_per_batch, settings.replay_per_batch
    batches = _MixedBatches(digits, replay, k, r, np.random.default_rng(settings.seed), tuned.dtype)
    config = Config(epochs=settings.epochs, batch_size=k + r, lr=settings.lr, hidden=tuned.hidden,
                    seed=settings.seed)
    # The trainer goes back only to the last epoch that kept MNIST within the bound (checkpoint() below).
    trainer = Trainer(tuned, digits.x, digits.y, config, batches=batches, checkpoint_every=None)
    good_test, epochs_done, note = test_before, 0, ""
    for epoch in range(settings.epochs):
        try:
            for _ in range(batches.steps_per_epoch):
                trainer.train_batch()
        except Diverged as e:   # the weights are those of the last good epoch again
            note = f"stopped after epoch {epoch}: epoch {epoch + 1} diverged ({e}); its weights were undone"
            break
        now = tuned.accuracy(X_test, y_test)
        if test_before - now > settings.max_test_drop or not tuned.is_finite():
            trainer.restore()
            note = (f"stopped after epoch {epoch}: epoch {epoch + 1} took MNIST test accuracy to {now:.2%}, "
                    f"more than {100 * settings.max_test_drop:.1f} points below the start; "
                    f"its weights were undone")
            break
        trainer.checkpoint()
        good_test, epochs_done = now, epoch + 1
        if progress is not None:
            progress((epoch + 1) / settings.epochs,
                     f"epoch {epoch + 1}/{settings.epochs} · MNIST test {now:.2%}")
    return FineTuneResult(tuned, mine_before, accuracy(tuned, digits), test_before, good_test, epochs_done, note)
