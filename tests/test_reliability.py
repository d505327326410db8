"""Reliability: odd input, damaged files, divergence, saving, and several users at once.

Each test drives the app the way a user (or a hostile client) would, through AppTest,
and checks both the message and that nothing else moved: the model in use, the
files on disk, the other sessions.  The real-browser load test is tests/test_load.py.
"""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lab.insight import backprop, evaluate
from lab.session import state
from lab.session.state import Key
from lab.store import mnist, models, user_weights
from lab.training import runner as runner_module, train_state
from mlp import weights
from mlp.model import MLP
from mlp.train import Config
from support import (ROOT, TRAIN, array, canvas_from_mnist, canvas_sends, click, draw, first_test_image_of, in_threads,
                     needs_mnist, new_session, no_errors, on_black, plotly, png_url, prediction, progress_steps,
                     run_until, session_runner, sidebar_text, wait_for, warnings)

# -- helpers ---------------------------------------------------------------------------------

def model_in_use(at: AppTest) -> MLP:
    """The network this session answers with, read from its session state like lab.session.state does."""
    source = at.session_state[Key.MODEL_SOURCE]
    if source == state.OWN:
        return at.session_state[Key.OWN_MODEL].model
    if source == state.TRAINED:
        return session_runner(at).snapshot()[0]
    return models.shipped().model


def same_weights(a: MLP, b: MLP) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in weights.PARAMS)


def upload(at: AppTest, name: str, payload: bytes) -> AppTest:
    return at.file_uploader(key=Key.UPLOAD).set_value((name, payload, "application/octet-stream")).run()


# -- bad input: the canvas -----------------------------------------------------------------------

def test_a_single_dot_gets_a_prediction_and_says_it_is_only_a_dot(app):
    dot = np.zeros((280, 280), np.uint8)
    dot[140:146, 150:156] = 255
    canvas_sends(app, png_url(on_black(dot)))
    no_errors(app)
    assert prediction(app) is not None
    assert "very small mark" in warnings(app)


def test_a_scribble_over_the_whole_canvas_gets_a_prediction_and_a_warning(app):
    canvas_sends(app, png_url(on_black(np.full((280, 280), 255, np.uint8))))
    no_errors(app)
    assert prediction(app) is not None
    assert "covers most of the canvas" in warnings(app)


@needs_mnist
@pytest.mark.parametrize("size", [140, 560, 1000])
def test_a_picture_of_another_size_is_read_like_the_canvas(app, size):
    seven = np.asarray(canvas_from_mnist(first_test_image_of(7)))
    canvas_sends(app, png_url(Image.fromarray(seven).resize((size, size), Image.BILINEAR)))
    no_errors(app)
    assert prediction(app) == "7"
    assert not warnings(app)


@needs_mnist
@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGB", "I;16"])
def test_a_picture_in_another_colour_mode_is_read_the_same(app, mode):
    gray = np.asarray(canvas_from_mnist(first_test_image_of(3)))[..., 0]
    picture = {"L": lambda: Image.fromarray(gray),
               "LA": lambda: Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), "LA"),
               "P": lambda: Image.fromarray(gray).convert("P"),
               "RGB": lambda: Image.fromarray(np.dstack([gray] * 3)),
               "I;16": lambda: Image.fromarray(gray.astype(np.uint16) * 257)}[mode]()
    canvas_sends(app, png_url(picture))
    no_errors(app)
    assert prediction(app) == "3"


UNREADABLE = {
    "not a PNG": lambda: "data:image/png;base64,AAAA",
    "bad base64": lambda: "data:image/png;base64,!!not base64!!",
    "no data URL": lambda: "a drawing",
    "a number": lambda: 12345,
    "cut-off PNG": lambda: "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(40)).decode(),
    "5000×5000": lambda: png_url(Image.new("L", (5000, 5000))),              # a few KB that decode to 100 MB
}


@pytest.mark.parametrize("kind", UNREADABLE)
def test_an_unreadable_canvas_picture_gets_a_message_and_the_app_goes_on(app, kind):
    canvas_sends(app, UNREADABLE[kind]())
    no_errors(app)
    assert prediction(app) is None
    assert "Could not read the drawing" in warnings(app)
    assert app.session_state[Key.MODEL_SOURCE] == state.SHIPPED
    click(app, "Clear")                                  # ...and the next drawing works
    assert any("Draw a digit" in i.value for i in app.info)
    dot = np.zeros((280, 280), np.uint8)
    dot[60:220, 130:150] = 255
    canvas_sends(app, png_url(on_black(dot)))
    assert prediction(app) == "1"


