"""An `.npz` that may come from a stranger, looked at before any of it is trusted.

An `.npz` is a zip of `.npy` members.  What both of its readers (mlp.weights for networks,
lab.my_digits.digit_set for drawn-digit sets) need before reading any data: what the zip's end record declares
about its directory (how many members, how many bytes), so that a directory listing a million names
is refused before ZipFile parses it; whether a member can be read at all (not encrypted, a known
compression); a member's header (shape, order, dtype) without its data, from a header whose length
is checked before it is read; and a name from the file made safe to quote.
"""
from __future__ import annotations

import io
import re
import zipfile
from typing import NamedTuple

import numpy as np

MAX_HEADER_BYTES = 4096        # NumPy writes a few hundred at most; the length field allows 4 GiB
MAX_DIRECTORY_BYTES = 64 * 1024   # an .npz of a handful of arrays has a directory of a few hundred bytes
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)   # what np.savez and np.savez_compressed write
UNSUPPORTED = "the zip needs a zip version or feature this reader does not support"
_END = b"PK\x05\x06"
_ZIP64_LOCATOR, _ZIP64_END = b"PK\x06\x07", b"PK\x06\x06"
_ZIP64_END_SIZE = 56


class Directory(NamedTuple):
    members: int    # entries the end record declares
    bytes: int      # the size it declares for the central directory, which ZipFile reads and walks whole


def directory(raw: bytes) -> Directory | None:
    """What the zip's end record (or its zip64 twin) declares, read as zipfile reads it; None if not a zip.

    zipfile takes the zip64 record that sits just before the zip64 locator, whatever the plain
    record's count says, so that is the one looked at here too.
    """
    at = raw.rfind(_END, max(0, len(raw) - 22 - 0xFFFF))
    if at < 0 or len(raw) - at < 22:
        return None
    count = int.from_bytes(raw[at + 10:at + 12], "little")
    size = int.from_bytes(raw[at + 12:at + 16], "little")
    locator = at - 20
    record = locator - _ZIP64_END_SIZE
    if record >= 0 and raw[locator:locator + 4] == _ZIP64_LOCATOR and raw[record:record + 4] == _ZIP64_END:
        count = int.from_bytes(raw[record + 32:record + 40], "little")
        size = int.from_bytes(raw[record + 40:record + 48], "little")
    return Directory(count, size)


def unreadable(info: zipfile.ZipInfo) -> str | None:
    """Why zipfile could not read this member (encrypted, an unknown compression), or None.

    (A member needing a zip version newer than zipfile's makes ZipFile itself raise
    NotImplementedError while it reads the directory: see UNSUPPORTED.)"""
    if info.flag_bits & 0x1:
        return f"{shown(info.filename)} is encrypted"
    if info.compress_type not in COMPRESSIONS:
        return f"{shown(info.filename)} uses compression method {info.compress_type}; only stored or deflated are read"
    return None


def read_header(f, error: type[Exception] = ValueError) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran order, dtype) from an open `.npy` member; nothing past the header is read.

    The header's length field is read here and checked against MAX_HEADER_BYTES before the header
    itself is read: NumPy reads the whole declared length (up to 4 GiB in format 2.0) before its own
    check.  A format version other than 1.0 and 2.0, or a header that is too long, truncated or not
    a valid .npy header, raises `error` with a message that quotes nothing from the file.
    """
    magic = f.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise error("not an .npy array (no .npy magic)")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        raise error(f"unsupported .npy format version {version[0]}.{version[1]}")
    length_field = f.read(2 if version == (1, 0) else 4)
    length = int.from_bytes(length_field, "little")
    if length > MAX_HEADER_BYTES:
        raise error(f".npy header declares {length:,} bytes; at most {MAX_HEADER_BYTES:,} are read")
    header = f.read(length)
    if len(length_field) + len(header) != (2 if version == (1, 0) else 4) + length:
        raise error(".npy header is truncated")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        return reader(io.BytesIO(length_field + header))
    except (ValueError, SyntaxError, TypeError):   # NumPy's messages quote the header: never shown
        raise error("not a valid .npy header") from None


def shape_text(shape: tuple) -> str:
    """A shape from a checked header (NumPy allows only a tuple of ints there), cut short if long."""
    text = str(tuple(shape))
    return text if len(text) <= 40 else text[:40] + "…)"


def dtype_text(dtype: np.dtype) -> str:
    """A dtype from a header, safe to quote: NumPy's own name for a plain one (uint8, <U1); a structured
    one's field names come from the file, so they are not quoted."""
    if dtype.fields is not None:
        return "a structured dtype"
    if dtype.subdtype is not None:
        return "a subarray dtype"
    return str(dtype)


def shown(text: str, limit: int = 40) -> str:
    """A name taken from the file, safe to quote: printable ASCII word characters only, and short."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "?", text)
    return clean if len(clean) <= limit else clean[:limit] + "…"
