"""Saving and loading weights: round trip, meta, and every kind of bad file refused clearly."""
import io
import pickle
import zipfile

import numpy as np
import pytest

from mlp import weights
from mlp.model import MLP
from mlp.weights import WeightsError


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def good_arrays(hidden=8, dtype=np.float32):
    return MLP.init(hidden=hidden, seed=0, dtype=dtype).params()


def test_round_trip_keeps_arrays_dtype_and_meta(tmp_path):
    model = MLP.init(hidden=16, seed=2)
    model.b2[:] = np.arange(10)
    path = weights.save(model, tmp_path / "w.npz", recipe={"lr": 0.1}, seed=2, test_accuracy=0.975,
                        date="2026-11-25")
    loaded = weights.load(path)
    for name, array in model.params().items():
        np.testing.assert_array_equal(getattr(loaded, name), array)
        assert getattr(loaded, name).dtype == np.float32
    assert loaded.meta == {"recipe": {"lr": 0.1}, "seed": 2, "test_accuracy": 0.975, "date": "2026-11-25"}
    assert weights.load(path.read_bytes()).hidden == 16
    assert weights.load(io.BytesIO(path.read_bytes())).hidden == 16


def test_float64_round_trip(tmp_path):
    model = MLP.init(hidden=4, seed=0, dtype=np.float64)
    assert weights.load(weights.save(model, tmp_path / "w64.npz")).dtype == np.float64


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    weights.save(MLP.init(hidden=4, seed=0), path)
    original = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(weights.os, "replace", crash)
    with pytest.raises(OSError):
        weights.save(MLP.init(hidden=4, seed=1), path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


@pytest.mark.parametrize("payload, message", [
    (b"this is plain text, not a zip", "not a weights file"),
    (b"", "empty"),
])
def test_not_a_zip_is_refused(payload, message):
    with pytest.raises(WeightsError, match=message):
        weights.load(payload)


def test_zip_that_is_not_an_npz_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(WeightsError, match="readme.txt"):
        weights.load(buffer.getvalue())


def test_pickled_objects_are_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    arrays = dict(good_arrays())
    arrays["W1"] = np.array([Evil()], dtype=object)
    payload = npz_bytes(**arrays)
    assert b"pickle" in payload or pickle.PROTO in payload
    with pytest.raises(WeightsError, match="pickled"):
        weights.load(payload)
    assert not marker.exists()


@pytest.mark.parametrize("name, bad, message", [
    ("W1", np.zeros((783, 8), np.float32), "W1 has shape"),
    ("b1", np.zeros(9, np.float32), "b1 has shape"),
    ("W2", np.zeros((8, 9), np.float32), "W2 has shape"),
    ("b2", np.zeros((10, 1), np.float32), "b2 has shape"),
    ("W1", np.zeros((784, 8), np.int64), "dtype"),
])
def test_wrong_shapes_and_dtypes_are_named(name, bad, message):
    arrays = dict(good_arrays())
    arrays[name] = bad
    with pytest.raises(WeightsError, match=message):
        weights.load(npz_bytes(**arrays))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_values_are_refused(value):
    arrays = dict(good_arrays())
    arrays["W2"] = arrays["W2"].copy()
    arrays["W2"][3, 4] = value
    with pytest.raises(WeightsError, match="W2 contains NaN"):
        weights.load(npz_bytes(**arrays))


def test_missing_and_extra_arrays_are_named():
    arrays = dict(good_arrays())
    del arrays["b2"]
    with pytest.raises(WeightsError, match="missing array.*b2"):
        weights.load(npz_bytes(**arrays))
    with pytest.raises(WeightsError, match="unexpected.*W3"):
        weights.load(npz_bytes(**good_arrays(), W3=np.zeros(3)))


def test_truncated_file_is_refused(tmp_path):
    payload = weights.to_bytes(MLP.init(hidden=8, seed=0))
    for cut in (len(payload) // 2, len(payload) - 30, 100):
        with pytest.raises(WeightsError):
            weights.load(payload[:cut])


def test_huge_file_is_refused_before_reading_it_all(tmp_path):
    path = tmp_path / "big.npz"
    path.write_bytes(b"\0" * 2048)
    with pytest.raises(WeightsError, match="limit"):
        weights.load(path, max_bytes=1024)
    with pytest.raises(WeightsError, match="limit"):
        weights.load(io.BytesIO(b"\0" * 2048), max_bytes=1024)


def test_missing_path_is_named(tmp_path):
    with pytest.raises(WeightsError, match="no weights file"):
        weights.load(tmp_path / "nope.npz")


def test_shipped_weights_load_read_only_and_meet_the_bar():
    model = weights.load_shipped()
    assert (model.W1.shape, model.W2.shape) == ((784, 128), (128, 10))
    assert model.W1.dtype == np.float32
    assert not model.W1.flags.writeable
    assert weights.load_shipped() is model
    meta = model.meta
    assert meta["test_accuracy"] >= 0.985
    assert {"recipe", "seed", "date", "command"} <= set(meta)

