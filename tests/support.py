"""Helpers the test files share (plain functions and constants; the shared fixtures are in conftest.py).

AppTest: a session, the canvas's picture built once (`png_url`, `canvas_sends`), and readers of
what a page shows.  Browser: Chromium's path and flags, a `streamlit run` server, strokes and
the Train page's progress bar, for tests/test_browser.py and tests/test_load.py.
"""
from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import io
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lab.session.state import Key
from lab.store import mnist
from lab.training.runner import Status, TrainingRunner
from mlp.train import Config

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TRAIN = "pages/1_Train.py"
PAGES = [TRAIN, "pages/2_Hidden_units.py", "pages/3_Backprop.py", "pages/4_Evaluate.py", "pages/6_My_digits.py"]
TIMEOUT = 60
needs_mnist = pytest.mark.skipif(not mnist.is_ready(), reason="MNIST is not downloaded (run `python -m mlp.fetch`)")


# -- AppTest sessions -------------------------------------------------------------------------

_sessions: list[AppTest] = []


def new_session() -> AppTest:
    """A fresh browser session (a new tab, or a reload): its own session state, the server's shared modules.

    Its training run, if any, is stopped after the test (conftest.py)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return track_session(at)


def track_session(at: AppTest) -> AppTest:
    """Have the session's training run stopped after the test (conftest.py)."""
    _sessions.append(at)
    return at


def stop_sessions() -> None:
    while _sessions:
        run = session_runner(_sessions.pop())
        if run is not None:
            run.stop()
            run.join(10)


def session_runner(at: AppTest) -> TrainingRunner | None:
    return at.session_state[Key.RUNNER] if Key.RUNNER in at.session_state else None


# -- the canvas -----------------------------------------------------------------------------------

def on_black(ink: np.ndarray) -> np.ndarray:
    """(H,W) uint8 ink → the canvas's (H,W,4) RGBA: white ink on opaque black."""
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., :3] = ink[..., None]
    rgba[..., 3] = 255
    return rgba


