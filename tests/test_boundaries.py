"""The Boundaries page: toy data, softmax regression beside the MLP, the page (AppTest) and one browser run."""
from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.boundaries import boundaries_state, side_by_side as boundaries, toy
from lab.session import state
from lab.store import blas
from support import needs_mnist, streamlit_server
from lab.boundaries.side_by_side import LINEAR, NETWORK, Settings, SideBySide
from mlp.model import output_delta
from mlp.train import Trainer

APP = "../app.py"
PAGE = "pages/5_Boundaries.py"
TIMEOUT = 120


# -- toy data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(toy.MAKERS))
def test_toy_sets_have_the_promised_shape_labels_and_determinism(name):
    X, y = toy.make(name, points=301, noise=0.1, seed=4)
    assert X.shape == (301, 2) and X.dtype == np.float32
    assert y.shape == (301,) and set(np.unique(y)) == {0, 1}
    assert abs(int((y == 1).sum()) - int((y == 0).sum())) <= 1            # balanced
    assert np.abs(X).max() < toy.EXTENT                                    # fits the plots
    again = toy.make(name, points=301, noise=0.1, seed=4)
    assert np.array_equal(X, again[0]) and np.array_equal(y, again[1])
    other = toy.make(name, points=301, noise=0.1, seed=5)
    assert not np.array_equal(X, other[0])
    quiet, _ = toy.make(name, points=301, noise=0.0, seed=4)
    # The noise is added on top of the same clean points: its size is the jitter's σ.
    assert 0.07 < float(np.std(X - quiet)) < 0.13


