"""How fast is our trainer?  One epoch of real MNIST at batch 128, side by side with
the NumPy a tutorial would write and with PyTorch on the CPU.

    python bench/speed.py [--repeats 3] [--skip-torch] [--threads N] [--check]

All three train the same 784-128-10 ReLU/softmax network with plain SGD (η = 0.1)
on the same 60 000 images and are timed in turns, so a busy machine slows them
alike.  Also printed: the machine's float32 matmul speed, the share of it our
epoch reaches, what augmentation costs, and the peak memory of a real
`python -m mlp.train` run.  --check makes a missed target exit with status 1.

--threads N restarts the benchmark with OPENBLAS_NUM_THREADS=N and gives
PyTorch N threads too.  Without it both use their defaults (all cores).  On a
machine that is busy with something else, multi-threaded OpenBLAS can be 2-20×
slower from one epoch to the next; the load average is printed for that reason.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from mlp.idx import MnistError, load_mnist  # noqa: E402
from mlp.model import MLP  # noqa: E402
from mlp.train import Config, Trainer  # noqa: E402

BATCH, HIDDEN, LR = 128, 128, 0.1
TARGETS = {"vs tutorial NumPy": 2.0, "vs PyTorch": 3.0, "augmentation cost": 2.0, "peak RSS MB": 400}


# -- the three contenders: each returns a function that trains one epoch ------------------

def ours(X8, y, augment: bool = False) -> Callable[[], None]:
    trainer = Trainer(MLP.init(HIDDEN, seed=0), X8, y, Config(batch_size=BATCH, lr=LR, augment=augment))
    return lambda: trainer.train(1)


def tutorial(X8, y) -> Callable[[], None]:
    """The NumPy any tutorial would write: the equations as they read, nothing clever.

    float64, because that is what the tutorial's `X / 255.0` and `np.random.randn`
    give; print(tutorial float32) shows how much of the gap is only the dtype.
    """
    X = X8 / 255.0
    return _tutorial_loop(X, y, X.dtype)


def tutorial_float32(X8, y) -> Callable[[], None]:
    X = (X8 / 255.0).astype(np.float32)
    return _tutorial_loop(X, y, np.float32)


def _tutorial_loop(X, y, dtype) -> Callable[[], None]:
    rng = np.random.default_rng(0)
    Y = np.eye(10, dtype=dtype)[y]                      # one-hot labels, built once
    W1 = (rng.standard_normal((784, HIDDEN)) * np.sqrt(2 / 784)).astype(dtype)
    b1 = np.zeros(HIDDEN, dtype)
    W2 = (rng.standard_normal((HIDDEN, 10)) * np.sqrt(2 / HIDDEN)).astype(dtype)
    b2 = np.zeros(10, dtype)

    def epoch():
        nonlocal W1, b1, W2, b2
        perm = np.random.permutation(len(X))
        losses = []
        for i in range(0, len(X), BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = X[idx], Y[idx]
            a1 = xb @ W1 + b1
            h = np.maximum(a1, 0)
            z = h @ W2 + b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            losses.append(-np.mean(np.sum(yb * np.log(p + 1e-12), axis=1)))
            dz = (p - yb) / len(xb)
            dW2 = h.T @ dz
            db2 = dz.sum(axis=0)
            dh = dz @ W2.T
            da1 = dh * (a1 > 0)
            dW1 = xb.T @ da1
            db1 = da1.sum(axis=0)
            W1 -= LR * dW1
            b1 -= LR * db1
            W2 -= LR * dW2
            b2 -= LR * db2
    return epoch


def pytorch(X8, y) -> Callable[[], None]:
    """PyTorch as its tutorials write it, minus the DataLoader (which would only slow it down)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    X = torch.from_numpy(X8.astype(np.float32) / 255)
    labels = torch.from_numpy(y.astype(np.int64))
    model = nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    optimiser = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(len(X))
        Xs, ys = X[perm], labels[perm]
        losses = []
        for i in range(0, len(Xs), BATCH):
            optimiser.zero_grad()
            loss = loss_fn(model(Xs[i:i + BATCH]), ys[i:i + BATCH])
            loss.backward()
            optimiser.step()
            losses.append(loss.item())   # our trainer, too, reports every batch's loss
    return epoch


# -- measuring -----------------------------------------------------------------------------

