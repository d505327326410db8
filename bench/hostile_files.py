"""The round-2 hostile files of issue 19, full size, and what refusing each costs: `python bench/hostile_files.py`.

Each file is built here (streamed, so building it holds no more than a few MB) and read in a fresh
Python process by the reader the app uses for it (mlp.weights.load for the Train page's upload,
lab.my_digits.digit_set.from_bytes for My digits'); printed: its size, the message, the time and the
process's peak resident memory above what it held before reading.
"""
from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlp.model import MLP  # noqa: E402

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from lab.my_digits import digit_set as my_digits
from mlp import weights

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

raw = open({path!r}, "rb").read()
read = weights.load if {reader!r} == "weights" else my_digits.from_bytes
before, start = status("VmRSS"), time.perf_counter()
try:
    read(raw)
    message = "ACCEPTED"
except ValueError as e:
    message = str(e)
print(f"{{time.perf_counter() - start:.2f}}\\t{{status('VmHWM') - before:.0f}}\\t{{message[:90]}}")
"""


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def streamed(members: dict[str, object]) -> bytes:
    """A deflated zip whose members are bytes or iterables of byte chunks (written as they come)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for chunk in ([content] if isinstance(content, bytes) else content):
                    member.write(chunk)
    return buffer.getvalue()


def header_bomb() -> bytes:
    """W1.npy: a v2.0 header declaring 2³⁰ bytes, all of them spaces."""
    good = {f"{k}.npy": npy(v) for k, v in MLP.init(hidden=16).params().items()}
    spaces = (b" " * 2**24 for _ in range(64))
    return streamed({**good, "W1.npy": [b"\x93NUMPY\x02\x00" + (2**30).to_bytes(4, "little"), *spaces]})


def strokes_bomb() -> bytes:
    """strokes.npy of 64 MiB: [{"a":[[],[],…]},null,null,null,null] for 5 drawings."""
    size = 64 * 2**20
    head, tail = b'[{"a":[', b"[]]},null,null,null,null]"
    lists = (size - len(head) - len(tail)) // 3
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (len(head) + 3 * lists + len(tail),)})
    body = (b"[]," * (2**22) for _ in range(lists // 2**22))
    rest = b"[]," * (lists % 2**22)
    return streamed({"x.npy": npy(np.zeros((5, 784), np.float32)), "y.npy": npy(np.arange(5, dtype=np.uint8)),
                     "strokes.npy": [header.getvalue(), head, *body, rest, tail]})


def forged_count(base: bytes, entries: int) -> bytes:
    """`base` (a zip) with `entries` more directory entries, 4-character names all pointing at its first
    member, and an end record that still says 5 members: the smallest file ZipFile must walk entry by entry."""
    end = base.rfind(b"PK\x05\x06")
    size, offset = (int.from_bytes(base[end + i:end + i + 4], "little") for i in (12, 16))
    first = base[offset:offset + 46]
    fake = bytearray(first)
    fake[28:34] = (4).to_bytes(2, "little") + b"\0\0\0\0"        # name 4 bytes, no extra, no comment
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    names = (bytes(alphabet[i // 62 ** k % 62] for k in range(4)) for i in range(entries))
    directory = base[offset:offset + size] + b"".join(bytes(fake) + name for name in names)
    record = bytearray(base[end:end + 22])
    record[8:12] = (5).to_bytes(2, "little") * 2
    record[12:16] = len(directory).to_bytes(4, "little")
    return base[:offset] + directory + bytes(record)


def weights_file() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **MLP.init(hidden=16).params())
    return buffer.getvalue()


def digits_file() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((5, 784), np.float32), y=np.arange(5, dtype=np.uint8))
    return buffer.getvalue()


def main() -> None:
    probes = [("weights", "W1.npy header declaring 2^30 bytes (v2.0)", header_bomb()),
              ("my_digits", "strokes.npy: 64 MiB list of empty lists", strokes_bomb()),
              ("weights", "1,000,000 members, count forged to 5", forged_count(weights_file(), 1_000_000)),
              ("my_digits", "600,000 members, count forged to 5", forged_count(digits_file(), 600_000))]
    print("reader\tfile\tsize\tseconds\tpeak MB above start\tmessage")
    with tempfile.TemporaryDirectory() as folder:
        for reader, name, raw in probes:
            path = Path(folder) / "probe.npz"
            path.write_bytes(raw)
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path), reader=reader)],
                                 capture_output=True, text=True, check=True).stdout.strip()
            print(f"{reader}\t{name}\t{len(raw) / 1024:,.0f} KB\t{out}")


if __name__ == "__main__":
    main()
