"""Why this digit (input gradient overlay), the hidden-space map, and the figures behind them, without a browser."""
from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

import support
from lab.drawing import why
from lab.insight import evaluate, hidden_map
from lab.plots import figures, picking
from lab.session.state import Key
from lab.store import blas, mnist, models
from mlp.model import MLP

needs_mnist = pytest.mark.skipif(not mnist.is_ready(), reason="MNIST is not downloaded (run `python -m mlp.data`)")
blas.use_one_thread()   # as the app does: a threaded SVD on a busy machine takes seconds, not milliseconds


@pytest.fixture(scope="module")
def seven():
    """MNIST test digit #0 (a 7) as the network's input, with the shipped model's answer."""
    if not mnist.is_ready():
        pytest.skip("MNIST is not downloaded")
    X, y = mnist.test_set()
    x = X[0].astype(np.float32) / 255
    return x, models.shipped().model.predict_proba(x[None])[0]


# -- why this digit --------------------------------------------------------------------------------

def test_runner_up_is_the_second_most_probable_class():
    assert why.runner_up(np.array([0.1, 0.6, 0.05, 0.25])) == 3


@needs_mnist
def test_contrast_margin_is_z_a_minus_z_b_and_red_ink_raises_it(seven):
    x, p = seven
    model = models.shipped().model
    a, b = int(p.argmax()), why.runner_up(p)
    c = why.contrast(model, x, a, b)
    z = model.forward(x[None]).z[0]
    assert c.margin == pytest.approx(float(z[a] - z[b]), rel=1e-6)
    assert c.gradient.shape == (784,)
    # What the legend says: ink on the reddest pixel raises z_a − z_b, on the bluest lowers it, by about g·ε.
    eps = 0.05
    for pixel in (int(c.gradient.argmax()), int(c.gradient.argmin())):
        nudged = x.copy()
        nudged[pixel] = min(1.0, nudged[pixel] + eps) if nudged[pixel] < 1 - eps else nudged[pixel] - eps
        step = nudged[pixel] - x[pixel]
        moved = why.contrast(model, nudged, a, b).margin - c.margin
        assert np.sign(moved) == np.sign(c.gradient[pixel] * step)
        assert moved == pytest.approx(c.gradient[pixel] * step, rel=0.05, abs=1e-4)


@needs_mnist
def test_contrast_figure_is_a_symmetric_red_blue_scale_with_the_ink_outlined(seven):
    x, p = seven
    c = why.contrast(models.shipped().model, x, int(p.argmax()), why.runner_up(p))
    heat, outline = why.figure(c, x).data
    assert heat.zmin == -heat.zmax == pytest.approx(-np.abs(c.gradient).max())
    assert np.asarray(heat.z).shape == (28, 28)
    assert heat.colorscale[0][1] != heat.colorscale[-1][1]          # two ends, two colours
    assert "∂(z7−z" in heat.colorbar.title.text                     # the colour bar says what colour means
    assert outline.type == "contour" and outline.contours.start == 0.5


def test_pixel_shares_split_the_inks_pull_between_the_two_digits():
    g = np.zeros(784)
    g[:3] = [2.0, -1.0, 5.0]
    x = np.zeros(784)
    x[:3] = [1.0, 1.0, 0.0]                      # the third pixel has no ink: it pulls nothing
    c = why.Contrast(1, 2, 0.0, g)
    assert why.pixel_shares(c, x) == pytest.approx((2 / 3, 1 / 3))
    assert why.pixel_shares(c, np.zeros(784)) == (0.0, 0.0)


# -- the hidden-space map ----------------------------------------------------------------------------

