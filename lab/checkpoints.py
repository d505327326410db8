"""A run kept on disk per browser, so a reload or a server restart does not lose it.

Each browser gets a random token (kept in a cookie by lab/browser.py); the
training thread hands its runner's Checkpoint here every few seconds and when it
ends, and the Train page looks the token up when a session has no run yet.

A file is the run's settings and history as JSON plus its weights, in an .npz
read back with allow_pickle=False and checked like uploaded weights: the folder
is the server's own, but a checkpoint is still data, never code.
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from mlp.model import MLP
from mlp.train import Config

from . import loss_history
from .runner import Checkpoint

TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_FILES = 200          # oldest first out: a checkpoint is a convenience, not an archive
MAX_BYTES = 64 * 2**20
PARAMS = ("W1", "b1", "W2", "b2")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back."""


def folder() -> Path:
    """$MLP_LAB_RUNS, else ~/.cache/mlp-lab/runs."""
    return Path(os.environ.get("MLP_LAB_RUNS") or Path.home() / ".cache" / "mlp-lab" / "runs")


def new_token() -> str:
    return secrets.token_hex(16)


def is_token(value) -> bool:
    return isinstance(value, str) and TOKEN.fullmatch(value) is not None


def path_for(token: str) -> Path:
    if not is_token(token):
        raise ValueError("not a checkpoint token")
    return folder() / f"{token}.npz"


def save(token: str, checkpoint: Checkpoint) -> Path:
    """Write atomically (temporary file, then rename), then keep the folder to MAX_FILES."""
    path = path_for(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {"config": checkpoint.config.as_meta(), "epoch": checkpoint.epoch, "phase": checkpoint.phase,
            "total_steps": checkpoint.total_steps,
            "test_accuracy": list(checkpoint.test_accuracy), "train_accuracy": list(checkpoint.train_accuracy),
            "dead_units": list(checkpoint.dead_units)}
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(a) for name, a in checkpoint.model.params().items()},
             loss_steps=np.asarray(checkpoint.loss_steps, np.int64), losses=np.asarray(checkpoint.losses, np.float32),
             info=np.frombuffer(json.dumps(info).encode(), np.uint8))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _prune()
    return path


def load(token: str) -> Checkpoint | None:
    """The browser's last run, or None if there is none; CheckpointError if the file is damaged."""
    if not is_token(token):
        return None
    path = path_for(token)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise CheckpointError("the checkpoint is larger than any run makes")
        with np.load(path, allow_pickle=False) as z:
            if set(z.files) != {*PARAMS, "loss_steps", "losses", "info"}:
                raise CheckpointError(f"unexpected members {sorted(z.files)}")
            arrays = {name: z[name] for name in PARAMS}
            loss_steps, losses = z["loss_steps"], z["losses"]
            if loss_steps.shape != losses.shape or loss_steps.ndim != 1 or len(losses) > loss_history.CAPACITY:
                raise CheckpointError("the checkpoint's loss curve is malformed")
            info = json.loads(z["info"].tobytes().decode())
    except FileNotFoundError:
        return None
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"the checkpoint cannot be read: {e}") from None
    try:
        config = Config(**info["config"]).validate()
        model = MLP(*(arrays[name] for name in PARAMS))
        h = config.hidden
        shapes = {"W1": (model.W1.shape[0], h), "b1": (h,), "W2": (h, model.W2.shape[1]), "b2": (model.W2.shape[1],)}
        if any(arrays[n].shape != shapes[n] for n in PARAMS) or not model.is_finite():
            raise CheckpointError("the checkpoint's weights do not match its settings")
        epoch = int(info["epoch"])
        if not 0 <= epoch <= config.epochs:
            raise CheckpointError("the checkpoint's epoch is out of range")
        return Checkpoint(config, model, loss_steps.astype(np.int64), losses.astype(np.float32),
                          tuple(None if a is None else float(a) for a in info["test_accuracy"]),
                          tuple(float(a) for a in info["train_accuracy"]),
                          tuple(int(d) for d in info["dead_units"]), epoch, str(info["phase"]),
                          int(info["total_steps"]))
    except CheckpointError:
        raise
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"the checkpoint's settings cannot be read: {e}") from None


def forget(token: str) -> None:
    if is_token(token):
        path_for(token).unlink(missing_ok=True)


def _prune() -> None:
    try:
        files = sorted((p for p in folder().glob("*.npz") if is_token(p.stem)), key=lambda p: p.stat().st_mtime)
        for old in files[:-MAX_FILES]:
            old.unlink(missing_ok=True)
    except OSError:   # another process pruned the same file first
        pass
