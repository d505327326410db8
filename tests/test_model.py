"""The network's math: gradients against finite differences, shapes, stability, dead units."""
import numpy as np
import pytest

from mlp.gradcheck import check, numerical_grad
from mlp.model import MLP, cross_entropy, softmax


def random_batch(n=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784)), rng.integers(0, 10, n)


@pytest.fixture
def model64():
    m = MLP.init(hidden=128, seed=3, dtype=np.float64)
    # Non-zero biases so ∇b carries signal and no unit sits exactly at the ReLU kink.
    m.b1[:] = np.random.default_rng(4).normal(0, 0.1, 128)
    m.b2[:] = np.random.default_rng(5).normal(0, 0.1, 10)
    return m


def test_backward_matches_finite_differences_for_every_parameter(model64):
    X, y = random_batch()
    results = check(model64, X, y, per_param=40, eps=1e-5)
    names = {r.name for r in results}
    assert names == {"W1", "b1", "W2", "b2"}
    for name in names:
        errors = [r.rel_error for r in results if r.name == name]
        nonzero = [r for r in results if r.name == name and abs(r.analytic) > 1e-8]
        assert len(nonzero) >= 10, f"{name}: too few informative entries checked"
        assert max(errors) < 1e-6, f"{name}: max relative error {max(errors):.2e}"


def test_whole_b2_and_W2_columns_match_finite_differences(model64):
    """Every entry of the small parameters, not just a sample."""
    X, y = random_batch(4, seed=9)
    g = model64.backward(X, y, model64.forward(X))
    for j in range(10):
        n = numerical_grad(model64, X, y, "b2", (j,), eps=1e-5)
        assert abs(n - g.b2[j]) <= 1e-6 * max(abs(n), 1e-3)
        n = numerical_grad(model64, X, y, "W2", (7, j), eps=1e-5)
        assert abs(n - g.W2[7, j]) <= 1e-6 * max(abs(n), 1e-3)


def test_shapes_follow_the_design_document():
    m = MLP.init(hidden=128, seed=0)
    X, y = random_batch(5)
    c = m.forward(X)
    assert c.a1.shape == c.h.shape == (5, 128)
    assert c.z.shape == c.p.shape == (5, 10)
    g = m.backward(X, y, c)
    assert g.W1.shape == (784, 128) and g.b1.shape == (128,)
    assert g.W2.shape == (128, 10) and g.b2.shape == (10,)
    assert all(a.dtype == np.float32 for a in (*c, *g))


def test_float64_model_stays_float64():
    m = MLP.init(hidden=16, seed=0, dtype=np.float64)
    X, y = random_batch(3)
    g = m.backward(X, y, m.forward(X))
    assert m.forward(X).p.dtype == np.float64 and g.W1.dtype == np.float64


def test_he_init_is_reproducible_and_scaled():
    a, b, c = MLP.init(seed=7), MLP.init(seed=7), MLP.init(seed=8)
    assert np.array_equal(a.W1, b.W1) and not np.array_equal(a.W1, c.W1)
    assert a.W1.std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert a.W2.std() == pytest.approx(np.sqrt(2 / 128), rel=0.1)
    assert not a.b1.any() and not a.b2.any()


def test_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    p = softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(p[1], [1 / 3] * 3)
    np.testing.assert_allclose(softmax(np.float32([[1000, 999]]))[0], [1 / (1 + np.exp(-1)), 1 / (1 + np.e)], rtol=1e-6)


def test_cross_entropy_of_a_known_tiny_case():
    p = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert cross_entropy(p, np.array([0, 1])) == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)
    # A confidently wrong answer is a large, finite loss, not inf.
    assert np.isfinite(cross_entropy(np.array([[1.0, 0.0]]), np.array([1])))


def test_loss_of_uniform_prediction_is_log_classes():
    m = MLP.init(hidden=8, seed=0, dtype=np.float64)
    m.W2[:] = 0
    X, y = random_batch(5)
    assert cross_entropy(m.forward(X).p, y) == pytest.approx(np.log(10))


def test_dead_unit_gets_zero_gradient_and_is_reported():
    m = MLP.init(hidden=16, seed=0, dtype=np.float64)
    X, y = random_batch(8)
    m.W1[:, 3] = np.abs(m.W1[:, 3])   # alive for every row: inputs are ≥ 0
    dead_before = m.dead_units(X)
    assert not dead_before[3]
    m.W1[:, 3] = -1.0            # inputs are ≥ 0, so a1[:, 3] < 0 for every row
    m.b1[3] = -0.5
    g = m.backward(X, y, m.forward(X))
    assert not g.W1[:, 3].any() and g.b1[3] == 0
    alive = np.flatnonzero(~dead_before & (np.arange(16) != 3))
    assert np.abs(g.W1[:, alive]).sum(axis=0).min() > 0
    expected = dead_before.copy()
    expected[3] = True
    np.testing.assert_array_equal(m.dead_units(X), expected)


def test_sgd_step_moves_against_the_gradient_and_lowers_the_loss():
    m = MLP.init(hidden=32, seed=0, dtype=np.float64)
    X, y = random_batch(16)
    before = cross_entropy(m.forward(X).p, y)
    g = m.backward(X, y, m.forward(X))
    W1 = m.W1.copy()
    m.step(g, lr=0.1)
    np.testing.assert_allclose(m.W1, W1 - 0.1 * g.W1)
    assert cross_entropy(m.forward(X).p, y) < before


def test_predict_proba_rows_sum_to_one_for_one_image_or_many():
    m = MLP.init(seed=0)
    X, _ = random_batch(4)
    assert m.predict_proba(X[0]).shape == (1, 10)
    np.testing.assert_allclose(m.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
