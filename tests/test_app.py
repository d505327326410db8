"""The Streamlit app without a browser (AppTest), and lab/ on its own (runner, backprop, images)."""
from __future__ import annotations

import base64
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lab import backprop, evaluate, figures, images, mnist, models, training
from lab import runner as runner_module
from lab.runner import TrainingBusy, TrainingRunner
from mlp import weights
from mlp.model import MLP
from mlp.train import Config

APP = "../app.py"
PAGES = ["pages/1_Train.py", "pages/2_Hidden_units.py", "pages/3_Backprop.py", "pages/4_Evaluate.py"]
TIMEOUT = 60
needs_mnist = pytest.mark.skipif(not mnist.is_ready(), reason="MNIST is not downloaded (run `python -m mlp.data`)")

ROOT = Path(__file__).resolve().parent.parent


# -- helpers ------------------------------------------------------------------------------

def canvas_state(rgba: np.ndarray) -> dict:
    """What streamlit-drawable-canvas puts in session state after a stroke: PNG data URL + Fabric JSON."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}], "background": "#000000"}, "data": url},
            "backgroundFit": None}


def canvas_from_mnist(index: int) -> np.ndarray:
    """MNIST test digit `index` drawn on the 280×280 canvas: white ink on opaque black, like a user's."""
    X, _ = mnist.load("test")
    gray = np.asarray(Image.fromarray(X[index].reshape(28, 28)).resize((280, 280), Image.BILINEAR))
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., :3] = gray[..., None]
    rgba[..., 3] = 255
    return rgba


def first_test_image_of(digit: int) -> int:
    _, y = mnist.load("test")
    return int(np.flatnonzero(y == digit)[0])


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def prediction(at: AppTest) -> str | None:
    found = [t for t in texts(at) if "Prediction:" in t]
    return found[0].split("Prediction:")[1].strip() if found else None


