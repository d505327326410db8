"""What a browser keeps on the server, so a reload or a server restart loses none of its work.

Each browser gets a random token (kept in a cookie by lab/session/browser.py).  Under it the server keeps, one
file each, at most:
- its training run (`TOKEN.npz`): the training thread hands its runner's Checkpoint here every few
  seconds and when it ends, and the pages look the token up when a session has no run yet;
- its My digits set (`TOKEN.digits.npz`), in My digits' own file format, read back with its checks;
- its own model, taught, fine-tuned or loaded (`TOKEN.model.npz`), a weights file read back by
  mlp.weights with its checks.
Every file is written atomically (mlp.weights.write: a temporary file renamed into place) and read
back as data, never code (allow_pickle=False, sizes capped, shapes checked): the folder is the
server's own, but what is in it came from strangers.

Bounds (docs/persistence.md): a token keeps at most MAX_TOKEN_BYTES; tokens are two pools, fresh ones
(never seen again) and returning ones (whose cookie came back in a later session: `seen_again`),
each bounded in tokens and bytes, the least recently used token of the saver's own pool evicted first.
A script opening cookie-less sessions only ever makes fresh tokens, so it can evict only other fresh
tokens, never the work of a browser that came back.  `forget` removes everything a token keeps.
"""
from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlp import weights
from mlp.model import MLP
from mlp.train import Config

from . import loss_history
from ..my_digits import digit_set as md
from ..store import models, user_weights
from .runner import Checkpoint

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_BYTES = 64 * 2**20   # a run's checkpoint: the largest run allowed is ~13 MB
PARAMS = ("W1", "b1", "W2", "b2")
RUN, DIGITS, MODEL = "run", "digits", "model"
SUFFIXES = {RUN: ".npz", DIGITS: ".digits.npz", MODEL: ".model.npz"}
SEEN = ".seen"           # an empty file: this token's cookie came back; its time is the last return
MAX_TOKEN_BYTES = 96 * 2**20
LABEL_KEY = "mlp_lab_label"   # the model's name as the sidebar showed it, kept in its meta


@dataclass(frozen=True)
class Pool:
    """How many tokens, and how many bytes, one kind of token may keep in all."""
    tokens: int
    bytes: int


FRESH = Pool(tokens=100, bytes=512 * 2**20)        # a flood of cookie-less sessions fills only this
RETURNING = Pool(tokens=200, bytes=1536 * 2**20)   # the share kept for browsers that came back


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back."""


def folder() -> Path:
    """$MLP_LAB_RUNS, else ~/.cache/mlp-lab/runs."""
    return Path(os.environ.get("MLP_LAB_RUNS") or Path.home() / ".cache" / "mlp-lab" / "runs")


def new_token() -> str:
    return secrets.token_hex(16)


def is_token(value) -> bool:
    return isinstance(value, str) and TOKEN.fullmatch(value) is not None


def path_for(token: str, kind: str = RUN) -> Path:
    if not is_token(token):
        raise ValueError("not a checkpoint token")
    return folder() / f"{token}{SUFFIXES[kind]}"


def save(token: str, checkpoint: Checkpoint) -> Path:
    """Keep the browser's run (atomically), within the bounds."""
    info = {"config": checkpoint.config.as_meta(), "epoch": checkpoint.epoch, "phase": checkpoint.phase,
            "total_steps": checkpoint.total_steps, "message": checkpoint.message,
            "samples_per_second": checkpoint.samples_per_second,
            "test_accuracy": list(checkpoint.test_accuracy), "train_accuracy": list(checkpoint.train_accuracy),
            "dead_units": list(checkpoint.dead_units)}
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(a) for name, a in checkpoint.model.params().items()},
             loss_steps=np.asarray(checkpoint.loss_steps, np.int64), losses=np.asarray(checkpoint.losses, np.float32),
             info=np.frombuffer(json.dumps(info).encode(), np.uint8))
    return _keep(token, RUN, buffer.getvalue())


def load(token: str) -> Checkpoint | None:
    """The browser's last run, or None if there is none; CheckpointError if the file is damaged."""
    raw = _read(token, RUN, MAX_BYTES)
    if raw is None:
        return None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            if set(z.files) != {*PARAMS, "loss_steps", "losses", "info"}:
                raise CheckpointError(f"unexpected members {sorted(z.files)}")
            arrays = {name: z[name] for name in PARAMS}
            loss_steps, losses = z["loss_steps"], z["losses"]
            if loss_steps.shape != losses.shape or loss_steps.ndim != 1 or len(losses) > loss_history.CAPACITY:
                raise CheckpointError("the checkpoint's loss curve is malformed")
            info = json.loads(z["info"].tobytes().decode())
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"the checkpoint cannot be read: {e}") from None
    try:
        config = Config(**info["config"])
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
                          int(info["total_steps"]), str(info.get("message", ""))[:500],
                          _rate(info.get("samples_per_second", 0.0)))
    except CheckpointError:
        raise
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"the checkpoint's settings cannot be read: {e}") from None


def _rate(value) -> float:
    rate = float(value)
    return rate if math.isfinite(rate) and rate > 0 else 0.0


def save_digits(token: str, digits: md.DigitSet) -> Path | None:
    """Keep the browser's My digits set; an empty set keeps nothing (and removes what was kept)."""
    if not len(digits):
        forget(token, DIGITS)
        return None
    return _keep(token, DIGITS, md.to_bytes(digits))


