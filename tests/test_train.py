"""Training on real MNIST: the loss falls, held-out accuracy beats 90%, runs are reproducible,
bad settings are refused and divergence never leaves NaN weights."""
import numpy as np
import pytest

from mlp import idx, weights
from mlp.model import MLP, SoftmaxRegression, cross_entropy
from mlp.train import Config, Diverged, Trainer, main


@pytest.fixture(scope="module")
def mnist():
    try:
        return idx.load_mnist("train"), idx.load_mnist("test")
    except (idx.MnistError, OSError) as e:
        pytest.fail(f"real MNIST is needed (make test fetches it: python -m mlp.fetch): {e}")


@pytest.mark.slow
def test_training_on_a_few_thousand_samples_lowers_loss_and_beats_90_percent(mnist):
    (X, y), (X_test, y_test) = mnist
    X, y = X[:5000], y[:5000]
    model = MLP.init(seed=0)
    before = model.loss(X_test[:2000], y_test[:2000])
    history = Trainer(model, X, y, Config(epochs=8, lr=0.2, batch_size=32)).train()
    after = model.loss(X_test[:2000], y_test[:2000])
    assert history[-1]["loss"] < history[0]["loss"] < before
    assert after < before / 4
    assert model.accuracy(X_test, y_test) > 0.90


def test_same_seed_same_weights_different_seed_different(mnist):
    (X, y), _ = mnist
    def run(seed):
        model = MLP.init(hidden=32, seed=seed)
        Trainer(model, X[:1000], y[:1000], Config(epochs=1, hidden=32, seed=seed)).train()
        return model.W1
    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


@pytest.mark.parametrize("rows, hidden", [(32, 16), (40, 8), (40, None)])
def test_train_batch_is_the_equations_of_the_model(rows, hidden):
    """Trainer's buffered steps equal forward/backward/step of mlp.model in float64, for the MLP and
    (hidden None) softmax regression; with 40 rows at batch 32 the second step uses the first 8 rows
    of every buffer."""
    rng = np.random.default_rng(rows)
    X8 = rng.integers(0, 256, (rows, 784), dtype=np.uint8)
    y = rng.integers(0, 10, rows)
    if hidden is None:
        fast, hidden = SoftmaxRegression.init(seed=0, dtype=np.float64), Config().hidden
    else:
        fast = MLP.init(hidden=hidden, seed=0, dtype=np.float64)
    slow = fast.copy()
    trainer = Trainer(fast, X8, y, Config(epochs=1, batch_size=32, hidden=hidden, lr=0.5))
    trainer._order = np.arange(rows)
    for start in range(0, rows, 32):
        result = trainer.train_batch()
        X, yb = X8[start:start + 32] / 255.0, y[start:start + 32]
        cache = slow.forward(X)
        slow.step(slow.backward(X, yb, cache), lr=0.5)
        assert result.loss == pytest.approx(cross_entropy(cache.p, yb), rel=1e-12)
    assert result.epoch_done
    for name, theta in fast.params().items():
        np.testing.assert_allclose(theta, getattr(slow, name), rtol=1e-10, atol=1e-12)