def _clusters(seed=0, n=300, hidden=12):
    """Three tight clusters in a 12-D space, spread mostly along two directions."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, hidden))
    centres[1, 0], centres[2, 3] = 10.0, 6.0
    labels = np.repeat(np.arange(3), n // 3)
    return centres[labels] + rng.normal(0, 0.3, (len(labels), hidden)), labels


def test_pca_matches_the_covariance_eigenvectors():
    H, labels = _clusters()
    m = hidden_map.pca(H, labels)
    centred = H - H.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    top = eigenvectors[:, ::-1][:, :2]
    assert np.abs(np.abs(np.sum(top * m.axes, axis=0)) - 1).max() < 1e-8   # the same directions, up to sign
    assert m.explained == pytest.approx(eigenvalues[::-1][:2] / eigenvalues.sum())
    assert np.allclose(hidden_map.project(m, H), m.points)
    assert np.allclose(hidden_map.project(m, H[5]), m.points[5])


def test_pca_orientation_does_not_depend_on_the_svd_sign():
    H, labels = _clusters()
    first, flipped = hidden_map.pca(H, labels), hidden_map.pca(2 * H.mean(axis=0) - H, labels)   # mirrored data
    assert np.allclose(first.points, flipped.points, atol=1e-8)
    assert (first.points[labels == labels[0]].mean(axis=0) >= 0).all()


def test_map_figure_has_one_colour_per_digit_and_the_drawing_as_a_star():
    H, labels = _clusters()
    labels = labels * 3                                 # digits 0, 3, 6
    m = hidden_map.pca(H, labels)
    fig = hidden_map.figure(m, drawn=np.array([1.5, -2.0]), drawn_digit=3)
    digits, star = fig.data[:10], fig.data[10]
    assert [t.marker.color for t in digits] == list(hidden_map.DIGIT_COLORS)
    assert len(set(hidden_map.DIGIT_COLORS)) == 10
    assert sum(len(t.x) for t in digits) == len(labels)
    assert (star.x[0], star.y[0]) == (1.5, -2.0) and star.marker.symbol == "star"
    assert star.marker.color == hidden_map.DIGIT_COLORS[3]
    assert "variance" in fig.layout.xaxis.title.text and "variance" in fig.layout.yaxis.title.text


@needs_mnist
def test_map_of_the_shipped_model_groups_digits_and_is_cached_per_model():
    ref = models.shipped()
    m = hidden_map.hidden_map(ref)
    assert m.points.shape == (hidden_map.SAMPLE, 2) and len(m.labels) == hidden_map.SAMPLE
    assert hidden_map.hidden_map(ref) is m, "one SVD per model version"
    # Clusters: a nearest-centroid guess in these two dimensions alone is far above chance (10%).
    centroids = np.stack([m.points[m.labels == d].mean(axis=0) for d in range(10)])
    guess = np.argmin(((m.points[:, None, :] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    assert (guess == m.labels).mean() > 0.4
    other = hidden_map.hidden_map(models.new_ref(MLP.init(128, seed=1), "fresh"))
    assert other is not m and not np.allclose(other.points, m.points), "another model, another map"


# -- clicking a heatmap cell (lab.plots.picking) and the figures that use it -------------------------------

def test_picked_reads_the_clicked_points_customdata():
    state = {"selection": {"points": [{"curve_number": 1, "x": "3", "y": "5", "customdata": [5, 3, 12]}]}}
    assert picking.picked(state) == [5, 3, 12]
    assert picking.picked({"selection": {"points": []}}) is None
    assert picking.picked({"selection": {"points": [{"x": 1}]}}) is None    # a point without a cell
    assert picking.picked(None) is None


def test_confusion_matrix_has_a_click_target_per_cell_and_a_count_colour_bar():
    cm = np.arange(100).reshape(10, 10)
    fig = figures.confusion(cm, highlight=(3, 5))
    heat, targets = fig.data
    cells = {(t, p): n for t, p, n in targets.customdata}
    assert len(cells) == 100 and cells[(3, 5)] == 35 and cells[(9, 0)] == 90
    at = [i for i, (t, p, _) in enumerate(targets.customdata) if (t, p) == (3, 5)][0]
    assert (targets.x[at], targets.y[at]) == ("5", "3"), "the target of a cell sits on that cell"
    assert targets.marker.opacity == 0 and fig.layout.hoverdistance == -1
    assert heat.showscale is not False and heat.colorbar.ticktext == ("0", "1", "10", "100", "1000")
    frame = fig.layout.shapes[0]
    assert (frame.x0, frame.x1, frame.y0, frame.y1) == (4.5, 5.5, 2.5, 3.5)


def test_weight_grid_targets_sit_on_their_tiles_and_rows_are_labelled_by_unit():
    W1 = np.random.default_rng(0).normal(size=(784, 40))
    fig = figures.weight_grid(W1, highlight=21)
    heat, targets = fig.data
    assert list(targets.customdata) == list(range(40))
    mosaic = np.asarray(heat.z)
    for unit in (0, 17, 39):   # the target's position is inside its own tile, whose pixels are W1[:, unit] scaled
        row, column = int(targets.y[unit]), int(targets.x[unit])
        top, left = unit // 16 * 29, unit % 16 * 29
        assert top <= row < top + 28 and left <= column < left + 28
        tile = mosaic[top:top + 28, left:left + 28].reshape(-1)
        assert np.allclose(tile, W1[:, unit] / np.abs(W1[:, unit]).max(), atol=1e-6)
    assert fig.layout.yaxis.ticktext == ("0–15", "16–31", "32–39")
    assert heat.colorbar.ticktext == ("−max", "0", "+max")


def test_small_numbers_are_not_written_with_si_prefixes():
    fig = figures.bars(np.array([5e-5, -3e-5, 1e-6]), y_title="δz")
    assert fig.layout.yaxis.exponentformat == "power" and fig.layout.yaxis.title.text == "δz"
    assert figures.matrix(np.ones((2, 2)) * 1e-5).data[0].colorbar.exponentformat == "power"
    assert figures.hidden_heatmap(np.ones(128) * 1e-5).data[0].colorbar.exponentformat == "power"


def test_per_digit_accuracy_axis_is_zoomed_and_titled():
    fig = figures.per_class_accuracy(np.linspace(0.95, 0.99, 10))
    assert 0.9 < fig.layout.xaxis.range[0] < 0.95 and fig.layout.xaxis.title.text


def test_backprop_opens_on_the_runner_up_with_a_loss_worth_seeing(seven):
    x, p = seven
    label, note = why.backprop_start(p)
    assert label == why.runner_up(p) != int(p.argmax())
    assert f"starts at {label}" in note and "tiny" in note
    model = models.shipped().model
    y_own, y_runner = np.array([int(p.argmax())]), np.array([label])
    loss = lambda y: model.loss(x[None], y)   # noqa: E731
    assert loss(y_runner) > 1.0 > 100 * loss(y_own), "the runner-up's loss is visible, the answer's is not"


# -- the pages, through AppTest ---------------------------------------------------------------------

def select_point(at, key: str, customdata) -> None:
    """As if the user had clicked the point carrying `customdata` on the plotly chart created with `key`."""
    [chart] = [el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    states = at._tree.get_widget_states()
    clicked = WidgetState(id=chart.proto.id)
    clicked.string_value = json.dumps({"selection": {"points": [{"customdata": customdata}], "point_indices": [0],
                                                     "box": [], "lasso": []}})
    states.widgets.append(clicked)
    at._run(states)


def draw_seven(at) -> np.ndarray:
    """Draw MNIST test digit #0 (a 7) on the canvas; the 784 inputs the network got from it."""
    support.draw(at, support.canvas_from_mnist(0))
    assert support.prediction(at) == "7"
    return at.session_state[Key.DRAWING].x