def png_url(picture: np.ndarray | Image.Image) -> str:
    """A picture as the PNG data URL the canvas sends."""
    buffer = io.BytesIO()
    (picture if isinstance(picture, Image.Image) else Image.fromarray(picture)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def canvas_sends(at: AppTest, data_url) -> AppTest:
    """As if the canvas had sent `data_url` as its picture (any value a client could send), with its Fabric JSON."""
    generation = at.session_state[Key.CANVAS_GENERATION] if Key.CANVAS_GENERATION in at.session_state else 0
    at.session_state[Key.canvas(generation)] = {
        "drawing": {"raw": {"objects": [{"type": "path"}], "background": "#000000"}, "data": data_url},
        "backgroundFit": None}
    return at.run()


def open_details(at: AppTest) -> AppTest:
    """Open the Draw page's details (the pipeline, why, the hidden layer), as a click on each would."""
    from lab.drawing.draw import DETAILS
    for key in DETAILS:
        at.session_state[key] = True
    return at.run()


def draw(at: AppTest, rgba: np.ndarray) -> AppTest:
    """As if the user had drawn `rgba` on the current canvas and lifted the mouse."""
    return canvas_sends(at, png_url(rgba))


def canvas_from_mnist(index: int) -> np.ndarray:
    """MNIST test digit `index` drawn on the 280×280 canvas: white ink on opaque black, like a user's."""
    X, _ = mnist.load("test")
    return on_black(np.asarray(Image.fromarray(X[index].reshape(28, 28)).resize((280, 280), Image.BILINEAR)))


def first_test_image_of(digit: int) -> int:
    _, y = mnist.load("test")
    return int(np.flatnonzero(y == digit)[0])


# -- what a page shows ------------------------------------------------------------------------------

def prediction(at: AppTest) -> str | None:
    found = [m.value for m in at.markdown if "Prediction:" in m.value]
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


def run_status(phase: str = "finished", losses=(2.3, 1.0, 0.5), steps=None, test=(), train=(), dead=(),
               epochs: int | None = None) -> Status:
    """A run's Status as the runner would report it, for figures and words without training a run."""
    losses = np.asarray(losses, dtype=float)
    steps = np.arange(1, len(losses) + 1) if steps is None else np.asarray(steps)
    return Status(phase=phase, message="", epoch=len(test), epochs=epochs or max(len(test), 1), steps=int(steps[-1]),
                  total_steps=int(steps[-1]), samples_per_second=0.0, eta_seconds=None, fetch_fraction=None,
                  fetch_step="", losses=losses, loss_steps=steps, test_accuracy=tuple(test),
                  train_accuracy=tuple(train), dead_units=tuple(dead))


def sidebar_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def progress_steps(at: AppTest) -> int:
    bars = [p.text for p in at.get("progress") if "steps:" in p.text]
    return int(bars[0].split("steps:")[1].split("/")[0].replace(",", "")) if bars else 0


def run_until(at: AppTest, condition, timeout: float = 30.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        if condition(at):
            return at
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# -- threads ---------------------------------------------------------------------------------------------

def in_threads(work, arguments, timeout: float = 60.0) -> list:
    """work(argument) for each argument, all at once in threads; their results in order.

    A worker's exception (a failed assert included) is raised here, in the calling test's thread:
    raised inside a plain threading.Thread it would only end that thread and the test would pass.
    """
    arguments = list(arguments)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        futures = [pool.submit(work, argument) for argument in arguments]
        return [future.result(timeout=timeout) for future in futures]


# -- training without Streamlit ------------------------------------------------------------------------

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


_runners: list[TrainingRunner] = []


def start_runner(load=lambda progress: tiny_data(), **kwargs) -> TrainingRunner:
    """A run on tiny_data (long unless `config` says otherwise), stopped after the test (conftest.py)."""
    config = kwargs.pop("config", Config(epochs=1000, batch_size=32, lr=0.1, hidden=16))
    run = TrainingRunner(config, load_data=load, **kwargs)
    run.start()
    _runners.append(run)
    return run


def stop_runners() -> None:
    while _runners:
        run = _runners.pop()
        run.stop()
        run.join(10)


# -- a real browser -----------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANVAS = '[class*="st-key-draw_canvas"] canvas.upper-canvas'
PREDICTION = ".st-key-prediction"
PROMPT = "Draw a digit from 0 to 9"

# The texts (buttons, paragraphs, headings, metrics, equations) and chart titles the page shows cut off, if any,
# in the element `root` selects (the whole page by default).
CUT_OFF = """(root) => {
    const cut = [], scope = document.querySelector(root || 'body');
    const texts = 'button, button *, [data-testid="stMarkdownContainer"] p, h1, h2, h3, '
                  + '[data-testid="stMetricValue"] *';
    for (const el of scope.querySelectorAll(texts)) {
        if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1) cut.push(el.innerText.slice(0, 60));
    }
    for (const equation of scope.querySelectorAll('.katex-display')) {   // italics overhang by a pixel or two
        if (equation.offsetParent !== null && equation.scrollWidth > equation.clientWidth + 4) {
            cut.push(equation.textContent.slice(0, 60));
        }
    }
    for (const title of scope.querySelectorAll('.main-svg .gtitle')) {
        const chart = title.closest('.main-svg').getBoundingClientRect(), box = title.getBoundingClientRect();
        if (box.left < chart.left - 1 || box.right > chart.right + 1) cut.push(title.textContent);
    }
    return cut;
}"""

# Strokes in canvas pixels (280×280), drawn the way a person would.
SEVEN = [[(75, 65), (205, 65), (185, 120), (155, 180), (130, 235)]]
ONE = [[(150, 45), (145, 140), (140, 235)]]
ZERO = [[(140 + 55 * math.sin(2 * math.pi * t / 24), 140 - 90 * math.cos(2 * math.pi * t / 24)) for t in range(25)]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(log_path: Path, max_training: int = 1,
                     options: tuple = ("--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false")):
    """`streamlit run app.py` on a free port of 127.0.0.1, logging to log_path; `options=()` leaves every
    setting but the port to .streamlit/config.toml.

    Yields (url, process); the server is stopped at the end, killed if it must be."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", *options],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, MLP_LAB_MAX_TRAINING=str(max_training), MALLOC_ARENA_MAX="2"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert process.poll() is None, f"streamlit exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"streamlit did not start:\n{log_path.read_text()}"
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def start_long_run(page, url: str) -> None:
    """Start a 200-epoch run on the Train page and wait until it trains."""
    page.goto(f"{url}/Train")
    epochs = page.locator('[class*="st-key-train_epochs"] input')
    epochs.fill("200")
    epochs.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Stop").and_(page.locator(":enabled")).wait_for()


def open_draw(page, url: str) -> None:
    page.goto(url)
    page.locator(CANVAS).wait_for()
    page.get_by_text(PROMPT).wait_for()


def draw_strokes(page, strokes) -> None:
    """Draw `strokes` (canvas pixels) on the Draw page's canvas with the mouse, as a person would."""
    canvas = page.locator(CANVAS)
    # After Clear the old canvas (old key) can linger in the DOM for a moment on a busy machine.
    deadline = time.monotonic() + 30
    while canvas.count() != 1:
        assert time.monotonic() < deadline, f"{canvas.count()} canvases on the page"
        page.wait_for_timeout(100)
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        page.mouse.up()


def read_prediction(page) -> str:
    """The digit in `Prediction: d`, once the app has answered (possibly "so far": the pen may not have rested)."""
    prediction = page.locator(PREDICTION)
    prediction.wait_for()
    return re.search(r"Prediction: (\d)", prediction.inner_text()).group(1)


def progress_bar(page):
    """The Train page's training progress bar (a locator: the same call for Playwright's sync and async pages)."""
    return page.locator('[data-testid="stProgress"]').filter(has_text="steps:").first


def steps_in(progress_text: str) -> int:
    return int(re.search(r"steps: ([\d,]+)", progress_text).group(1).replace(",", ""))