# -- bad input: uploaded weights -------------------------------------------------------------------

def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def good(hidden: int = 16, **changes) -> dict:
    arrays = {k: v.copy() for k, v in MLP.init(hidden=hidden, seed=5).params().items()}
    arrays.update(changes)
    return arrays


def not_npz_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights.txt", "W1 = 0.1, 0.2, ...")
    return buffer.getvalue()


def with_value(value: float) -> bytes:
    arrays = good()
    arrays["b1"][3] = value
    return npz(**arrays)


BAD_UPLOADS = {
    "not a zip": (lambda: b"GIF89a... a picture, not weights", "not a weights file"),
    "empty": (lambda: b"", "empty"),
    "zip, not npz": (not_npz_zip, "not an .npz of arrays"),
    "pickled objects": (lambda: npz(**good(W1=np.array([{"run": "code"}], dtype=object))), "pickled"),
    "wrong shape": (lambda: npz(**good(W1=np.zeros((100, 16), np.float32))), "W1 has shape (100, 16)"),
    "hidden size mismatch": (lambda: npz(**good(W2=np.zeros((32, 10), np.float32))),
                             "W2 has shape (32, 10); expected (16, 10)"),
    "missing array": (lambda: npz(**{k: v for k, v in good().items() if k != "b2"}), "missing array(s) b2"),
    "NaN": (lambda: with_value(np.nan), "b1 contains NaN"),
    "inf": (lambda: with_value(np.inf), "b1 contains NaN or infinite"),
    "truncated": (lambda: weights.to_bytes(MLP.init(hidden=16))[:3000], "not a weights file"),
    "huge": (lambda: b"PK\x03\x04" + bytes(weights.MAX_BYTES), "larger than the 50 MB limit"),
}


@pytest.mark.parametrize("kind", BAD_UPLOADS)
def test_a_bad_weights_upload_is_refused_by_name_and_the_model_in_use_stays(app, kind):
    app.switch_page(TRAIN).run()
    upload(app, "mine.npz", weights.to_bytes(MLP.init(hidden=40, seed=3)))   # a model of one's own is in use
    before = model_in_use(app)
    assert before.hidden == 40

    make, message = BAD_UPLOADS[kind]
    upload(app, f"{kind}.npz", make())
    refusals = " ".join(e.value for e in app.error)
    assert f"Could not load {kind}.npz" in refusals and message in refusals, refusals
    assert not app.exception
    assert model_in_use(app) is before and same_weights(model_in_use(app), MLP.init(hidden=40, seed=3))
    assert "Loaded from mine.npz" in sidebar_text(app)
    app.switch_page("app.py").run()                      # still answers with it
    no_errors(app)
    assert app.session_state[Key.MODEL_SOURCE] == state.OWN


# -- bad input: MNIST files on disk ----------------------------------------------------------------

