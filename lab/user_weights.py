"""The app's own weights folder: models saved under a name a user typed, listed and loaded back.

The name comes from a stranger, so it is checked before it becomes a path: one plain
file name made of letters, digits, '-', '_' and '.', not hidden, not too long, and the
path it gives must sit directly in the folder.  Nothing is ever overwritten (the
shipped weights least of all): one user cannot destroy another's file by reusing a
name.  The write itself is mlp.weights.save's: a temporary file linked into place
once complete, so a crash leaves no half file under the name.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from mlp import weights
from mlp.model import MLP

FOLDER_ENV = "MLP_LAB_USER_WEIGHTS"
MAX_NAME = 64
MAX_FILES = 200          # a shared server's disk is not a place to fill by pressing Save in a loop
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


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
    if len(saved()) >= MAX_FILES:
        raise SaveError(f"The weights folder already holds {MAX_FILES} files, the most it takes.")
    try:
        return weights.save(model, path, overwrite=False, **meta)
    except FileExistsError:
        raise SaveError(f"{path.name} already exists in the weights folder; choose another name.") from None
    except OSError as e:
        raise SaveError(f"Could not save {path.name}: {e.strerror or e}. Nothing was written.") from None


def saved() -> list[str]:
    """Names of the saved files (NAME.npz), newest first; temporary and hidden files are not listed."""
    found = []
    try:
        for path in folder().iterdir():
            if path.suffix == ".npz" and not path.name.startswith(".") and path.is_file():
                found.append((path.stat().st_mtime, path.name))
    except OSError:   # no folder yet, or a file removed while listing
        pass
    return [name for _, name in sorted(found, reverse=True)]


def load(name: str) -> MLP:
    """A saved model by its listed name; mlp.weights.WeightsError or SaveError saying why not."""
    return weights.load(path_for(name))
