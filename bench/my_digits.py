"""What one Teach-it lesson and a My digits fine-tune cost on MNIST test, and what they buy.

    python bench/my_digits.py

1. Teach it (one SGD step on one drawing) at several η, on drawings the shipped
   model misreads (told the right digit) and on ones it reads right (confirmed):
   p(label) before and after, how many it then reads right, MNIST test change.
2. Fine-tuning (lab/my_digits.fine_tune) on realistic sets — digits drawn the usual
   ways plus styles people write that the model often misreads — with the app's
   defaults and with half-and-half batches, over five seeds: My digits, MNIST
   test, and fresh drawings in the same styles.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp import idx, strokes, weights  # noqa: E402
from mlp.preprocess import to_mnist  # noqa: E402
from mlp.strokes import arc, join, line  # noqa: E402


# -- digits people draw that the shipped model often misreads (styles named in issue 10) -----------

def u(rng, low, high):
    return rng.uniform(low, high)


def one_long_flag(r):
    return [line((u(r, 0, .05), u(r, .2, .35)), (.55, 0), (.55, 1))]


def six_round_loop(r):
    loop = u(r, .3, .36)
    return [join(line((u(r, .6, .8), 0), (u(r, .1, .2), .65)), arc(.5, 1 - loop, .45, loop, 200, 560, n=64))]


def nine_round_head(r):
    loop = u(r, .38, .45)
    return [join(arc(.5, loop, .5, loop, 0, 370), line((1, loop), (u(r, .85, 1), 1)))]


HARD_STYLES = {1: one_long_flag, 6: six_round_loop, 9: nine_round_head}
HAND = strokes.FAMILIES["printed-bold"]     # slant, turn, size and wobble of the hand drawing them
USUAL = tuple(strokes.FAMILIES[name] for name in ("school", "cursive", "typeface"))


def hard_drawing(label: int, rng: np.random.Generator) -> np.ndarray:
    """One (280,280) uint8 canvas picture of `label` in its hard style."""
    width = rng.uniform(12, 24)
    height = rng.uniform(*HAND.size) * strokes.CANVAS
    return strokes.render(strokes.place(HARD_STYLES[label](rng), HAND, rng, width, height), width)


def hard_drawings(n_per_style: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x (n,784) float32, y (n,)) in the styles above, through the app's preprocessing."""
    rng = np.random.default_rng(seed)
    labels = [label for _ in range(n_per_style) for label in HARD_STYLES]
    return np.stack([to_mnist(hard_drawing(label, rng)) for label in labels]).astype(np.float32), np.array(labels)


def realistic_set(usual_per_digit: int = 1, hard_per_style: int = 5, seed: int = 21):
    """(x, y): digits drawn in three usual hands plus the hard styles, as a user's My digits might look."""
    drawings = strokes.make_drawings(USUAL, n_per_digit=usual_per_digit, seed=seed)
    usual = np.stack([to_mnist(d.image) for d in drawings]).astype(np.float32)
    hard_x, hard_y = hard_drawings(hard_per_style, seed=seed + 1)
    return np.concatenate([usual, hard_x]), np.concatenate([[d.label for d in drawings], hard_y])


# -- the measurements ----------------------------------------------------------------------------------

def lessons(model, test, lrs=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05)) -> None:
    from lab.my_digits import digit_set as md
    x, y = hard_drawings(10, seed=3)
    read = model.predict(x)
    groups = {"misread, told the right digit": np.flatnonzero(read != y),
              "read right, confirmed": np.flatnonzero(read == y)[:15]}
    start = model.accuracy(*test)
    print(f"Teach it: one SGD step on one drawing (shipped model, MNIST test {start:.2%})")
    print(f"{'η':>6}  {'drawings':<30} {'p(label) before → after':>24} {'read right':>11} "
          f"{'MNIST test Δ mean':>18} {'worst':>7}")
    for lr in lrs:
        for name, rows in groups.items():
            before, after, right, drops = [], [], 0, []
            for i in rows:
                taught = model.copy()
                X, label = x[i][None], np.array([y[i]])
                before.append(taught.predict_proba(X)[0, y[i]])
                taught.sgd_step(X, label, lr)
                after.append(taught.predict_proba(X)[0, y[i]])
                right += int(taught.predict(X)[0] == y[i])
                drops.append(md.test_cost(model, taught, test, before_accuracy=start).drop_points)
            print(f"{lr:6.3f}  {name:<30} {np.mean(before):>12.1%} → {np.mean(after):>7.1%} "
                  f"{right:>6}/{len(rows):<4} {-np.mean(drops):>+17.2f}  {-np.max(drops):>+6.2f}")


def fine_tunes(model, train, test, seeds=range(5)) -> None:
    from lab.my_digits import digit_set as md
    fresh_x, fresh_y = hard_drawings(25, seed=99)
    sets = {"21 hard": hard_drawings(7, seed=7), "45 mixed": realistic_set(1, 5, 21),
            "99 mixed": realistic_set(2, 13, 3)}
    default = md.FineTuneSettings()
    variants = {f"app: {default.mine_per_batch} mine + {default.replay_per_batch} MNIST": default,
                "16 mine + 48 MNIST": md.FineTuneSettings(mine_per_batch=16, replay_per_batch=48),
                "half and half, 16 + 16": md.FineTuneSettings(mine_per_batch=16, replay_per_batch=16)}
    print(f"\nFine-tuning from the shipped weights, {default.epochs} epochs, η {default.lr}, seeds {list(seeds)}; "
          f"fresh drawings in the hard styles read: {np.mean(model.predict(fresh_x) == fresh_y):.1%}")
    print(f"{'set':<10} {'batches':<34} {'My digits before → after':>25} {'MNIST test Δ (points)':>22} "
          f"{'fresh hard':>11}")
    for name, (x, y) in sets.items():
        digits = md.DigitSet(x, y.astype(np.uint8), (None,) * len(y))
        for label, settings in variants.items():
            results = [md.fine_tune(model, digits, train, test,
                                    dataclasses.replace(settings, seed=seed, max_test_drop=1.0)) for seed in seeds]
            drops = [-r.drop_points for r in results]
            fresh = np.mean([np.mean(r.model.predict(fresh_x) == fresh_y) for r in results])
            print(f"{name:<10} {label:<34} {results[0].mine_before:>13.1%} → "
                  f"{min(r.mine_after for r in results):.1%}–{max(r.mine_after for r in results):.1%} "
                  f"{min(drops):>+10.2f} … {max(drops):+.2f}  {fresh:>10.1%}")


def main() -> int:
    model = weights.load_shipped()
    train = idx.load_mnist("train")
    test = idx.load_mnist("test")
    lessons(model, test)
    fine_tunes(model, train, test)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
