"""How fast is our trainer?  One epoch of real MNIST at batch 128, side by side with
the NumPy a tutorial would write and with PyTorch on the CPU.

    python bench/speed.py [--repeats 3] [--skip-torch] [--threads 1,2] [--check]

All three train the same 784-128-10 ReLU/softmax network with plain SGD (η = 0.1)
on the same 60 000 images and are timed in turns, so a busy machine slows them
alike.  Also printed: the machine's float32 matmul speed, the share of it our
epoch reaches, what augmentation costs, and the peak memory of a real
`python -m mlp.train` run.  --check makes a missed target exit with status 1.

Every figure is taken with one and with two BLAS threads (--threads; the app
uses one) and in two settings side by side: as this shell has it, and "native",
in a copy of the benchmark started with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
removed from its environment.  Some workplaces set those for old OpenBLAS builds
(CORETYPE=Haswell pins the Haswell kernels); users' machines don't, and their
OpenBLAS picks the kernel for its CPU.  The kernel each setting used is printed
(threadpoolctl's 'architecture'); the targets are judged on the native setting
with one thread, what a user's app gets.  On a busy machine multi-threaded
OpenBLAS can be 2-20× slower from one epoch to the next; the load average is
printed for that reason.
"""
from __future__ import annotations

import argparse
import json
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
OURS = "ours (mlp.train)"
# Set by some workplaces for old OpenBLAS builds; removed (from the child's environment only) for "native".
WORKPLACE_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
CHILD_FLAG = "--native-child"   # internal: the re-run prints its measurements as one JSON line


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


STEP_SHAPES = [(BATCH, 784, HIDDEN), (BATCH, HIDDEN, 10), (HIDDEN, BATCH, 10), (BATCH, 10, HIDDEN),
               (784, BATCH, HIDDEN)]


