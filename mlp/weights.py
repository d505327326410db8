"""Saving and loading a network as a plain `.npz`: four arrays plus JSON meta.

Weights may come from strangers (the app accepts uploads), so loading never
unpickles anything, caps the size, and checks every array before a network
is built from it.  Every refusal is a `WeightsError` that names the problem.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .model import CLASSES, INPUTS, MLP
from .npz import MAX_DIRECTORY_BYTES, UNSUPPORTED, directory, read_header, shape_text, shown, unreadable

SHIPPED = Path(__file__).resolve().parent.parent / "weights" / "mlp_784_128_10.npz"
MAX_BYTES = 50 * 1024 * 1024   # 4096 hidden units in float64 is ~26 MB; nothing honest is bigger
MAX_HIDDEN = 4096
PARAMS = ("W1", "b1", "W2", "b2")
META_KEY = "meta_json"
TEMP_SUFFIX = ".tmp"   # save() writes to a hidden NAME.*.tmp first
MEMBERS = PARAMS + (META_KEY,)
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
MAX_META_CHARS = 64 * 1024   # a recipe, a date, a command line: a few hundred characters in practice
MAX_META_DEPTH = 16          # {"recipe": {...}} is depth 2; json.loads recurses once per level
# The meta keys the app reads, and what each must be; other keys are kept as they are (shown nowhere).
META_RULES = {
    "lessons": ("a whole number from 0 to 1,000,000",
                lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1_000_000),
    "taught_from": ("a text of at most 1,000 characters", lambda v: isinstance(v, str) and len(v) <= 1000),
    "test_accuracy": ("a number from 0 to 1, or null",
                      lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                              and 0 <= v <= 1)),
}


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
    return write(to_bytes(model, **meta), path, overwrite=overwrite)


def write(data: bytes, path: Path, *, overwrite: bool = True) -> Path:
    """Put `data` (to_bytes' output) at `path` atomically, as save() does; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
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
    missing/extra members, wrong shapes or dtypes, NaN/inf values, and meta that
    is too big, too deep or of the wrong type.  Every member's shape and dtype
    are checked from its .npy header before any of its data is read, so a header
    that promises 10¹² elements costs nothing; messages quote at most a few short,
    sanitised names from the file.
    """
    raw = _read_capped(source, max_bytes)
    declared = directory(raw)
    if declared is None:
        raise WeightsError("not a weights file: expected an .npz (zip) archive")
    if declared.members > len(MEMBERS):
        raise WeightsError(f"the zip holds {declared.members:,} members; a weights file holds only "
                           f"{', '.join(PARAMS)} and {META_KEY}")
    if declared.bytes > MAX_DIRECTORY_BYTES:   # ZipFile walks all of it, whatever the count says
        raise WeightsError(f"the zip's directory is {declared.bytes:,} bytes long; a weights file's "
                           f"is under {MAX_DIRECTORY_BYTES // 1024} KB")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = _expected_members(archive)
            headers = {name: _header(archive, info) for name, info in infos.items()}
            _check_headers(headers)
            arrays = {name: _data(archive, infos[name], *headers[name]) for name in infos}
    except WeightsError:
        raise
    except NotImplementedError:
        raise WeightsError(UNSUPPORTED) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError) as e:
        raise WeightsError(f"corrupt or truncated .npz ({type(e).__name__})") from None
    meta = _parse_meta(str(arrays.pop(META_KEY)[()])) if META_KEY in arrays else {}
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


def _expected_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """{W1: info, ...}: exactly the expected arrays (meta optional), each once, nothing else."""
    infos = archive.infolist()
    problems = [problem for problem in map(unreadable, infos) if problem]
    if problems:
        raise WeightsError(f"cannot read the zip: {problems[0]}")
    others = [i.filename for i in infos if not i.filename.endswith(".npy")]
    if others:
        raise WeightsError(f"not an .npz of arrays: the zip holds {shown(others[0])!r}")
    found: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename[:-4]
        if name in found:
            raise WeightsError(f"the zip holds {shown(name)} twice")
        found[name] = info
    extra = sorted(set(found) - set(MEMBERS))
    if extra:
        raise WeightsError(f"unexpected array(s) {', '.join(shown(n) for n in extra[:3])}; "
                           f"a weights file holds only {', '.join(PARAMS)} and {META_KEY}")
    missing = [k for k in PARAMS if k not in found]
    if missing:
        raise WeightsError(f"missing array(s) {', '.join(missing)}; need {', '.join(PARAMS)}")
    return found


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran order, dtype) from a member's .npy header; nothing past the header is read."""
    with archive.open(info) as f:
        return read_header(f, WeightsError)


def _check_headers(headers: dict[str, tuple[tuple, bool, np.dtype]]) -> None:
    """Shapes (784,h) (h,) (h,10) (10,) with h in 1..MAX_HIDDEN, one float dtype, a bounded text meta."""
    if any(dtype.hasobject for _, _, dtype in headers.values()):
        raise WeightsError("refused: the file contains pickled Python objects, "
                           "which could run code; only plain numeric arrays are accepted")
    if META_KEY in headers:
        shape, _, dtype = headers[META_KEY]
        if dtype.kind != "U" or shape != ():
            raise WeightsError("the meta record is not a text")
        if dtype.itemsize // 4 > MAX_META_CHARS:
            raise WeightsError(f"the meta record is {dtype.itemsize // 4:,} characters long; "
                               f"the limit is {MAX_META_CHARS:,}")
    params = {k: headers[k] for k in PARAMS}
    for name, (_, _, dtype) in params.items():
        if dtype not in FLOATS:
            raise WeightsError(f"{name} has dtype {shown(str(dtype))}; expected float32 or float64")
    W1 = params["W1"][0]
    if len(W1) != 2 or W1[0] != INPUTS:
        raise WeightsError(f"W1 has shape {shape_text(W1)}; expected ({INPUTS}, hidden)")
    hidden = W1[1]
    if not 1 <= hidden <= MAX_HIDDEN:
        raise WeightsError(f"hidden size {hidden:,} is outside 1..{MAX_HIDDEN}")
    expected = {"b1": (hidden,), "W2": (hidden, CLASSES), "b2": (CLASSES,)}
    for name, shape in expected.items():
        if params[name][0] != shape:
            raise WeightsError(f"{name} has shape {shape_text(params[name][0])}; expected {shape} "
                               f"for a network with {hidden} hidden units")
    if len({dtype for _, _, dtype in params.values()}) != 1:
        raise WeightsError("W1, b1, W2, b2 must share one dtype")


def _data(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple, fortran: bool,
          dtype: np.dtype) -> np.ndarray:
    """The array a checked header describes: exactly the bytes it declares, read and copied once."""
    count = math.prod(shape)
    with archive.open(info) as f:
        read_header(f, WeightsError)
        raw = f.read(count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
        raise WeightsError(f"{shown(info.filename)} is truncated")
    array = np.frombuffer(raw, dtype, count).reshape(shape, order="F" if fortran else "C")
    return np.array(array, order="C")


def _checked(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """W1, b1, W2, b2 (shapes and dtypes already checked from the headers), all finite."""
    for name in PARAMS:
        if not np.isfinite(arrays[name]).all():
            raise WeightsError(f"{name} contains NaN or infinite values")
    return [arrays[k] for k in PARAMS]


def _parse_meta(text: str) -> dict:
    """The meta JSON object, bounded in size and depth, with the keys the app reads of the right type."""
    if len(text) > MAX_META_CHARS:
        raise WeightsError(f"the meta record is {len(text):,} characters long; the limit is {MAX_META_CHARS:,}")
    if _nesting(text) > MAX_META_DEPTH:
        raise WeightsError(f"the meta record is nested more than {MAX_META_DEPTH} levels deep")
    try:
        meta = json.loads(text, parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError):
        raise WeightsError("the meta record is not valid JSON (NaN and Infinity are not allowed)") from None
    if not isinstance(meta, dict):
        raise WeightsError("the meta record is not a JSON object")
    for key, (wanted, ok) in META_RULES.items():
        if key in meta and not ok(meta[key]):
            raise WeightsError(f"meta {key!r} must be {wanted}, not {shown(repr(meta[key]), 20)}")
    return meta


def _nesting(text: str) -> int:
    """How deep [ and { nest in a JSON text (brackets inside strings do not count)."""
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    depth = deepest = 0
    for c in re.sub(r"[^\[\]{}]", "", outside_strings):
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")