def time_in_turns(epochs: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Seconds per epoch, each contender once per round, so load spikes hit all of them."""
    for run in epochs.values():       # warm-up: first-touch page faults, BLAS thread start
        run()
    seconds = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, run in epochs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def matmul_gflops(shapes: list[tuple[int, int, int]], repeats: int) -> float:
    """float32 GFLOP/s of running these (m,k)@(k,n) products back to back, best of `repeats`."""
    rng = np.random.default_rng(0)
    pairs = [(rng.random((m, k), np.float32), rng.random((k, n), np.float32)) for m, k, n in shapes]
    outs = [np.empty((m, n), np.float32) for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)
    loops = max(1, int(2e9 // flops))  # ~2 GFLOP a measurement
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for _ in range(loops):
            for (a, b), out in zip(pairs, outs):
                np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return flops * loops / best / 1e9


def epoch_flops(n: int, hidden: int = HIDDEN) -> int:
    """Multiply-adds ×2 of one epoch: forward X W1, h W2; backward ∇W2, δh, ∇W1.

    (The often-quoted 6·N·weights counts δX = δa1 W1ᵀ too, which no one needs.)
    """
    return n * (2 * 784 * hidden + 2 * hidden * 10          # forward
                + 2 * hidden * 10 + 2 * hidden * 10         # ∇W2 = hᵀδz, δh = δz W2ᵀ
                + 2 * 784 * hidden)                         # ∇W1 = Xᵀ δa1


# The child reports its own high-water mark: getrusage(RUSAGE_CHILDREN) would
# also count the moment between fork and exec, when the child is a copy of this
# (large) benchmark process.
RSS_CHILD = """
import resource, sys
from mlp.train import main
main(sys.argv[1:])
try:
    status = open("/proc/self/status").read()
    print("PEAK_KB", next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
except OSError:  # no /proc (macOS): ru_maxrss is in bytes there
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def peak_rss_of_training(epochs: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `python -m mlp.train --epochs N --augment`, run in a child process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RSS_CHILD, "--epochs", str(epochs), "--augment"],
                          cwd=ROOT, check=True, capture_output=True, text=True)
    peak_kb = int(done.stdout.rsplit("PEAK_KB", 1)[1])
    return peak_kb / 1024, time.perf_counter() - start


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per contender (default 3)")
    parser.add_argument("--skip-torch", action="store_true", help="do not time PyTorch")
    parser.add_argument("--threads", type=int, help="BLAS and PyTorch threads (default: theirs)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.repeats < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--repeats and --threads must be at least 1")
    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # OpenBLAS reads its thread count once, when NumPy is imported: start again.
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
        os.execve(sys.executable, [sys.executable, __file__, *(sys.argv[1:] if argv is None else argv)], env)

    try:
        X8, y = load_mnist("train")
    except (MnistError, OSError) as e:
        raise SystemExit(f"error: real MNIST is needed (python -m mlp.fetch fetches it): {e}")
    n = len(y)
    print(f"one epoch = {n} images, batch {BATCH}, 784-{HIDDEN}-10, SGD η={LR}; best and median of {args.repeats}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

    contenders = {"ours (mlp.train)": ours(X8, y), "tutorial NumPy float64": tutorial(X8, y),
                  "tutorial NumPy float32": tutorial_float32(X8, y)}
    if args.skip_torch:
        print("PyTorch: skipped (--skip-torch)")
    else:
        try:
            import torch
            if args.threads:
                torch.set_num_threads(args.threads)
            contenders["PyTorch CPU"] = pytorch(X8, y)
            print(f"PyTorch {torch.__version__}, threads: {torch.get_num_threads()}")
        except ImportError:
            print("PyTorch: not installed, skipped (pip install -r requirements-bench.txt)")
    seconds = time_in_turns(contenders, args.repeats)
    best = {name: min(s) for name, s in seconds.items()}
    print()
    print(f"{'':26s}{'best s':>8s}{'median s':>10s}{'samples/s':>12s}")
    for name, s in seconds.items():
        print(f"{name:26s}{best[name]:8.3f}{statistics.median(s):10.3f}{n / best[name]:12,.0f}")

    ours_s = best["ours (mlp.train)"]
    results = {}
    print()
    results["vs tutorial NumPy"] = best["tutorial NumPy float64"] / ours_s
    print(f"ours vs tutorial NumPy: {results['vs tutorial NumPy']:.2f}× faster "
          f"(vs its float32 variant: {best['tutorial NumPy float32'] / ours_s:.2f}×)")
    if "PyTorch CPU" in best:
        results["vs PyTorch"] = best["PyTorch CPU"] / ours_s
        print(f"ours vs PyTorch CPU:    {results['vs PyTorch']:.2f}× faster")

    flops = epoch_flops(n)
    step = [(BATCH, 784, HIDDEN), (BATCH, HIDDEN, 10), (HIDDEN, BATCH, 10), (BATCH, 10, HIDDEN), (784, BATCH, HIDDEN)]
    at_step_shapes = matmul_gflops(step, args.repeats)
    square = matmul_gflops([(2048, 2048, 2048)], args.repeats)
    achieved = flops / ours_s / 1e9
    print()
    print(f"float32 matmul: {at_step_shapes:.1f} GFLOP/s at the training step's shapes, "
          f"{square:.1f} GFLOP/s for 2048×2048")
    print(f"one epoch is {flops / 1e9:.1f} GFLOP; ours reaches {achieved:.1f} GFLOP/s = "
          f"{achieved / at_step_shapes:.0%} of the step-shape matmuls, {achieved / square:.0%} of the big one")
    floor = flops / (at_step_shapes * 1e9)
    print(f"the matmuls alone take {floor:.3f} s an epoch: no float32 trainer of these equations can be more than "
          + ", ".join(f"{best[name] / floor:.1f}× faster than {name}" for name in best if name != "ours (mlp.train)"))

    augmented = time_in_turns({"plain": ours(X8, y), "augmented": ours(X8, y, augment=True)}, args.repeats)
    results["augmentation cost"] = min(augmented["augmented"]) / min(augmented["plain"])
    print()
    print(f"augmentation: epoch {min(augmented['augmented']):.3f} s vs {min(augmented['plain']):.3f} s "
          f"without = {results['augmentation cost']:.2f}×")

    rss, took = peak_rss_of_training(epochs=2)
    results["peak RSS MB"] = rss
    print(f"peak RSS of `python -m mlp.train --epochs 2 --augment`: {rss:.0f} MB ({took:.1f} s)")

    load = os.getloadavg()[0]
    print(f"\nload average now {load:.1f}")
    if load > os.cpu_count() + 1:   # this benchmark alone accounts for about one CPU's worth
        print("warning: the machine was busy with other work; the ratios above are unreliable, run again")
    missed = 0
    for name, target in TARGETS.items():
        if name not in results:
            print(f"  SKIP {name}")
            continue
        higher_is_better = name.startswith("vs")
        ok = results[name] >= target if higher_is_better else results[name] <= target
        missed += not ok
        print(f"  {verdict(ok)} {name}: {results[name]:.3g} (target {'≥' if higher_is_better else '≤'} {target})")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
