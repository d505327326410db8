"""The network's math: gradients against finite differences, shapes, stability, dead units."""
import numpy as np
import pytest

from mlp.gradcheck import check, numerical_grad
from mlp.model import MLP, Cache, Grads, SoftmaxRegression, cross_entropy, softmax


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
    assert_backward_matches(check(model64, X, y, per_parameter=40, eps=1e-5), {"W1", "b1", "W2", "b2"})


def assert_backward_matches(results, names, informative=10):
    assert {r.parameter for r in results} == names
    for name in names:
        errors = [r.relative_error for r in results if r.parameter == name]
        nonzero = [r for r in results if r.parameter == name and abs(r.analytic) > 1e-8]
        assert len(nonzero) >= informative, f"{name}: too few informative entries checked"
        assert max(errors) < 1e-6, f"{name}: max relative error {max(errors):.2e}"


def test_whole_b2_and_W2_columns_match_finite_differences(model64):
    """Every entry of the small parameters, not just a sample."""
    X, y = random_batch(4, seed=9)
    g = model64.backward(X, y, model64.forward(X))
    loss = lambda: cross_entropy(model64.forward(X).p, y)  # noqa: E731
    for j in range(10):
        n = numerical_grad(loss, model64.b2, (j,), eps=1e-5)
        assert abs(n - g.b2[j]) <= 1e-6 * max(abs(n), 1e-3)
        n = numerical_grad(loss, model64.W2, (7, j), eps=1e-5)
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


@pytest.mark.parametrize("make", [lambda: MLP.init(hidden=8, seed=0, dtype=np.float64),
                                  lambda: SoftmaxRegression.init(seed=0, dtype=np.float64)])
def test_sgd_step_is_forward_backward_and_step_and_returns_the_probabilities_before(make):
    m, by_hand = make(), make()
    X, y = random_batch(16)
    cache = m.sgd_step(X, y, lr=0.1)
    before = by_hand.forward(X)
    by_hand.step(by_hand.backward(X, y, before), 0.1)
    np.testing.assert_allclose(cache.p, before.p)
    for key, theta in m.params().items():
        np.testing.assert_array_equal(theta, by_hand.params()[key])
    assert not np.allclose(m.predict_proba(X), cache.p)


def test_predict_proba_rows_sum_to_one_for_one_image_or_many():
    m = MLP.init(seed=0)
    X, _ = random_batch(4)
    assert m.predict_proba(X[0]).shape == (1, 10)
    np.testing.assert_allclose(m.predict_proba(X).sum(axis=1), 1, rtol=1e-5)


# -- any input and class count; softmax regression; the input gradient --------------------------

def test_mlp_with_2_inputs_matches_finite_differences():
    m = MLP.init(hidden=8, seed=2, inputs=2, classes=3, dtype=np.float64)
    m.b1[:] = np.random.default_rng(4).normal(0, 0.1, 8)
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 3, 20)
    assert m.forward(X).p.shape == (20, 3) and (m.inputs, m.hidden, m.classes) == (2, 8, 3)
    # Every entry: W1 has 16, the others fewer than 40.
    assert_backward_matches(check(m, X, y, per_parameter=40, eps=1e-5), {"W1", "b1", "W2", "b2"}, informative=2)


def test_softmax_regression_matches_finite_differences_and_learns():
    m = SoftmaxRegression.init(seed=1, inputs=784, classes=10, dtype=np.float64)
    m.b[:] = np.random.default_rng(2).normal(0, 0.1, 10)
    X, y = random_batch(6)
    assert_backward_matches(check(m, X, y, per_parameter=40, eps=1e-5), {"W", "b"})
    g = m.backward(X, y, m.forward(X))
    assert g.W.shape == (784, 10) and g.b.shape == (10,) and g.dz.shape == (6, 10)
    np.testing.assert_allclose(g.b, g.dz.sum(axis=0))
    before, W = m.loss(X, y), m.W.copy()
    m.step(g, lr=0.01)
    np.testing.assert_allclose(m.W, W - 0.01 * g.W)
    assert m.loss(X, y) < before


