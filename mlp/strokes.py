"""Digits drawn as brush strokes on the 280×280 canvas, in named hand-style families.

Each digit is a function of *knobs* (flag length of a 1, base serif, loop
roundness and closure, stem straightness, flat or round top of a 3, open or
closed 4, crossed 7, curly or straight 9, ...).  A `Family` is a way of
writing: ranges for some knobs, plus the hand (slant, turn, width-to-height,
size, brush width, wobble, tremor, uneven pen speed).  Knobs a family leaves
open take broad defaults.  Families are split into TRAIN_FAMILIES, which
training may use, and HELD_OUT_FAMILIES, which only the benchmark draws, so
its score is on styles the network never saw.

A drawing goes through the canvas's steps: strokes in a box of height 1 →
bent by a smooth wobble, shaken by tremor, slanted, turned, sized and placed
anywhere on the canvas → resampled at uneven pen speed (a fast pen gives the
canvas few points, so curves turn into chords) → rendered with a round brush,
white on black, with a one-pixel anti-aliased edge.

It lives in `mlp/` (NumPy only) because training mixes train-family drawings
into MNIST (`python -m mlp.train --synthetic N`); bench/drawn_digits.py uses it
for the held-out benchmark.
"""
from __future__ import annotations

import zlib
from typing import Callable, NamedTuple

import numpy as np

from .preprocess import to_mnist

CANVAS = 280
WIDTHS = (6.0, 40.0)       # brush widths the Draw page's slider allows
Stroke = np.ndarray        # (n,2) points (x, y), y downwards
SEGMENTS_AT_ONCE = 8       # rendering batches consecutive segments: fewer, larger array operations
Range = "tuple[float, float] | float"
TRAINING_SCALE = 0.5       # training_set renders at 140×140 (see there)


# -- stroke pieces (x right, y down; a digit is 1 high) ---------------------------

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


def line(*points, n=16) -> Stroke:
    p = np.asarray(points, float)
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    return np.vstack([a + (b - a) * t for a, b in zip(p[:-1], p[1:])] + [p[-1:]])


def join(*pieces: Stroke) -> Stroke:
    """One pen-down stroke made of consecutive pieces."""
    return np.vstack(pieces)


# -- knobs -------------------------------------------------------------------------

class Knobs:
    """`k("flag", (0, .5))`: a value for this drawing, from the family's range for this digit
    ("1.flag"), else its range for every digit ("flag"), else the default; a tuple is a
    uniform range, a number is fixed.  `k.chance(name, p)` is True with that probability.
    `k.pen` is the brush width in digit heights, for shapes whose gaps must show on the canvas."""

    def __init__(self, family: "Family", digit: int, rng: np.random.Generator, pen: float = .08):
        self.knobs, self.digit, self.rng, self.pen = family.knobs, digit, rng, pen

    def __call__(self, name: str, default: Range) -> float:
        value = self.knobs.get(f"{self.digit}.{name}", self.knobs.get(name, default))
        return float(self.rng.uniform(*value)) if isinstance(value, tuple) else float(value)

    def chance(self, name: str, default: float) -> bool:
        return bool(self.rng.random() < self(name, default))


# -- the ten digits: knobs → strokes -------------------------------------------------

def zero(k: Knobs) -> list[Stroke]:
    w = k("width", (.5, .75))
    start = k("start", (50, 130))
    turn = k("closure", (335, 390)) * (1 if k.chance("anticlockwise", .7) else -1)
    p = arc(w / 2, .5, w / 2, .5, start, start + turn, n=96)
    egg = k("egg", (-.15, .25))                      # > 0: narrower at the top
    p[:, 0] = w / 2 + (p[:, 0] - w / 2) * (1 - egg * (1 - 2 * p[:, 1]))
    return [p, *stressed(k, p, w / 2)]


def stressed(k: Knobs, p: Stroke, centre_x: float) -> list[Stroke]:
    """A bold typeface's heavy sides: a second pass, narrower by the "stress" share, thickens the
    left and right of a loop but not its top and bottom, so its counter shrinks to a slit."""
    stress = k("stress", 0)
    if stress <= 0:
        return []
    inner = p.copy()
    inner[:, 0] = centre_x + (p[:, 0] - centre_x) * (1 - stress)
    return [inner]


