"""MNIST from the original IDX files. (Fetching is being added: see issue 2.)"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MnistError(Exception):
    """An MNIST file is missing, truncated or not what it claims to be."""


def data_dir() -> Path:
    """Where MNIST is kept: $MLP_LAB_DATA, else the user's cache dir."""
    if os.environ.get("MLP_LAB_DATA"):
        return Path(os.environ["MLP_LAB_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mlp-lab" / "mnist"


def read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    raw = Path(path).read_bytes()
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistError(f"{path}: truncated header ({len(raw)} bytes)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise MnistError(f"{path}: bad magic number {found:#010x}, expected {magic:#010x}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise MnistError(f"{path}: {len(raw)} bytes, header promises {expected}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_mnist(split: str = "train", directory: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """→ (X uint8 (N,784), y uint8 (N,)) for split "train" (60k) or "test" (10k)."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = Path(directory) if directory else data_dir()
    images, labels = (directory / name for name in FILES[split])
    X = read_idx(images, 0x00000803, 3)
    y = read_idx(labels, 0x00000801, 1)
    if len(X) != len(y):
        raise MnistError(f"{split}: {len(X)} images but {len(y)} labels")
    return X.reshape(len(X), -1), y