def plotly(at: AppTest, key: str) -> dict:
    """The spec of the plotly chart created with `key`, parsed from the proto."""
    charts = [el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    assert charts, f"no plotly chart {key!r}; have {[el.proto.id for el in at.get('plotly_chart')]}"
    return json.loads(charts[0].proto.spec)


def array(value) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.array(value)


def sidebar_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def draw(at: AppTest, rgba: np.ndarray) -> AppTest:
    """As if the user had drawn `rgba` on the current canvas and lifted the mouse."""
    generation = at.session_state["canvas_generation"] if "canvas_generation" in at.session_state else 0
    at.session_state[f"draw_canvas_{generation}"] = canvas_state(rgba)
    return at.run()


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def run_until(at: AppTest, condition, timeout: float = 30.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        if condition(at):
            return at
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def session_runner(at: AppTest) -> TrainingRunner | None:
    return at.session_state["runner"] if "runner" in at.session_state else None


def progress_steps(at: AppTest) -> int:
    bars = [p.text for p in at.get("progress") if "steps:" in p.text]
    return int(bars[0].split("steps:")[1].split("/")[0].replace(",", "")) if bars else 0


@pytest.fixture
def app():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    yield at
    run = session_runner(at)
    if run is not None:
        run.stop()
        run.join(10)


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    """MNIST absent: the data directory is empty and every cache that saw MNIST is forgotten."""
    monkeypatch.setenv("MLP_LAB_DATA", str(tmp_path))
    caches = (mnist.load, mnist.synthetic_digits, models.dead_units, models.test_outputs, evaluate.evaluate,
              backprop.gradient_check)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


@pytest.fixture(scope="module")
def local_mirror(tmp_path_factory):
    """An MNIST mirror on 127.0.0.1 serving NAME.gz of the real files, like the public mirrors."""
    source = mnist.data.data_dir()
    folder = tmp_path_factory.mktemp("mirror")
    for name in mnist.data.SHA256:
        with open(source / name, "rb") as raw, gzip.open(folder / f"{name}.gz", "wb", compresslevel=1) as packed:
            shutil.copyfileobj(raw, packed)
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


# -- every page -----------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["app.py"] + PAGES)
def test_every_page_renders_without_errors(app, page):
    if page != "app.py":
        app.switch_page(page).run()
    no_errors(app)
    assert app.title, "every page has a title"
    assert "Shipped weights" in sidebar_text(app)
    assert [link.proto.label for link in app.sidebar.get("page_link")] == \
        ["Draw", "Train", "Hidden units", "Backprop", "Evaluate"]


def test_widget_values_survive_a_page_switch(app):
    app.slider(key="stroke_width").set_value(25).run()
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key="train_epochs").set_value(7).run()
    app.switch_page("app.py").run()
    assert app.slider(key="stroke_width").value == 25
    app.switch_page("pages/1_Train.py").run()
    assert app.number_input(key="train_epochs").value == 7


# -- Draw -----------------------------------------------------------------------------------

def test_blank_canvas_asks_for_a_drawing(app):
    assert prediction(app) is None
    assert any("Draw a digit" in i.value for i in app.info)
    no_errors(app)


def test_black_canvas_is_blank_too(app):
    black = np.zeros((280, 280, 4), np.uint8)
    black[..., 3] = 255
    draw(app, black)
    assert prediction(app) is None
    assert any("Draw a digit" in i.value for i in app.info)


@needs_mnist
@pytest.mark.parametrize("digit", range(10))
def test_drawn_digit_is_read_right(app, digit):
    draw(app, canvas_from_mnist(first_test_image_of(digit)))
    no_errors(app)
    assert prediction(app) == str(digit)
    p = array(plotly(app, "probabilities")["data"][0]["y"])
    assert p.shape == (10,) and abs(p.sum() - 1) < 1e-4 and p.argmax() == digit


@needs_mnist
def test_draw_page_shows_pipeline_hidden_layer_and_units(app):
    draw(app, canvas_from_mnist(0))
    hidden = plotly(app, "hidden")["data"][0]
    assert array(hidden["z"]).shape == (8, 16)
    captions = [c for image in app.image for c in image.captions]
    assert {"cropped ink", "28×28 input x"} <= set(captions)            # the pipeline made visible
    assert sum(c.startswith("unit ") for c in captions) >= 3           # top units with their W1 columns
    assert any("units fire" in c.value for c in app.caption)


@needs_mnist
def test_clear_brings_back_the_prompt(app):
    draw(app, canvas_from_mnist(0))
    assert prediction(app) == "7"
    click(app, "Clear")
    assert prediction(app) is None
    assert "draw_canvas_1" in app.session_state


@needs_mnist
def test_teach_it_moves_probabilities_toward_the_named_digit(app):
    shipped_W1 = weights.load(weights.SHIPPED).W1
    draw(app, canvas_from_mnist(0))                       # a 7
    app.selectbox(key="teach_label").set_value(3)
    click(app, "Teach it")
    no_errors(app)
    before, after = (array(trace["y"]) for trace in plotly(app, "lesson")["data"])
    assert after[3] > before[3]
    assert after[7] < before[7]
    assert "Your model" in sidebar_text(app)
    assert np.array_equal(models.shipped().model.W1, shipped_W1), "the shared shipped model is never changed"
    shown = array(plotly(app, "probabilities")["data"][0]["y"])
    assert shown[3] == pytest.approx(after[3], abs=1e-5), "the taught model now answers"


@needs_mnist
def test_drawing_survives_a_page_switch(app):
    draw(app, canvas_from_mnist(1))                       # a 2
    app.switch_page("pages/3_Backprop.py").run()
    assert any("Your drawing" in c.value for c in app.caption)
    app.switch_page("app.py").run()
    no_errors(app)
    assert prediction(app) == "2"


# -- Train ---------------------------------------------------------------------------------

@needs_mnist
def test_training_runs_in_background_grows_loss_and_stops(app):
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key="train_epochs").set_value(50).run()
    click(app, "Start")
    run_until(app, lambda at: progress_steps(at) > 0)
    first = len(array(plotly(app, "loss_curve")["data"][0]["y"])) if progress_steps(app) > 1 else 0
    steps_before = progress_steps(app)
    app.switch_page("app.py").run()                       # training goes on on another page
    time.sleep(0.5)
    app.switch_page("pages/1_Train.py")
    run_until(app, lambda at: progress_steps(at) > steps_before + 50)
    assert len(array(plotly(app, "loss_curve")["data"][0]["y"])) > first
    click(app, "Stop")
    run = session_runner(app)
    assert run.join(10)
    app.run()
    assert run.status().phase == runner_module.STOPPED
    assert any("Stopped" in i.value for i in app.info)
    # The trained weights can now answer on the Draw page.
    app.switch_page("app.py").run()
    app.radio(key="model_source").set_value("trained").run()
    assert "Trained model" in sidebar_text(app)
    draw(app, canvas_from_mnist(0))
    assert prediction(app) is not None