def one(k: Knobs) -> list[Stroke]:
    bend = k("bend", (-.04, .04))
    stem = spline((0, 0), (bend, .5), (0, 1), n=24)
    flag = k("flag", (0, .45))                       # length of the flag, in digit heights
    if flag > .04:
        angle = np.radians(k("flag_angle", (25, 60)))  # below the horizontal: flatter is a 7
        start = (-flag * np.cos(angle), flag * np.sin(angle))
        if k.chance("flag_curved", .2):
            tip = spline(start, (start[0] * .45, start[1] * .3), (0, 0), n=12)
        else:
            tip = line(start, (0, 0), n=8)
        stem = join(tip, stem)
    strokes = [stem]
    if k.chance("base", .25):
        half = k("base_width", (.15, .3))
        strokes.append(line((-half, 1), (half * k("base_right", (.8, 1.2)), 1)))
    return strokes


def two(k: Knobs) -> list[Stroke]:
    w = k("width", (.55, .75))
    top = k("top", (.35, .55))                        # height of the top curve
    if k.chance("angular", .15):
        head = line((0, top * .4), (w * .4, 0), (w, top * .3), (w * .9, top * .8))
    else:
        head = arc(w / 2, top / 2, w / 2, top / 2, k("start", (140, 175)), k("end", (-50, -15)), n=40)
    end = head[-1]
    bow = k("bow", (-.1, .15))                       # > 0: the diagonal sags outwards
    mid = (end + np.array([0, 1])) / 2 + [bow * .7, -bow * .5]
    diagonal = spline(end, mid, (0, 1), n=24)
    if k.chance("loop", .2):
        r = k("loop_size", (.06, .12))
        base = join(arc(r * .3, 1 - r, r, r, 270, 270 - 300, n=24), line((r * .6, 1 - r * .3), (w, 1)))
    else:
        base = line((0, 1), (w, 1 - k("base_rise", (-.03, .12))))
    return [join(head, diagonal, base)]


def three(k: Knobs) -> list[Stroke]:
    w = k("width", (.5, .7))
    mid = k("mid", (.38, .52))
    waist = w * k("waist", (.2, .55))                 # where the two bowls meet
    bottom = arc(w / 2, (1 + mid) / 2, w / 2, (1 - mid) / 2, 90, -k("tail", (120, 200)), n=40)
    bottom[:, 0] -= bottom[0, 0] - waist
    if k.chance("flat_top", .3):                      # a bar, then a diagonal down to the middle
        top = line((0, 0), (w, 0), (waist, mid), n=12)
    else:
        top = arc(w / 2, mid / 2, w / 2 * k("top_width", (.8, 1.1)), mid / 2, k("start", (140, 200)), -90, n=40)
        top[:, 0] += waist - top[-1, 0]
    return [join(top, bottom)]


def four(k: Knobs) -> list[Stroke]:
    w = k("width", (.55, .8))
    bar = k("bar", (.55, .72))
    stem_x = w * k("stem", (.6, .8))
    reach = w * k("reach", (1, 1.15))                 # how far the bar runs past the stem
    lean = k("lean", (0, .25)) * w                    # the left arm leans right at its top
    # A typeface stands its 4 on a serif foot, a short bar across the bottom of the stem.
    foot = w * k("foot_width", (.2, .35))
    feet = [line((stem_x - foot, 1), (stem_x + foot, 1), n=8)] if k.chance("foot", 0) else []
    if k.chance("closed", .4):
        return [line((stem_x, 0), (0, bar), (reach, bar)), line((stem_x, 0), (stem_x, 1)), *feet]
    if k.chance("one_stroke", .2):
        return [line((stem_x, 1), (stem_x, 0), (0, bar), (reach, bar)), *feet]
    return [line((lean, 0), (0, bar), (reach, bar)), line((stem_x, k("stem_top", (0, .3))), (stem_x, 1)), *feet]


def five(k: Knobs) -> list[Stroke]:
    w = k("width", (.55, .75))
    neck = k("neck", (.35, .5))
    r = (1 - neck) / 2 * k("belly", (.9, 1.1))
    belly = spline((0, neck), (w * .45, neck - .06), (w * .95, neck + r * .6), (w * .9, 1 - r * .4),
                   (w * .5, 1), (w * .1 * k("tail", (0, 2)), .93), n=40)
    flag = line((w * .08, 0), (w * k("flag", (.75, 1.05)), k("flag_rise", (-.04, .04))))
    down = line((w * .08, 0), (0, neck))
    if k.chance("one_stroke", .35):
        return [join(flag[::-1], down, belly)]
    return [join(down, belly), flag]


