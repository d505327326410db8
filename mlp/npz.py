"""An `.npz` that may come from a stranger, looked at before any of it is trusted.

An `.npz` is a zip of `.npy` members.  What both of its readers (mlp.weights for networks,
lab.my_digits for drawn-digit sets) need before reading any data: how many members the zip's end
record declares (so that a directory listing a million names is refused before ZipFile parses it),
a member's header (shape, order, dtype) without its data, and a name from the file made safe to quote.
"""
from __future__ import annotations

import re

import numpy as np


def member_count(raw: bytes) -> int | None:
    """Members the zip's end record declares (zip64 too), without parsing its directory; None if not a zip."""
    at = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 0xFFFF))
    if at < 0 or len(raw) - at < 22:
        return None
    count = int.from_bytes(raw[at + 10:at + 12], "little")
    locator = at - 20   # a zip64 end record is found through the locator just before the end record
    if count == 0xFFFF and locator >= 0 and raw[locator:locator + 4] == b"PK\x06\x07":
        record = int.from_bytes(raw[locator + 8:locator + 16], "little")
        if raw[record:record + 4] == b"PK\x06\x06":
            count = int.from_bytes(raw[record + 32:record + 40], "little")
    return count


def read_header(f, error: type[Exception] = ValueError) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran order, dtype) from an open `.npy` member; nothing past the header is read.

    A format version other than 1.0 and 2.0 raises `error`; a malformed header raises NumPy's own
    ValueError (or SyntaxError, TypeError).
    """
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise error(f"unsupported .npy format version {version}")


def shown(text: str, limit: int = 40) -> str:
    """A name taken from the file, safe to quote: printable ASCII word characters only, and short."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "?", text)
    return clean if len(clean) <= limit else clean[:limit] + "…"