@needs_mnist
def test_training_diverges_with_a_message_and_finite_weights(app):
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key="train_lr").set_value(100.0).run()
    click(app, "Start")
    run_until(app, lambda at: at.error)                   # the page, not just the runner, has seen it
    assert session_runner(app).status().phase == runner_module.DIVERGED
    messages = " ".join(e.value for e in app.error)
    assert "diverged" in messages.lower() and "last good weights" in messages
    model, _ = session_runner(app).snapshot()
    assert model.is_finite()


def test_training_is_refused_beyond_the_server_cap(app, monkeypatch):
    monkeypatch.setenv("MLP_LAB_MAX_TRAINING", "1")
    hold = threading.Event()
    blocker = start_runner(lambda progress: (hold.wait(20), tiny_data())[1], heartbeat_timeout=60)
    try:
        app.switch_page("pages/1_Train.py").run()
        click(app, "Start")
        assert any("busy" in w.value.lower() for w in app.warning)
        assert session_runner(app) is None
    finally:
        hold.set()
        blocker.stop()
        blocker.join(10)


def test_bad_weights_upload_is_refused_and_the_model_stays(app):
    app.switch_page("pages/1_Train.py").run()
    app.file_uploader(key="weights_upload").set_value(("bad.npz", b"these are not weights", "application/zip")).run()
    assert any("not a weights file" in e.value for e in app.error)
    assert "Shipped weights" in sidebar_text(app)
    assert app.session_state["model_source"] == "shipped"


def test_pickled_weights_are_refused(app):
    buffer = io.BytesIO()
    np.savez(buffer, W1=np.array([{"evil": 1}], dtype=object), b1=np.zeros(1), W2=np.zeros(1), b2=np.zeros(1))
    app.switch_page("pages/1_Train.py").run()
    app.file_uploader(key="weights_upload").set_value(("evil.npz", buffer.getvalue(), "application/zip")).run()
    assert any("pickled" in e.value for e in app.error)
    assert "Shipped weights" in sidebar_text(app)


def test_good_weights_upload_becomes_the_model_in_use_on_every_page(app):
    small = MLP.init(hidden=40, seed=3)
    app.switch_page("pages/1_Train.py").run()
    app.file_uploader(key="weights_upload").set_value(("small.npz", weights.to_bytes(small), "application/zip")).run()
    assert any("40 hidden units" in s.value for s in app.success)
    assert "Loaded from small.npz" in sidebar_text(app)
    for page in PAGES[1:]:
        app.switch_page(page).run()
        no_errors(app)
    app.switch_page("pages/2_Hidden_units.py").run()
    assert app.slider(key="hidden_unit").max == 39


def test_weights_file_holds_the_run_at_click_time_or_the_fallback():
    shipped = training.weights_file(None, models.shipped())()
    assert np.array_equal(weights.load(shipped).W1, models.shipped().model.W1)
    run = start_runner(config=Config(epochs=2, batch_size=32, hidden=16))
    make = training.weights_file(run, models.shipped())
    assert run.join(30)
    saved = weights.load(make())
    assert saved.hidden == 16 and saved.meta["steps"] == run.status().steps
    assert np.array_equal(saved.W1, run.snapshot()[0].W1)
    assert training.weights_file(None, None) is None


# -- Hidden units, Backprop, Evaluate -------------------------------------------------------

