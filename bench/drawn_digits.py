"""A synthetic "digits drawn on the canvas" test set, and how well a model reads it.

MNIST accuracy says little about the Draw page: there the input is a thick
brush stroke on a 280×280 canvas, drawn anywhere, at any size.  This module
draws digits the way people do on that canvas — several hand styles per digit
(serif 1s, open and closed 4s, crossed 7s, curly 6s and 9s, ...), then random
slant, rotation, aspect, size (half to most of the canvas), position, brush
width 12–24 px and a smooth hand-wobble — and renders them like the canvas:
round caps and joins, white on black, a one-pixel anti-aliased edge.

    python bench/drawn_digits.py [weights.npz] [--png grid.png]

prints overall and per-digit accuracy of `to_mnist` + the model (default: the
shipped weights).  Everything is seeded, so the set is the same on every run.
"""
from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp import weights  # noqa: E402
from mlp.preprocess import STROKE_WIDTH, to_mnist  # noqa: E402

CANVAS = 280
WIDTHS = (12, 24)          # brush widths the Draw page offers
HEIGHTS = (0.5, 0.9)       # digit height as a share of the canvas
Stroke = np.ndarray        # (n,2) points (x, y), y downwards
SEGMENTS_AT_ONCE = 8       # rendering batches consecutive segments: fewer, larger array operations


# -- stroke pieces in the digit's unit box (x right, y down, both 0..1) -----