def six(k: Knobs) -> list[Stroke]:
    loop = k("loop", (.3, .6))                        # loop height, in digit heights: small = a tall stem
    r = loop / 2
    rx = r * k("round", (.85, 1.15))                  # 1 = a round loop; < .8 = tall and narrow
    if k.chance("arch", 0):
        return [typeface_six(k, loop, rx)]
    cx, cy = rx, 1 - r
    top_x = rx * k("top_x", (.6, 2.4))
    meet = k("join", (120, 190))                      # where the stem meets the loop: 180 = its left side
    foot = arc(cx, cy, rx, r, meet, meet, n=1)[0]
    bow = k("bow", (-.03, .15))                       # 0 = a straight stem
    stem = spline((top_x, 0), ((top_x + foot[0]) / 2 - bow, foot[1] / 2), foot, n=24)
    if k.chance("hook", .4):                          # the printed 6's top curls down on the right
        hook = k("hook_size", (.05, .15))
        stem = join(arc(top_x, hook * .7, hook, hook * .7, -30, 90, n=8), stem)
    close = k("closure", (330, 380))
    if k.chance("two_strokes", .15):                  # a circle, then the stem down to it
        start = k("ring_start", (0, 360))
        return [arc(cx, cy, rx, r, start, start + close, n=48), stem]
    return [join(stem, arc(cx, cy, rx, r, meet, meet + close, n=48))]


def typeface_six(k: Knobs, loop: float, rx: float) -> Stroke:
    """A 6 as a serif typeface prints it, in one stroke: from a terminal on the right, whose serif or
    hook turns back down toward the loop, the top arcs over and comes down the loop's left side
    into a closed loop.  The arch and the loop can read as an 8's two bowls."""
    r = loop / 2
    cx, cy = rx, 1 - r
    rx_top = rx * k("arch_width", (.85, 1.1))         # > 1: the arch overhangs the loop on the right
    # The terminal's serif or hook stops short of the loop, by a gap that shows on the canvas with this pen,
    # or it closes the arch into a bowl and the 6 is an 8. (to_mnist thickens a thin pen's strokes, and a
    # narrow gap then closes, as it does in people's drawings.)
    gap = k.pen + k("terminal_gap", (.03, .15))
    room = 1 - loop - gap - .05                       # for the terminal between the top and the loop
    tip = min(k("terminal", (.04, .12)), max(.02, room))
    end_y = max(.05, min(k("arch_end", (.12, .35)), 1 - loop - tip - gap))
    start = np.degrees(np.arcsin(np.clip((cy - end_y) / cy, 0, 1)))
    top = arc(cx - rx + rx_top, cy, rx_top, cy, start, 180, n=40)
    x, y = top[0]
    if k.chance("terminal_hook", .5):                 # the end curls in and down
        end = spline((x - tip * .6, y + tip * .9), (x + tip * .1, y + tip * .45), (x, y), n=10)
    else:                                             # a serif: a short stroke straight down
        end = line((x + tip * .1, y + tip), (x, y), n=6)
    close = k("closure", (350, 380))
    return join(end, top, arc(cx, cy, rx, r, 180, 180 + close, n=48))


def seven(k: Knobs) -> list[Stroke]:
    w = k("width", (.55, .8))
    foot = w * k("foot", (.15, .5))
    rise = k("bar_tilt", (-.04, .06))
    sag = k("curve", (-.05, .12))                     # > 0: the stem bows to the left
    stem = spline((w, rise), ((w + foot) / 2 - sag, .5), (foot, 1), n=24)
    head = line((0, 0), (w, rise))
    if k.chance("serif", .2):
        head = join(line((0, k("serif_length", (.1, .2))), (0, 0), n=6), head)
    strokes = [join(head, stem)]
    if k.chance("crossed", .25):
        x = (w + foot) / 2 - sag * .8
        strokes.append(line((x - w * .3, .52), (x + w * .25, .5)))
    return strokes


