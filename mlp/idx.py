"""MNIST's IDX files on disk: where they live, what they must be, and reading them.

An IDX file is a big-endian header — a magic number naming the element type
and the number of dimensions, then each dimension's size as 4 bytes — followed
by the elements, here uint8.  The four MNIST files are also pinned by SHA-256
(fetching them is mlp.fetch's job: `python -m mlp.fetch`).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IMAGES_MAGIC = 0x00000803   # unsigned bytes, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 0x00000801   # unsigned bytes, 1 dimension (count)
# The header each file must start with: (magic number, number of dimensions).
HEADERS = {name: ((IMAGES_MAGIC, 3) if "images" in name else (LABELS_MAGIC, 1)) for name in SHA256}


class MnistError(Exception):
    """An MNIST file is missing, truncated or not what it claims to be, or could not be fetched."""


def data_dir() -> Path:
    """Where MNIST is kept: $MLP_LAB_DATA, else the user's cache dir."""
    if os.environ.get("MLP_LAB_DATA"):
        return Path(os.environ["MLP_LAB_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mlp-lab" / "mnist"


# -- reading ---------------------------------------------------------------------------------

def read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """The uint8 array in an IDX file, checked against its magic number and promised size."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise MnistError(f"{path} is missing: run `python -m mlp.fetch` to fetch MNIST") from None
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
    X = read_idx(images, *HEADERS[images.name])
    y = read_idx(labels, *HEADERS[labels.name])
    if len(X) != len(y):
        raise MnistError(f"{split}: {len(X)} images but {len(y)} labels")
    return X.reshape(len(X), -1), y


# -- checking --------------------------------------------------------------------------------

# Hashing 55 MB on every page render would be slow; a file's digest is kept while its
# path, size, mtime and inode stay the same (a fetched file is renamed in, so it gets a new inode).
_digests: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, remembered until the file changes."""
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _digests:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        if len(_digests) > 64:
            _digests.clear()
        _digests[key] = digest.hexdigest()
    return _digests[key]


def verify(directory: Path | None = None, sha256: dict[str, str] = SHA256) -> dict[str, str | None]:
    """{file name: None if present with the right SHA-256, else what is wrong with it}."""
    directory = Path(directory) if directory else data_dir()
    return {name: problem_with(directory / name, expected) for name, expected in sha256.items()}


def is_ready(directory: Path | None = None, sha256: dict[str, str] = SHA256) -> bool:
    """True when every MNIST file is present and has the right SHA-256."""
    return not any(verify(directory, sha256).values())


def problem_with(path: Path, expected: str) -> str | None:
    """None when the file at `path` has SHA-256 `expected`, else what is wrong with it."""
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "not a regular file"
    actual = file_sha256(path)
    return None if actual == expected else f"SHA-256 is {actual}, expected {expected}"
