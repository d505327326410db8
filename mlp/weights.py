"""Saving and loading a network as a plain `.npz`: four arrays plus JSON meta.

Weights may come from strangers (the app accepts uploads), so loading never
unpickles anything, caps the size, and checks every array before a network
is built from it.  Every refusal is a `WeightsError` that names the problem.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .model import CLASSES, INPUTS, MLP

SHIPPED = Path(__file__).resolve().parent.parent / "weights" / "mlp_784_128_10.npz"
MAX_BYTES = 50 * 1024 * 1024   # 4096 hidden units in float64 is ~26 MB; nothing honest is bigger
MAX_HIDDEN = 4096
PARAMS = ("W1", "b1", "W2", "b2")
META_KEY = "meta_json"


class WeightsError(ValueError):
    """A weights file was refused; the message says why."""


def save(model: MLP, path, *, overwrite: bool = True, **meta) -> Path:
    """Write `model` and `meta` (JSON-able) to `path` atomically; returns the path.

    The bytes go to a temporary file in the same folder that is renamed over
    `path` only once complete, so a crash never leaves half a file behind.
    With overwrite=False an existing `path` raises FileExistsError, also when
    two writers race for the same name (the file is hard-linked into place).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    data = to_bytes(model, **meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; weights are meant to be shared
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_bytes(model: MLP, **meta) -> bytes:
    """The `.npz` file contents for `model`, e.g. for a download button."""
    buffer = io.BytesIO()
    meta_json = json.dumps(meta, sort_keys=True, default=str)
    np.savez(buffer, **model.params(), **{META_KEY: np.array(meta_json)})
    return buffer.getvalue()


def load(source, max_bytes: int = MAX_BYTES) -> MLP:
    """Read an `.npz` (path, bytes or binary file object) → `MLP` with a `.meta` dict.

    Raises WeightsError for: too big, not a zip, not an npz, pickled objects,
    missing/extra arrays, wrong shapes or dtypes, and NaN/inf values.
    """
    raw = _read_capped(source, max_bytes)
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise WeightsError("not a weights file: expected an .npz (zip) archive")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = archive.namelist()
        bad = [n for n in names if not n.endswith(".npy")]
        if bad:
            raise WeightsError(f"not an .npz of arrays: the zip holds {bad[0]!r}")
        if sum(i.file_size for i in archive.infolist()) > 4 * max_bytes:
            raise WeightsError("weights file unpacks to more than the size limit")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            missing = [k for k in PARAMS if k not in npz.files]
            if missing:
                raise WeightsError(f"missing array(s) {', '.join(missing)}; need {', '.join(PARAMS)}")
            extra = sorted(set(npz.files) - set(PARAMS) - {META_KEY})
            if extra:
                raise WeightsError(f"unexpected array(s) {', '.join(extra)}")
            arrays = {k: npz[k] for k in PARAMS}
            meta = _parse_meta(npz[META_KEY]) if META_KEY in npz.files else {}
    except WeightsError:
        raise
    except ValueError as e:
        # NumPy refuses object arrays with allow_pickle=False: that is exactly the point.
        if "pickle" in str(e).lower():
            raise WeightsError("refused: the file contains pickled Python objects, "
                               "which could run code; only plain numeric arrays are accepted") from None
        raise WeightsError(f"corrupt .npz: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise WeightsError(f"corrupt or truncated .npz: {e}") from None
    return MLP(*_checked(arrays), meta=meta)


@lru_cache(maxsize=1)
def load_shipped() -> MLP:
    """The weights that ship with the app, loaded once and shared read-only."""
    model = load(SHIPPED)
    for array in model.params().values():
        array.flags.writeable = False
    return model


def _read_capped(source, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise WeightsError(f"no weights file at {path}")
        if path.stat().st_size > max_bytes:
            raise WeightsError(f"file is {path.stat().st_size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB")
        raw = path.read_bytes()
    else:
        raw = source.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise WeightsError(f"file is larger than the {max_bytes / 2**20:.0f} MB limit")
    if not raw:
        raise WeightsError("the file is empty")
    return raw


def _checked(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Shapes (784,h) (h,) (h,10) (10,), one float dtype, all finite."""
    W1, b1, W2, b2 = (arrays[k] for k in PARAMS)
    for name, a in arrays.items():
        if a.dtype not in (np.float32, np.float64):
            raise WeightsError(f"{name} has dtype {a.dtype}; expected float32 or float64")
    if W1.ndim != 2 or W1.shape[0] != INPUTS:
        raise WeightsError(f"W1 has shape {W1.shape}; expected ({INPUTS}, hidden)")
    hidden = W1.shape[1]
    if not 1 <= hidden <= MAX_HIDDEN:
        raise WeightsError(f"hidden size {hidden} is outside 1..{MAX_HIDDEN}")
    expected = {"b1": (hidden,), "W2": (hidden, CLASSES), "b2": (CLASSES,)}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise WeightsError(f"{name} has shape {arrays[name].shape}; expected {shape} "
                               f"for a network with {hidden} hidden units")
    if len({a.dtype for a in arrays.values()}) != 1:
        raise WeightsError("W1, b1, W2, b2 must share one dtype")
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise WeightsError(f"{name} contains NaN or infinite values")
    return [np.ascontiguousarray(a) for a in (W1, b1, W2, b2)]


def _parse_meta(value: np.ndarray) -> dict:
    try:
        meta = json.loads(str(value[()]))
    except (ValueError, TypeError):
        raise WeightsError("the meta record is not valid JSON") from None
    if not isinstance(meta, dict):
        raise WeightsError("the meta record is not a JSON object")
    return meta
