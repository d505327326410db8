"""How well a model reads digits drawn on the canvas in styles it was never trained on.

MNIST accuracy says little about the Draw page: there the input is a brush
stroke on a 280×280 canvas, drawn anywhere, at any size, in the user's own
hand.  `mlp/strokes.py` draws digits in named hand-style families; training
may use its TRAIN_FAMILIES, and this benchmark scores the HELD_OUT_FAMILIES
(styles never trained on) through `to_mnist`, per digit and per family, and
the train families and MNIST test beside them.

    python bench/drawn_digits.py [weights.npz ...] [--png grid.png] [--fonts DIR]

Default: the shipped weights.  Several weight files are shown side by side
(e.g. old and new).  Everything is seeded, so the sets are the same on every run.
Last, the machine's TrueType fonts (every .ttf/.otf under --fonts, default
/usr/share/fonts) set each digit large on the canvas: printed shapes, with the
hairlines and heavy stems no pen on the canvas makes.
"""
from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp import weights  # noqa: E402
from mlp.preprocess import STROKE_WIDTH, to_mnist  # noqa: E402
from mlp.strokes import (CANVAS, HELD_OUT_FAMILIES, TRAIN_FAMILIES, Drawing, make_drawings,  # noqa: E402,F401
                         render)

HELD_OUT_PER_DIGIT = 50    # per family: 8 held-out families → 4000 drawings, 400 per digit (one miss = 0.25 %)
TRAIN_PER_DIGIT = 10       # per family: 12 train families → 1200 drawings
HELD_OUT_SEED, TRAIN_SEED = 0, 1   # training_set uses its own seed; these drawings are new either way


class DrawnSet(NamedTuple):
    drawings: list[Drawing]
    labels: np.ndarray      # (N,)
    families: np.ndarray    # (N,) family names
    inputs: np.ndarray      # (N,784) float32 through to_mnist; a blank drawing is all zero
    blank: np.ndarray       # (N,) bool: to_mnist saw nothing


def drawn_set(families=HELD_OUT_FAMILIES, n_per_digit: int = HELD_OUT_PER_DIGIT, seed: int = HELD_OUT_SEED,
              preprocess: Callable = to_mnist) -> DrawnSet:
    drawings = make_drawings(families, n_per_digit, seed)
    inputs = [preprocess(d.image) for d in drawings]
    blank = np.array([x is None for x in inputs], bool)
    return DrawnSet(drawings, np.array([d.label for d in drawings], np.int64),
                    np.array([d.family for d in drawings]),
                    np.stack([np.zeros(784, np.float32) if x is None else x for x in inputs]), blank)


class Score(NamedTuple):
    accuracy: float
    per_digit: dict[int, float]
    per_family: dict[str, float]
    predictions: np.ndarray     # (N,), -1 where the drawing was blank


def score(model, s: DrawnSet) -> Score:
    """Accuracy overall, per digit and per family; a drawing `to_mnist` calls blank counts as wrong."""
    predictions = np.where(s.blank, -1, model.predict(s.inputs) if len(s.labels) else -1)
    return tally(predictions, s.labels, s.families)


def tally(predictions: np.ndarray, labels: np.ndarray, families: np.ndarray | None = None) -> Score:
    """Accuracy overall, per digit and (given each row's family) per family."""
    correct = predictions == labels
    per_digit = {int(d): float(correct[labels == d].mean()) for d in np.unique(labels)}
    per_family = {} if families is None else \
        {str(f): float(correct[families == f].mean()) for f in dict.fromkeys(families)}
    return Score(float(correct.mean()) if len(correct) else 0.0, per_digit, per_family, predictions)


# -- looking at it: a tiny PNG writer ------------------------------------------------

