"""The Streamlit app without a browser (AppTest), and lab/'s pure helpers (backprop, images, figures)."""
from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import threading
import time
import tomllib

import numpy as np
import pytest

from lab.boundaries import boundaries_state
from lab.drawing import canvas
from lab.frame import actions
from lab.insight import backprop
from lab.my_digits import view as my_digits_view
from lab.plots import figures, images
from lab.session import state
from lab.session.state import Key
from lab.store import mnist, models
from lab.training import runner as runner_module
from mlp import weights
from mlp.model import MLP
from mlp.train import Config
from support import (PAGES, ROOT, array, canvas_from_mnist, click, draw, first_test_image_of, needs_mnist, no_errors,
                     open_details, plotly, prediction, progress_steps, run_until, session_runner, sidebar_text,
                     start_runner, tiny_data)


# -- every page -----------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["app.py"] + PAGES)
def test_every_page_renders_without_errors(app, page):
    if page != "app.py":
        app.switch_page(page).run()
    no_errors(app)
    assert app.title, "every page has a title"
    assert "Shipped weights" in sidebar_text(app)
    assert [link.proto.label for link in app.sidebar.get("page_link")] == \
        ["Draw", "Train", "Hidden units", "Backprop", "Evaluate", "Boundaries", "My digits"]


def test_widget_values_survive_a_page_switch(app):
    app.slider(key=Key.STROKE_WIDTH).set_value(25).run()
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key=Key.train("epochs")).set_value(7).run()
    app.switch_page("app.py").run()
    assert app.slider(key=Key.STROKE_WIDTH).value == 25
    app.switch_page("pages/1_Train.py").run()
    assert app.number_input(key=Key.train("epochs")).value == 7


def test_train_settings_survive_a_stale_value_under_their_key(app):
    """Issue 11 bug 1.  After a fragment rerun (the sidebar heartbeat while training) and a page switch,
    Streamlit hands back under a widget's key whatever it last stored there, e.g. the default written
    when the session opened on another page; the settings the user chose must win."""
    app.switch_page("pages/1_Train.py").run()
    for key, value in ((Key.train("epochs"), 200), (Key.train("lr"), 0.05), (Key.train("seed"), 3)):
        app.number_input(key=key).set_value(value).run()
    app.switch_page("app.py").run()
    for key, default in ((Key.train("epochs"), Config().epochs), (Key.train("lr"), 0.1), (Key.train("seed"), 0)):
        app.session_state[key] = default                        # what Streamlit falls back on
    app.switch_page("pages/1_Train.py").run()
    chosen = [app.number_input(key=Key.train(field)).value for field in ("epochs", "lr", "seed")]
    assert chosen == [200, 0.05, 3]


def test_model_choice_survives_a_stale_value_under_its_key(app):
    """Issue 11 bug 2: the same, for "Which model answers" chosen on Draw and read on every page."""
    small = MLP.init(hidden=40, seed=3)
    app.switch_page("pages/1_Train.py").run()
    upload = ("small.npz", weights.to_bytes(small), "application/zip")
    app.file_uploader(key=Key.UPLOAD).set_value(upload).run()
    app.switch_page("app.py").run()
    app.radio(key=Key.MODEL_SOURCE).set_value("shipped").run()
    app.radio(key=Key.MODEL_SOURCE).set_value("own").run()
    app.session_state[Key.MODEL_SOURCE] = "shipped"              # what Streamlit falls back on
    app.switch_page("pages/4_Evaluate.py").run()
    assert "Loaded from small.npz" in sidebar_text(app)


def test_a_callback_that_raises_becomes_a_message_and_the_page_goes_on(app, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the runner broke")
    monkeypatch.setattr(actions, "TrainingRunner", broken)
    app.switch_page("pages/1_Train.py").run()
    with caplog.at_level(logging.ERROR, logger="lab.session.state"):
        click(app, "Start")
    assert not app.exception
    assert any("(start)" in e.value and "RuntimeError: the runner broke" in e.value for e in app.error)
    [record] = [r for r in caplog.records if r.name == "lab.session.state"]
    assert record.exc_info and "the runner broke" in record.getMessage() + str(record.exc_info[1])
    app.number_input(key=Key.train("epochs")).set_value(7).run()      # the page goes on
    no_errors(app)                                                          # and the message was shown once
    assert app.number_input(key=Key.train("epochs")).value == 7


def test_no_traceback_reaches_the_page_from_an_uncaught_error():
    with open(ROOT / ".streamlit" / "config.toml", "rb") as config:
        assert tomllib.load(config)["client"]["showErrorDetails"] == "none"


def test_every_callback_the_pages_pass_is_wrapped():
    sources = "\n".join(path.read_text() for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))])
    view = (ROOT / "lab" / "my_digits" / "view.py").read_text()   # renders parts of pages, with its own callbacks
    homes = {"actions": actions, "canvas": canvas, "bd": boundaries_state}   # where the pages' callbacks live
    passed = set(re.findall(r"on_(?:click|change)=(\w+)\.(\w+)", sources + view))
    assert {("actions", "start"), ("actions", "stop"), ("actions", "teach_drawing"), ("canvas", "clear_canvas"),
            ("actions", "load_upload")} <= passed
    assert all(hasattr(getattr(homes[home], name), "__wrapped__") for home, name in passed)
    own = set(re.findall(r"on_(?:click|change)=(\w+)[,)]", view))
    assert {"confirm", "correct", "load_set"} <= own
    assert all(hasattr(getattr(my_digits_view, name), "__wrapped__") for name in own)
    not_callbacks = r"\"ignore\"|\"rerun\""       # what on_change may say instead of a callback
    assert not re.search(rf"on_(?:click|change)=(?!(?:actions|canvas|bd)\.|{not_callbacks})", sources), \
        "a callback from elsewhere"
    assert hasattr(state.kept("any")["on_change"], "__wrapped__")


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
    open_details(draw(app, canvas_from_mnist(0)))
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
    assert Key.canvas(1) in app.session_state