@needs_mnist
def test_hidden_units_page_shows_grid_and_unit_details(app):
    app.switch_page("pages/2_Hidden_units.py").run()
    app.slider(key="hidden_unit").set_value(5).run()
    no_errors(app)
    grid = array(plotly(app, "weight_grid")["data"][0]["z"])
    assert grid.shape == (8 * 29 - 1, 16 * 29 - 1)
    assert array(plotly(app, "outgoing")["data"][0]["y"]).shape == (10,)
    assert len(array(plotly(app, "histogram")["data"][0]["x"])) == 10_000
    assert any(m.label == "Dead units" for m in app.metric)


@needs_mnist
def test_backprop_page_shows_every_equation_and_a_passing_gradient_check(app):
    draw(app, canvas_from_mnist(0))
    app.switch_page("pages/3_Backprop.py").run()
    no_errors(app)
    assert len(app.latex) >= 13
    assert any("Your drawing" in c.value for c in app.caption)
    assert any("backprop matches" in s.value for s in app.success)
    table = app.dataframe[0].value
    assert set(table["parameter"]) == {"W1", "b1", "W2", "b2"}
    assert table["agrees"].all()
    large = table["analytic"].abs() > 1e-5
    assert large.any() and (table["relative error"][large] < 1e-5).all()


@needs_mnist
def test_evaluate_page_accuracy_confusion_and_cells(app):
    app.switch_page("pages/4_Evaluate.py").run()
    no_errors(app)
    accuracy = [m for m in app.metric if m.label == "Test accuracy"][0].value
    assert accuracy == f"{models.shipped().model.meta['test_accuracy']:.2%}"
    counts = array(plotly(app, "confusion")["data"][0]["text"])
    assert counts.sum() == 10_000
    app.selectbox(key="cell_true").set_value(4)
    app.selectbox(key="cell_predicted").set_value(4).run()
    cell_gallery, mistakes = app.image
    assert len(cell_gallery.value) == 30 and len(mistakes.value) == 30


def test_pages_without_mnist_explain_how_to_get_it(app, no_mnist):
    app.switch_page("pages/2_Hidden_units.py").run()
    no_errors(app)
    assert any("MNIST is needed" in i.value for i in app.info)
    app.switch_page("pages/4_Evaluate.py").run()
    assert any("not downloaded" in w.value for w in app.warning)
    assert [b for b in app.button if b.label == "Fetch MNIST"]
    app.switch_page("pages/3_Backprop.py").run()
    no_errors(app)
    assert any("synthetic" in c.value for c in app.caption)
    app.switch_page("pages/1_Train.py").run()
    assert any("not downloaded yet" in i.value for i in app.info)


@needs_mnist
def test_first_training_fetches_mnist_then_trains(app, local_mirror, no_mnist, monkeypatch, tmp_path):
    monkeypatch.setenv("MLP_LAB_MNIST_MIRRORS", local_mirror)
    monkeypatch.setenv("MLP_LAB_NPM", "")                 # no npm: the mirror it is
    assert not mnist.is_ready()
    app.switch_page("pages/1_Train.py").run()
    click(app, "Start")
    run_until(app, lambda at: progress_steps(at) > 0, timeout=60)
    assert mnist.is_ready() and (tmp_path / "train-images-idx3-ubyte").exists()
    click(app, "Stop")
    app.switch_page("pages/4_Evaluate.py").run()
    no_errors(app)
    assert [m for m in app.metric if m.label == "Test accuracy"]


def test_training_without_mnist_says_why_and_offers_to_fetch_again(app, no_mnist, monkeypatch):
    def offline(progress=None):
        progress(0.25, "t10k-images-idx3-ubyte")
        raise mnist.data.MnistError("cannot reach any MNIST mirror")
    monkeypatch.setattr(mnist, "fetch", offline)
    app.switch_page("pages/1_Train.py").run()
    click(app, "Start")
    run_until(app, lambda at: at.error)
    assert session_runner(app).status().phase == runner_module.FAILED
    assert any("cannot reach any MNIST mirror" in e.value for e in app.error)
    assert [b for b in app.button if b.label == "Fetch again"]


