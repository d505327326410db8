"""Hardening against a hostile user of a shared server: files that lie, a folder many write to,
memory one session may take, and the network the server answers on (issue 12)."""
from __future__ import annotations

import contextlib
import functools
import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab import models, state
from mlp import weights
from mlp.model import MLP
from mlp.weights import WeightsError

TRAIN = "pages/1_Train.py"


# -- helpers -------------------------------------------------------------------------------------

def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_claiming(shape: tuple, descr: str = "<f4", data: bytes = b"\0" * 64) -> bytes:
    """An .npy whose header declares `shape` but which holds only `data`."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def weights_zip(hidden: int = 16, meta=None, **members: bytes) -> bytes:
    """A weights file: good arrays for `hidden`, with `members` ({name: .npy bytes}) put in or replaced."""
    contents = {f"{k}.npy": npy(v) for k, v in MLP.init(hidden=hidden, seed=5).params().items()}
    if meta is not None:
        contents["meta_json.npy"] = npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))
    contents.update({f"{k}.npy": v for k, v in members.items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, raw in contents.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def with_member(payload: bytes, name: str, raw: bytes) -> bytes:
    """`payload` with one more member (a name already there is added a second time)."""
    buffer = io.BytesIO(payload)
    with pytest.warns(UserWarning) if any(i.filename == name for i in zipfile.ZipFile(io.BytesIO(payload)).infolist()) \
            else contextlib.nullcontext(), zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(name, raw)
    return buffer.getvalue()


@functools.cache
def many_members(count: int) -> bytes:
    """A zip of `count` tiny members next to good weights (the writer's zip64 end record included)."""
    buffer = io.BytesIO(weights_zip())
    with zipfile.ZipFile(buffer, "a") as archive:
        for i in range(count):
            archive.writestr(f"x{i}.npy", b"")
    return buffer.getvalue()


def refusal(payload: bytes) -> tuple[str, int]:
    """(WeightsError message, peak bytes Python allocated while refusing)."""
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError) as refused:
            weights.load(payload)
        return str(refused.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def new_session() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    return at


def upload(at: AppTest, name: str, payload: bytes) -> AppTest:
    return at.file_uploader(key="weights_upload").set_value((name, payload, "application/octet-stream")).run()


def own_weights(at: AppTest) -> MLP | None:
    ref = at.session_state["own_model"] if "own_model" in at.session_state else None
    return ref.model if ref is not None else None


# -- 1. uploaded weights that lie --------------------------------------------------------------------

HOSTILE = {
    # a 6 KB file whose W1 header promises 10¹² float32s
    "10^12 elements": (lambda: weights_zip(W1=npy_claiming((784, 10**12 // 784))), "hidden size 1,275,510,204"),
    "huge b1 header": (lambda: weights_zip(b1=npy_claiming((10**12,))), "b1 has shape (1000000000000,)"),
    "many dimensions": (lambda: weights_zip(W1=npy_claiming((2,) * 40)), "W1 has shape"),
    "complex dtype": (lambda: weights_zip(W1=npy_claiming((784, 16), "<c16")), "W1 has dtype complex128"),
    "header bigger than its data": (lambda: weights_zip(W1=npy_claiming((784, 16))), "W1.npy is truncated"),
    "deep meta": (lambda: weights_zip(meta="[" * 30_000 + "]" * 30_000), "nested more than 16 levels"),
    "huge meta": (lambda: weights_zip(meta={"notes": [0] * 300_000}), "the limit is 65,536"),
    "meta not JSON": (lambda: weights_zip(meta="{'lessons': 1"), "not valid JSON"),
    "lessons abc": (lambda: weights_zip(meta={"lessons": "abc"}), "meta 'lessons' must be a whole number"),
    "lessons Infinity": (lambda: weights_zip(meta='{"lessons": Infinity}'), "NaN and Infinity are not allowed"),
    "lessons 1e400": (lambda: weights_zip(meta='{"lessons": 1e400}'), "meta 'lessons' must be a whole number"),
    "lessons negative": (lambda: weights_zip(meta={"lessons": -3}), "meta 'lessons' must be a whole number"),
    "taught_from a list": (lambda: weights_zip(meta={"taught_from": [1, 2]}), "meta 'taught_from' must be a text"),
    "test_accuracy text": (lambda: weights_zip(meta={"test_accuracy": "99%"}), "meta 'test_accuracy' must be"),
    "an extra member": (lambda: weights_zip(W3=npy(np.zeros(3))), "unexpected array(s) W3"),
    "a member twice": (lambda: with_member(weights_zip(), "W1.npy", npy(np.zeros((784, 16), np.float32))),
                       "the zip holds W1 twice"),
    "300,000 members": (lambda: many_members(300_000), "the zip holds 300,004 members"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_lying_weights_file_is_refused_from_its_headers_with_a_short_message(kind):
    make, expected = HOSTILE[kind]
    payload = make()
    message, peak = refusal(payload)
    assert expected in message, message
    assert len(message) < 200, message
    assert peak < 2 * len(payload) + 2**20, f"refusing took {peak / 2**20:.0f} MB"   # nothing the header promised


def test_meta_of_the_right_types_is_kept():
    meta = {"lessons": 3, "taught_from": "Shipped weights", "test_accuracy": 0.97, "notes": {"a": [1, 2]}}
    assert weights.load(weights_zip(meta=meta)).meta == meta


@pytest.mark.parametrize("kind", ["10^12 elements", "deep meta", "lessons abc", "300,000 members"])
def test_a_lying_upload_shows_a_message_and_the_model_in_use_stays(kind):
    at = new_session()
    at.switch_page(TRAIN).run()
    upload(at, "mine.npz", weights.to_bytes(MLP.init(hidden=40, seed=3)))
    before = own_weights(at)
    assert before is not None and before.hidden == 40 and at.session_state["model_source"] == state.OWN

    make, expected = HOSTILE[kind]
    upload(at, "hostile.npz", make())
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Could not load hostile.npz" in errors[0] and expected in errors[0], errors
    assert len(errors[0]) < 300
    assert own_weights(at) is before and at.session_state["model_source"] == state.OWN