def damage(raw: bytes, kind: str) -> bytes:
    if kind == "truncated":
        return raw[:len(raw) // 3]
    if kind == "wrong magic":
        return b"\x00\x00\x08\x01" + raw[4:]
    flipped = bytearray(raw)                             # wrong checksum: one pixel changed, header intact
    flipped[5000] ^= 0xFF
    return bytes(flipped)


MESSAGES = {"truncated": "header promises", "wrong magic": "bad magic number 0x00000801, expected 0x00000803",
            "wrong checksum": "wrong checksum"}


@pytest.fixture
def damaged_mnist(tmp_path, monkeypatch):
    """Make MNIST's folder a copy of the real one whose t10k images are damaged in the way asked for."""
    source = mnist.idx.data_dir()
    caches = (mnist.load, mnist.synthetic_digits, models.dead_units, models.test_outputs, evaluate.evaluate,
              backprop.gradient_check)

    def make(kind: str) -> Path:
        for name in mnist.idx.SHA256:
            (tmp_path / name).symlink_to(source / name)
        target = tmp_path / "t10k-images-idx3-ubyte"
        target.unlink()
        target.write_bytes(damage((source / target.name).read_bytes(), kind))
        monkeypatch.setenv("MLP_LAB_DATA", str(tmp_path))
        for cache in caches:
            cache.cache_clear()
        return target
    yield make
    for cache in caches:
        cache.cache_clear()


@needs_mnist
@pytest.mark.parametrize("kind", MESSAGES)
@pytest.mark.slow
def test_damaged_mnist_is_refused_with_its_reason_and_fetched_again(app, damaged_mnist, local_mirror, monkeypatch,
                                                                    kind):
    target = damaged_mnist(kind)
    for page, where in (("pages/4_Evaluate.py", "Evaluate"), (TRAIN, "Train"), ("pages/2_Hidden_units.py", "Hidden")):
        app.switch_page(page).run()
        assert not app.exception, where
        refusal = " ".join(e.value for e in app.error)
        assert "t10k-images-idx3-ubyte" in refusal and MESSAGES[kind] in refusal, (where, refusal)
        assert [b for b in app.button if b.label == "Fetch again"], where
    assert not [m for m in app.metric if m.label == "Test accuracy"], "damaged data is never used"

    monkeypatch.setenv("MLP_LAB_MNIST_MIRRORS", local_mirror)
    monkeypatch.setenv("MLP_LAB_NPM", "")
    app.switch_page("pages/4_Evaluate.py").run()
    click(app, "Fetch again")
    no_errors(app)
    assert mnist.is_ready() and not target.is_symlink()
    accuracy = [m for m in app.metric if m.label == "Test accuracy"][0].value
    assert accuracy == f"{models.shipped().model.meta['test_accuracy']:.2%}"


@needs_mnist
@pytest.mark.slow
def test_start_with_damaged_mnist_fetches_it_again_then_trains(app, damaged_mnist, local_mirror, monkeypatch):
    damaged_mnist("wrong checksum")
    monkeypatch.setenv("MLP_LAB_MNIST_MIRRORS", local_mirror)
    monkeypatch.setenv("MLP_LAB_NPM", "")
    app.switch_page(TRAIN).run()
    click(app, "Start")
    run_until(app, lambda at: progress_steps(at) > 0, timeout=60)
    assert mnist.is_ready()


# -- bad input: hyperparameters ----------------------------------------------------------------------

def test_train_widgets_have_the_engines_limits(app):
    app.switch_page(TRAIN).run()
    for name in train_state.TRAIN_FIELDS:
        widget = app.number_input(key=Key.train(name))
        assert (widget.min, widget.max) == Config.LIMITS[name], name


@pytest.mark.parametrize("name, bad", [("lr", 500.0), ("lr", 0.0), ("lr", float("nan")), ("lr", float("inf")),
                                       ("batch_size", 0), ("batch_size", 10**6), ("epochs", 0), ("epochs", 10**5),
                                       ("hidden", -3), ("hidden", 5000)])
def test_out_of_range_settings_never_get_past_the_widgets(app, name, bad):
    app.switch_page(TRAIN).run()
    app.number_input(key=Key.train(name)).set_value(bad).run()
    no_errors(app)
    value = app.number_input(key=Key.train(name)).value
    low, high = Config.LIMITS[name]
    assert low <= value <= high
    Config(**{field: app.number_input(key=Key.train(field)).value for field in train_state.TRAIN_FIELDS}).validate()


def test_start_refuses_settings_the_engine_rejects(app, monkeypatch):
    """If a bad setting ever got past the widgets, the engine's own validation still stops it."""
    monkeypatch.setattr(train_state, "train_config", lambda: Config(epochs=5, lr=500.0))
    app.switch_page(TRAIN).run()
    click(app, "Start")
    assert any("Cannot start: lr must be between" in e.value for e in app.error)
    assert session_runner(app) is None
    with pytest.raises(ValueError, match="batch_size"):
        runner_module.TrainingRunner(Config(batch_size=0))


# -- training faults -----------------------------------------------------------------------------------

@needs_mnist
@pytest.mark.slow
def test_learning_rate_50_diverges_at_once_and_keeps_the_last_good_weights(app):
    app.switch_page(TRAIN).run()
    app.number_input(key=Key.train("lr")).set_value(50.0).run()
    click(app, "Start")
    run_until(app, lambda at: at.error)
    status = session_runner(app).status()
    assert status.phase == runner_module.DIVERGED and status.steps <= 2, "caught within one step"
    assert any("diverged" in e.value and "last good weights are kept" in e.value for e in app.error)
    kept, _ = session_runner(app).snapshot()
    assert kept.is_finite() and same_weights(kept, MLP.init(hidden=128, seed=0)), "the checkpoint before the blow-up"
    click(app, "Use on Draw")
    app.switch_page("app.py").run()
    draw(app, canvas_from_mnist(0))
    no_errors(app)
    assert np.isfinite(array(plotly(app, "probabilities")["data"][0]["y"])).all()


# -- saving to the weights folder -----------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("../escape", "cannot contain /"),
    ("../../etc/passwd", "cannot contain /"),
    ("/tmp/absolute", "cannot contain /"),
    ("sub/dir", "cannot contain /"),
    ("back\\slash", "cannot contain /"),
    ("..", "cannot start with a dot"),
    (".hidden", "cannot start with a dot"),
    ("", "Give the weights a name"),
    ("   ", "Give the weights a name"),
    (".npz", "Give the weights a name"),
    ("x" * 65, "the most is 64"),
    ("a..b", "no '..'"),
    ("nul\x00byte", "Use only letters"),
    ("semi;colon", "Use only letters"),
    ("ünïcode", "Use only letters"),
    (None, "Give the weights a name"),
])
def test_a_name_that_could_escape_the_folder_is_refused(folder, name, message):
    with pytest.raises(user_weights.SaveError, match=message):
        user_weights.path_for(name)
    with pytest.raises(user_weights.SaveError):
        user_weights.save(MLP.init(hidden=4), name)
    assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize("name, file", [("my-run_5.v2", "my-run_5.v2.npz"), (" five.npz ", "five.npz"),
                                        ("x" * 64, "x" * 64 + ".npz")])
