"""Fixtures shared by the test files (their helpers are plain functions in tests/support.py).

Markers (registered in pytest.ini): `browser` for tests that drive Chromium against `streamlit run`,
`slow` for tests that take seconds each (training, the load test).  `pytest -m "not slow and not
browser"` is the quick subset; `make test` runs everything.  Without Chromium the `browser` tests are
skipped, saying why.  A browser test asks for `new_tab` (or `browser`), a test whose runs must not
meet another test's for `runs`, one that saves weights for `folder`.
"""
from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import threading

import pytest
from streamlit.testing.v1 import AppTest

import support
from lab.insight import backprop, evaluate
from lab.store import mnist, models, user_weights

# The quick subset's own time, printed at the end of every run (CI's full run included), so a slow test that
# lost its mark shows as a jump here. Printed, not asserted: timing depends on the machine's load.
QUICK_SUBSET_BUDGET_S = 120.0
_quick_seconds = [0.0, 0]


def pytest_runtest_logreport(report):
    if "slow" in report.keywords or "browser" in report.keywords:
        return
    _quick_seconds[0] += report.duration
    _quick_seconds[1] += report.when == "call"


def pytest_terminal_summary(terminalreporter):
    seconds, count = _quick_seconds
    if count:
        verdict = "within" if seconds <= QUICK_SUBSET_BUDGET_S else "OVER"
        terminalreporter.write_line(
            f"quick subset (-m 'not slow and not browser'): {count} tests, {seconds:.0f} s of test time, "
            f"{verdict} its {QUICK_SUBSET_BUDGET_S:.0f} s budget")


@pytest.fixture(autouse=True, scope="session")
def own_checkpoint_folder(tmp_path_factory):
    """Runs' checkpoints (lab/training/checkpoints.py) go to a folder of this test session,
    servers started by tests too."""
    saved = os.environ.get("MLP_LAB_RUNS")
    os.environ["MLP_LAB_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    yield
    if saved is None:
        os.environ.pop("MLP_LAB_RUNS", None)
    else:
        os.environ["MLP_LAB_RUNS"] = saved


@pytest.fixture
def app() -> AppTest:
    """A fresh session on the Draw page."""
    return support.new_session()


@pytest.fixture(autouse=True)
def stop_sessions_and_runners():
    """Whatever a test started trains no longer after it."""
    yield
    support.stop_sessions()
    support.stop_runners()


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


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Runs' checkpoints go to this test's own folder (servers the test starts inherit it, across a restart)."""
    monkeypatch.setenv("MLP_LAB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The shared weights folder (lab/store/user_weights.py), this test's own and not yet made."""
    home = tmp_path / "user-weights"
    monkeypatch.setenv(user_weights.FOLDER_ENV, str(home))
    return home


@pytest.fixture(scope="session")
def local_mirror(tmp_path_factory):
    """An MNIST mirror on 127.0.0.1 serving NAME.gz of the real files, like the public mirrors."""
    source = mnist.idx.data_dir()
    folder = tmp_path_factory.mktemp("mirror")
    for name in mnist.idx.SHA256:
        with open(source / name, "rb") as raw, gzip.open(folder / f"{name}.gz", "wb", compresslevel=1) as packed:
            shutil.copyfileobj(raw, packed)
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


# -- the browser tests' server and Chromium (one of each per test module) ----------------------------

def pytest_collection_modifyitems(items):
    """Every test marked `browser` (in its file) needs Chromium: without it, it is skipped and says why."""
    if os.path.exists(support.CHROMIUM):
        return
    no_chromium = pytest.mark.skip(reason=f"no Chromium at {support.CHROMIUM} (apt-get install chromium)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(no_chromium)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app's server for this module; yields (url, log path)."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    # One run at a time: test_browser's orphan test counts on it.
    with support.streamlit_server(log_path, max_training=1) as (url, _):
        yield url, log_path


@pytest.fixture(scope="module")
def playwright():
    """Playwright's sync API for this module (test_classroom also asks it for plain HTTP requests)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright):
    """Debian's Chromium, launched once per module: each test makes its own contexts (`new_tab`)."""
    chromium = playwright.chromium.launch(executable_path=support.CHROMIUM, args=support.CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_tab(browser):
    """new_tab(viewport=None, timeout_ms=30_000, **context_options): a tab in a context of its own (its own cookies,
    as another browser would have), waiting up to timeout_ms for each step. Its context is `tab.context`; every
    context made is closed after the test."""
    contexts = []

    def make(viewport: dict | None = None, timeout_ms: float = 30_000, **context_options):
        if viewport is not None:
            context_options["viewport"] = viewport
        contexts.append(browser.new_context(**context_options))
        tab = contexts[-1].new_page()
        tab.set_default_timeout(timeout_ms)
        return tab
    yield make
    for context in contexts:
        context.close()
