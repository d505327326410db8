"""Why this digit (input gradient overlay), the hidden-space map, and the figures behind them, without a browser."""
from __future__ import annotations

import numpy as np
import pytest

from lab import blas, hidden_map, mnist, models, why
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