def test_softmax_regression_has_the_mlp_interface_and_its_own_dtype():
    m = SoftmaxRegression.init(seed=0, inputs=2, classes=2)
    X = np.float32([[0, 0], [1, 1], [2, -1]])
    p = m.predict_proba(X)
    assert p.shape == (3, 2) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    assert set(m.params()) == {"W", "b"} and m.predict(X).shape == (3,)
    clone = m.copy()
    clone.W += 1
    assert not np.array_equal(clone.W, m.W)
    assert 0 <= m.accuracy(X, np.array([0, 1, 1])) <= 1
    with pytest.raises(ValueError, match="classes"):
        SoftmaxRegression.init(classes=1)


def test_softmax_regression_cannot_learn_xor_but_the_mlp_can():
    """The point of the hidden layer: XOR's classes are not separated by one straight line."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    linear, mlp = SoftmaxRegression.init(inputs=2, classes=2), MLP.init(hidden=16, seed=0, inputs=2, classes=2)
    for _ in range(2000):
        for m in (linear, mlp):
            m.step(m.backward(X, y, m.forward(X)), lr=0.5)
    assert linear.accuracy(X, y) <= 0.75
    assert mlp.accuracy(X, y) >= 0.95


def test_input_gradient_matches_finite_differences():
    m = MLP.init(hidden=16, seed=3, inputs=784, classes=10, dtype=np.float64)
    m.b1[:] = np.random.default_rng(4).normal(0, 0.1, 16)
    x = np.random.default_rng(5).random(784)
    for a, b in ((3, None), (3, 8), (0, 9)):
        g = m.input_gradient(x, a, b)
        assert g.shape == (784,) and g.dtype == np.float64
        xx = x.copy()
        def margin(xx=xx, a=a, b=b) -> float:
            z = m.forward(xx[None, :]).z[0]
            return float(z[a] - (0 if b is None else z[b]))
        for i in list(np.argsort(np.abs(g))[-10:]) + [0, 400, 783]:
            n = numerical_grad(margin, xx, (int(i),), eps=1e-5)
            assert abs(n - g[i]) <= 1e-9 + 1e-6 * max(abs(n), abs(g[i])), (a, b, i)
    assert np.abs(m.input_gradient(x, 3, 8)).max() > 0
    # z_a − z_a does not depend on x.
    assert not m.input_gradient(x, 5, 5).any()


def test_input_gradient_with_2_inputs_and_bad_arguments():
    m = MLP.init(hidden=4, seed=0, inputs=2, classes=3, dtype=np.float64)
    assert m.input_gradient(np.array([0.5, -0.2]), 1, 2).shape == (2,)
    with pytest.raises(ValueError, match="shape"):
        m.input_gradient(np.zeros(784), 1)
    with pytest.raises(ValueError, match="class"):
        m.input_gradient(np.zeros(2), 3)
    with pytest.raises(ValueError, match="class"):
        m.input_gradient(np.zeros(2), 0, -1)


def test_init_refuses_bad_sizes_and_keeps_784_10_as_default():
    m = MLP.init(hidden=5)
    assert (m.inputs, m.classes) == (784, 10)
    for kw in ({"hidden": 0}, {"inputs": 0}, {"classes": 1}, {"inputs": 2.5}):
        with pytest.raises(ValueError):
            MLP.init(**kw)


def test_backward_writes_into_given_buffers_and_returns_the_intermediates():
    m = MLP.init(hidden=16, seed=0, dtype=np.float64)
    X, y = random_batch(5)
    fresh = m.backward(X, y, m.forward(X))
    cache_out = tuple(np.empty(s) for s in ((5, 16), (5, 16), (5, 10), (5, 10)))
    grads_out = tuple(np.empty(s) for s in ((784, 16), (16,), (16, 10), (10,), (5, 10), (5, 16), (5, 16)))
    cache = m.forward(X, out=Cache(*cache_out))
    grads = m.backward(X, y, cache, out=Grads(*grads_out))
    assert all(a is b for a, b in zip(cache, cache_out)) and all(a is b for a, b in zip(grads, grads_out))
    for a, b in zip(grads, fresh):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fresh.dh, fresh.dz @ m.W2.T)
    np.testing.assert_allclose(fresh.da1, fresh.dh * (cache.a1 > 0))