def test_a_plain_name_is_a_file_directly_in_the_folder(folder, name, file):
    path = user_weights.save(MLP.init(hidden=4), name)
    assert path == folder.resolve() / file and path.is_file()
    assert user_weights.saved() == [file]


def test_a_symlink_planted_in_the_folder_cannot_lead_outside(folder, tmp_path):
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (folder / "trap.npz").symlink_to(tmp_path / "elsewhere" / "target.npz")
    with pytest.raises(user_weights.SaveError, match="not be inside the weights folder"):
        user_weights.save(MLP.init(hidden=4), "trap")
    assert not (tmp_path / "elsewhere" / "target.npz").exists()


def test_the_shipped_weights_are_never_overwritten(tmp_path, monkeypatch):
    shipped = tmp_path / "weights" / "mlp_784_128_10.npz"          # a copy: the real file is never at risk
    shipped.parent.mkdir()
    shipped.write_bytes(weights.SHIPPED.read_bytes())
    monkeypatch.setattr(weights, "SHIPPED", shipped)
    monkeypatch.setenv(user_weights.FOLDER_ENV, str(shipped.parent))   # someone pointed the folder at weights/
    with pytest.raises(user_weights.SaveError, match="shipped weights"):
        user_weights.save(MLP.init(hidden=4), "mlp_784_128_10")
    assert shipped.read_bytes() == weights.SHIPPED.read_bytes() == (ROOT / "weights" / shipped.name).read_bytes()


def test_an_existing_file_is_never_replaced_even_by_two_savers_at_once(folder):
    user_weights.save(MLP.init(hidden=4, seed=1), "taken")
    original = (folder / "taken.npz").read_bytes()
    with pytest.raises(user_weights.SaveError, match="already exists"):
        user_weights.save(MLP.init(hidden=4, seed=2), "taken")
    assert (folder / "taken.npz").read_bytes() == original

    barrier = threading.Barrier(8)

    def save(seed):
        barrier.wait(10)
        try:
            user_weights.save(MLP.init(hidden=64, seed=seed), "race")
            return seed
        except user_weights.SaveError:
            return None
    outcomes = in_threads(save, range(8), timeout=10)
    [winner] = [seed for seed in outcomes if seed is not None]
    assert len(outcomes) == 8
    assert same_weights(weights.load(folder / "race.npz"), MLP.init(hidden=64, seed=winner))
    assert sorted(p.name for p in folder.iterdir()) == ["race.npz", "taken.npz"], "no temporary files left"


def test_the_folder_has_a_cap(folder, monkeypatch):
    monkeypatch.setattr(user_weights, "MAX_FILES", 2)
    user_weights.save(MLP.init(hidden=4), "one")
    user_weights.save(MLP.init(hidden=4), "two")
    with pytest.raises(user_weights.SaveError, match="holds 2 files"):
        user_weights.save(MLP.init(hidden=4), "three")