def test_toy_sets_are_what_their_names_say_without_noise():
    X, y = toy.make("xor", 400, noise=0.0)
    assert np.array_equal(y == 1, X[:, 0] * X[:, 1] > 0)                  # orange where the signs agree
    X, y = toy.make("circles", 400, noise=0.0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius[y == 1].max() < radius[y == 0].min()                     # disc inside the ring
    X, y = toy.make("moons", 400, noise=0.0)
    assert X[y == 0, 1].mean() > X[y == 1, 1].mean()                       # upper moon is class 0


@pytest.mark.parametrize("args, problem", [(("blob",), "unknown data set"), (("xor", 1), "points"),
                                           (("xor", 10.5), "points"), (("xor", 100, -0.1), "noise"),
                                           (("xor", 100, float("nan")), "noise")])
def test_toy_sets_refuse_bad_arguments(args, problem):
    with pytest.raises(ValueError, match=problem):
        toy.make(*args)


# -- the two models side by side ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_on_xor_the_mlp_separates_the_points_and_softmax_regression_cannot(seed):
    side = SideBySide(Settings(data="xor", points=400, hidden=8, lr=0.3, seed=seed))
    assert side.X.shape == (400, 2)
    for _ in range(40):
        assert side.train(50, lr=0.3) == []
    accuracy = side.accuracy()
    assert side.steps == 2000
    assert accuracy[NETWORK] >= 0.95, accuracy
    assert accuracy[LINEAR] <= 0.75, accuracy
    assert side.history[0].steps == 0 and side.history[-1] == (2000, accuracy[LINEAR], accuracy[NETWORK])


def test_the_models_have_two_inputs_and_the_chosen_hidden_units():
    side = SideBySide(Settings(data="circles", hidden=5))
    mlp = side.models[NETWORK]
    assert mlp.W1.shape == (2, 5) and mlp.W2.shape == (5, toy.CLASSES)
    assert side.models[LINEAR].predict_proba(side.X).shape == (len(side.y), toy.CLASSES)
    regions = side.regions(NETWORK)
    assert regions.shape == (boundaries.GRID, boundaries.GRID)
    assert np.all((regions >= 0) & (regions <= 1))
    assert len(side.unit_lines()) == 5


def test_a_step_is_one_engine_sgd_step_of_each_model():
    """One full-batch step of the Trainer: the engine's forward and backprop with η folded into δz,
    bit for bit; and θ ← θ − η∇θ of `step` up to float rounding."""
    side, twin = SideBySide(Settings(data="moons", hidden=4)), SideBySide(Settings(data="moons", hidden=4))
    plain = SideBySide(Settings(data="moons", hidden=4))
    before = {name: {k: v.copy() for k, v in m.params().items()} for name, m in side.models.items()}
    side.train(1, lr=0.1)
    for name, model in side.models.items():
        for key, theta in model.params().items():
            assert not np.allclose(theta, before[name][key]), (name, key)
        by_hand = twin.models[name]
        cache = by_hand.forward(twin.X)
        dz = output_delta(cache.p, twin.y)
        dz *= 0.1                                                          # η δz
        for theta, eta_grad in zip(by_hand.params().values(), by_hand.backprop(twin.X, cache, dz)):
            theta -= eta_grad                                              # θ ← θ − η∇θ
        by_step = plain.models[name]
        by_step.step(by_step.backward(plain.X, plain.y, by_step.forward(plain.X)), 0.1)
        for key, theta in model.params().items():
            assert np.array_equal(theta, by_hand.params()[key]), (name, key)
            np.testing.assert_allclose(theta, by_step.params()[key], rtol=1e-6, atol=1e-7)


def test_a_diverging_model_is_put_back_and_named():
    side = SideBySide(Settings(data="xor", hidden=16))
    side.train(10, lr=0.3)
    kept = {name: {k: v.copy() for k, v in m.params().items()} for name, m in side.models.items()}
    # A ReLU net given a large step mostly loses units and stays finite; a step this size overflows.
    assert side.train(20, lr=1e30) == ["MLP"]
    assert side.steps == 10 and len(side.history) == 2
    for key, theta in side.models[NETWORK].params().items():
        assert np.array_equal(theta, kept[NETWORK][key]), key
    assert any(not np.array_equal(theta, kept[LINEAR][key])                  # it kept its steps
               for key, theta in side.models[LINEAR].params().items())
    assert side.train(10, lr=0.3) == [] and side.steps == 20


def test_the_toy_steps_and_the_mnist_comparison_run_the_one_sgd_loop(monkeypatch):
    """Boundaries trains through mlp.train.Trainer, the loop (and divergence guard) behind Train."""
    calls = []
    real = Trainer.train_batch

    def spy(trainer):
        calls.append(type(trainer.model).__name__)
        return real(trainer)

    monkeypatch.setattr(Trainer, "train_batch", spy)
    assert SideBySide(Settings(data="xor")).train(3, lr=0.3) == []
    assert sorted(calls) == ["MLP"] * 3 + ["SoftmaxRegression"] * 3
    calls.clear()
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (200, 784), dtype=np.uint8), rng.integers(0, 10, 200)
    monkeypatch.setattr(boundaries.mnist, "test_set", lambda: (X[:50], y[:50]))
    monkeypatch.setattr(boundaries.mnist, "load", lambda part: (X, y))
    assert boundaries.mnist_comparison.__wrapped__(seed=0) is not None
    steps = boundaries.MNIST_EPOCHS * -(-len(y) // boundaries.MNIST_BATCH)
    assert calls.count("MLP") == steps and calls.count("SoftmaxRegression") == steps


def test_clip_line_finds_the_segment_inside_the_square():
    (start, end) = boundaries.clip_line(1.0, 0.0, -0.5, 1.5)              # x = 0.5
    assert {start, end} == {(0.5, -1.5), (0.5, 1.5)}
    start, end = boundaries.clip_line(1.0, -1.0, 0.0, 1.0)                # y = x, through the corners
    assert np.allclose(sorted([start, end]), [(-1, -1), (1, 1)])
    assert boundaries.clip_line(1.0, 0.0, -3.0, 1.5) is None               # x = 3, outside
    assert boundaries.clip_line(0.0, 0.0, 1.0, 1.5) is None                # no line at all


# -- settings in the link ----------------------------------------------------------------------------

def test_settings_round_trip_through_the_query_string():
    chosen = Settings(data="spiral", noise=0.25, points=620, hidden=33, lr=0.03, seed=77)
    query = boundaries.to_query(chosen)
    assert query == {"data": "spiral", "noise": "0.25", "points": "620", "hidden": "33", "lr": "0.03", "seed": "77"}
    assert boundaries.from_query(query) == (chosen, [])
    assert boundaries.from_query({}) == (Settings(), [])
    assert boundaries.from_query({"data": "MOONS", "other": "x"}) == (Settings(data="moons"), [])


@pytest.mark.parametrize("key, value", [("data", "blob"), ("noise", "-1"), ("noise", "nan"), ("points", "5"),
                                        ("points", "12.5"), ("hidden", "0"), ("hidden", "1e9"), ("lr", "0.2"),
                                        ("lr", "fast"), ("seed", "-3"), ("seed", ""), ("hidden", "inf")])
def test_a_bad_value_in_the_link_falls_back_to_its_default_with_a_note(key, value):
    settings, notes = boundaries.from_query({key: value, "hidden": "12"} if key != "hidden" else {key: value})
    assert getattr(settings, key) == getattr(Settings(), key)
    assert len(notes) == 1 and f"{key}=" in notes[0] and "ignored" in notes[0]
    if key != "hidden":
        assert settings.hidden == 12                                        # the good values are kept


# -- MNIST --------------------------------------------------------------------------------------------

@needs_mnist
def test_on_mnist_the_mlp_beats_softmax_regression():
    blas.use_one_thread()
    result = boundaries.mnist_comparison()
    assert 0.85 < result.linear < 0.94, result
    assert result.mlp > result.linear + 0.03, result


# -- the page through AppTest --------------------------------------------------------------------------

def open_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.query_params.update(query or {})
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> dict[str, dict]:
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def accuracy(at: AppTest, model: str) -> float:
    [metric] = [m for m in at.metric if m.label.startswith(model) and "training accuracy" in m.label]
    return float(metric.value.rstrip("%")) / 100


def steps(at: AppTest) -> int:
    [metric] = [m for m in at.metric if m.label == "SGD steps"]
    return int(metric.value.replace(",", ""))


def values(array) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64), "shape"}."""
    if not (isinstance(array, dict) and "bdata" in array):
        return np.array(array, dtype=float)
    flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return flat.reshape([int(n) for n in str(array["shape"]).split(",")]) if "shape" in array else flat


def shown_points(spec: dict) -> np.ndarray:
    """(N,2) the points drawn as markers on a regions figure."""
    markers = [t for t in spec["data"] if t.get("mode") == "markers"]
    return np.concatenate([np.stack([values(t["x"]), values(t["y"])], axis=1) for t in markers])


def region_traces(spec: dict) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for trace in spec["data"]:
        kinds.setdefault(trace.get("type", "scatter"), []).append(trace)
    return kinds


def test_the_page_shows_both_models_regions_with_the_points_on_top():
    at = open_page()
    specs = charts(at)
    for key in ("bd_linear_regions", "bd_mlp_regions"):
        traces = region_traces(specs[key])
        [heatmap] = traces["heatmap"]
        assert values(heatmap["z"]).shape == (boundaries.GRID, boundaries.GRID)
        [border] = traces["contour"]
        assert border["contours"]["start"] == border["contours"]["end"] == 0.5
        np.testing.assert_array_equal(values(border["z"]), values(heatmap["z"]))
        assert len(shown_points(specs[key])) == 400
        assert [t["type"] for t in specs[key]["data"]][-1] == "scatter"    # points drawn last, on top
    assert steps(at) == 0
    assert at.query_params == boundaries.to_query(Settings())               # the link shows the setting
    assert any("Why a straight line cannot separate XOR" in m.value for m in at.markdown)


def test_play_trains_both_models_and_pause_stops():
    at = open_page({"data": "xor", "hidden": "8", "lr": "1"})
    start = accuracy(at, "MLP")
    at.button(key="bd_play").click().run()
    assert at.button(key="bd_play").label == "Pause"
    for _ in range(12):                    # each run is one tick of the live fragment
        at.run()
    assert steps(at) > 0
    assert accuracy(at, "MLP") >= 0.9 > start
    assert accuracy(at, "Softmax regression") <= 0.75
    at.button(key="bd_play").click().run()
    assert at.button(key="bd_play").label == "Play"
    paused_at = steps(at)
    at.run()
    assert steps(at) == paused_at
    at.button(key="bd_step").click().run()
    assert steps(at) == paused_at + boundaries.STEPS_PER_TICK
    at.button(key="bd_reset").click().run()
    assert steps(at) == 0


def test_play_and_pause_set_the_state_so_a_doubled_click_means_what_its_label_said(monkeypatch):
    """A Pause click that reaches the server twice (or after a fragment run changed the state) must not
    toggle back to playing."""
    monkeypatch.setattr(state.st, "session_state", {})
    for play in (True, True, False, False, True):
        boundaries_state.boundaries_set_playing(play)
        assert boundaries_state.boundaries_playing() is play


def test_play_stops_by_itself_after_a_chunk_of_steps(monkeypatch):
    monkeypatch.setattr(boundaries_state, "BOUNDARIES_PLAY_CHUNK", 2 * boundaries.STEPS_PER_TICK)
    at = open_page()
    at.button(key="bd_play").click().run()
    at.run()
    assert at.button(key="bd_play").label == "Play"
    assert steps(at) == 2 * boundaries.STEPS_PER_TICK
    assert any("press Play to go on" in i.value for i in at.info)
    at.run()
    assert steps(at) == 2 * boundaries.STEPS_PER_TICK


def test_changing_settings_redraws_and_updates_the_link():
    at = open_page()
    before = charts(at)["bd_mlp_regions"]
    at.slider(key="bd_hidden").set_value(3).run()
    assert any(m.label.startswith("MLP (3 hidden)") for m in at.metric)
    assert at.query_params["hidden"] == "3"
    lines = [t for t in charts(at)["bd_mlp_regions"]["data"] if t.get("name") == "hidden units"]
    assert len(lines) == 1 and 1 <= lines[0]["x"].count(None) <= 3         # one segment per unit in view
    at.toggle(key=state.Key.BD_SHOW_LINES).set_value(False).run()
    assert not [t for t in charts(at)["bd_mlp_regions"]["data"] if t.get("name") == "hidden units"]
    at.radio(key="bd_data").set_value("circles").run()
    at.slider(key="bd_points").set_value(200).run()
    after = charts(at)["bd_mlp_regions"]
    assert len(shown_points(after)) == 200
    assert after != before
    assert at.query_params["data"] == "circles" and at.query_params["points"] == "200"
    at.select_slider(key="bd_lr").set_value(0.03).run()
    assert at.query_params["lr"] == "0.03"


def test_a_link_reproduces_its_setting():
    link = {"data": "moons", "noise": "0.3", "points": "240", "hidden": "17", "lr": "0.01", "seed": "9"}
    at = open_page(link)
    assert not at.warning
    assert at.radio(key="bd_data").value == "moons"
    assert at.slider(key="bd_noise").value == pytest.approx(0.3)
    assert at.slider(key="bd_points").value == 240 and at.slider(key="bd_hidden").value == 17
    assert at.select_slider(key="bd_lr").value == 0.01 and at.number_input(key="bd_seed").value == 9
    assert at.query_params == link
    X, _ = toy.make("moons", 240, 0.3, 9)
    shown = shown_points(charts(at)["bd_linear_regions"])
    np.testing.assert_allclose(shown[np.lexsort(shown.T)], X[np.lexsort(X.T)], atol=1e-6)


def test_bad_values_in_the_link_fall_back_to_defaults_with_a_note():
    at = open_page({"data": "blob", "hidden": "9999", "lr": "x", "seed": "4"})
    assert not at.exception and not at.error
    notes = " ".join(w.value for w in at.warning)
    assert "data='blob'" in notes and "hidden='9999'" in notes and "lr='x'" in notes
    assert at.radio(key="bd_data").value == "xor" and at.slider(key="bd_hidden").value == 8
    assert at.number_input(key="bd_seed").value == 4                          # the good value is kept
    assert at.query_params["data"] == "xor" and at.query_params["hidden"] == "8"
    at.slider(key="bd_hidden").set_value(10).run()                            # a change retires the notes
    assert not at.warning


def test_settings_survive_a_visit_to_another_page():
    at = open_page()
    at.slider(key="bd_hidden").set_value(21).run()
    at.radio(key="bd_data").set_value("spiral").run()
    at.switch_page("pages/4_Evaluate.py").run()
    at.switch_page(PAGE).run()
    assert at.slider(key="bd_hidden").value == 21 and at.radio(key="bd_data").value == "spiral"


@needs_mnist
def test_the_page_compares_the_models_on_mnist():
    at = open_page()
    labels = {m.label: m.value for m in at.metric}
    linear = float(labels["Softmax regression · test accuracy"].rstrip("%"))
    mlp = float(labels[f"MLP ({boundaries.MNIST_HIDDEN} hidden) · test accuracy"].rstrip("%"))
    assert mlp > linear + 3
    assert any("An MLP learns non-linear boundaries, unlike logistic regression" in m.value for m in at.markdown)


# -- in a real browser -----------------------------------------------------------------------------------



@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """`streamlit run app.py` on 127.0.0.1; yields its URL, and finds no traceback in its log afterwards."""
    log_path = tmp_path_factory.mktemp("boundaries_server") / "server.log"
    with streamlit_server(log_path, max_training=1) as (url, _):
        yield url
        assert "Traceback" not in log_path.read_text(), log_path.read_text()


@pytest.mark.browser
@pytest.mark.slow
def test_in_chromium_play_raises_the_mlps_accuracy(served_app, new_tab, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    # generous: the browser shares two cores with the server
    page = new_tab({"width": 1400, "height": 1400}, timeout_ms=120_000)
    page.goto(f"{served_app}/Boundaries?data=xor&hidden=8&lr=1&seed=2")
    # .first: while a fragment reruns, its old elements can linger beside the new ones for a moment
    mlp_metric = page.locator('[data-testid="stMetric"]').filter(has_text="MLP (8 hidden)").first
    softmax_metric = page.locator('[data-testid="stMetric"]').filter(
        has_text="Softmax regression · training").first

    def shown(metric) -> float:
        return float(re.search(r"([\d.]+)%", metric.inner_text()).group(1)) / 100

    def steps_shown() -> int:
        counter = page.locator('[data-testid="stMetric"]').filter(has_text="SGD steps").first
        return int(re.search(r"SGD steps\s+([\d,]+)", counter.inner_text()).group(1).replace(",", ""))

    page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for()
    start = shown(mlp_metric)
    page.get_by_role("button", name="Play").click()
    deadline = time.monotonic() + 120
    while shown(mlp_metric) < 0.9:
        assert time.monotonic() < deadline, f"the MLP's accuracy stayed at {shown(mlp_metric):.1%}"
        page.wait_for_timeout(300)
    assert start < 0.9 and shown(softmax_metric) <= 0.75
    for _ in range(4):   # a click that lands while the live fragment redraws can be lost: click again
        page.get_by_role("button", name="Pause").click()
        try:
            page.get_by_role("button", name="Play").wait_for(timeout=30_000)
            break
        except sync_api.Error:
            pass
    page.get_by_role("button", name="Play").wait_for(timeout=1_000)
    paused_at = steps_shown()
    page.wait_for_timeout(2 * boundaries.TICK * 1000)
    assert steps_shown() == paused_at > 0
    assert "hidden=8" in page.url and "data=xor" in page.url
    page.screenshot(path=str(tmp_path / "boundaries.png"), full_page=True)
    print(f"\nscreenshot: {tmp_path / 'boundaries.png'}")