def eight(k: Knobs) -> list[Stroke]:
    w = k("width", (.5, .7))
    upper = k("upper", (.7, 1))                       # the upper loop is usually the smaller one
    waist = k("waist", (.42, .52))                    # where the loops cross: high = a small upper loop
    if k.chance("snowman", .3):
        top = arc(w / 2, waist / 2, w / 2 * upper, waist / 2, 90, 450)
        bottom = arc(w / 2, (1 + waist) / 2, w / 2, (1 - waist) / 2, 90, -270)
        return [top, bottom, *stressed(k, top, w / 2), *stressed(k, bottom, w / 2)]
    t = np.linspace(0, 2 * np.pi + k("overshoot", (0, .4)), 128) * (1 if k.chance("clockwise", .5) else -1)
    y = .5 - .5 * np.cos(t)
    full = k("full", 1)                               # < 1: fuller loops, crossing in an X with no waist
    bulge = np.sign(np.sin(2 * t)) * np.abs(np.sin(2 * t)) ** full
    x = w / 2 + w / 2 * bulge * np.where(y < .5, upper, 1)
    y = np.where(y < .5, y * waist / .5, waist + (y - .5) * (1 - waist) / .5)
    # A cursive 8's loops lean each its own way about the crossing (> 0: the loop's far end to the right).
    x += np.where(y < waist, k("upper_lean", 0) * (waist - y), k("lower_lean", 0) * (waist - y))
    p = np.stack([x, y], axis=1)
    return [p, *stressed(k, p, w / 2)]


def nine(k: Knobs) -> list[Stroke]:
    head = k("head", (.35, .65))                      # head height, in digit heights
    r = head / 2
    rx = r * k("round", (.85, 1.2))
    if k.chance("printed", 0):                        # a typeface's 9 is its 6 upside down
        p = typeface_six(k, head, rx)
        return [np.stack([p[:, 0].max() - p[:, 0], 1 - p[:, 1]], axis=1)]
    meet = k("join", (-35, 15))                       # where the stem leaves the head: 0 = its right side
    turn = k("closure", (330, 390)) * (1 if k.chance("anticlockwise", .85) else -1)
    ring = arc(rx, r, rx, r, meet, meet + turn, n=48)
    stem_x = rx + rx * np.cos(np.radians(meet)) * k("stem_x", (.9, 1))
    foot_x = stem_x + k("stem_lean", (-.15, .05))
    if k.chance("curl", 0):                           # the tail sweeps back left under the head and rises
        # It rises toward the head but stops short of it by a gap that shows on the canvas, or it closes a
        # second loop: an 8.
        rise = min(k("curl_rise", (.05, .25)), max(.02, 1 - head - k.pen - k("curl_gap", (.03, .15))))
        end = (rx * k("curl_end", (0, .8)), 1 - rise)
        stem = spline(ring[-1], (foot_x, .68), (foot_x - .12, .97), ((foot_x + end[0]) / 2 - .05, 1.01), end, n=28)
    elif k.chance("curly", .3):
        stem = spline(ring[-1], (foot_x, .7), (foot_x - .15, .97), (foot_x - .35, .9), n=24)
    else:
        bow = k("bow", (-.03, .03))
        stem = spline(ring[-1], ((stem_x + foot_x) / 2 + bow, (1 + r) / 2), (foot_x, 1), n=20)
    if k.chance("two_strokes", .2):
        return [ring, line((stem_x, r * .2), (foot_x, 1))]
    return [join(ring, stem)]


DIGITS: tuple[Callable[[Knobs], list[Stroke]], ...] = (zero, one, two, three, four, five, six, seven, eight, nine)


# -- families -------------------------------------------------------------------------

class Family(NamedTuple):
    """A way of writing digits: knob ranges (see Knobs) and the hand that draws them."""
    name: str
    knobs: dict
    slant: tuple[float, float] = (-.1, .3)       # x moves by slant·(height above the middle)
    turn: tuple[float, float] = (-6, 6)          # degrees
    stretch: tuple[float, float] = (.85, 1.15)   # width multiplier
    size: tuple[float, float] = (.4, .85)        # digit height, share of the canvas
    widths: tuple[float, float] = (10, 28)       # brush, canvas pixels
    wobble: tuple[float, float] = (.01, .04)     # slow bends, digit heights
    tremor: tuple[float, float] = (0, .4)        # shaking, canvas pixels
    speed: tuple[float, float] = (0, .5)         # 0 = an even pen; 1 = fast bursts the canvas samples sparsely