# -- lab.runner without Streamlit ----------------------------------------------------------------

def tiny_data(n: int = 2048, seed: int = 0):
    """Learnable toy data: the label is which quarter of the image holds the ink."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = np.zeros((n, 28, 28), np.uint8)
    for label in range(4):
        rows = y == label
        r, c = divmod(label, 2)
        X[rows, r * 14:r * 14 + 14, c * 14:c * 14 + 14] = rng.integers(100, 256, (rows.sum(), 14, 14))
    X = X.reshape(n, 784)
    return X, y, X[:256], y[:256]


_started: list[TrainingRunner] = []


def start_runner(load=lambda progress: tiny_data(), **kwargs) -> TrainingRunner:
    config = kwargs.pop("config", Config(epochs=1000, batch_size=32, lr=0.1, hidden=16))
    run = TrainingRunner(config, load_data=load, **kwargs)
    run.start()
    _started.append(run)
    return run


@pytest.fixture(autouse=True)
def stop_leftover_runners():
    yield
    while _started:
        run = _started.pop()
        run.stop()
        run.join(10)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_runner_pause_resume_stop():
    run = start_runner()
    wait_for(lambda: run.status().steps > 10)
    run.pause()
    wait_for(lambda: run.status().phase == runner_module.PAUSED)
    paused_at = run.status().steps
    time.sleep(0.3)
    assert run.status().steps <= paused_at + 1, "at most the step in flight finishes after pause"
    run.resume()
    wait_for(lambda: run.status().steps > paused_at + 10)
    run.stop()
    assert run.join(5)
    status = run.status()
    assert status.phase == runner_module.STOPPED and not status.active
    assert len(status.losses) == status.steps and np.isfinite(status.losses).all()


def test_runner_learns_and_finishes_with_test_accuracy():
    run = start_runner(config=Config(epochs=3, batch_size=32, lr=0.1, hidden=16))
    assert run.join(30)
    status = run.status()
    assert status.phase == runner_module.FINISHED and status.epoch == 3
    assert len(status.test_accuracy) == 3 and status.test_accuracy[-1] > 0.9
    assert status.losses[-20:].mean() < status.losses[:20].mean()


def test_runner_stops_itself_when_the_heartbeat_stops():
    run = start_runner(heartbeat_timeout=0.5)
    for _ in range(10):                 # a live page keeps it going...
        run.touch()
        time.sleep(0.1)
    assert run.alive
    started = time.monotonic()         # ...an orphaned one ends within the timeout (the app uses ~8 s)
    assert run.join(10)
    assert time.monotonic() - started < 10
    assert run.status().phase == runner_module.ORPHANED
    assert "went away" in run.status().message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_runner_threads_give_way_to_page_threads():
    """A lower CPU priority than the server's threads, and a GIL handed over within 0.5 ms, not 5."""
    default = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        run = start_runner()
        wait_for(lambda: run.status().steps > 0)
        server_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        training_nice = os.getpriority(os.PRIO_PROCESS, run._thread.native_id)
        assert training_nice == min(19, server_nice + runner_module.TRAINING_NICENESS) > server_nice
        assert sys.getswitchinterval() <= runner_module.GIL_SWITCH_INTERVAL < 0.005
    finally:
        sys.setswitchinterval(default)


def test_runner_caps_concurrent_runs(monkeypatch):
    monkeypatch.setenv("MLP_LAB_MAX_TRAINING", str(runner_module.active_runs() + 2))
    first, second = start_runner(), start_runner()
    with pytest.raises(TrainingBusy, match="busy"):
        start_runner()
    first.stop()
    assert first.join(5)
    third = start_runner()              # a finished run frees its slot
    assert third.alive and second.alive


def test_runner_divergence_keeps_last_good_finite_weights():
    run = start_runner(config=Config(epochs=5, batch_size=32, lr=100.0, hidden=16))
    assert run.join(30)
    status = run.status()
    assert status.phase == runner_module.DIVERGED
    assert "diverged" in status.message.lower() and "last good weights" in status.message
    model, _ = run.snapshot()
    assert model.is_finite()


