"""The app's own weights folder: models saved under a name a user typed, listed and loaded back.

The name comes from a stranger, so it is checked before it becomes a path: one plain
file name made of letters, digits, '-', '_' and '.', not hidden, not too long, and the
path it gives must sit directly in the folder.  Nothing is ever overwritten (the
shipped weights least of all): one user cannot destroy another's file by reusing a
name.  The write itself is mlp.weights.write's: a temporary file linked into place
once complete, so a crash leaves no half file under the name.

Several sessions, and several app processes, may save at once: the caps on the
number of files and on their bytes are checked and the file written under one
lock on the folder (an flock on the folder itself), so together they cannot overrun them.
Names that some file system would treat as another file (Windows' CON or NUL, a
trailing dot, a case variant of the shipped weights or of a saved file) are refused.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from pathlib import Path

from mlp import weights
from mlp.model import MLP

try:
    import fcntl
except ImportError:      # Windows: the in-process lock below still serialises one server's sessions
    fcntl = None

FOLDER_ENV = "MLP_LAB_USER_WEIGHTS"
MAX_NAME = 64
MAX_FILES = 200          # a shared server's disk is not a place to fill by pressing Save in a loop
MAX_TOTAL_BYTES = 512 * 2**20   # ~4,000 files of the default network, or 20 of the largest
STALE_AFTER = 600.0      # seconds: a temporary file this old belongs to a save that died
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Windows reserves these device names whatever the extension, in any case.
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})
_process_lock = threading.Lock()
_tidied: set[Path] = set()


class SaveError(ValueError):
    """A name or a save was refused; the message says why."""


def folder() -> Path:
    """$MLP_LAB_USER_WEIGHTS, else weights/user/ beside the shipped weights."""
    configured = os.environ.get(FOLDER_ENV)
    return Path(configured).expanduser() if configured else weights.SHIPPED.parent / "user"


def path_for(name: str) -> Path:
    """The file a user-chosen name stands for; SaveError for any name that is not a plain file name."""
    name = name.strip() if isinstance(name, str) else ""
    if name.lower().endswith(".npz"):
        name = name[:-4]
    if not name:
        raise SaveError("Give the weights a name.")
    if len(name) > MAX_NAME:
        raise SaveError(f"The name is {len(name)} characters long; the most is {MAX_NAME}.")
    if "/" in name or "\\" in name or os.sep in name:
        raise SaveError("A name cannot contain / or \\: the file is always saved in the weights folder.")
    if name.startswith("."):
        raise SaveError("A name cannot start with a dot (that would be a hidden file, or '..').")
    if not _NAME.fullmatch(name) or ".." in name:
        raise SaveError("Use only letters, digits, '-', '_' and '.' (no '..') in the name.")
    if name.endswith("."):
        raise SaveError("A name cannot end with a dot (Windows would drop it and mean another file).")
    if name.split(".")[0].upper() in RESERVED:
        raise SaveError(f"{name.split('.')[0]} is a device name on Windows, not a file name; choose another name.")
    if name.lower() == weights.SHIPPED.stem.lower():
        raise SaveError("That is the shipped weights' file name, which is never overwritten; choose another name.")
    home = folder().resolve()
    path = home / f"{name}.npz"
    if path.resolve().parent != home:      # e.g. a symlink planted in the folder
        raise SaveError(f"{name}.npz would not be inside the weights folder.")
    if path.resolve() == weights.SHIPPED.resolve():
        raise SaveError("That is the shipped weights' file, which is never overwritten; choose another name.")
    return path


def save(model: MLP, name: str, **meta) -> Path:
    """Save `model` as NAME.npz in the folder (never replacing a file); SaveError saying why not."""
    path = path_for(name)
    data = weights.to_bytes(model, **meta)
    try:
        with locked(path.parent):
            files = _listing(path.parent)
            if len(files) >= MAX_FILES:
                raise SaveError(f"The weights folder already holds {MAX_FILES} files, the most it takes.")
            used = sum(size for _, size, _ in files)
            if used + len(data) > MAX_TOTAL_BYTES:
                raise SaveError(f"The weights folder holds {used / 2**20:.0f} MB; this file "
                                f"({len(data) / 2**20:.1f} MB) would pass its {MAX_TOTAL_BYTES // 2**20} MB limit.")
            if any(other.lower() == path.name.lower() for *_, other in files):
                raise FileExistsError(path)   # the same file on a case-insensitive disk
            return weights.write(data, path, overwrite=False)
    except FileExistsError:
        raise SaveError(f"{path.name} already exists in the weights folder; choose another name.") from None
    except OSError as e:
        raise SaveError(f"Could not save {path.name}: {e.strerror or type(e).__name__}. Nothing was written.") from None


@contextlib.contextmanager
def locked(home: Path):
    """Hold the folder's lock: one save at a time across threads and processes; stale temporaries go first."""
    home.mkdir(parents=True, exist_ok=True)
    with _process_lock:
        handle = os.open(home, os.O_RDONLY) if fcntl is not None else None   # the folder itself: no lock file
        try:
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            if home not in _tidied:
                remove_stale(home)
                _tidied.add(home)
            yield
        finally:
            if handle is not None:
                os.close(handle)   # releases the flock


def remove_stale(home: Path, older_than: float = STALE_AFTER) -> list[str]:
    """Delete hidden .tmp/.part files left by saves or downloads that died; returns their names."""
    removed, now = [], time.time()
    try:
        for path in home.iterdir():
            if path.name.startswith(".") and path.suffix in (weights.TEMP_SUFFIX, ".part") and path.is_file() \
                    and now - path.stat().st_mtime > older_than:
                path.unlink(missing_ok=True)
                removed.append(path.name)
    except OSError:
        pass
    return removed


def _listing(home: Path) -> list[tuple[float, int, str]]:
    """(mtime, bytes, name) of the saved NAME.npz files; temporary and hidden files are not listed."""
    found = []
    try:
        for path in home.iterdir():
            if path.suffix == ".npz" and not path.name.startswith(".") and path.is_file():
                stat = path.stat()
                found.append((stat.st_mtime, stat.st_size, path.name))
    except OSError:   # no folder yet, or a file removed while listing
        pass
    return found


def saved() -> list[str]:
    """Names of the saved files (NAME.npz), newest first."""
    home = folder()
    if home not in _tidied and home.is_dir():
        with contextlib.suppress(OSError), locked(home):   # tidying is a courtesy; listing must not fail for it
            pass
    return [name for *_, name in sorted(_listing(home), reverse=True)]


def load(name: str) -> MLP:
    """A saved model by its listed name; mlp.weights.WeightsError or SaveError saying why not."""
    return weights.load(path_for(name))
