"""Hardening against a hostile user of a shared server: files that lie, a folder many write to,
memory one session may take, and the network the server answers on (issue 12)."""
from __future__ import annotations

import base64
import contextlib
import functools
import gc
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import tracemalloc
import weakref
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.boundaries import side_by_side as boundaries
from lab.insight import backprop, evaluate, hidden_map
from lab.plots import figures, words
from lab.session import share, state
from lab.session.state import Key
from lab.store import budget, mnist, models, user_weights
from lab.training import train_session, train_state
from lab.training.loss_history import LossHistory
from lab.training.runner import TrainingRunner
from mlp import weights
from mlp.model import MLP, as_inputs
from mlp.train import Config, Trainer
from mlp.weights import WeightsError
from hostile import (HOSTILE_TEXTS, compressed_with, encrypted, markdown_acts_on, needing_version,
                     npy_with_header_length, with_forged_count)
from hostile import refusal as refused_with_peak
from support import ROOT, in_threads, needs_mnist, new_session, streamlit_server

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


def weights_zip(hidden: int = 16, meta=None, compression: int = zipfile.ZIP_STORED, **members: bytes) -> bytes:
    """A weights file: good arrays for `hidden`, with `members` ({name: .npy bytes}) put in or replaced."""
    contents = {f"{k}.npy": npy(v) for k, v in MLP.init(hidden=hidden, seed=5).params().items()}
    if meta is not None:
        contents["meta_json.npy"] = npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))
    contents.update({f"{k}.npy": v for k, v in members.items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
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
    return refused_with_peak(weights.load, payload, WeightsError)


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
    # round 2 (issue 19): NumPy reads a header's whole declared length (2³⁰ here) before its own check
    "a 2^30-byte .npy v2 header, deflated": (
        lambda: weights_zip(W1=npy_with_header_length(2**30, 16 * 2**20), compression=zipfile.ZIP_DEFLATED),
        ".npy header declares 1,073,741,824 bytes"),
    "a 65,535-byte .npy v1 header": (lambda: weights_zip(W1=npy_with_header_length(0xFFFF, 0xFFFF, version=1)),
                                     ".npy header declares 65,535 bytes"),
    "20,000 members counted as 5": (lambda: with_forged_count(many_members(20_000), 5), "the zip's directory is"),
    "an encrypted member": (lambda: encrypted(weights_zip(), "W1.npy"), "W1.npy is encrypted"),
    "compression method 99": (lambda: compressed_with(weights_zip(), "b1.npy", 99), "compression method 99"),
    "zip version 9.9": (lambda: needing_version(weights_zip(), "W2.npy", 99), "zip version or feature"),
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


@pytest.mark.parametrize("kind", ["10^12 elements", "deep meta", "lessons abc", "300,000 members",
                                  "an encrypted member", "compression method 99"])
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


# -- 4. the shared weights folder -------------------------------------------------------------------

SAVE_MANY = """
import sys
from lab.store import user_weights
from mlp.model import MLP
from mlp.train import Config, Trainer
model, ok = MLP.init(hidden=1), 0
for i in range(int(sys.argv[2])):
    try:
        user_weights.save(model, f"{sys.argv[1]}-{i}")
        ok += 1
    except user_weights.SaveError:
        pass
print(ok)
"""


def test_the_file_cap_holds_when_processes_save_at_once(folder):
    folder.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    workers = [subprocess.Popen([sys.executable, "-c", SAVE_MANY, f"p{n}", "40"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, text=True) for n in range(6)]
    saved = sum(int(w.communicate(timeout=120)[0]) for w in workers)
    assert saved == user_weights.MAX_FILES == len(user_weights.saved())
    assert len(list(folder.glob("*.npz"))) == user_weights.MAX_FILES


def test_the_file_cap_holds_when_threads_save_at_once(folder, monkeypatch):
    monkeypatch.setattr(user_weights, "MAX_FILES", 30)
    model = MLP.init(hidden=1)

    def save_many(worker: int) -> list[bool]:
        outcomes = []
        for i in range(10):
            try:
                user_weights.save(model, f"t{worker}-{i}")
                outcomes.append(True)
            except user_weights.SaveError as e:
                assert "already holds 30 files" in str(e)
                outcomes.append(False)
        return outcomes
    # .result() re-raises a worker's failure here, in the test's own thread.
    outcomes = [saved for per_worker in in_threads(save_many, range(8)) for saved in per_worker]
    assert outcomes.count(True) == 30 == len(list(folder.glob("*.npz")))


def test_the_folder_has_a_byte_quota(folder, monkeypatch):
    one = len(weights.to_bytes(MLP.init(hidden=64)))
    monkeypatch.setattr(user_weights, "MAX_TOTAL_BYTES", int(2.5 * one))
    user_weights.save(MLP.init(hidden=64), "a")
    user_weights.save(MLP.init(hidden=64), "b")
    with pytest.raises(user_weights.SaveError, match="would pass its 0 MB limit"):
        user_weights.save(MLP.init(hidden=64), "c")
    assert sorted(p.name for p in folder.glob("*.npz")) == ["a.npz", "b.npz"]


def test_stale_temporary_files_are_deleted_when_the_folder_is_first_used(folder):
    folder.mkdir()
    stale = [folder / ".old.npz.x1.tmp", folder / ".mnist.part"]
    fresh = folder / ".now.npz.x2.tmp"                       # another process's save in progress
    for path in [*stale, fresh]:
        path.write_bytes(b"half a file")
    for path in stale:
        os.utime(path, (time.time() - 2 * user_weights.STALE_AFTER,) * 2)
    assert user_weights.saved() == []
    assert not any(p.exists() for p in stale) and fresh.exists()


@pytest.mark.parametrize("name, message", [
    ("CON", "device name"), ("nul", "device name"), ("com1", "device name"), ("LPT9.backup", "device name"),
    ("Aux.npz", "device name"), ("mine.", "cannot end with a dot"), ("mine. ", "cannot end with a dot"),
    ("MLP_784_128_10", "shipped weights"), ("mlp_784_128_10.NPZ", "shipped weights"),
])
def test_names_another_file_system_would_read_as_another_file_are_refused(folder, name, message):
    with pytest.raises(user_weights.SaveError, match=message):
        user_weights.save(MLP.init(hidden=4), name)
    assert not folder.exists() or not list(folder.glob("*.npz"))


def test_a_case_variant_of_a_saved_name_is_refused(folder):
    user_weights.save(MLP.init(hidden=4), "Mine")
    with pytest.raises(user_weights.SaveError, match="already exists"):
        user_weights.save(MLP.init(hidden=4), "mine")
    assert user_weights.saved() == ["Mine.npz"]


HOSTILE_NAME = ("![x](http://evil.example/pixel.png) :red[hi] <img src=x> http://evil.example/a www.evil.example "
                ":material/warning: a@evil.example $x$.npz")


def shown_markdown(at: AppTest) -> list[str]:
    """Every Markdown source the page shows (markdown, captions, alerts) and the sidebar's."""
    return [e.value for kind in ("markdown", "caption", "success", "error", "info", "warning")
            for e in at.get(kind)] + [m.value for m in at.sidebar.markdown]


def test_file_names_and_meta_never_become_markdown(folder):
    at = new_session()
    at.switch_page(TRAIN).run()
    upload(at, HOSTILE_NAME, weights.to_bytes(MLP.init(hidden=8), taught_from="![y](http://evil.example/y.png)"))
    texts = shown_markdown(at)
    assert any("Loaded" in t for t in texts)
    for text in texts:
        assert markdown_acts_on(text) == [], text
    label = at.session_state["own_model"].label
    assert words.plain(label) == label and label.startswith("Loaded from \\!\\[x\\]")


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_plain_text_is_shown_as_written(text):
    shown = words.plain(text)
    assert markdown_acts_on(shown) == []
    unescaped = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", shown).replace(words.BREAK, "")
    assert unescaped == text and words.plain(shown) == shown


def test_a_refused_file_is_quoted_as_plain_text(folder):
    at = new_session()
    at.switch_page(TRAIN).run()
    upload(at, "mine.npz", weights_zip(**{"www.evil.example": npy(np.zeros(3))}))
    [error] = [e.value for e in at.error]
    assert "Could not load mine.npz: unexpected array(s) www" in error and markdown_acts_on(error) == [], error


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
@pytest.mark.parametrize("fields", [train_session.LINK_FIELDS, boundaries.QUERY_FIELDS], ids=["Train", "Boundaries"])
def test_a_link_value_is_quoted_as_plain_text(fields, text):
    _, notes = share.parse({field.name: text for field in fields}, fields)
    assert len(notes) == len(fields)
    for note in notes:
        assert markdown_acts_on(note) == [], note


def test_the_train_page_shows_a_bad_link_value_as_plain_text():
    at = new_session()
    at.query_params.update({"lr": HOSTILE_TEXTS[0], "hidden": HOSTILE_TEXTS[2]})
    at.switch_page(TRAIN).run()
    warnings = [w.value for w in at.warning if "ignored" in w.value]
    assert warnings and all(markdown_acts_on(w) == [] for w in warnings), warnings


def test_the_server_path_of_the_weights_folder_is_not_shown(folder):
    at = new_session()
    at.switch_page(TRAIN).run()
    at.text_input(key="save_name").set_value("mine").run()
    [save] = [b for b in at.button if b.label == "Save to the weights folder"]
    save.click().run()
    assert any("Saved as mine.npz" in s.value for s in at.success)
    page = " ".join(shown_markdown(at)) + " ".join(b.help or "" for b in at.button)
    assert str(folder) not in page and str(folder.parent) not in page


# -- 3. network defaults ------------------------------------------------------------------------------

def websocket_handshake(port: int, host: str) -> str:
    """The status line a WebSocket upgrade to the app's stream gets when the request says `Host: host`."""
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def other_addresses() -> list[str]:
    """This machine's addresses other than loopback (where a LAN would reach it)."""
    try:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return []
    return [a for a in found if ":" not in a and not a.startswith("127.")]


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    """`streamlit run app.py` with only a port given: every other setting is .streamlit/config.toml's."""
    with streamlit_server(tmp_path_factory.mktemp("plain-server") / "server.log", options=()) as (url, _):
        yield int(url.rsplit(":", 1)[1])


def test_the_app_opens_its_websocket_only_for_its_own_host_names(plain_server):
    for host in (f"127.0.0.1:{plain_server}", f"localhost:{plain_server}", "localhost"):
        assert " 101 " in websocket_handshake(plain_server, host), host
    for host in ("evil.example", f"evil.example:{plain_server}", f"127.0.0.1.evil.example:{plain_server}"):
        status = websocket_handshake(plain_server, host)
        assert " 101 " not in status and status.startswith("HTTP/1.1 4"), (host, status)


def test_the_app_answers_on_this_machine_only(plain_server):
    for address in other_addresses():
        with pytest.raises(OSError):
            socket.create_connection((address, plain_server), timeout=3).close()
    with socket.create_connection(("127.0.0.1", plain_server), timeout=3):
        pass


# -- 2. memory and time per user ----------------------------------------------------------------------

def test_a_run_too_big_for_a_shared_server_is_refused_with_the_reason():
    with pytest.raises(budget.OverBudget, match=r"batch 60,000 × hidden 4,096 needs about 2\.\d GB of memory "
                                                r"\(2\.\d GB of hidden-layer buffers\), more than the 512 MB"):
        TrainingRunner(Config(batch_size=60_000, hidden=4096))
    with pytest.raises(budget.OverBudget, match=r"about 13\.4 billion multiply-adds, more than the 6 billion "
                                                r"that keep a step under a second \(Stop waits"):
        TrainingRunner(Config(batch_size=2048, hidden=4096))      # 172 MB, but 1–2 s a step
    with pytest.raises(budget.OverBudget, match="multiply-adds"):
        TrainingRunner(Config(batch_size=60_000, hidden=16))       # 0.3 GB; its gathering and converting alone
    TrainingRunner(Config(batch_size=512, hidden=4096))            # the largest hidden layer, at a sane batch
    TrainingRunner(Config(batch_size=16_384, hidden=128))
    TrainingRunner(Config())


def test_the_train_page_refuses_an_over_budget_run_and_starts_none(monkeypatch):
    at = new_session()
    at.switch_page(TRAIN).run()
    at.number_input(key=Key.train("batch_size")).set_value(60_000)
    at.number_input(key=Key.train("hidden")).set_value(4096).run()
    [start] = [b for b in at.button if b.label == "Start"]
    start.click().run()
    assert not at.exception
    assert any("Cannot start: batch 60,000 × hidden 4,096 needs about" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert Key.RUNNER not in at.session_state or at.session_state[Key.RUNNER] is None


@pytest.mark.parametrize("batch, hidden, augment", [(1000, 1024, True), (4096, 256, False), (60_000, 16, False)])
def test_a_runs_memory_stays_within_its_budget_estimate(batch, hidden, augment):
    """What the estimate promises is measured: NumPy's allocations for building a Trainer and taking steps."""
    X = np.random.default_rng(0).integers(0, 256, (60_000, 784), dtype=np.uint8)
    y = np.arange(60_000) % 10
    config = Config(batch_size=batch, hidden=hidden, augment=augment, momentum=0.9)
    tracemalloc.start()
    try:
        trainer = Trainer(MLP.init(hidden=hidden), X, y, config)
        for _ in range(2):
            trainer.train_batch()
        trainer.model.accuracy(X[:10_000], y[:10_000], budget.eval_batch(hidden))   # as the run slices it
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = sum(budget.memory_parts(config).values())
    assert peak <= estimate, f"peak {peak / 2**20:.0f} MB, estimate {estimate / 2**20:.0f} MB"


def test_the_loss_history_stays_bounded_and_keeps_the_curve():
    history, capacity = LossHistory(capacity=1024), 1024
    rng = np.random.default_rng(0)
    losses = (2.3 * np.exp(-np.arange(1_000_003) / 2e5) + 0.1 * rng.random(1_000_003)).astype(np.float32)
    for loss in losses:
        history.append(float(loss))
    steps, kept = history.curve()
    assert history.steps == len(losses) and steps[-1] == len(losses)
    assert len(kept) <= capacity + 1 and history.nbytes == capacity * 12
    widths = np.diff(np.concatenate([[0], steps]))
    assert np.all(widths[:-1] == widths[0]) and 0 < widths[-1] <= widths[0]   # the last point is still filling
    starts = np.concatenate([[0], steps[:-1]])               # each point is the mean of its stretch of steps
    assert np.allclose(kept, np.add.reduceat(losses.astype(float), starts) / np.diff(np.concatenate([[0], steps])),
                       rtol=1e-4)


def test_a_runs_status_reports_bounded_losses_with_their_steps():
    X = np.random.default_rng(0).integers(0, 256, (64, 784), dtype=np.uint8)
    run = TrainingRunner(Config(epochs=1000, batch_size=1, hidden=4, lr=0.01),
                         load_data=lambda progress: (X, np.arange(64) % 10, None, None))
    run._losses = LossHistory(capacity=64)   # small, so a few seconds of training fill it
    run.start()
    try:
        deadline = time.monotonic() + 60
        while run.status().steps < 1000:
            assert time.monotonic() < deadline and run.alive
            time.sleep(0.05)
    finally:
        run.stop()
        run.join(10)
    status = run.status()
    assert status.steps >= 1000 and len(status.losses) <= 65 and len(status.loss_steps) == len(status.losses)
    assert status.loss_steps[-1] == status.steps
    traces = figures.loss_traces(status.losses, status.loss_steps)
    assert traces[0]["x"][-1] == status.steps


@pytest.mark.parametrize("span", [1, 2, 50, 999])
def test_smoothing_is_the_moving_average_it_says(span):
    values = np.random.default_rng(span).random(5000) * np.linspace(3, 0.2, 5000)
    expected, running = np.empty(len(values)), values[0]
    for i, v in enumerate(values):                             # s_i = s_{i-1} + α (v_i − s_{i-1})
        running += 2 / (span + 1) * (v - running)
        expected[i] = running
    assert np.allclose(figures.smooth(values, span), expected, rtol=1e-9, atol=1e-12)


def test_derived_data_does_not_keep_a_departed_sessions_model_alive():
    model = MLP.init(hidden=512, dtype=np.float64)
    ref = models.new_ref(model, "Loaded from big.npz", prefix="upload")
    alive = weakref.ref(model.W1)
    models.incoming_image(ref, 3)
    models.dead_units(ref)
    models.test_outputs(ref)
    evaluate.evaluate(ref)
    hidden_map.hidden_map(ref)
    backprop.gradient_check(ref, np.zeros(784, np.float32).tobytes(), 3)
    del model, ref                                             # the session went away
    gc.collect()
    assert alive() is None, "a cache still holds the model"


def test_derived_data_is_bounded_in_bytes(monkeypatch):
    cache = models.test_outputs.cache
    monkeypatch.setattr(cache, "max_bytes", 5 * 10_000 * 10 * 4 // 2)   # room for 2.5 models' p
    cache.cache_clear()
    for seed in range(6):
        models.test_outputs(models.new_ref(MLP.init(hidden=64, seed=seed), "m"))
        assert cache.bytes <= cache.max_bytes
    assert 1 <= len(cache) <= 2


def test_the_end_of_epoch_test_pass_is_sliced_and_gives_up_at_stop(monkeypatch):
    """Stop is checked between slices of the test pass (a 4096-unit model's whole pass took 6 s here)."""
    X = np.random.default_rng(1).integers(0, 256, (1000, 784), dtype=np.uint8)
    y = np.arange(1000) % 10
    model = MLP.init(hidden=8)
    run = TrainingRunner(Config(hidden=8))
    monkeypatch.setattr(budget, "eval_batch", lambda hidden: 100)
    slices = []
    predict = model.predict

    def counting(inputs):
        slices.append(len(inputs))
        if len(slices) == 3:
            run.stop()                                          # pressed while the third slice is computed
        return predict(inputs)
    assert run._accuracy_on(model, X, y) == model.accuracy(X, y)   # whole pass: same answer as one piece
    monkeypatch.setattr(model, "predict", counting)
    assert run._accuracy_on(model, X, y) is None
    assert slices == [100, 100, 100]


@pytest.mark.browser
def test_bad_link_values_show_in_chromium_as_written(new_tab, server):
    """What Streamlit's Markdown really does with a link's values: no link, image, icon, emoji or LaTeX."""
    expect = pytest.importorskip("playwright.sync_api").expect
    url, _ = server
    tab = new_tab()
    for texts in (HOSTILE_TEXTS[:5], HOSTILE_TEXTS[5:]):
        query = "&".join(f"{name}={urllib.parse.quote(text)}" for name, text in zip(train_state.TRAIN_FIELDS, texts))
        tab.goto(f"{url}/Train?{query}")
        alerts = tab.locator('[data-testid="stAlert"] [data-testid="stMarkdownContainer"]')
        alerts = alerts.filter(has_text="ignored")
        expect(alerts).to_have_count(len(texts), timeout=60_000)
        shown = " ".join(alerts.all_inner_texts()).replace(words.BREAK, "")
        for text in texts:
            assert text in shown, shown
        acting = alerts.locator('a, img, .katex, [data-testid="stIconMaterial"]')
        assert acting.count() == 0, [acting.nth(i).evaluate("e => e.outerHTML") for i in range(acting.count())]
        assert "😄" not in shown


# -- the pages' test-set passes over an uploaded model (issue 19, item 6) -------------------------------

def peak_of(call) -> int:
    """Peak bytes Python and NumPy allocated while `call()` ran."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@needs_mnist
def test_the_pages_test_set_passes_stay_within_the_evaluation_budget():
    """Evaluate and Hidden units over a 1024-unit float64 upload: 10,000 × 1024 activations are 82 MB
    each (a1, h), and the old passes held both at once (700 MB at 4096 units)."""
    ref = models.new_ref(MLP.init(hidden=1024, seed=2, dtype=np.float64), "Loaded from wide.npz", prefix="upload")
    limit = budget.EVALUATION_BYTES + 16 * 2**20
    for name, call in [("Evaluate", lambda: evaluate.evaluate(ref)), ("dead units", lambda: models.test_outputs(ref)),
                       ("one unit", lambda: models.unit_activations(ref, 7)),
                       ("hidden map", lambda: hidden_map.hidden_map(ref))]:
        peak = peak_of(call)
        assert peak < limit, f"{name} took {peak / 2**20:.0f} MB"
    outputs, test = models.test_outputs(ref), mnist.test_set()
    whole = ref.model.forward(as_inputs(test[0][:500], ref.model.dtype))       # the same numbers, unsliced
    assert np.allclose(outputs.p[:500], whole.p)
    assert np.allclose(models.unit_activations(ref, 7)[:500], whole.h[:, 7])


def test_the_map_of_a_wide_model_is_the_same_pca_found_by_subspace_iteration(monkeypatch):
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(10), 70)
    H = rng.normal(0, 1, (10, 600))[labels] * [[3.0]] + rng.normal(0, 0.5, (700, 600))   # 600 > EXACT_UP_TO
    iterated = hidden_map.pca(H, labels)
    monkeypatch.setattr(hidden_map, "EXACT_UP_TO", 10_000)
    exact = hidden_map.pca(H, labels)
    assert np.allclose(iterated.points, exact.points, atol=1e-6 * np.abs(exact.points).max())
    assert np.allclose(iterated.explained, exact.explained)
    wide = hidden_map.pca(H[:300], labels[:300])                                  # h > n: the n × n Gram matrix
    assert np.allclose(np.abs(wide.axes.T @ wide.axes), np.eye(2), atol=1e-8)