def test_trains_a_2_input_model_on_float_points():
    """The same trainer for a toy 2-D set: float inputs pass through unscaled; XOR is learnt."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    model = MLP.init(hidden=16, seed=0, inputs=2, classes=2)
    history = Trainer(model, X, y, Config(epochs=150, hidden=16, batch_size=32, lr=0.3)).train()
    assert history[-1]["loss"] < history[0]["loss"] / 3
    assert model.accuracy(X, y) >= 0.95


def xor_points(n: int = 400):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)


def test_a_caller_may_keep_the_checkpoints_and_count_only_non_finite_as_divergence():
    """Boundaries' use: checkpoint_every=None goes back to the caller's checkpoint, not one taken every
    50 steps; exploded=None lets a large finite loss through, which the default rule stops."""
    X, y = xor_points()
    model = MLP.init(hidden=8, seed=0, inputs=2, classes=2)
    trainer = Trainer(model, X, y, Config(batch_size=len(y), hidden=8, lr=0.3), checkpoint_every=None, exploded=None)
    start = {k: v.copy() for k, v in model.params().items()}
    for _ in range(60):
        trainer.train_batch()
    trainer.lr = 1e30
    with np.errstate(all="ignore"), pytest.raises(Diverged, match="not finite"):
        for _ in range(10):
            trainer.train_batch()
    for name, theta in model.params().items():
        np.testing.assert_array_equal(theta, start[name])
    for guard, raises in ((None, False), (4.0, True)):
        wrong = MLP.init(hidden=8, seed=0, inputs=2, classes=2)
        wrong.W2[...], wrong.b2[...] = 0, (0, 100)            # class 1 everywhere, sure of it: loss ≈ 87
        zeros = np.zeros(len(y), int)
        trainer = Trainer(wrong, X, zeros, Config(batch_size=len(y), hidden=8, lr=1e-6), exploded=guard)
        if raises:
            with pytest.raises(Diverged, match="exploded"):
                trainer.train_batch()
        else:
            assert trainer.train_batch().loss > 50


def test_a_caller_may_hand_in_its_own_batches():
    """Fine-tuning's use: the trainer steps through the caller's batches, steps_per_epoch of them an epoch."""
    X, y = xor_points()
    asked = []

    def batches(i):
        asked.append(i)
        return X[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]

    batches.steps_per_epoch = 3
    model = MLP.init(hidden=8, seed=0, inputs=2, classes=2)
    trainer = Trainer(model, X, y, Config(batch_size=10, hidden=8, lr=0.3), batches=batches)
    done = [trainer.train_batch().epoch_done for _ in range(6)]
    assert asked == [0, 1, 2, 0, 1, 2] and done == [False, False, True] * 2 and trainer.epoch == 2
    twin = MLP.init(hidden=8, seed=0, inputs=2, classes=2)
    for i in [0, 1, 2] * 2:
        twin.step(twin.backward(X[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10],
                                twin.forward(X[i * 10:(i + 1) * 10])), 0.3)
    for name, theta in model.params().items():
        np.testing.assert_allclose(theta, getattr(twin, name), rtol=1e-5, atol=1e-6)


def test_data_that_does_not_fit_the_model_is_refused():
    model = MLP.init(hidden=4, seed=0, inputs=2, classes=3)
    X = np.zeros((5, 2))
    for bad_X, bad_y, message in ((np.zeros((5, 784)), np.zeros(5, int), r"X \(N,2\)"),
                                  (X, np.zeros(4, int), r"X \(N,2\)"),
                                  (X, np.array([0, 1, 2, 3, 0]), r"0\.\.2"),
                                  (X, np.array([0, 1, -1, 0, 0]), r"0\.\.2"),
                                  (X, np.zeros(5), "integers")):
        with pytest.raises(ValueError, match=message):
            Trainer(model, bad_X, bad_y, Config(hidden=4))
    with pytest.raises(ValueError, match="augmentation"):
        Trainer(model, X, np.zeros(5, int), Config(hidden=4, augment=True))

def test_momentum_l2_and_decay_change_the_run(mnist):
    (X, y), _ = mnist
    def run(**kw):
        model = MLP.init(hidden=16, seed=0)
        Trainer(model, X[:2000], y[:2000], Config(epochs=2, hidden=16, **kw)).train()
        return model.W1
    plain = run()
    for kw in ({"momentum": 0.9}, {"l2": 1e-3}, {"lr_decay": 0.5}):
        assert not np.allclose(run(**kw), plain), kw


@pytest.mark.parametrize("field, value", [
    ("lr", 0.0), ("lr", -1.0), ("lr", float("nan")), ("lr", 1000.0),
    ("batch_size", 0), ("batch_size", 1.5), ("epochs", 0), ("epochs", 10**6),
    ("hidden", 0), ("momentum", 1.0), ("seed", -1),
])
def test_out_of_range_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value}).validate()
    with pytest.raises(ValueError, match=field):   # where it is made: no Config out of range exists
        Config(**{field: value})


def test_divergence_is_caught_within_one_step_and_weights_stay_finite():
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, (256, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 256)
    model = MLP.init(hidden=16, seed=0)
    model.W2 *= 1e38   # logits overflow float32 on the very first step
    saved = {k: v.copy() for k, v in model.params().items()}
    trainer = Trainer(model, X8, y, Config(epochs=1, hidden=16, lr=0.1))
    with pytest.raises(Diverged, match="not finite|exploded"):
        trainer.train_batch()
    assert model.is_finite()
    for k, v in saved.items():
        np.testing.assert_array_equal(getattr(model, k), v)


@pytest.mark.parametrize("lr", [3.0, 50.0])
def test_large_learning_rate_stops_with_last_good_weights(mnist, lr):
    (X, y), (X_test, y_test) = mnist
    model = MLP.init(seed=0)
    trainer = Trainer(model, X, y, Config(lr=0.1))
    for _ in range(100):           # a good start, checkpointed at step 50 and 100
        trainer.train_batch()
    good_accuracy = model.accuracy(X_test, y_test)
    trainer.lr = lr
    with pytest.raises(Diverged, match="learning rate"):
        for _ in range(40):
            trainer.train_batch()
    assert trainer.steps - 100 <= 10, "an exploding loss must be caught within a few steps"
    assert model.is_finite()
    assert model.accuracy(X_test, y_test) == pytest.approx(good_accuracy, abs=1e-9)


@pytest.mark.slow
def test_healthy_small_batch_training_is_not_called_divergence(mnist):
    (X, y), _ = mnist
    model = MLP.init(hidden=32, seed=0)
    Trainer(model, X[:3000], y[:3000], Config(epochs=2, hidden=32, batch_size=1, lr=0.01)).train()
    assert model.is_finite()


@pytest.mark.slow
def test_cli_trains_and_saves_with_meta(mnist, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cli.npz"
    assert main(["--epochs", "1", "--hidden", "16", "--seed", "3", "--out", str(out)]) == 0
    model = weights.load(out)
    assert model.hidden == 16
    assert model.meta["recipe"]["seed"] == 3 and model.meta["recipe"]["epochs"] == 1
    assert model.meta["test_accuracy"] > 0.85
    assert "test accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="lr"):
        main(["--lr", "-1"])


@pytest.mark.slow
def test_shipped_weights_really_score_what_their_meta_says(mnist):
    _, (X_test, y_test) = mnist
    model = weights.load_shipped()
    accuracy = model.accuracy(X_test, y_test)
    assert accuracy >= 0.985
    assert accuracy == pytest.approx(model.meta["test_accuracy"], abs=1e-4)