TRAIN_FAMILIES: tuple[Family, ...] = (
    Family("school", {"1.flag": (0, .2), "1.base": .1, "3.flat_top": 0, "4.closed": .2, "7.crossed": 0,
                      "9.curly": .1, "6.bow": (.03, .12), "6.loop": (.4, .55)},
           slant=(-.05, .15)),
    Family("european", {"1.flag": (.2, .45), "1.flag_angle": (25, 50), "1.base": 0, "7.crossed": .9,
                        "4.closed": 0, "9.curly": .5, "2.loop": .4},
           slant=(.1, .35)),
    Family("cursive", {"2.loop": .7, "6.bow": (.08, .15), "6.hook": 0, "9.curly": .8, "8.snowman": 0,
                       "3.flat_top": 0, "0.closure": (340, 400), "1.flag": (.05, .25)},
           slant=(.15, .4), wobble=(.03, .06)),
    Family("typeface", {"1.flag": (.2, .35), "1.flag_angle": (25, 45), "1.base": .9, "3.flat_top": .8,
                        "6.bow": (0, .04), "6.round": (.95, 1.1), "6.closure": (355, 370), "6.loop": (.45, .68),
                        "9.curly": 0, "9.bow": 0, "9.stem_lean": (-.04, .02), "4.closed": .8, "4.foot": .5,
                        "6.arch": .5, "9.printed": .4,
                        "7.serif": .5, "0.egg": (-.05, .05)},
           slant=(-.03, .05), wobble=(0, .015), tremor=(0, .1), speed=(0, .2)),
    Family("quick", {"closure": (300, 345), "6.closure": (300, 350), "9.closure": (300, 350)},
           slant=(.1, .4), wobble=(.03, .06), tremor=(0, .8), speed=(.5, 1)),
    Family("marker", {}, size=(.3, .6), widths=(24, 40)),
    Family("fine-pen", {"6.arch": .3, "9.printed": .2}, size=(.6, .9), widths=(6, 12)),
    Family("round-wide", {"round": (1.1, 1.35), "width": (.7, .9), "6.loop": (.5, .6), "9.head": (.5, .6)},
           stretch=(1.1, 1.4), slant=(-.05, .1)),
    # Shapes people draw that the families above miss; their held-out cousins differ in knob ranges and hand.
    Family("serif-print", {"6.arch": .85, "6.loop": (.55, .72), "6.round": (.9, 1.1), "6.arch_end": (.18, .38),
                           "6.terminal_hook": .35, "9.printed": .7, "9.head": (.55, .72), "9.round": (.9, 1.1),
                           "9.arch_end": (.18, .38), "1.flag": (.2, .35), "1.base": .8, "7.serif": .6,
                           "4.closed": .7, "4.foot": .6, "0.egg": (-.05, .08)},
           slant=(-.03, .1), widths=(10, 20), size=(.45, .9), wobble=(0, .015), tremor=(0, .15), speed=(0, .2)),
    Family("cursive-loops", {"8.snowman": 0, "8.waist": (.52, .66), "8.upper": (.5, .85), "8.full": (.6, 1),
                             "8.upper_lean": (-.1, .3), "9.curl": .6, "9.curl_end": (.2, .9), "6.round": (.5, .75),
                             "6.loop": (.45, .62), "6.bow": (.04, .14), "2.loop": .5, "9.curly": .5},
           slant=(.15, .45), wobble=(.02, .05), widths=(10, 24)),
    Family("small-top-8", {"8.snowman": .2, "8.waist": (.22, .42), "8.upper": (.4, .7), "8.full": (.7, 1),
                           "8.lower_lean": (-.2, .2), "9.curl": .4, "9.curl_rise": (.1, .3), "6.arch": .3,
                           "6.round": (.6, .9), "6.loop": (.5, .65)},
           slant=(0, .3), widths=(8, 22), size=(.35, .85)),
    Family("bold-serif", {"0.stress": (.15, .45), "0.width": (.45, .65), "8.stress": (.1, .35), "8.snowman": .5,
                          "8.upper": (.8, 1), "6.arch": .7, "9.printed": .7, "arch_end": (.08, .2),
                          "6.loop": (.55, .72), "9.head": (.55, .72),
                          "terminal": (.03, .07), "1.flag": (.25, .4), "1.base": .9,
                          "7.serif": .7, "4.closed": .8, "4.foot": .7, "3.flat_top": .3},
           slant=(-.03, .05), widths=(28, 40), size=(.5, .92), wobble=(0, .01), tremor=(0, .1), speed=(0, .2)),
)