def write_png(path, gray: np.ndarray) -> Path:
    """Save a (H,W) uint8 array as an 8-bit grayscale PNG, with nothing but zlib."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = gray.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.hstack([np.zeros((h, 1), np.uint8), gray]).tobytes()  # filter byte 0 per row
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)
    return Path(path)


def grid(images, columns: int = 10, cell: int = 140) -> np.ndarray:
    """Tile drawings (downsampled) and/or 28×28 inputs (enlarged) into one image with 2-px gaps."""
    tiles = []
    for im in images:
        im = np.asarray(im)
        if im.ndim == 1:
            im = im.reshape(28, 28)
        if im.dtype != np.uint8:
            im = np.round(np.clip(im, 0, 1) * 255).astype(np.uint8)
        ys, xs = (np.arange(cell) * n // cell for n in im.shape)  # nearest-neighbour resize
        tiles.append(im[np.ix_(ys, xs)])
    rows = -(-len(tiles) // columns)
    out = np.full((rows * (cell + 2), columns * (cell + 2)), 90, np.uint8)
    for i, t in enumerate(tiles):
        y, x = divmod(i, columns)
        out[y * (cell + 2):y * (cell + 2) + cell, x * (cell + 2):x * (cell + 2) + cell] = t
    return out


# -- printed digits: the machine's fonts ----------------------------------------------

FONT_DIR = Path("/usr/share/fonts")
FONT_HEIGHT = 0.75          # a digit's ink height, share of the canvas ("large on the canvas")


class Typeset(NamedTuple):
    fonts: list[str]        # (N,) the font file's name for each row
    labels: np.ndarray      # (N,)
    inputs: np.ndarray      # (N,784) through to_mnist


def typeset(font_dir=FONT_DIR, preprocess: Callable = to_mnist) -> Typeset | None:
    """Every digit in every font under font_dir, white on the black canvas, centred; None without fonts."""
    try:
        from PIL import Image, ImageDraw, ImageFont   # Pillow comes with Streamlit
    except ImportError:
        return None
    paths = sorted(p for p in Path(font_dir).rglob("*") if p.suffix.lower() in (".ttf", ".otf"))
    fonts, labels, inputs = [], [], []
    for path in paths:
        try:
            font = ImageFont.truetype(str(path), 100)
        except OSError:
            continue
        for digit in range(10):
            # Size the font so the ink, not the em box, is FONT_HEIGHT of the canvas.
            _, top, _, bottom = font.getbbox(str(digit))
            sized = font.font_variant(size=max(8, round(100 * FONT_HEIGHT * CANVAS / max(1, bottom - top))))
            left, top, right, bottom = sized.getbbox(str(digit))
            canvas = Image.new("L", (CANVAS, CANVAS), 0)
            ImageDraw.Draw(canvas).text(((CANVAS - right - left) / 2, (CANVAS - bottom - top) / 2), str(digit),
                                        fill=255, font=sized)
            x = preprocess(np.asarray(canvas))
            if x is not None:
                fonts.append(path.name)
                labels.append(digit)
                inputs.append(x)
    if not fonts:
        return None
    return Typeset(fonts, np.array(labels), np.stack(inputs))


def load_model(path=None):
    """An MLP from a weights .npz (checked, never unpickled); the shipped weights by default."""
    return weights.load(path if path else weights.SHIPPED)


def table(title: str, names: list[str], scores: list[Score], decimals: int = 1) -> None:
    """One column per model: overall, then per family, then per digit."""
    cell = f">16.{decimals}%"
    print(f"\n{title}" + "".join(f"{n:>16}" for n in names))
    print(f"  {'overall':<22}" + "".join(f"{s.accuracy:{cell}}" for s in scores))
    for family in scores[0].per_family:
        print(f"  family {family:<15}" + "".join(f"{s.per_family[family]:{cell}}" for s in scores))
    for digit in scores[0].per_digit:
        print(f"  digit {digit:<16}" + "".join(f"{s.per_digit[digit]:{cell}}" for s in scores))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="*", help=".npz files with W1,b1,W2,b2 (default: shipped weights)")
    parser.add_argument("--n-per-digit", type=int, default=HELD_OUT_PER_DIGIT, help="held-out drawings per family")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--stroke-width", default=str(STROKE_WIDTH),
                        help="to_mnist's stroke-width target in box pixels, or 'none' to skip that step")
    parser.add_argument("--no-train-families", action="store_true", help="score the held-out families only")
    parser.add_argument("--png", help="save a grid of held-out drawings each row above its 28×28 inputs, "
                                      "misread ones first")
    parser.add_argument("--fonts", default=str(FONT_DIR), help="folder of .ttf/.otf fonts to typeset, or 'none'")
    args = parser.parse_args(argv)
    width = None if args.stroke_width.lower() == "none" else float(args.stroke_width)
    preprocess = lambda image: to_mnist(image, width)
    paths = args.weights or [str(weights.SHIPPED)]
    models = [load_model(p) for p in paths]
    names = [Path(p).stem[-15:] for p in paths]

    try:
        from mlp.idx import load_mnist
        X_test, y_test = load_mnist("test")
    except (OSError, ValueError) as e:
        print(f"MNIST test: not available ({e})")
    else:
        inputs = X_test.astype(np.float32) / 255
        table("MNIST test (10 000)", names, [tally(m.predict(inputs), y_test) for m in models], decimals=2)

    held = drawn_set(HELD_OUT_FAMILIES, args.n_per_digit, args.seed, preprocess)
    held_scores = [score(m, held) for m in models]
    table(f"HELD-OUT families ({len(held.labels)} drawings, never trained on)", names, held_scores)
    if not args.no_train_families:
        train = drawn_set(TRAIN_FAMILIES, TRAIN_PER_DIGIT, TRAIN_SEED, preprocess)
        table(f"train families ({len(train.labels)} new drawings)", names, [score(m, train) for m in models])

    printed = None if args.fonts == "none" else typeset(args.fonts, preprocess)
    if printed is None:
        print(f"\ntypefaces: no fonts under {args.fonts}")
    else:
        print(f"\ntypefaces ({len(set(printed.fonts))} fonts × 10 digits, set large on the canvas)"
              + "".join(f"{n:>16}" for n in names))
        found = [m.predict(printed.inputs) for m in models]
        print(f"  {'overall':<22}" + "".join(f"{(p == printed.labels).mean():>16.1%}" for p in found))
        for name, p in zip(names, found):
            misses = [f"{printed.fonts[i]} {printed.labels[i]}→{p[i]}" for i in np.flatnonzero(p != printed.labels)]
            print(f"  misread by {name}: " + (", ".join(misses) or "none"))

    if args.png:
        wrong = np.flatnonzero(held_scores[0].predictions != held.labels)
        show = np.concatenate([wrong, np.setdiff1d(np.arange(len(held.labels)), wrong)])[:30]
        tiles = []
        for start in range(0, len(show), 10):
            row = show[start:start + 10]
            tiles += [held.drawings[i].image for i in row] + [held.inputs[i] for i in row]
        print("grid saved to", write_png(args.png, grid(tiles, columns=10)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
