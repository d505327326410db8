"""Memory the Evaluate and Hidden units pages' test-set passes take over an uploaded model:
`python bench/page_memory.py [hidden]` (default 4096, the largest upload allowed, in float64, all zeros:
a 26 KB file once deflated).

Each page's computation runs in a fresh Python process, after MNIST and the model are loaded:
Evaluate's (lab.insight.evaluate.evaluate) and Hidden units' (lab.store.models.test_outputs, one unit's activations
and lab.insight.hidden_map.hidden_map).  Printed: the process's resident memory before, its peak (VmHWM)
while the page's data is computed, and after.  Needs MNIST (python -m mlp.fetch).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from lab.insight import evaluate, hidden_map
from lab.store import mnist, models
from mlp import weights
from mlp.model import MLP

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

hidden = {hidden}
zeros = MLP(np.zeros((784, hidden)), np.zeros(hidden), np.zeros((hidden, 10)), np.zeros(10))
ref = models.new_ref(weights.load(weights.to_bytes(zeros)), "upload", prefix="upload")
assert mnist.test_set() is not None, "MNIST is needed: python -m mlp.fetch"
before = status("VmRSS")
if {page!r} == "Evaluate":
    evaluate.evaluate(ref)
else:
    models.test_outputs(ref)
    if hasattr(models, "unit_activations"):
        models.unit_activations(ref, 0)
    hidden_map.hidden_map(ref)
print(f"{{before:.0f}} {{status('VmHWM'):.0f}} {{status('VmRSS'):.0f}}")
"""


def measure(page: str, hidden: int) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), hidden=hidden, page=page)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    return tuple(float(v) for v in out)


def main() -> None:
    hidden = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
    print(f"{hidden}-unit float64 model of zeros, resident memory in MB")
    print(f"{'page':<14}{'before':>8}{'peak':>8}{'after':>8}{'peak - before':>15}")
    for page in ("Evaluate", "Hidden units"):
        before, peak, after = measure(page, hidden)
        print(f"{page:<14}{before:>8.0f}{peak:>8.0f}{after:>8.0f}{peak - before:>15.0f}")


if __name__ == "__main__":
    main()
