"""What is computed from a model, cached by the model's version and bounded in bytes.

`functools.lru_cache` keyed on a ModelRef keeps the ref, so its model, for as long as the entry
lives: a session's uploaded 4096-unit float64 network (26 MB) and what was derived from it
stayed in memory after the session had gone.  Here the key is the version string, never the
model, and each cache holds at most `max_bytes` of results (least recently used go first), so a
few big models cannot crowd a shared server's memory.  Results must not refer to the model.
"""
from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from typing import Callable

import numpy as np


def nbytes(value) -> int:
    """Memory a result holds: its arrays' bytes, containers walked, anything else by sys.getsizeof."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sys.getsizeof(value) + sum(nbytes(v) for v in value)
    return sys.getsizeof(value)


class PerModel:
    """An LRU cache of `compute(ref, ...)` keyed by ref.version and the other arguments, at most
    max_entries results and max_bytes of them."""

    def __init__(self, compute: Callable, max_entries: int, max_bytes: int):
        self._compute, self.max_entries, self.max_bytes = compute, max_entries, max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self.bytes = 0
        functools.update_wrapper(self, compute)

    def __call__(self, ref, *args, **kwargs):
        key = (ref.version, *args, *sorted(kwargs.items()))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = self._compute(ref, *args, **kwargs)   # outside the lock: another model's lookup need not wait
        size = nbytes(value)
        if size <= self.max_bytes:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = (value, size)
                    self.bytes += size
                while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self.bytes -= dropped
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def cache_clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


def per_model(max_entries: int, max_bytes: int) -> Callable[[Callable], PerModel]:
    """Decorator: `PerModel(compute, max_entries, max_bytes)`."""
    return lambda compute: PerModel(compute, max_entries, max_bytes)