def arc(cx, cy, rx, ry, start, end, n=48) -> Stroke:
    """Elliptic arc; angles in degrees, 0 = right, 90 = top, increasing = anticlockwise on screen."""
    t = np.radians(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def spline(*points, n=64) -> Stroke:
    """Catmull-Rom curve through the points (what a hand does between 'aim points')."""
    p = np.asarray(points, float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    per = max(2, n // (len(p) - 3))
    t = np.linspace(0, 1, per, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    out.append(p[-2][None])
    return np.vstack(out)


def line(*points, n=24) -> Stroke:
    p = np.asarray(points, float)
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    return np.vstack([a + (b - a) * t for a, b in zip(p[:-1], p[1:])] + [p[-1:]])


def join(*pieces: Stroke) -> Stroke:
    """One pen-down stroke made of consecutive pieces."""
    return np.vstack(pieces)


# -- hand styles: rng → list of strokes ----------------------------------------

def u(rng, lo, hi):
    return rng.uniform(lo, hi)


def zero_oval(r):
    start, turn = u(r, 60, 120), u(r, 345, 390) * r.choice([-1, 1])
    return [arc(.5, .5, .5, .5, start, start + turn, n=96)]


def zero_egg(r):  # narrower at the top, started at the top-right and closed with an overshoot
    return [spline((.65, .03), (.4, 0), (.12, .2), (0, .55), (.2, .92), (.55, 1), (.88, .8),
                   (1, .45), (.85, .12), (u(r, .45, .6), 0), (.3, .08), n=96)]


def one_plain(r):
    bend = u(r, -.08, .08)
    return [spline((.5, 0), (.5 + bend, .5), (.5, 1), n=24)]


def one_flag(r):
    return [line((u(r, .15, .4), u(r, .12, .3)), (.6, 0), (.6, 1))]


def one_flag_base(r):
    return one_flag(r) + [line((u(r, .1, .25), 1), (u(r, .9, 1), 1))]


def two_round(r):
    return [join(arc(.5, .3, .47, .3, u(r, 150, 170), u(r, -40, -20)),
                 line((.85, .45), (0, 1), (1, u(r, .95, 1.02))))]


def two_curly(r):  # the base starts with a small loop
    return [join(arc(.5, .28, .45, .28, 160, -30),
                 spline((.88, .42), (.55, .7), (.25, .9), (.1, .98), (.04, .9), (.15, .84),
                        (.35, .93), (.7, 1), (1, .96)))]


def two_z(r):
    return [spline((0, .2), (.3, 0), (.75, .03), (.9, .28), (.5, .65), (0, 1), (.5, 1), (1, .98))]


def three_round(r):
    mid = u(r, .42, .52)
    return [join(arc(.5, mid / 2, .45, mid / 2, 155, -90),
                 arc(.5, (1 + mid) / 2, .5, (1 - mid) / 2, 90, -155))]


def three_flat(r):
    return [join(line((.05, 0), (.9, 0), (.4, .4)), arc(.5, .7, .48, .3, 100, -155))]


def four_open(r):
    bar, stem = u(r, .55, .7), u(r, .6, .75)
    return [line((u(r, .05, .25), 0), (0, bar), (1, bar)),
            line((stem, u(r, 0, .3)), (stem, 1))]


def four_closed(r):
    bar, stem = u(r, .55, .7), u(r, .6, .75)
    return [line((stem, 0), (0, bar), (1, bar)), line((stem, 0), (stem, 1))]


def four_one_stroke(r):
    bar, stem = u(r, .55, .7), u(r, .6, .75)
    return [line((stem, 1), (stem, 0), (0, bar), (1, bar))]


def five_two_strokes(r):
    neck = u(r, .38, .5)
    return [join(line((.15, 0), (.1, neck)),
                 spline((.1, neck), (.45, neck - .08), (.85, neck + .05), (.92, .75), (.6, .98),
                        (.25, .97), (0, .85))),
            line((.15, 0), (u(r, .8, 1), u(r, -.03, .03)))]


def five_one_stroke(r):
    neck = u(r, .38, .5)
    return [join(line((u(r, .85, 1), 0), (.15, 0), (.1, neck)),
                 spline((.1, neck), (.5, neck - .07), (.9, neck + .1), (.85, .85), (.5, 1), (.1, .9)))]


def six_curly(r):
    return [spline((.85, .02), (.45, .1), (.15, .4), (.05, .7), (.2, .97), (.6, 1), (.9, .8),
                   (.8, .55), (.45, .5), (.12, .68), n=96)]


def six_straight(r):
    loop = u(r, .25, .32)
    return [join(line((.75, 0), (.08, .7)),
                 arc(.5, 1 - loop, .45, loop, 190, 190 + u(r, 330, 370), n=64))]


def seven_plain(r):
    return [line((0, 0), (1, 0), (u(r, .25, .45), 1))]


def seven_crossed(r):
    foot = u(r, .25, .45)
    mid_x = 1 + (foot - 1) * .5
    return [line((0, 0), (1, 0), (foot, 1)), line((mid_x - .3, .5), (mid_x + .25, .5))]


def seven_serif_curved(r):
    return [join(line((0, .15), (0, 0), (1, 0)), spline((1, 0), (.7, .4), (.5, .75), (.45, 1)))]


def eight_one_stroke(r):
    t = np.linspace(0, 2 * np.pi + u(r, 0, .4), 128) * r.choice([-1, 1])
    upper = u(r, .75, .95)  # the upper loop is usually the smaller one
    y = .5 - .5 * np.cos(t)
    x = .5 + .5 * np.sin(2 * t) * np.where(y < .5, upper, 1)
    return [np.stack([x, y], axis=1)]


def eight_snowman(r):
    mid = u(r, .42, .5)
    return [arc(.5, mid / 2, .38, mid / 2, 90, 450), arc(.5, (1 + mid) / 2, .5, (1 - mid) / 2, 90, -270)]


def eight_s_and_back(r):
    return [join(spline((.85, .12), (.5, 0), (.15, .15), (.25, .38), (.75, .6), (.92, .82), (.55, 1),
                        (.1, .85), (.25, .6), n=80),
                 line((.25, .6), (.85, .12)))]


def nine_straight(r):
    loop = u(r, .25, .35)
    return [join(arc(.5, loop, .5, loop, -10, 370), line((.98, loop + .08), (u(r, .85, 1), 1)))]


def nine_curly(r):
    loop = u(r, .25, .32)
    return [join(arc(.5, loop, .5, loop, -10, 370),
                 spline((.98, loop + .08), (.92, .6), (.75, .9), (.45, 1), (.2, .9)))]


def nine_two_strokes(r):
    loop = u(r, .25, .35)
    return [arc(.5, loop, .48, loop, 0, 360 + u(r, 0, 30)), line((.98, 0), (.95, 1))]


STYLES: dict[int, list[Callable]] = {
    0: [zero_oval, zero_egg],
    1: [one_plain, one_flag, one_flag_base],
    2: [two_round, two_curly, two_z],
    3: [three_round, three_flat],
    4: [four_open, four_closed, four_one_stroke],
    5: [five_two_strokes, five_one_stroke],
    6: [six_curly, six_straight],
    7: [seven_plain, seven_crossed, seven_serif_curved],
    8: [eight_one_stroke, eight_snowman, eight_s_and_back],
    9: [nine_straight, nine_curly, nine_two_strokes],
}
ASPECT = {0: (.55, 1.0), 1: (.35, .6)}   # width / height; others use DEFAULT_ASPECT
DEFAULT_ASPECT = (.5, .9)


# -- from the unit box to canvas pixels ------------------------------------------

def wobble(rng, amplitude: float) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth random displacement field: the whole digit bends the same way, joins stay joined."""
    k = rng.uniform(.5, 1.5, (3, 2, 2))              # 3 slow waves (cycles per box): bends, not tremor
    phase = rng.uniform(0, 2 * np.pi, (3, 2))
    amp = rng.normal(0, amplitude / 2, (3, 2))

    def field(p):
        arg = p[:, None, None, 0] * k[None, :, :, 0] + p[:, None, None, 1] * k[None, :, :, 1]
        return p + (amp * np.sin(2 * np.pi * arg + phase)).sum(axis=1)
    return field


def place(strokes: list[Stroke], rng, label: int, width: float) -> list[Stroke]:
    """Wobble, shape, slant, rotate, size and position the strokes on the canvas."""
    bend = wobble(rng, rng.uniform(.02, .05))
    strokes = [bend(s) + rng.normal(0, .02, 2) for s in strokes]  # each stroke lands a bit off
    aspect = rng.uniform(*ASPECT.get(label, DEFAULT_ASPECT))
    height = rng.uniform(*HEIGHTS) * CANVAS
    shear = rng.uniform(-.15, .4)                     # most people lean right, some left
    angle = np.radians(rng.uniform(-7, 7))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for s in strokes:
        x, y = (s[:, 0] - .5) * aspect, s[:, 1] - .5
        x = x - shear * y
        out.append(np.stack([x, y], axis=1) @ rot.T * height)
    pts = np.vstack(out)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    margin = width / 2 + 2
    room = CANVAS - 2 * margin
    shrink = min(1.0, room / (hi - lo).max())         # a tall slanted digit must still fit
    lo, hi = lo * shrink, hi * shrink
    low, high = margin - lo, np.maximum(margin - lo, CANVAS - margin - hi)  # equal when it just fits
    offset = rng.uniform(low, high)
    return [s * shrink + offset for s in out]


def render(strokes: list[Stroke], width: float, size: int = CANVAS) -> np.ndarray:
    """Round-capped, round-joined polylines of the given width: (size,size) uint8, white on black.

    A pixel is ink where its distance to the nearest segment is ≤ width/2,
    fading over one pixel at the edge like the browser's anti-aliasing.
    """
    r = width / 2
    dist = np.full((size, size), np.inf, np.float32)
    for s in strokes:
        s = np.asarray(s, np.float32)
        if len(s) == 1:
            s = np.vstack([s, s])
        for i in range(0, len(s) - 1, SEGMENTS_AT_ONCE):
            a, b = s[i:i + SEGMENTS_AT_ONCE], s[i + 1:i + 1 + SEGMENTS_AT_ONCE]
            a = a[:len(b)]
            x0, y0 = np.floor(np.minimum(a, b).min(axis=0) - r - 1).astype(int).clip(0, size)
            x1, y1 = np.ceil(np.maximum(a, b).max(axis=0) + r + 2).astype(int).clip(0, size)
            if x0 >= x1 or y0 >= y1:
                continue
            px = np.arange(x0, x1, dtype=np.float32)[None, :, None] + .5  # pixel centres (1,w,1)
            py = np.arange(y0, y1, dtype=np.float32)[:, None, None] + .5  # (h,1,1); segments last
            d = b - a
            length2 = np.maximum((d * d).sum(axis=1), 1e-12)
            t = np.clip(((px - a[:, 0]) * d[:, 0] + (py - a[:, 1]) * d[:, 1]) / length2, 0, 1)
            seg = np.hypot(px - a[:, 0] - t * d[:, 0], py - a[:, 1] - t * d[:, 1]).min(axis=2)
            np.minimum(dist[y0:y1, x0:x1], seg, out=dist[y0:y1, x0:x1])
    ink = np.clip(r + .5 - dist, 0, 1)
    return np.round(ink * 255).astype(np.uint8)


class Drawing(NamedTuple):
    image: np.ndarray   # (280,280) uint8
    label: int
    style: str          # name of the hand style
    width: float        # brush width in canvas pixels


def draw_digit(label: int, rng: np.random.Generator) -> Drawing:
    style = STYLES[label][rng.integers(len(STYLES[label]))]
    width = rng.uniform(*WIDTHS)
    strokes = place(style(rng), rng, label, width)
    return Drawing(render(strokes, width), label, style.__name__, width)


def make_drawings(n_per_digit: int = 50, seed: int = 0) -> list[Drawing]:
    rng = np.random.default_rng(seed)
    return [draw_digit(label, rng) for _ in range(n_per_digit) for label in range(10)]


def make_set(n_per_digit: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N,280,280), labels (N,)) with N = 10 · n_per_digit, the same for a seed."""
    drawings = make_drawings(n_per_digit, seed)
    return (np.stack([d.image for d in drawings]) if drawings else np.zeros((0, CANVAS, CANVAS), np.uint8),
            np.array([d.label for d in drawings], dtype=np.int64))


# -- evaluation ---------------------------------------------------------------------

def evaluate(model, images: np.ndarray, labels: np.ndarray,
             preprocess: Callable = to_mnist) -> tuple[float, dict[int, float], np.ndarray]:
    """(accuracy, {digit: accuracy}, predictions); a drawing the preprocessing calls blank counts as wrong (-1)."""
    inputs = [preprocess(image) for image in images]
    drawn = [i for i, x in enumerate(inputs) if x is not None]
    predictions = np.full(len(labels), -1, dtype=np.int64)
    if drawn:
        predictions[drawn] = model.predict(np.stack([inputs[i] for i in drawn]))
    correct = predictions == labels
    per_digit = {int(d): float(correct[labels == d].mean()) for d in np.unique(labels)}
    return float(correct.mean()) if len(labels) else 0.0, per_digit, predictions


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


def load_model(path=None):
    """An MLP from a weights .npz (checked, never unpickled); the shipped weights by default."""
    return weights.load(path if path else weights.SHIPPED)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="?", help=".npz with W1,b1,W2,b2 (default: shipped weights)")
    parser.add_argument("--n-per-digit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stroke-width", default=str(STROKE_WIDTH),
                        help="to_mnist's stroke-width target in box pixels, or 'none' to skip that step")
    parser.add_argument("--png", help="save a grid: 3 drawings per digit, each row above its 28×28 inputs")
    args = parser.parse_args(argv)
    width = None if args.stroke_width.lower() == "none" else float(args.stroke_width)

    drawings = make_drawings(args.n_per_digit, args.seed)
    images, labels = np.stack([d.image for d in drawings]), np.array([d.label for d in drawings])
    model = load_model(args.weights)
    accuracy, per_digit, predictions = evaluate(model, images, labels, lambda im: to_mnist(im, width))
    print(f"drawn digits (seed {args.seed}, stroke width {width}): "
          f"{accuracy:.1%} of {len(labels)} read correctly")
    print("  per digit: " + "  ".join(f"{d}:{a:.0%}" for d, a in per_digit.items()))
    misread = Counter((d.style, int(p)) for d, p in zip(drawings, predictions) if p != d.label)
    for (style, predicted), n in misread.most_common():
        print(f"  {n:3d} × {style} read as {predicted}")
    if args.png:
        show = np.concatenate([np.flatnonzero(labels == d)[:3] for d in range(10)])
        tiles = []
        for start in range(0, len(show), 10):
            row = show[start:start + 10]
            tiles += list(images[row])
            tiles += [x if x is not None else np.zeros(784) for x in (to_mnist(images[i], width) for i in row)]
        print("grid saved to", write_png(args.png, grid(tiles, columns=10)))
    return 0

if __name__ == "__main__":
    sys.exit(main())