HELD_OUT_FAMILIES: tuple[Family, ...] = (
    Family("backhand", {"1.flag": (.1, .35), "9.curly": .3}, slant=(-.3, -.08), turn=(-10, 3)),
    Family("tall-narrow", {"1.flag": (.25, .45), "1.base": .6, "3.flat_top": .6, "9.curly": 0,
                           "6.bow": (0, .05), "6.loop": (.35, .45), "round": (.8, 1)},
           stretch=(.6, .8), size=(.6, .9)),
    Family("printed-bold", {"1.flag": (.25, .4), "1.base": .7, "3.flat_top": .7, "6.round": (.95, 1.1),
                            "6.bow": (0, .05), "6.closure": (350, 370), "9.curly": 0, "9.bow": 0,
                            "4.closed": .6, "7.serif": .3},
           slant=(-.05, .15), widths=(18, 40), size=(.35, .75)),
    Family("shaky-kid", {"closure": (320, 380), "upper": (.8, 1.1)},
           wobble=(.05, .08), tremor=(.5, 1.5), speed=(.3, .9), size=(.5, .9), widths=(14, 34),
           turn=(-12, 12)),
    Family("small", {}, size=(.15, .35), widths=(8, 30), slant=(-.1, .35)),
    Family("book-serif", {"6.arch": 1, "6.loop": (.55, .7), "6.round": (.95, 1.15), "6.arch_end": (.08, .22),
                          "6.arch_width": (1, 1.2), "6.terminal_hook": .8, "9.printed": .8, "9.head": (.55, .7),
                          "9.arch_end": (.08, .22), "9.terminal_hook": .8, "1.base": 1, "1.flag": (.15, .3),
                          "7.serif": 1, "3.flat_top": 0, "4.foot": .8},
           slant=(-.08, .02), widths=(12, 20), size=(.55, .95), wobble=(0, .01), tremor=(0, .05), speed=(0, .1)),
    Family("loopy-slant", {"8.snowman": 0, "8.waist": (.6, .72), "8.upper": (.4, .6), "8.full": (.5, .8),
                           "8.lower_lean": (-.3, 0), "9.curl": .9, "9.curl_end": (-.1, .4), "9.curl_rise": (.15, .35),
                           "6.round": (.45, .6), "6.loop": (.5, .7), "6.bow": (0, .08), "6.hook": .6},
           slant=(.35, .55), wobble=(.02, .04), widths=(12, 22), size=(.5, .9)),
    Family("heavy-type", {"0.stress": (.1, .35), "0.width": (.55, .72), "8.stress": (.1, .3), "8.snowman": .3,
                          "8.waist": (.45, .55), "6.arch": .6, "6.terminal_hook": .8, "9.printed": .5,
                          "arch_end": (.06, .18), "terminal": (.03, .08), "1.base": .5, "7.serif": .4, "4.closed": .5,
                          "4.foot": .5},
           slant=(.05, .18), widths=(24, 40), size=(.4, .75), wobble=(0, .01), tremor=(0, .1), speed=(0, .2)),
)
FAMILIES = {f.name: f for f in TRAIN_FAMILIES + HELD_OUT_FAMILIES}


# -- from the digit's box to canvas pixels -------------------------------------------