def test_runner_reports_a_data_failure():
    def missing(progress):
        raise mnist.data.MnistError("no MNIST here")
    run = start_runner(missing)
    assert run.join(5)
    assert run.status().phase == runner_module.FAILED and "no MNIST here" in run.status().message


def test_runner_shows_fetch_progress():
    release = threading.Event()

    def fetching(progress):
        progress(0.4, "train-images-idx3-ubyte")
        release.wait(10)
        return tiny_data()
    run = start_runner(fetching)
    wait_for(lambda: run.status().phase == runner_module.FETCHING)
    assert run.status().fetch_fraction == pytest.approx(0.4)
    assert run.status().fetch_step == "train-images-idx3-ubyte"
    release.set()
    wait_for(lambda: run.status().phase == runner_module.RUNNING)


def test_snapshot_is_a_read_only_copy_that_changes_only_with_the_weights():
    run = start_runner()
    wait_for(lambda: run.snapshot() is not None and run.status().steps > 5)
    run.pause()
    wait_for(lambda: run.status().phase == runner_module.PAUSED)
    (model, version), (again, version_again) = run.snapshot(), run.snapshot()
    assert version == version_again and model is again        # cheap while nothing changes
    with pytest.raises(ValueError):
        model.W1[0, 0] = 1.0
    run.resume()
    wait_for(lambda: run.snapshot()[1] != version)
    assert not np.array_equal(run.snapshot()[0].W1, model.W1)


# -- lab helpers ----------------------------------------------------------------------------------

def test_backprop_trace_matches_the_engine_and_gradient_check_passes():
    model = MLP.init(hidden=12, seed=1)
    x = np.random.default_rng(0).random(784).astype(np.float32)
    t = backprop.trace(model, x, 4)
    g = model.backward(t.X, np.array([4]), model.forward(t.X))
    assert all(np.array_equal(a, b) for a, b in zip((t.gW1, t.gb1, t.gW2, t.gb2, t.dz, t.dh, t.da1), g))
    assert t.dz.shape == (1, 10) and t.gW1.shape == (784, 12) and t.da1.shape == (1, 12)
    assert np.allclose(t.gb2, t.dz[0]) and np.allclose(t.gb1, t.da1[0])
    ref = models.new_ref(model, "test")
    rows = backprop.gradient_check(ref, x.tobytes(), 4)
    assert {r.parameter for r in rows} == {"W1", "b1", "W2", "b2"}
    assert all(r.agrees for r in rows)


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    model = MLP.init(hidden=12, seed=1)
    x = np.random.default_rng(0).random(784).astype(np.float32)
    wrong = MLP.backward

    def backward_with_a_wrong_b1(self, X, y, cache, out=None):
        g = wrong(self, X, y, cache, out)
        return g._replace(b1=g.b1 * 2)
    monkeypatch.setattr(MLP, "backward", backward_with_a_wrong_b1)
    rows = backprop.gradient_check(models.new_ref(model, "broken"), x.tobytes(), 4)
    assert not all(r.agrees for r in rows if r.parameter == "b1")
    assert all(r.agrees for r in rows if r.parameter != "b1")


def test_signed_weight_image_colours():
    picture = images.signed(np.array([[-1.0, 0.0, 1.0]]), factor=2)
    assert picture.shape == (2, 6, 3)
    blue, white, red = picture[0, 0], picture[0, 2], picture[0, 4]
    assert blue[2] > blue[0] and red[0] > red[2] and white.min() > 240


def test_loss_curve_is_thinned_for_long_runs():
    spec = figures.loss_curve(np.linspace(2, 0.1, 20_000)).to_plotly_json()
    assert all(len(trace["x"]) <= figures.LOSS_POINTS for trace in spec["data"])


def test_figures_import_pandas_whole_before_any_session_can_build_a_figure():
    """Plotly reads pandas from sys.modules; imported lazily in one session's thread, another's saw it half-made."""
    check = ("import sys; import lab.figures; pandas = sys.modules.get('pandas'); "
             "assert pandas is not None and hasattr(pandas, 'Series') and hasattr(pandas, 'Index')")
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
