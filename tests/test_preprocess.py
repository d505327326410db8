"""Canvas drawing → MNIST-like input: blank handling, invariance, MNIST statistics, odd inputs."""

import numpy as np
import pytest

from mlp import preprocess
from mlp.idx import MnistError, load_mnist
from mlp.preprocess import Stages, estimate_stroke_width, stages, to_gray, to_mnist
from mlp.strokes import CANVAS, Family, Knobs, render, two


def rgba(gray: np.ndarray) -> np.ndarray:
    """What st_canvas returns for white ink on an opaque black background."""
    out = np.empty(gray.shape + (4,), np.uint8)
    out[..., :3] = gray[..., None]
    out[..., 3] = 255
    return out


def drawn_two(height=200, left=40, top=40, width=16, size=CANVAS) -> np.ndarray:
    """The same '2' (same strokes) at a chosen size, position and brush width."""
    strokes = two(Knobs(Family("round", {"angular": 0, "loop": 0, "width": 1}), 2, np.random.default_rng(0)))
    return render([s * [height * .7, height] + [left, top] for s in strokes], width, size)


def correlation(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@pytest.fixture(scope="module")
def mnist_test():
    try:
        X, y = load_mnist("test")
    except (MnistError, OSError) as e:
        pytest.skip(f"MNIST not available: {e}")
    return X.reshape(-1, 28, 28), y


def centre_of_mass(img28: np.ndarray) -> tuple[float, float]:
    r = np.arange(28)
    return float(img28.sum(axis=1) @ r / img28.sum()), float(img28.sum(axis=0) @ r / img28.sum())


# -- blank --------------------------------------------------------------------------

def test_blank_images_give_none():
    assert to_mnist(np.zeros((280, 280, 4), np.uint8)) is None            # before any stroke, transparent
    assert to_mnist(rgba(np.zeros((280, 280), np.uint8))) is None         # opaque black background
    assert to_mnist(np.zeros((280, 280), np.uint8)) is None
    assert to_mnist(np.full((280, 280), 20, np.uint8)) is None            # faint noise below the threshold
    assert stages(np.zeros((50, 70))) is None


def test_one_bright_pixel_is_not_blank():
    img = np.zeros((280, 280), np.uint8)
    img[5, 270] = 255
    x = to_mnist(img)
    assert x is not None and x.max() > 0.5


# -- output contract ------------------------------------------------------------------

def test_output_is_784_float32_in_unit_range():
    x = to_mnist(rgba(drawn_two()))
    assert x.shape == (784,) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.9


def test_stages_show_each_step_and_end_in_to_mnist():
    img = drawn_two(height=150, left=100, top=60)
    s = stages(rgba(img))
    assert isinstance(s, Stages)
    assert s.gray.shape == (280, 280)
    rows, cols = np.nonzero(img > 255 * preprocess.INK_THRESHOLD)
    assert s.cropped.shape == (np.ptp(rows) + 1, np.ptp(cols) + 1)
    assert max(s.restroked.shape) <= preprocess.WORK_SIZE + 2 * preprocess.MAX_RADIUS + 2
    assert max(s.scaled20.shape) == 20
    assert s.centred28.shape == (28, 28)
    for a in s:
        assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(s.centred28.reshape(-1), to_mnist(rgba(img)))


# -- invariance ---------------------------------------------------------------------------

def test_position_and_size_do_not_matter():
    reference = to_mnist(drawn_two(height=200, left=40, top=40))
    # Corners of the canvas included; the brush stays on the canvas (a cut-off stroke is another drawing).
    for height, left, top in [(140, 8, 8), (140, 168, 130), (250, 90, 10), (170, 5, 100), (150, 160, 12)]:
        x = to_mnist(drawn_two(height, left, top))
        assert correlation(reference, x) > 0.95, (height, left, top)
        assert np.abs(reference - x).sum() < 0.15 * reference.sum()


def test_brush_width_matters_little_after_restroking():
    thin, thick = to_mnist(drawn_two(width=12)), to_mnist(drawn_two(width=24))
    assert correlation(thin, thick) > 0.9
    assert abs(thin.sum() - thick.sum()) < 0.15 * thick.sum()
    # Without the stroke-width step the thin brush gives a much fainter digit.
    raw_thin, raw_thick = to_mnist(drawn_two(width=12), None), to_mnist(drawn_two(width=24), None)
    assert raw_thin.sum() < 0.8 * raw_thick.sum()


def test_rgba_and_gray_give_the_same_input():
    img = drawn_two(height=180, left=60, top=30, width=20)
    np.testing.assert_array_equal(to_mnist(rgba(img)), to_mnist(img))
    np.testing.assert_array_equal(to_mnist(rgba(img)[..., :3]), to_mnist(img))   # RGB
    np.testing.assert_array_equal(to_mnist(img[..., None]), to_mnist(img))        # (H,W,1)


def test_coloured_pen_counts_as_ink():
    img = drawn_two()
    red = np.zeros(img.shape + (4,), np.uint8)
    red[..., 0], red[..., 3] = img, 255
    np.testing.assert_array_equal(to_mnist(red), to_mnist(img))


def test_transparent_canvas_uses_alpha():
    img = drawn_two()
    white_ink = np.zeros(img.shape + (4,), np.uint8)
    white_ink[..., :3] = 255
    white_ink[..., 3] = img                      # white pen, transparent background
    dark_ink = white_ink.copy()
    dark_ink[..., :3] = 0                        # black pen, transparent background: only alpha shows it
    np.testing.assert_allclose(to_mnist(white_ink), to_mnist(img), atol=1e-6)
    np.testing.assert_allclose(to_mnist(dark_ink), to_mnist(img), atol=1e-6)


def test_other_dtypes_are_read_on_the_right_scale():
    img = drawn_two()
    expected = to_mnist(img)
    np.testing.assert_allclose(to_mnist(img / 255.0), expected, atol=1e-5)          # float 0..1
    np.testing.assert_allclose(to_mnist(img.astype(np.float64)), expected, atol=1e-5)  # float 0..255
    np.testing.assert_allclose(to_mnist(img.astype(np.int64)), expected, atol=1e-6)
    np.testing.assert_allclose(to_mnist(img > 127), to_mnist(np.where(img > 127, 255, 0).astype(np.uint8)),
                               atol=1e-6)


# -- like MNIST ---------------------------------------------------------------------------------

def test_centre_of_mass_and_ink_like_mnist(mnist_test):
    X, y = mnist_test
    mnist = X[:2000] / 255.0
    mnist_com = np.array([centre_of_mass(m) for m in mnist])
    mnist_sum = mnist.sum(axis=(1, 2))
    low, high = np.percentile(mnist_sum, [1, 99])
    assert np.all(np.abs(mnist_com.mean(axis=0) - 14.0) < 0.1)   # the target the pipeline uses

    for height, left, top, width in [(140, 0, 0, 12), (250, 20, 10, 24), (180, 90, 70, 18)]:
        x = to_mnist(drawn_two(height, left, top, width)).reshape(28, 28)
        cy, cx = centre_of_mass(x)
        assert 12.5 <= cy <= 15 and 12.5 <= cx <= 15
        assert np.all(np.abs(np.array([cy, cx]) - mnist_com.mean(axis=0)) <= 0.5)
        assert low <= x.sum() <= high
        twos = mnist_sum[y[:2000] == 2]
        assert 0.7 * twos.mean() <= x.sum() <= 1.3 * twos.mean()


def test_mnist_digits_come_back_as_themselves(mnist_test):
    """An MNIST digit blown up to canvas size goes through the recipe and returns as it was.

    Only the stroke-width step changes it (MNIST's own widths vary around the target).
    """
    X, _ = mnist_test
    plain, restroked = [], []
    for digit in X[:100]:
        canvas = np.kron(digit, np.ones((10, 10), np.uint8))
        plain.append(correlation(to_mnist(canvas, stroke_width=None), digit.reshape(-1) / 255.0))
        restroked.append(correlation(to_mnist(canvas), digit.reshape(-1) / 255.0))
    assert np.mean(np.array(plain) > 0.99) >= 0.97
    assert np.median(restroked) > 0.9 and min(restroked) > 0.5


def test_stroke_width_estimate_tracks_the_brush():
    for width in (12, 18, 24):
        assert abs(estimate_stroke_width(drawn_two(width=width) / 255.0) - width) < 0.15 * width


def test_restroke_brings_width_to_the_mnist_target():
    for width, height in [(12, 250), (24, 140), (18, 200)]:
        scaled = stages(drawn_two(height=height, width=width)).scaled20
        assert abs(estimate_stroke_width(scaled) - preprocess.STROKE_WIDTH) < 0.3


def test_thinning_keeps_a_typefaces_hairlines():
    """A bold serif 0 has heavy sides and hairline top and bottom. Eroding the sides to MNIST's width
    erased the hairlines, leaving "| |", read as a 4; the hairlines must stay ink."""
    yy, xx = np.mgrid[0:280, 0:280] + .5
    outer = ((xx - 140) / 70) ** 2 + ((yy - 140) / 100) ** 2 <= 1
    counter = ((xx - 140) / 24) ** 2 + ((yy - 140) / 94) ** 2 <= 1            # sides 46 px, top and bottom 6 px
    field = stages(((outer & ~counter) * 255).astype(np.uint8)).centred28
    rows, cols = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    middle = (cols[0] + cols[-1]) // 2
    assert field[rows[0]:rows[0] + 2, middle].max() > .5                       # the top hairline
    assert field[rows[-1] - 1:rows[-1] + 1, middle].max() > .5                 # the bottom one
    assert estimate_stroke_width(field) < preprocess.STROKE_WIDTH + 1.5         # the sides were still thinned


# -- odd inputs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, image", [
    ("dot", np.pad(np.full((12, 12), 255, np.uint8), ((100, 168), (50, 218)))),
    ("one pixel", np.pad(np.full((1, 1), 255, np.uint8), ((5, 274), (270, 9)))),
    ("1×1 image", np.full((1, 1), 255, np.uint8)),
    ("scribble over everything", np.full((280, 280, 4), 255, np.uint8)),
    ("noise", np.random.default_rng(0).integers(0, 256, (280, 280)).astype(np.uint8)),
    ("wide 100×300", drawn_two(height=90, left=100, top=5, size=300)[:100]),
    ("big 1000×1000", drawn_two(height=800, left=100, top=100, width=60, size=1000)),
    ("hairline 1000×1000", drawn_two(height=800, left=100, top=100, width=1, size=1000)),
    ("ink touching the border", np.pad(np.full((280, 20), 255, np.uint8), ((0, 0), (0, 260)))),
])
def test_odd_inputs_give_valid_inputs(name, image):
    x = to_mnist(image)
    assert x.shape == (784,) and x.dtype == np.float32 and np.isfinite(x).all()
    assert 0 <= x.min() and x.max() <= 1 and x.sum() > 5
    assert max(stages(image).scaled20.shape) == 20


