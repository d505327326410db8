"""What a browser keeps on the server (lab/training/checkpoints.py): its run, its My digits set and its own model,
read back with their checks, bounded so that a flood of new tokens cannot push out a returning browser's
work, and forgotten on request; and the runner's side of a reload (docs/persistence.md)."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.my_digits import digit_set as md
from lab.session.state import Key
from lab.store import models
from lab.training import checkpoints, train_session
from lab.training import runner as runner_module
from lab.training.loss_history import LossHistory
from lab.training.runner import Checkpoint, TrainingRunner
from mlp import weights
from mlp.model import MLP
from mlp.train import Config
from support import APP, TIMEOUT, start_runner, tiny_data, track_session, wait_for


pytestmark = pytest.mark.usefixtures("runs")


def a_set(n: int = 3) -> md.DigitSet:
    rng = np.random.default_rng(n)
    digits = md.DigitSet()
    for i in range(n):
        digits = digits.add(rng.random(784).astype(np.float32), i % 10, {"objects": [{"type": "path", "i": i}]})
    return digits


def a_model(hidden: int = 8, seed: int = 1) -> models.ModelRef:
    model = MLP.init(hidden=hidden, seed=seed)
    model.meta.update(lessons=2, taught_from="Shipped weights")
    return models.new_ref(model, "Your model: Shipped weights + 2 lessons", prefix="taught")


def small_checkpoint(phase=runner_module.STOPPED, message="") -> Checkpoint:
    return Checkpoint(Config(epochs=3, hidden=8), MLP.init(hidden=8, seed=1), np.arange(1, 101),
                      np.linspace(2, 0.5, 100, dtype=np.float32), (0.8,), (0.82,), (1,), 1, phase, 300, message, 640.0)


def age(token: str, seconds: float) -> None:
    """Make every file of `token` look `seconds` old."""
    then = time.time() - seconds
    for path in checkpoints.folder().glob(f"{token}.*"):
        os.utime(path, (then, then))


# -- each kind, kept and read back ----------------------------------------------------------------------

def test_a_set_a_model_and_a_run_are_kept_and_read_back_as_they_were():
    token = checkpoints.new_token()
    digits, ref = a_set(), a_model()
    checkpoints.save_digits(token, digits)
    checkpoints.save_model(token, ref)
    checkpoints.save(token, small_checkpoint())
    assert sorted(checkpoints.kept(token)) == sorted([checkpoints.RUN, checkpoints.DIGITS, checkpoints.MODEL])
    back = checkpoints.load_digits(token)
    np.testing.assert_array_equal(back.x, digits.x)
    assert back.y.tolist() == digits.y.tolist() and back.strokes == digits.strokes
    model = checkpoints.load_model(token)
    np.testing.assert_array_equal(model.model.W1, ref.model.W1)
    assert model.label == ref.label and model.model.meta == ref.model.meta   # the label is not left in its meta
    run = checkpoints.load(token)
    assert run.samples_per_second == 640.0 and run.phase == runner_module.STOPPED
    assert not list(checkpoints.folder().glob(".*"))                      # no temporary files left


def test_an_empty_set_keeps_nothing_and_forget_removes_everything():
    token = checkpoints.new_token()
    checkpoints.save_digits(token, a_set())
    checkpoints.save_digits(token, md.DigitSet())
    assert checkpoints.load_digits(token) is None
    checkpoints.save_model(token, a_model())
    checkpoints.save(token, small_checkpoint())
    checkpoints.seen_again(token)
    checkpoints.forget(token)
    assert checkpoints.kept(token) == [] and not list(checkpoints.folder().iterdir())


def test_kept_files_are_read_with_their_checks_never_unpickled():
    token = checkpoints.new_token()
    checkpoints.save_digits(token, a_set())
    checkpoints.save_model(token, a_model())
    for kind in (checkpoints.DIGITS, checkpoints.MODEL):
        path = checkpoints.path_for(token, kind)
        np.savez(path, x=np.array([object()], dtype=object))            # what a tampered folder could hold
        loader = checkpoints.load_digits if kind == checkpoints.DIGITS else checkpoints.load_model
        with pytest.raises(checkpoints.CheckpointError, match="cannot be read"):
            loader(token)
        path.write_bytes(b"\0" * (max(md.MAX_BYTES, weights.MAX_BYTES) + 1))
        with pytest.raises(checkpoints.CheckpointError, match="larger than"):
            loader(token)
    for bad in ("../../etc/passwd", "A" * 32, None):
        assert checkpoints.load_digits(bad) is None and checkpoints.load_model(bad) is None


# -- a run's checkpoint: kept, continued, its token and a damaged file ----------------------------------------

def test_a_run_checkpoints_and_a_new_runner_continues_it_to_the_end():
    token = checkpoints.new_token()
    kept = []
    run = start_runner(config=Config(epochs=4, batch_size=32, lr=0.1, hidden=16),
                       on_checkpoint=lambda c: (kept.append(c), checkpoints.save(token, c)))
    wait_for(lambda: run.status().epoch >= 2, 30)
    run.stop()
    assert run.join(5)
    assert kept and kept[-1].phase == runner_module.STOPPED
    back = checkpoints.load(token)
    np.testing.assert_array_equal(back.model.W1, run.snapshot()[0].W1)
    assert back.epoch == run.status().epoch and back.loss_steps[-1] == run.status().steps
    assert back.config == run.config
    resumed = start_runner(config=back.config, resume_from=back)
    assert resumed.join(30)
    status = resumed.status()
    assert status.phase == runner_module.FINISHED and status.epoch == 4
    assert len(status.test_accuracy) == 4 and status.steps == status.total_steps
    assert status.losses[:len(back.losses)].tolist() == back.losses.tolist()
    assert status.loss_steps[:len(back.losses)].tolist() == back.loss_steps.tolist()


def test_checkpoint_tokens_cannot_name_other_files():
    for bad in ("../../etc/passwd", "A" * 32, "", None, 5, "0" * 31):
        assert not checkpoints.is_token(bad)
        assert checkpoints.load(bad) is None
        with pytest.raises(ValueError):
            checkpoints.path_for(bad)


def test_damaged_checkpoints_are_refused_with_a_reason(tmp_path):
    token = checkpoints.new_token()
    path = checkpoints.save(token, small_checkpoint(runner_module.RUNNING))
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read"):
        checkpoints.load(token)
    path.write_bytes(b"not a zip")
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load(token)
    np.savez(path, W1=np.zeros((784, 8)), b1=np.zeros(8), W2=np.zeros((8, 10)), b2=np.zeros(10),
             loss_steps=np.arange(1, 4), losses=np.zeros(3, np.float32),
             info=np.frombuffer(b'{"config": {"hidden": 9}}', np.uint8))
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load(token)
    np.savez(path, evil=np.array([object()], dtype=object))
    with pytest.raises(checkpoints.CheckpointError, match="unexpected members"):
        checkpoints.load(token)


# -- bounds ---------------------------------------------------------------------------------------------------

def test_a_flood_of_fresh_tokens_cannot_evict_a_returning_browsers_work(monkeypatch):
    monkeypatch.setattr(checkpoints, "FRESH", checkpoints.Pool(tokens=3, bytes=2**30))
    monkeypatch.setattr(checkpoints, "RETURNING", checkpoints.Pool(tokens=2, bytes=2**30))
    returning = checkpoints.new_token()
    checkpoints.save_digits(returning, a_set())
    checkpoints.save_model(returning, a_model())
    checkpoints.seen_again(returning)            # its cookie came back: a reload, or the next day
    age(returning, 3600)                         # and it is the oldest of all
    flood = []
    for i in range(20):                          # a script opening cookie-less sessions that train
        flood.append(checkpoints.new_token())
        checkpoints.save(flood[-1], small_checkpoint())
        age(flood[-1], 1000 - i)
    assert checkpoints.load_digits(returning) is not None and checkpoints.load_model(returning) is not None
    assert [t for t in flood if checkpoints.kept(t)] == flood[-3:]     # fresh ones: the newest 3, oldest out first


def test_the_returning_pool_is_bounded_too_least_recently_seen_out_first(monkeypatch):
    monkeypatch.setattr(checkpoints, "RETURNING", checkpoints.Pool(tokens=2, bytes=2**30))
    tokens = [checkpoints.new_token() for _ in range(3)]
    for i, token in enumerate(tokens):
        checkpoints.save_digits(token, a_set())
        checkpoints.seen_again(token)
        age(token, 100 - i)
    assert [bool(checkpoints.kept(t)) for t in tokens] == [False, True, True]     # the least recently seen out
    checkpoints.save_digits(tokens[0], a_set())
    age(tokens[0], 200)
    checkpoints.seen_again(tokens[0])            # it came back once more: now the most recent
    assert [bool(checkpoints.kept(t)) for t in tokens] == [True, False, True]


def test_a_pool_is_bounded_in_bytes_and_a_browser_in_what_it_keeps(monkeypatch):
    size = len(md.to_bytes(a_set(50)))
    monkeypatch.setattr(checkpoints, "FRESH", checkpoints.Pool(tokens=100, bytes=int(2.5 * size)))
    tokens = [checkpoints.new_token() for _ in range(4)]
    for i, token in enumerate(tokens):
        checkpoints.save_digits(token, a_set(50))
        age(token, 100 - i)
    assert [bool(checkpoints.kept(t)) for t in tokens] == [False, False, True, True]
    monkeypatch.setattr(checkpoints, "MAX_TOKEN_BYTES", size + 100)
    with pytest.raises(checkpoints.KeepError, match="the most is"):
        checkpoints.save_model(tokens[3], a_model(hidden=64))
    assert checkpoints.kept(tokens[3]) == [checkpoints.DIGITS]            # refused whole: nothing half written


def test_a_token_that_keeps_nothing_is_not_marked_as_returning():
    token = checkpoints.new_token()
    checkpoints.seen_again(token)                # a script sending made-up cookies
    assert not checkpoints.folder().exists() or not list(checkpoints.folder().iterdir())


# -- the runner's side ------------------------------------------------------------------------------------------

def test_a_run_continued_mid_epoch_counts_every_step_once():
    """Item 4: 30 epochs of 469 steps ended at 14,328 steps, the interrupted epoch counted twice."""
    config = Config(epochs=3, batch_size=32, lr=0.1, hidden=16)
    kept = []
    run = start_runner(config=config, on_checkpoint=kept.append, step_delay=0.002)
    per_epoch = 2048 // 32
    wait_for(lambda: run.status().steps >= per_epoch + per_epoch // 2, 30)
    run.stop()
    assert run.join(10)
    stopped = kept[-1]
    assert stopped.epoch == 1 and stopped.loss_steps[-1] > per_epoch          # stopped inside epoch 2
    resumed = start_runner(config=config, resume_from=stopped)
    assert resumed.join(30)
    status = resumed.status()
    assert status.phase == runner_module.FINISHED and status.epoch == 3
    assert status.steps == status.total_steps == 3 * per_epoch


def test_a_diverged_run_comes_back_diverged_and_continues_only_at_a_smaller_rate():
    """Item 5: a diverged run opened in a new tab said "2 epochs left: press Continue", at η 50 again."""
    message = "Training diverged: the loss exploded. The last good weights are kept."
    run = TrainingRunner.restored(small_checkpoint(runner_module.DIVERGED, message))
    assert run.status().phase == runner_module.DIVERGED and run.status().message == message
    offered = train_session.continue_config(run)
    assert offered is not None and offered.lr == pytest.approx(run.config.lr / 10)
    assert train_session.continue_config(TrainingRunner.restored(small_checkpoint())).lr == run.config.lr


def test_a_run_goes_on_while_any_session_watching_it_is_connected(monkeypatch):
    """Item 2: a reload is a new session; the run must not stop when the old one disconnects."""
    monkeypatch.setattr(runner_module, "DISCONNECT_GRACE", 0.3)
    monkeypatch.setattr(runner_module, "CONNECTION_CHECK_EVERY", 0.05)
    old_session = {"connected": True}
    run = start_runner(connected=lambda: old_session["connected"], step_delay=0.01)
    run.watch(lambda: True)                      # the reloaded page
    old_session["connected"] = False             # the old page is gone
    time.sleep(1.0)
    assert run.alive and run.status().active
    lonely = start_runner(connected=lambda: False, step_delay=0.01)
    assert lonely.join(5) and lonely.status().phase == runner_module.ORPHANED


def test_a_restored_loss_history_goes_on_like_the_one_it_was_kept_from():
    kept, fresh = LossHistory(capacity=64), LossHistory(capacity=64)
    for i in range(1000):
        kept.append(float(i))
    restored = LossHistory.restored(*kept.curve(), capacity=64)
    for i in range(1000):
        fresh.append(float(i))
    for i in range(1000, 1500):
        restored.append(float(i))
        fresh.append(float(i))
    assert restored.steps == fresh.steps == 1500
    steps, losses = restored.curve()
    assert len(steps) <= 65 and steps[-1] == 1500 and (np.diff(steps) > 0).all()
    np.testing.assert_allclose(np.interp(steps, *fresh.curve()), losses, atol=16)


# -- a session of the same browser finds it all again --------------------------------------------------------

def session(token: str, page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[Key.BROWSER_TOKEN] = token          # the cookie, as a reload sends it
    if page:
        at.switch_page(page)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    return track_session(at)


def test_a_new_session_of_the_browser_finds_its_set_and_model_and_a_live_run():
    token = checkpoints.new_token()
    checkpoints.save_digits(token, a_set(4))
    checkpoints.save_model(token, a_model())
    live = start_runner(load=lambda progress: tiny_data())
    train_session.follow(token, live)
    at = session(token, "pages/6_My_digits.py")
    assert not at.exception
    assert any("4 drawings: what each model reads" in h.value for h in at.subheader)
    assert "Shipped weights + 2 lessons" in " ".join(m.value for m in at.sidebar.markdown)
    assert at.session_state[Key.RUNNER] is live                                   # followed, not restored
    assert any("4 drawings are back" in t.value for t in at.toast)


def test_a_links_settings_and_a_restored_runs_are_told_apart_and_either_can_be_chosen():
    """Item 4: the fields showed the link's 0.9 / 7 / 9 while Continue trained the old run at 0.1 / 30."""
    token = checkpoints.new_token()
    checkpoints.save(token, small_checkpoint())                # η 0.1 · 3 epochs · seed 0, one epoch done
    at = session(token, "pages/1_Train.py", {"lr": "0.9", "epochs": "7", "seed": "9"})
    infos = " ".join(i.value for i in at.info)
    assert "The link's settings (η 0.9 · epochs 7 · seed 9) are in the fields" in infos
    assert "Your restored run has η 0.1 · epochs 3 · seed 0; Continue trains it with its own settings" in infos
    assert at.number_input(key=Key.train("lr")).value == 0.9
    assert [b.label for b in at.button if b.label.startswith("Continue")] == ["Continue: 2 epochs left at η 0.1"]
    [use_run] = [b for b in at.button if b.label == "Use my run's settings"]
    use_run.click().run()
    assert at.number_input(key=Key.train("lr")).value == 0.1 and at.number_input(key=Key.train("epochs")).value == 3
    assert any("The fields show your run's settings (η 0.1 · epochs 3 · seed 0)" in i.value for i in at.info)
    assert [b.label for b in at.button if b.label == "Use the link's settings"]


def test_a_restore_says_what_was_lost_only_when_the_server_died_mid_training():
    """Item 2: a restart restores from the checkpoint and says how many steps were lost."""
    died = small_checkpoint(runner_module.RUNNING)             # 640 samples/s, batch 128: 25 steps in 5 s
    text = train_session.restored_message(died, TrainingRunner.restored(died))
    assert "at step 100 (epoch 1 of 3 done)" in text and "up to 5 s of training, about 25 steps" in text
    for phase in (runner_module.STOPPED, runner_module.PAUSED, runner_module.FINISHED):
        kept = small_checkpoint(phase)
        assert "Nothing was lost" in train_session.restored_message(kept, TrainingRunner.restored(kept))