CRASH_MID_WRITE = """
import os, sys
from lab.store import user_weights
from mlp.model import MLP

opened = os.fdopen

class DiesHalfway:
    '''A file that writes half of what it is given, then the process dies (like a kill -9 or a power cut).'''
    def __init__(self, file): self.file = file
    def __enter__(self): return self
    def __exit__(self, *exc): self.file.close()
    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        os._exit(9)

os.fdopen = lambda fd, mode="r", *args, **kwargs: DiesHalfway(opened(fd, mode, *args, **kwargs))
user_weights.save(MLP.init(hidden=int(sys.argv[2])), sys.argv[1])
"""


@pytest.mark.slow
def test_a_crash_in_the_middle_of_saving_leaves_no_half_file(folder):
    user_weights.save(MLP.init(hidden=8, seed=1), "earlier")
    earlier = (folder / "earlier.npz").read_bytes()
    crash = subprocess.run([sys.executable, "-c", CRASH_MID_WRITE, "mine", "256"], cwd=ROOT,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, timeout=60)
    assert crash.returncode == 9, crash.stderr.decode()
    leftovers = [p for p in folder.iterdir() if p.name.startswith(".mine.npz.")]
    assert leftovers and 0 < leftovers[0].stat().st_size, "the process really died mid-write"
    assert not (folder / "mine.npz").exists()
    assert user_weights.saved() == ["earlier.npz"], "half-written files are never listed"
    assert (folder / "earlier.npz").read_bytes() == earlier
    user_weights.save(MLP.init(hidden=8, seed=2), "mine")                 # the name is free to use again
    assert weights.load(folder / "mine.npz").hidden == 8


def test_save_and_load_through_the_train_page(app, folder):
    app.switch_page(TRAIN).run()
    app.text_input(key=Key.SAVE_NAME).set_value("first try").run()
    click(app, "Save to the weights folder")
    assert any("Use only letters" in e.value for e in app.error)
    assert not folder.exists() or not any(folder.iterdir())

    outside = sorted(p.name for p in folder.parent.iterdir())
    app.text_input(key=Key.SAVE_NAME).set_value("../../escaped").run()
    click(app, "Save to the weights folder")
    assert any("cannot contain /" in e.value for e in app.error)
    assert sorted(p.name for p in folder.parent.iterdir()) == outside
    assert not list(folder.parent.parent.glob("escaped*"))

    app.text_input(key=Key.SAVE_NAME).set_value("first-try").run()
    click(app, "Save to the weights folder")
    assert any("Saved as first-try.npz" in s.value for s in app.success)
    assert same_weights(weights.load(folder / "first-try.npz"), models.shipped().model)

    click(app, "Save to the weights folder")                              # same name again
    assert any("already exists" in e.value for e in app.error)

    upload(app, "other.npz", weights.to_bytes(MLP.init(hidden=24, seed=1)))   # now use another model...
    assert model_in_use(app).hidden == 24
    app.selectbox(key=Key.SAVED_PICK).set_value("first-try.npz")
    click(app, "Load")                                                    # ...and load the saved one back
    no_errors(app)
    assert "Loaded from first-try.npz" in sidebar_text(app)
    assert same_weights(model_in_use(app), models.shipped().model)


def test_a_failed_save_says_so_and_leaves_nothing(app, folder, monkeypatch):
    def disk_full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(weights.os, "fsync", disk_full)
    app.switch_page(TRAIN).run()
    app.text_input(key=Key.SAVE_NAME).set_value("full").run()
    click(app, "Save to the weights folder")
    assert any("No space left on device" in e.value and "Nothing was written" in e.value for e in app.error)
    assert not app.exception
    assert list(folder.iterdir()) == []


def test_a_saved_file_damaged_on_disk_is_refused_when_loaded(app, folder):
    user_weights.save(MLP.init(hidden=8), "good")
    (folder / "bad.npz").write_bytes(b"scribbled over")
    app.switch_page(TRAIN).run()
    app.selectbox(key=Key.SAVED_PICK).set_value("bad.npz")
    click(app, "Load")
    assert any("Could not load bad.npz: not a weights file" in e.value for e in app.error)
    assert app.session_state[Key.MODEL_SOURCE] == state.SHIPPED


# -- many users -------------------------------------------------------------------------------------------

