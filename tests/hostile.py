"""Hostile `.npz` files built by hand, shared by the weights and My digits tests (tests/test_hardening.py,
tests/test_my_digits.py).  Each is small on disk; what it claims is what a reader must not believe."""
from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from typing import Callable

CENTRAL_ENTRY = b"PK\x01\x02"
END = b"PK\x05\x06"
ZIP64_END = b"PK\x06\x06"


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of `members` ({name: bytes}), deflated by default so that repetitive bombs stay small."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def npy_with_header_length(length: int, present: int, version: int = 2) -> bytes:
    """An .npy whose header length field says `length` bytes, followed by only `present` spaces."""
    width = 2 if version == 1 else 4
    return b"\x93NUMPY" + bytes([version, 0]) + length.to_bytes(width, "little") + b" " * present


def with_central_field(raw: bytes, name: str, offset: int, value: bytes) -> bytes:
    """`raw` with `value` written at `offset` of the central directory entry for member `name`."""
    data = bytearray(raw)
    at = data.find(CENTRAL_ENTRY)
    while at >= 0:
        length = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + length] == name.encode():
            data[at + offset:at + offset + len(value)] = value
            return bytes(data)
        at = data.find(CENTRAL_ENTRY, at + 46)
    raise KeyError(name)


def encrypted(raw: bytes, name: str) -> bytes:
    """The member's "encrypted" flag set (general purpose bit 0), its bytes unchanged."""
    return with_central_field(raw, name, 8, b"\x01\x00")


def compressed_with(raw: bytes, name: str, method: int) -> bytes:
    return with_central_field(raw, name, 10, method.to_bytes(2, "little"))


def needing_version(raw: bytes, name: str, version: int) -> bytes:
    """The member's "version needed to extract" set (99 means 9.9)."""
    return with_central_field(raw, name, 6, version.to_bytes(2, "little"))


def with_forged_count(raw: bytes, count: int) -> bytes:
    """`raw` whose end record, and zip64 end record if any, declare `count` members (the directory is untouched)."""
    data = bytearray(raw)
    at = data.rfind(END)
    data[at + 8:at + 12] = count.to_bytes(2, "little") * 2
    record = data.rfind(ZIP64_END, 0, at)
    if record >= 0:
        data[record + 24:record + 40] = count.to_bytes(8, "little") * 2
    return bytes(data)


def refusal(load: Callable[[bytes], object], payload: bytes, error: type[Exception]) -> tuple[str, int]:
    """(the message `load(payload)` refused it with, peak bytes Python allocated meanwhile); AssertionError
    if it was accepted or raised anything else."""
    tracemalloc.start()
    try:
        load(payload)
    except error as e:
        return str(e), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError(f"accepted: {len(payload):,} hostile bytes")


def with_local_name(raw: bytes, name: str, other: str) -> bytes:
    """`raw` whose local header for member `name` gives the name `other` (same length) instead."""
    assert len(other) == len(name)
    data = bytearray(raw)
    at = data.find(b"PK\x03\x04")
    while at >= 0:
        length = int.from_bytes(data[at + 26:at + 28], "little")
        if data[at + 30:at + 30 + length] == name.encode():
            data[at + 30:at + 30 + length] = other.encode()
            return bytes(data)
        at = data.find(b"PK\x03\x04", at + 30)
    raise KeyError(name)


# Texts that Streamlit's Markdown would turn into something else: images, links, colours, icons, LaTeX.
HOSTILE_TEXTS = (
    "![q](http://127.0.0.1:8999/lr.png)",
    "[click](http://evil.example)",
    ":red[alarm] :material/warning: :smile:",
    "$x^2$ and $$y$$",
    "http://evil.example/x",
    "see www.evil.example now",
    "mail a@evil.example",
    "<img src=x onerror=alert(1)>",
)


def markdown_acts_on(text: str) -> list[str]:
    """The pieces of `text` that Streamlit's Markdown would act on instead of showing them as written.

    Escaped characters are shown as written, but some actors work on the text after escapes are
    undone (GFM's bare links, emoji and icons), so those are looked for in that text too; and
    Streamlit rewrites ':material/' in the source before Markdown reads it.
    """
    active = re.sub(r"\\[!-/:-@\[-`{-~]", "", text)
    unescaped = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return (re.findall(r"!\[|\]\(|:\w+\[|<[A-Za-z/]|\$", active)
            + re.findall(r"https?://|www\.|[-.\w+]+@[-\w]+\.\w|:[\w+-][\w/+-]*:", unescaped, re.IGNORECASE)
            + re.findall(r":material/", text))