def blas_kernel() -> str:
    """The BLAS NumPy loaded and the kernel it chose, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info
    found = [f"{i['internal_api']} {i.get('version') or '?'}, kernel {i.get('architecture') or 'unknown'}"
             for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(found) or "no BLAS library found"


def measure(X8, y, thread_counts: list[int], repeats: int, torch_wanted: bool) -> dict:
    """For each BLAS thread count: seconds per epoch of every contender (best, median) and matmul GFLOP/s."""
    from threadpoolctl import threadpool_limits
    torch = None
    if torch_wanted:
        try:
            import torch
        except ImportError:
            pass
    results = {"kernel": blas_kernel(), "torch": torch.__version__ if torch else None,
               "load": os.getloadavg()[0], "threads": {}}
    for threads in thread_counts:
        with threadpool_limits(limits=threads, user_api="blas"):
            contenders = {OURS: ours(X8, y), "tutorial NumPy float64": tutorial(X8, y),
                          "tutorial NumPy float32": tutorial_float32(X8, y)}
            if torch:
                torch.set_num_threads(threads)
                contenders["PyTorch CPU"] = pytorch(X8, y)
            seconds = time_in_turns(contenders, repeats)
            results["threads"][str(threads)] = {
                "best": {name: min(s) for name, s in seconds.items()},
                "median": {name: statistics.median(s) for name, s in seconds.items()},
                "step GFLOP/s": matmul_gflops(STEP_SHAPES, repeats),
                "2048² GFLOP/s": matmul_gflops([(2048, 2048, 2048)], repeats)}
    return results


def measure_native(argv: list[str]) -> dict | None:
    """The same measurements in a copy of this benchmark without the workplace's OpenBLAS variables;
    None when neither is set here (then "as is" already is native)."""
    env = {k: v for k, v in os.environ.items() if k not in WORKPLACE_BLAS_VARIABLES}
    if len(env) == len(os.environ):
        return None
    done = subprocess.run([sys.executable, __file__, *argv, CHILD_FLAG], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"error: the native re-run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(settings: dict[str, dict], n: int) -> None:
    """One column per (setting, thread count): epoch times, matmul rates and the ratios that matter."""
    columns = [(name, threads, r["threads"][threads]) for name, r in settings.items() for threads in r["threads"]]
    for name, r in settings.items():
        print(f"{name}: {r['kernel']}; load average {r['load']:.1f} when it started")
    head = [f"{name}, {t} thr" for name, t, _ in columns]
    width = max(16, *(len(h) + 2 for h in head))
    print(f"\n{'best s per epoch':30s}" + "".join(f"{h:>{width}s}" for h in head))
    for contender in columns[0][2]["best"]:
        print(f"{contender:30s}" + "".join(f"{c['best'][contender]:>{width}.3f}" for _, _, c in columns))
    floors = [epoch_flops(n) / (c["step GFLOP/s"] * 1e9) for _, _, c in columns]
    print(f"{'matmuls alone (step shapes)':30s}" + "".join(f"{f:>{width}.3f}" for f in floors))
    for rate in ("step GFLOP/s", "2048² GFLOP/s"):
        print(f"{'float32 matmul ' + rate:30s}" + "".join(f"{c[rate]:>{width}.1f}" for _, _, c in columns))
    print(f"{'ours: share of step matmul':30s}"
          + "".join(f"{floor / c['best'][OURS]:>{width}.0%}" for floor, (_, _, c) in zip(floors, columns)))
    for contender in columns[0][2]["best"]:
        if contender != OURS:
            print(f"{'ours vs ' + contender:30s}"
                  + "".join(f"{c['best'][contender] / c['best'][OURS]:>{width - 1}.2f}×" for _, _, c in columns))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per contender (default 3)")
    parser.add_argument("--skip-torch", action="store_true", help="do not time PyTorch")
    parser.add_argument("--threads", default="1,2", help="BLAS and PyTorch thread counts to time (default 1,2)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    parser.add_argument(CHILD_FLAG, action="store_true", help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        thread_counts = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads takes whole numbers separated by commas, got {args.threads!r}")
    if args.repeats < 1 or min(thread_counts) < 1:
        parser.error("--repeats and every --threads count must be at least 1")
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        raise SystemExit("error: threadpoolctl is needed to set and report BLAS threads "
                         "(pip install -r requirements-bench.txt)")
    try:
        X8, y = load_mnist("train")
    except (MnistError, OSError) as e:
        raise SystemExit(f"error: real MNIST is needed (python -m mlp.fetch fetches it): {e}")
    if args.native_child:
        print(json.dumps(measure(X8, y, thread_counts, args.repeats, not args.skip_torch)))
        return 0

    n = len(y)
    print(f"one epoch = {n} images, batch {BATCH}, 784-{HIDDEN}-10, SGD η={LR}; best of {args.repeats}")
    print(f"{os.cpu_count()} CPUs; here " + ", ".join(f"{v}={os.environ.get(v, 'unset')}"
                                                        for v in WORKPLACE_BLAS_VARIABLES))
    settings = {"as is": measure(X8, y, thread_counts, args.repeats, not args.skip_torch)}
    native = measure_native(argv)
    if native is None:
        print("neither variable is set here, so 'as is' is what a user's machine gives")
    else:
        settings["native"] = native
    torch_version = settings["as is"]["torch"]
    print(f"PyTorch {torch_version}" if torch_version else
          "PyTorch: skipped (--skip-torch, or not installed: pip install -r requirements-bench.txt)")
    side_by_side(settings, n)

    user = settings.get("native", settings["as is"])["threads"][str(min(thread_counts))]
    results = {"vs tutorial NumPy": user["best"]["tutorial NumPy float64"] / user["best"][OURS]}
    if "PyTorch CPU" in user["best"]:
        results["vs PyTorch"] = user["best"]["PyTorch CPU"] / user["best"][OURS]

    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=min(thread_counts), user_api="blas"):
        augmented = time_in_turns({"plain": ours(X8, y), "augmented": ours(X8, y, augment=True)}, args.repeats)
    results["augmentation cost"] = min(augmented["augmented"]) / min(augmented["plain"])
    print()
    print(f"augmentation (as is, {min(thread_counts)} BLAS thread(s)): epoch {min(augmented['augmented']):.3f} s vs "
          f"{min(augmented['plain']):.3f} s without = {results['augmentation cost']:.2f}×")

    rss, took = peak_rss_of_training(epochs=2)
    results["peak RSS MB"] = rss
    print(f"peak RSS of `python -m mlp.train --epochs 2 --augment`: {rss:.0f} MB ({took:.1f} s)")

    load = os.getloadavg()[0]
    print(f"\nload average now {load:.1f}")
    if load > os.cpu_count() + 1:   # this benchmark alone accounts for about one CPU's worth
        print("warning: the machine was busy with other work; the ratios above are unreliable, run again")
    print(f"targets, judged {'native' if native else 'as is'} with {min(thread_counts)} BLAS thread(s):")
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