@needs_mnist
@pytest.mark.slow
def test_sessions_have_their_own_models_and_runs(monkeypatch):
    monkeypatch.setenv("MLP_LAB_MAX_TRAINING", str(runner_module.active_runs() + 2))
    alice, bob = new_session(), new_session()

    draw(alice, canvas_from_mnist(0))                                      # Alice teaches her model
    alice.selectbox(key=Key.TEACH_LABEL).set_value(3)
    click(alice, "Teach it")
    bob.run()
    assert alice.session_state[Key.MODEL_SOURCE] == state.OWN
    assert bob.session_state[Key.MODEL_SOURCE] == state.SHIPPED and Key.OWN_MODEL not in bob.session_state
    assert "Shipped weights" in sidebar_text(bob)

    for user in (alice, bob):                                               # both train at once
        user.switch_page(TRAIN).run()
        user.number_input(key=Key.train("epochs")).set_value(200).run()
        click(user, "Start")
    alices_run, bobs_run = session_runner(alice), session_runner(bob)
    assert alices_run is not bobs_run and alices_run.alive and bobs_run.alive
    run_until(bob, lambda at: progress_steps(at) > 0)
    click(bob, "Use on Draw")
    assert "Model being trained" in sidebar_text(bob)

    click(alice, "Reset")                                                   # Alice's Reset...
    assert session_runner(alice) is None and alices_run.join(10)
    steps = bobs_run.status().steps
    wait_for(lambda: bobs_run.status().steps > steps + 20)                  # ...does not touch Bob's run
    bob.run()
    assert bobs_run.alive and session_runner(bob) is bobs_run
    assert bob.session_state[Key.MODEL_SOURCE] == state.TRAINED

    upload(alice, "alices.npz", weights.to_bytes(MLP.init(hidden=20, seed=9)))   # nor does her upload
    bob.run()
    assert model_in_use(alice).hidden == 20 and model_in_use(bob).hidden == 128
    assert "Model being trained" in sidebar_text(bob)


@pytest.mark.slow
def test_the_shipped_model_is_loaded_once_and_shared_read_only():
    shipped = models.shipped()
    loads = weights.load_shipped.cache_info().misses
    users = [new_session() for _ in range(3)]
    for user in users:
        user.switch_page("pages/2_Hidden_units.py").run()
        no_errors(user)
    assert weights.load_shipped.cache_info().misses == loads, "no session loads its own copy"
    assert models.shipped() is shipped and shipped.model is weights.load_shipped()
    for name in weights.PARAMS:
        array_ = getattr(shipped.model, name)
        assert not array_.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array_ += 1


def test_the_cap_defaults_to_the_cpus_and_is_configurable(monkeypatch):
    monkeypatch.delenv("MLP_LAB_MAX_TRAINING", raising=False)
    assert runner_module.capacity() == (os.cpu_count() or 1)
    for configured, expected in (("3", 3), ("0", 1), ("many", os.cpu_count() or 1)):
        monkeypatch.setenv("MLP_LAB_MAX_TRAINING", configured)
        assert runner_module.capacity() == expected


@needs_mnist
@pytest.mark.slow
def test_a_reload_orphans_the_old_run_which_stops_within_10_seconds(monkeypatch):
    """A reload is a new session; the old one gets no more reruns, so no heartbeat, with the app's real timeout."""
    assert runner_module.HEARTBEAT_TIMEOUT < 10
    monkeypatch.setenv("MLP_LAB_MAX_TRAINING", str(runner_module.active_runs() + 1))
    before = new_session()
    before.switch_page(TRAIN).run()
    before.number_input(key=Key.train("epochs")).set_value(200).run()
    click(before, "Start")
    orphan = session_runner(before)
    run_until(before, lambda at: progress_steps(at) > 0)
    gone = time.monotonic()                               # the tab reloads: the old session's last rerun is over

    after = new_session()
    after.switch_page(TRAIN).run()
    assert session_runner(after) is None, "a new session starts with no run"
    click(after, "Start")
    assert any("busy" in w.value for w in after.warning), "the orphan still holds the only slot"

    assert orphan.join(12)
    stopped_after = time.monotonic() - gone
    assert stopped_after < 10, f"the orphaned run went on for {stopped_after:.1f} s"
    assert orphan.status().phase == runner_module.ORPHANED
    click(after, "Start")                                 # its slot is free again
    assert session_runner(after) is not None and session_runner(after).alive