@needs_mnist
def test_teach_it_moves_probabilities_toward_the_named_digit(app):
    shipped_W1 = weights.load(weights.SHIPPED).W1
    draw(app, canvas_from_mnist(0))                       # a 7
    app.selectbox(key=Key.TEACH_LABEL).set_value(3)
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
@pytest.mark.slow
def test_training_runs_in_background_grows_loss_and_stops(app):
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key=Key.train("epochs")).set_value(50).run()
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
    app.radio(key=Key.MODEL_SOURCE).set_value("trained").run()
    assert "Trained model" in sidebar_text(app)
    draw(app, canvas_from_mnist(0))
    assert prediction(app) is not None


@needs_mnist
@pytest.mark.slow
def test_training_diverges_with_a_message_and_finite_weights(app):
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key=Key.train("lr")).set_value(100.0).run()
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
    app.file_uploader(key=Key.UPLOAD).set_value(("bad.npz", b"these are not weights", "application/zip")).run()
    assert any("not a weights file" in e.value for e in app.error)
    assert "Shipped weights" in sidebar_text(app)
    assert app.session_state[Key.MODEL_SOURCE] == "shipped"


def test_pickled_weights_are_refused(app):
    buffer = io.BytesIO()
    np.savez(buffer, W1=np.array([{"evil": 1}], dtype=object), b1=np.zeros(1), W2=np.zeros(1), b2=np.zeros(1))
    app.switch_page("pages/1_Train.py").run()
    app.file_uploader(key=Key.UPLOAD).set_value(("evil.npz", buffer.getvalue(), "application/zip")).run()
    assert any("pickled" in e.value for e in app.error)
    assert "Shipped weights" in sidebar_text(app)


def test_good_weights_upload_becomes_the_model_in_use_on_every_page(app):
    small = MLP.init(hidden=40, seed=3)
    app.switch_page("pages/1_Train.py").run()
    app.file_uploader(key=Key.UPLOAD).set_value(("small.npz", weights.to_bytes(small), "application/zip")).run()
    assert any("40 hidden units" in s.value for s in app.success)
    assert "Loaded from small.npz" in sidebar_text(app)
    for page in PAGES[1:]:
        app.switch_page(page).run()
        no_errors(app)
    app.switch_page("pages/2_Hidden_units.py").run()
    assert app.slider(key=Key.UNIT).max == 39


def test_weights_file_holds_the_run_at_click_time_or_the_fallback():
    shipped = actions.weights_file(None, models.shipped())()
    assert np.array_equal(weights.load(shipped).W1, models.shipped().model.W1)
    run = start_runner(config=Config(epochs=2, batch_size=32, hidden=16))
    make = actions.weights_file(run, models.shipped())
    assert run.join(30)
    saved = weights.load(make())
    assert saved.hidden == 16 and saved.meta["steps"] == run.status().steps
    assert np.array_equal(saved.W1, run.snapshot()[0].W1)
    assert actions.weights_file(None, None) is None


# -- Hidden units, Backprop, Evaluate -------------------------------------------------------

@needs_mnist
def test_hidden_units_page_shows_grid_and_unit_details(app):
    app.switch_page("pages/2_Hidden_units.py").run()
    app.slider(key=Key.UNIT).set_value(5).run()
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
    # Every entry agrees by gradcheck's own rule (above). Where round-off of the central difference
    # (~1e-10 absolute) is negligible, the relative error alone must be tiny too: on entries of 1e-5 it is
    # ~1e-5 by itself (2e-5 seen with the confident weights shipped since issue 20), on entries over 1e-4 ≤ 1e-6.
    large = table["analytic"].abs() > 1e-4
    assert large.any() and (table["relative error"][large] < 1e-5).all()


@needs_mnist
def test_evaluate_page_accuracy_confusion_and_cells(app):
    app.switch_page("pages/4_Evaluate.py").run()
    no_errors(app)
    accuracy = [m for m in app.metric if m.label == "Test accuracy"][0].value
    assert accuracy == f"{models.shipped().model.meta['test_accuracy']:.2%}"
    counts = array(plotly(app, "confusion")["data"][0]["text"])
    assert counts.sum() == 10_000
    app.selectbox(key=Key.CELL_TRUE).set_value(4)
    app.selectbox(key=Key.CELL_PREDICTED).set_value(4).run()
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
@pytest.mark.slow
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
        raise mnist.idx.MnistError("cannot reach any MNIST mirror")
    monkeypatch.setattr(mnist, "fetch", offline)
    app.switch_page("pages/1_Train.py").run()
    click(app, "Start")
    run_until(app, lambda at: at.error)
    assert session_runner(app).status().phase == runner_module.FAILED
    assert any("cannot reach any MNIST mirror" in e.value for e in app.error)
    assert [b for b in app.button if b.label == "Fetch again"]


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
    traces = figures.loss_traces(np.linspace(2, 0.1, 20_000), np.arange(1, 20_001))
    assert all(len(trace["x"]) <= figures.LOSS_POINTS for trace in traces)


@pytest.mark.slow
def test_figures_import_pandas_whole_before_any_session_can_build_a_figure():
    """Plotly reads pandas from sys.modules; imported lazily in one session's thread, another's saw it half-made."""
    check = ("import sys; import lab.plots.figures; pandas = sys.modules.get('pandas'); "
             "assert pandas is not None and hasattr(pandas, 'Series') and hasattr(pandas, 'Index')")
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
