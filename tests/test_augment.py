"""The augmenter: right shape and type, reproducible, the identity is exact, each distortion
moves ink the way its name says, strokes get bolder or thinner, and the Trainer can use it."""
import numpy as np
import pytest

from mlp.augment import CHUNK, Augmenter, Distortion, elastic_field, gaussian_matrix
from mlp.model import MLP
from mlp.train import Config, Trainer

SIDE = 28


def blob(x: float, y: float, radius: float = 2.5) -> np.ndarray:
    """A soft round uint8 dot centred at (x, y) on a black 28×28 field, flattened."""
    yy, xx = np.mgrid[:SIDE, :SIDE]
    r = np.hypot(xx - x, yy - y)
    return (255 * np.clip(radius + 0.5 - r, 0, 1)).astype(np.uint8).reshape(1, -1)


def bar(x0: int, x1: int, y0: int, y1: int) -> np.ndarray:
    img = np.zeros((SIDE, SIDE), np.uint8)
    img[y0:y1, x0:x1] = 255
    return img.reshape(1, -1)


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(N,784) → (N,2) as (x, y) in pixels."""
    w = images.reshape(-1, SIDE, SIDE).astype(float)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    mass = w.sum(axis=(1, 2))
    return np.stack([(w * xx).sum(axis=(1, 2)) / mass, (w * yy).sum(axis=(1, 2)) / mass], axis=1)


def one(**settings) -> Distortion:
    d = Distortion.identity(1)._asdict()
    d.update({k: np.array([v], np.float32) for k, v in settings.items()})
    return Distortion(**d)


@pytest.fixture(scope="module")
def digits():
    """Digit-like test images without needing MNIST: a few bars and rings."""
    rings = [blob(14, 14, 7) - blob(14, 14, 5), blob(12, 10, 4) - blob(12, 10, 2)]
    bars = [bar(12, 15, 5, 23), bar(6, 22, 12, 15), bar(8, 11, 6, 20)]
    return np.concatenate(rings + bars + [blob(9, 18)]).astype(np.uint8)


def test_output_is_a_uint8_batch_of_the_same_shape_and_the_input_is_untouched(digits):
    before = digits.copy()
    out = Augmenter(seed=0)(digits)
    assert out.dtype == np.uint8 and out.shape == digits.shape
    assert np.array_equal(digits, before)
    assert not np.array_equal(out, digits)


def test_same_seed_same_output_different_seed_different(digits):
    assert np.array_equal(Augmenter(seed=5)(digits), Augmenter(seed=5)(digits))
    assert not np.array_equal(Augmenter(seed=5)(digits), Augmenter(seed=6)(digits))


def test_consecutive_batches_get_fresh_distortions(digits):
    aug = Augmenter(seed=0)
    assert not np.array_equal(aug(digits), aug(digits))


def test_identity_settings_return_the_input_exactly(digits):
    assert np.array_equal(Augmenter().apply(digits, Distortion.identity(len(digits))), digits)
    still = Augmenter(seed=1, rotation=0, scale=(1, 1), shear=0, shift=0, stroke=0)
    assert np.array_equal(still(digits), digits)
    assert np.array_equal(Augmenter(seed=1, share=0)(digits), digits)


def test_rotation_turns_anticlockwise_about_the_centre():
    right_of_centre = blob(20, 13.5)
    turned = Augmenter().apply(right_of_centre, one(rotation=90))
    np.testing.assert_allclose(centre_of_mass(turned)[0], [13.5, 7.0], atol=0.3)   # now above the centre
    assert abs(int(turned.sum()) - int(right_of_centre.sum())) < 0.05 * right_of_centre.sum()
    turned = Augmenter().apply(right_of_centre, one(rotation=-90))
    np.testing.assert_allclose(centre_of_mass(turned)[0], [13.5, 20.0], atol=0.3)  # below


def test_shift_moves_the_centre_of_mass_by_that_many_pixels():
    dot = blob(14, 14)
    moved = Augmenter().apply(dot, one(shift_x=2.5, shift_y=-1.5))
    np.testing.assert_allclose(centre_of_mass(moved)[0] - centre_of_mass(dot)[0], [2.5, -1.5], atol=0.1)


def test_scale_moves_ink_away_from_the_centre_in_proportion():
    dot = blob(20, 13.5)
    bigger = Augmenter().apply(dot, one(scale=1.2))
    np.testing.assert_allclose(centre_of_mass(bigger)[0], [13.5 + 1.2 * 6.5, 13.5], atol=0.2)


def test_positive_shear_leans_the_top_left():
    upright = bar(13, 15, 4, 24)
    leaning = Augmenter().apply(upright, one(shear=0.3)).reshape(SIDE, SIDE).astype(float)
    column_of_ink = lambda rows: (rows.sum(axis=0) @ np.arange(SIDE)) / rows.sum()
    assert column_of_ink(leaning[:12]) < 12.5 < 14.5 < column_of_ink(leaning[16:])


def test_random_distortions_keep_the_ink_inside_the_field(digits):
    """The ranges are small enough that a digit is moved, not cropped."""
    aug = Augmenter(seed=3, stroke=0)
    for _ in range(5):
        out = aug(digits)
        ink_ratio = out.reshape(len(digits), -1).sum(axis=1) / digits.sum(axis=1)
        assert np.all((ink_ratio > 0.6) & (ink_ratio < 1.5))
        assert np.abs(centre_of_mass(out) - centre_of_mass(digits)).max() < 6


def test_stroke_changes_the_amount_of_ink_but_keeps_the_core_white(digits):
    aug = Augmenter()
    n = len(digits)
    bolder = aug.apply(digits, Distortion(*Distortion.identity(n)[:5], stroke=np.ones(n, np.float32)))
    thinner = aug.apply(digits, Distortion(*Distortion.identity(n)[:5], stroke=-np.ones(n, np.float32)))
    ink = lambda images: images.astype(int).sum(axis=1)
    assert np.all(ink(bolder) > 1.3 * ink(digits))
    assert np.all(ink(thinner) < ink(digits))
    assert np.all(ink(thinner) > 0.5 * ink(digits))     # thinner, not erased
    assert np.all(bolder.max(axis=1) == 255)
    thick_bars = slice(2, 5)                            # 3 px wide: their middle line stays full white
    assert np.all(thinner[thick_bars].max(axis=1) == 255)


def test_share_leaves_the_rest_of_the_batch_untouched(digits):
    batch = np.repeat(digits, 50, axis=0)
    out = Augmenter(seed=0, share=0.5)(batch)
    changed = (out != batch).any(axis=1).mean()
    assert 0.35 < changed < 0.65


def test_a_batch_larger_than_one_chunk_is_distorted_row_by_row_like_small_ones(digits):
    batch = np.resize(digits, (CHUNK + 37, digits.shape[1]))
    d = Augmenter(seed=2).draw(len(batch))
    whole = Augmenter().apply(batch, d)
    rows = [0, CHUNK - 1, CHUNK, CHUNK + 36]
    alone = Augmenter().apply(batch[rows], d.rows(rows))
    assert np.array_equal(whole[rows], alone)


def test_empty_batch_and_bad_input():
    assert Augmenter()(np.zeros((0, 784), np.uint8)).shape == (0, 784)
    with pytest.raises(ValueError):
        Augmenter()(np.zeros((3, 784), np.float32))
    with pytest.raises(ValueError):
        Augmenter()(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ValueError):
        Augmenter(share=1.5)


def test_trainer_with_augment_learns(digits):
    rng = np.random.default_rng(0)
    labels = np.arange(len(digits))
    X = np.repeat(digits, 40, axis=0)
    y = np.repeat(labels, 40)
    order = rng.permutation(len(y))
    model = MLP.init(hidden=32, seed=0)
    history = Trainer(model, X[order], y[order], Config(epochs=6, hidden=32, lr=0.1, augment=True)).train()
    assert history[-1]["loss"] < history[0]["loss"]
    assert model.accuracy(digits, labels) == 1.0


# -- elastic distortion (Simard et al. 2003) --------------------------------------------

def test_gaussian_matrix_smooths_and_keeps_a_constant_away_from_the_border():
    G = gaussian_matrix(4.0)
    assert G.shape == (SIDE, SIDE) and G.dtype == np.float32
    np.testing.assert_allclose(G, G.T)
    np.testing.assert_allclose(G[SIDE // 2].sum(), 1.0, atol=0.01)       # 3.5 σ from both edges
    assert G[SIDE // 2].argmax() == SIDE // 2


def test_elastic_field_shape_dtype_and_determinism():
    a = elastic_field(np.random.default_rng(3), 5, alpha=34.0)
    assert a.shape == (5, 2, SIDE * SIDE) and a.dtype == np.float32
    np.testing.assert_array_equal(a, elastic_field(np.random.default_rng(3), 5, alpha=34.0))
    assert not np.array_equal(a, elastic_field(np.random.default_rng(4), 5, alpha=34.0))
    np.testing.assert_allclose(elastic_field(np.random.default_rng(3), 5, alpha=17.0), a / 2, rtol=1e-5)


def test_elastic_field_is_smooth_and_each_image_gets_its_own():
    field = elastic_field(np.random.default_rng(0), 200, alpha=34.0).reshape(200, 2, SIDE, SIDE)
    rough = np.random.default_rng(0).uniform(-1, 1, field.shape)
    step = lambda f: np.abs(np.diff(f, axis=-1)).mean() / np.abs(f).mean()
    assert step(field) < 0.25 < 1.0 < step(rough)                 # neighbours move nearly alike
    assert 0.5 < np.abs(field).mean() < 3                         # α 34, σ 4: about a pixel or two
    first, second = field[:, 0, 14, 14], field[:, 0, 14, 14][::-1]
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.3            # independent between images


def test_elastic_distortion_bends_strokes_but_keeps_the_ink(digits):
    bend = Augmenter(seed=0, rotation=0, scale=(1, 1), shear=0, shift=0, stroke=0, elastic=34.0, share=1.0)
    batch = np.repeat(digits, 20, axis=0)
    out = bend(batch)
    assert out.dtype == np.uint8 and out.shape == batch.shape
    assert (out != batch).any(axis=1).all()                       # every image moved
    ink_ratio = out.astype(int).sum(axis=1) / batch.astype(int).sum(axis=1)
    # Stretching and squeezing balance out: ink is kept on average, and no image loses half of it.
    assert abs(ink_ratio.mean() - 1) < 0.05 and np.all((ink_ratio > 0.5) & (ink_ratio < 2))
    assert np.abs(centre_of_mass(out) - centre_of_mass(batch)).max() < 4      # bent in place, not moved away
    assert np.array_equal(out, Augmenter(seed=0, rotation=0, scale=(1, 1), shear=0, shift=0, stroke=0,
                                         elastic=34.0, share=1.0)(batch))


def test_a_zero_elastic_field_is_the_identity(digits):
    d = Distortion.identity(len(digits))._replace(field=np.zeros((len(digits), 2, SIDE * SIDE), np.float32))
    assert np.array_equal(Augmenter().apply(digits, d), digits)


def test_a_uniform_elastic_field_is_a_shift():
    dot = blob(14, 14)
    field = np.zeros((1, 2, SIDE * SIDE), np.float32)
    field[:, 0], field[:, 1] = -2.0, 1.0       # each output pixel samples 2 px left, 1 px down
    moved = Augmenter().apply(dot, Distortion.identity(1)._replace(field=field))
    np.testing.assert_allclose(centre_of_mass(moved)[0] - centre_of_mass(dot)[0], [2.0, -1.0], atol=0.1)


def test_large_batches_with_elastic_fields_match_small_ones(digits):
    batch = np.resize(digits, (CHUNK + 5, digits.shape[1]))
    d = Augmenter(seed=2, elastic=20.0).draw(len(batch))
    rows = [0, CHUNK - 1, CHUNK, CHUNK + 4]
    assert np.array_equal(Augmenter().apply(batch, d)[rows], Augmenter().apply(batch[rows], d.rows(rows)))


def test_trainer_passes_elastic_and_share_to_the_augmenter(digits):
    labels = np.arange(len(digits))
    cfg = Config(epochs=1, hidden=32, augment=True, elastic=12.0, augment_share=0.7)
    trainer = Trainer(MLP.init(hidden=32, seed=0), digits, labels, cfg)
    assert trainer._augment.elastic == 12.0 and trainer._augment.share == 0.7
    with pytest.raises(ValueError, match="elastic"):
        Config(elastic=-1.0).validate()
    with pytest.raises(ValueError, match="augment_share"):
        Config(augment_share=1.5).validate()