@needs_mnist
def test_draw_page_shows_why_seven_and_not_the_runner_up_then_any_digit(app):
    x = draw_seven(app)
    support.open_details(app)
    support.no_errors(app)
    model = models.shipped().model
    p = model.predict_proba(x[None])[0]
    rival = why.runner_up(p)
    assert app.selectbox(key=why.RIVAL).value == rival
    chart = support.plotly(app, "why_gradient")
    heat = chart["data"][0]
    assert np.allclose(support.array(heat["z"]).reshape(-1), model.input_gradient(x, 7, rival), atol=1e-6)
    assert heat["zmin"] == -heat["zmax"]
    assert any(r"\delta x = \delta a_1 W_1^T" in m.value for m in app.latex), "one more step of the chain rule"
    assert any(why.NO_OTHER_ANSWER in c.value for c in app.caption)
    app.selectbox(key=why.RIVAL).set_value(1).run()
    chart = support.plotly(app, "why_gradient")
    assert "not 1" in chart["layout"]["title"]["text"]
    assert np.allclose(support.array(chart["data"][0]["z"]).reshape(-1), model.input_gradient(x, 7, 1),
                       atol=1e-6)


@needs_mnist
def test_hidden_units_page_maps_the_hidden_space_with_the_drawing_on_it(app):
    app.switch_page("pages/2_Hidden_units.py").run()
    support.no_errors(app)
    assert len(support.plotly(app, "hidden_map")["data"]) == 10, "no drawing yet: digits only"
    app.switch_page("app.py").run()
    x = draw_seven(app)
    app.switch_page("pages/2_Hidden_units.py").run()
    traces = support.plotly(app, "hidden_map")["data"]
    assert len(traces) == 11 and traces[10]["name"] == "your drawing"
    m = hidden_map.hidden_map(models.shipped())
    where = hidden_map.project(m, models.shipped().model.forward(x[None]).h[0])
    assert (traces[10]["x"][0], traces[10]["y"][0]) == pytest.approx(tuple(where), abs=1e-6)
    assert sum(len(support.array(t["x"])) for t in traces[:10]) == hidden_map.SAMPLE


