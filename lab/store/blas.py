"""One BLAS thread per matrix product, for the whole server process.

The app's products are small (a batch of 128 × 784 × 128), and several
threads call BLAS at once: training runs plus page reruns.  OpenBLAS's own
worker threads then fight them for two cores and spin; measured here, an
SGD step went from 1.2 ms to 30–55 ms.  NumPy has no API for this, so the
bundled OpenBLAS is told directly; elsewhere this quietly does nothing.
"""
from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache

import numpy as np

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")


@lru_cache(maxsize=1)
def use_one_thread() -> bool:
    """Limit NumPy's bundled OpenBLAS to one thread; True if it was found and told."""
    libs_dir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libs_dir, "*openblas*")):
        try:
            library = ctypes.CDLL(path)   # already loaded by NumPy: this finds the same copy
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                return True
    return False