def wobble(rng, amplitude: float) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth random displacement field: the whole digit bends the same way, joins stay joined."""
    k = rng.uniform(.5, 1.5, (3, 2, 2))              # 3 slow waves (cycles per box): bends, not tremor
    phase = rng.uniform(0, 2 * np.pi, (3, 2))
    amp = rng.normal(0, amplitude / 2, (3, 2))

    def field(p):
        arg = p[:, None, None, 0] * k[None, :, :, 0] + p[:, None, None, 1] * k[None, :, :, 1]
        return p + (amp * np.sin(2 * np.pi * arg + phase)).sum(axis=1)
    return field


def place(strokes: list[Stroke], family: Family, rng, width: float, height: float) -> list[Stroke]:
    """Wobble, stretch, slant, turn, size and position the strokes on the canvas."""
    bend = wobble(rng, rng.uniform(*family.wobble))
    strokes = [bend(s) + rng.normal(0, .015, 2) for s in strokes]  # each stroke lands a bit off
    stretch, slant = rng.uniform(*family.stretch), rng.uniform(*family.slant)
    angle = np.radians(rng.uniform(*family.turn))
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    out = []
    for s in strokes:
        x, y = s[:, 0] * stretch, s[:, 1] - .5
        out.append(np.stack([x - slant * y, y], axis=1) @ rot.T * height)
    pts = np.vstack(out)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    margin = width / 2 + 2
    shrink = min(1.0, (CANVAS - 2 * margin) / (hi - lo).max())   # a wide slanted digit must still fit
    lo, hi = lo * shrink, hi * shrink
    offset = rng.uniform(margin - lo, np.maximum(margin - lo, CANVAS - margin - hi))
    return [s * shrink + offset for s in out]


def pen(stroke: Stroke, rng, tremor: float, speed: float) -> Stroke:
    """The points the canvas records: a shaking hand, sampled at the pen's uneven speed.

    The canvas gets one point per mouse event, so where the pen is fast the
    points are far apart and a curve is drawn as straight chords.
    """
    seg = np.hypot(*np.diff(stroke, axis=0).T)
    along = np.concatenate([[0], np.cumsum(seg)])
    total = along[-1]
    if total < 1:
        return stroke
    shake = rng.normal(0, tremor, (int(total // 4) + 2, 2))      # a new direction every ~4 px
    shake = np.stack([np.interp(along, np.linspace(0, total, len(shake)), shake[:, i]) for i in range(2)], 1)
    stroke = stroke + shake
    # Spacing of the recorded points: 2–4 px when slow, up to ~30 px in fast bursts.
    bursts = np.interp(np.linspace(0, 1, 64), np.linspace(0, 1, 5), rng.random(5)) ** 2
    steps = 2 + rng.random(64) * 2 + speed * 28 * bursts
    marks = np.cumsum(np.resize(steps, int(total / 2) + 2))
    marks = np.concatenate([[0], marks[marks < total], [total]])
    return np.stack([np.interp(marks, along, stroke[:, i]) for i in range(2)], axis=1)


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


# -- drawings and sets ------------------------------------------------------------------

class Drawing(NamedTuple):
    image: np.ndarray   # (280,280) uint8
    label: int
    family: str
    width: float        # brush width in canvas pixels


def draw_digit(label: int, family: Family, rng: np.random.Generator, scale: float = 1.0) -> Drawing:
    """One drawing on the canvas; `scale` < 1 renders it smaller (same random numbers, fewer pixels)."""
    width = rng.uniform(*np.clip(family.widths, *WIDTHS))
    height = rng.uniform(*family.size) * CANVAS      # the digit's; a wide slanted one may shrink to fit
    knobs = Knobs(family, label, rng, pen=width / height)
    strokes = place(DIGITS[label](knobs), family, rng, width, height)
    tremor, speed = rng.uniform(*family.tremor), rng.uniform(*family.speed)
    # A shaking pen can wander past place()'s margin; the canvas's edge stops it, as it stops a hand.
    inside = (width / 2 + 1, CANVAS - width / 2 - 1)
    strokes = [np.clip(pen(s, rng, tremor, speed), *inside) * scale for s in strokes]
    return Drawing(render(strokes, width * scale, round(CANVAS * scale)), label, family.name, width)


def make_drawings(families=HELD_OUT_FAMILIES, n_per_digit: int = 10, seed: int = 0) -> list[Drawing]:
    """n_per_digit drawings of each digit in each family; the same for a seed.

    Each family draws from its own stream (seeded by the seed and the family's name), so a change to
    one family's shapes leaves every other family's drawings as they were."""
    drawings = []
    for family in families:
        rng = np.random.default_rng([seed, zlib.crc32(family.name.encode())])
        drawings += [draw_digit(label, family, rng) for _ in range(n_per_digit) for label in range(10)]
    return drawings


def training_set(n: int, seed: int = 0, families=TRAIN_FAMILIES, scale: float = TRAINING_SCALE,
                 progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n drawings from `families` through `to_mnist`, as MNIST-like uint8 (n,784) and labels (n,).

    Labels cycle 0..9 and families cycle too, so the set is balanced.  Drawn at
    half the canvas size by default: four times fewer pixels to render, and
    `to_mnist` works on a 80-px copy of the ink anyway.  `progress(i)` is
    called after each drawing.
    """
    rng = np.random.default_rng(seed)
    X, y = np.zeros((n, 784), np.uint8), np.arange(n) % 10
    for i in range(n):
        drawing = draw_digit(int(y[i]), families[(i // 10) % len(families)], rng, scale)
        X[i] = np.round(to_mnist(drawing.image) * 255)
        if progress:
            progress(i)
    return X, y