@needs_mnist
def test_backprop_opens_on_the_runner_up_with_one_colour_for_the_label(app):
    x = draw_seven(app)
    app.switch_page("pages/3_Backprop.py").run()
    support.no_errors(app)
    p = models.shipped().model.predict_proba(x[None])[0]
    label = why.runner_up(p)
    assert app.selectbox(key=Key.BACKPROP_LABEL).value == label
    assert float(app.metric[0].value) > 1.0, "a loss worth sending back"
    assert any("runner-up" in c.value for c in app.caption)
    for key in ("z", "p", "dz", "gb2"):
        colors = support.plotly(app, key)["data"][0]["marker"]["color"]
        assert colors[label] == figures.ACCENT, key
        assert sum(c == figures.ACCENT for c in colors) == 1, key


@needs_mnist
def test_clicking_a_confusion_cell_looks_inside_it(app):
    app.switch_page("pages/4_Evaluate.py").run()
    select_point(app, "confusion", [4, 9, 0])
    support.no_errors(app)
    assert (app.selectbox(key=Key.CELL_TRUE).value, app.selectbox(key=Key.CELL_PREDICTED).value) == (4, 9)
    frame = support.plotly(app, "confusion")["layout"]["shapes"][0]
    assert (frame["x0"], frame["y0"]) == (8.5, 3.5)
    shown = len(evaluate.cell(evaluate.evaluate(models.shipped()), 4, 9))
    assert shown > 0 and any(c.value.startswith(f"{shown:,} test digits") for c in app.caption)


@needs_mnist
def test_clicking_a_tile_of_the_weight_grid_selects_that_unit(app):
    app.switch_page("pages/2_Hidden_units.py").run()
    select_point(app, "weight_grid", 37)
    support.no_errors(app)
    assert app.slider(key=Key.UNIT).value == 37
    assert any(h.value.startswith("Unit 37") for h in app.subheader)
    shape = support.plotly(app, "weight_grid")["layout"]["shapes"][0]
    assert shape["x0"] == 37 % 16 * 29 - 1


@needs_mnist
@pytest.mark.slow
def test_hidden_map_moves_as_the_model_in_use_trains(app):
    app.switch_page("pages/1_Train.py").run()
    app.number_input(key=Key.train("epochs")).set_value(50).run()
    support.click(app, "Start")
    support.run_until(app, lambda at: support.progress_steps(at) > 0)
    app.switch_page("app.py").run()
    app.radio(key=Key.MODEL_SOURCE).set_value("trained").run()
    app.switch_page("pages/2_Hidden_units.py").run()
    support.no_errors(app)

    def zeros_on_the_map(at) -> np.ndarray:
        return support.array(support.plotly(at, "hidden_map")["data"][0]["x"])

    before = zeros_on_the_map(app)
    assert any("redrawn as the model trains" in c.value for c in app.caption)
    support.run_until(app, lambda at: not np.allclose(zeros_on_the_map(at), before))


def test_a_matrix_of_ten_rows_labels_every_row():
    assert figures.matrix(np.ones((10, 128)), y_title="digit").layout.yaxis.dtick == 1
    assert figures.matrix(np.ones((128, 10))).layout.yaxis.dtick is None