def load_digits(token: str) -> md.DigitSet | None:
    """The browser's My digits set, read with My digits' own checks; None if none; CheckpointError if damaged."""
    raw = _read(token, DIGITS, md.MAX_BYTES)
    if raw is None:
        return None
    try:
        return md.from_bytes(raw)
    except md.SetError as e:
        raise CheckpointError(f"the kept My digits set cannot be read: {e}") from None


def save_model(token: str, ref: models.ModelRef) -> Path:
    """Keep the browser's own model (taught, fine-tuned or loaded) with the name it is shown under."""
    meta = {**ref.model.meta, LABEL_KEY: ref.label}
    return _keep(token, MODEL, weights.to_bytes(ref.model, **meta))


def load_model(token: str) -> models.ModelRef | None:
    """The browser's own model, read by mlp.weights with its checks; None if none; CheckpointError if damaged."""
    raw = _read(token, MODEL, weights.MAX_BYTES)
    if raw is None:
        return None
    try:
        model = weights.load(raw, max_bytes=weights.MAX_BYTES)
    except weights.WeightsError as e:
        raise CheckpointError(f"the kept model cannot be read: {e}") from None
    label = model.meta.pop(LABEL_KEY, None)
    if not isinstance(label, str) or not label.strip():
        label = "Your model"
    return models.new_ref(model, label[:300], prefix="kept")


def _read(token: str, kind: str, limit: int) -> bytes | None:
    if not is_token(token):
        return None
    try:
        path = path_for(token, kind)
        if path.stat().st_size > limit:
            raise CheckpointError(f"the kept {kind} file is larger than the app ever writes")
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CheckpointError(f"the kept {kind} file cannot be read: {e.strerror or e}") from None


def forget(token: str, *kinds: str) -> None:
    """Remove what the token keeps: the kinds named, or everything (its return mark too)."""
    if not is_token(token):
        return
    for kind in kinds or SUFFIXES:
        path_for(token, kind).unlink(missing_ok=True)
    if not kinds:
        (folder() / f"{token}{SEEN}").unlink(missing_ok=True)


def kept(token: str) -> list[str]:
    """The kinds the token keeps now (RUN, DIGITS, MODEL)."""
    return [kind for kind in SUFFIXES if is_token(token) and path_for(token, kind).is_file()]


def seen_again(token: str) -> None:
    """The token's cookie came back in a new session: if it keeps anything, it joins the returning pool
    (or stays there, as most recently seen)."""
    if kept(token):
        with user_weights.locked(folder()):
            (folder() / f"{token}{SEEN}").touch()
            _evict(token, _tokens())   # the returning pool may have just grown past its bound


class KeepError(OSError):
    """What a browser made could not be kept on the server; the message says why."""


def _keep(token: str, kind: str, data: bytes) -> Path:
    """Write `data` as the token's `kind` atomically, then evict within the saver's pool; KeepError if the
    token would keep more than MAX_TOKEN_BYTES."""
    path = path_for(token, kind)
    with user_weights.locked(path.parent):
        tokens = _tokens()
        mine = tokens.get(token)
        others = mine.bytes - mine.sizes.get(kind, 0) if mine is not None else 0
        if others + len(data) > MAX_TOKEN_BYTES:
            raise KeepError(f"this browser would keep {(others + len(data)) / 2**20:.0f} MB on the server; "
                            f"the most is {MAX_TOKEN_BYTES // 2**20} MB")
        weights.write(data, path)
        _evict(token, _tokens())
    return path


@dataclass
class _Kept:
    """One token's files: bytes per kind, when it was last used, whether its cookie came back."""
    sizes: dict
    last_used: float
    returning: bool

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())


def _tokens() -> dict[str, _Kept]:
    found: dict[str, _Kept] = {}
    try:
        entries = list(os.scandir(folder()))
    except OSError:
        return found
    for entry in entries:
        token, _, rest = entry.name.partition(".")
        if not is_token(token):
            continue
        kind = next((k for k, suffix in SUFFIXES.items() if "." + rest == suffix), None)
        if kind is None and "." + rest != SEEN:
            continue
        try:
            stat = entry.stat()
        except OSError:   # removed while listing
            continue
        item = found.setdefault(token, _Kept({}, 0.0, False))
        item.last_used = max(item.last_used, stat.st_mtime)
        if kind is None:
            item.returning = True
        else:
            item.sizes[kind] = stat.st_size
    return found


def _evict(saver: str, tokens: dict[str, _Kept]) -> list[str]:
    """Remove the least recently used tokens of the saver's pool until the pool is within its bounds.

    A token in the other pool is never touched: fresh tokens cannot push out returning ones."""
    returning = tokens[saver].returning if saver in tokens else False
    pool = RETURNING if returning else FRESH
    members = {t: k for t, k in tokens.items() if k.returning == returning and k.sizes}
    count, used = len(members), sum(k.bytes for k in members.values())
    evicted = []
    for token in sorted(members, key=lambda t: members[t].last_used):
        if count <= pool.tokens and used <= pool.bytes:
            break
        if token == saver:
            continue
        forget(token)
        count, used = count - 1, used - members[token].bytes
        evicted.append(token)
    if evicted:
        log.info("evicted %d %s token(s) to keep the pool within %s", len(evicted),
                 "returning" if returning else "fresh", pool)
    return evicted