def test_big_drawing_matches_canvas_drawing():
    small = to_mnist(drawn_two(height=200, left=40, top=40, width=16))
    big = to_mnist(drawn_two(height=800, left=100, top=100, width=64, size=1000))
    assert correlation(small, big) > 0.95


@pytest.mark.parametrize("bad, message", [
    (np.zeros(280, np.uint8), "shape"),
    (np.zeros((280, 280, 2), np.uint8), "shape"),
    (np.zeros((280, 280, 5), np.uint8), "shape"),
    (np.zeros((2, 28, 28, 4), np.uint8), "shape"),
    (np.zeros((0, 280), np.uint8), "no pixels"),
    (np.array("a drawing"), "numeric"),
    (np.array([[None, 1]], dtype=object), "numeric"),
    (np.zeros((28, 28), np.complex64), "numeric"),
    (np.full((28, 28), np.nan), "NaN"),
    (np.full((28, 28), 300, np.int64), "0..255"),
    (np.full((28, 28), -1, np.int16), "0..255"),
    (np.broadcast_to(np.uint8(0), (4097, 4097)), "too large"),
])
def test_invalid_images_raise_valueerror(bad, message):
    with pytest.raises(ValueError, match=message):
        to_mnist(bad)


def test_to_gray_of_canvas_is_the_white_channel():
    img = drawn_two()
    np.testing.assert_allclose(to_gray(rgba(img)), img / 255.0, atol=1e-6)
