"""Issue 17's words a newcomer misread, and issue 19's cosmetic ones: counts, articles, numbers (lab.plots.words),
and the messages that now go through it."""
from __future__ import annotations

import numpy as np
import pytest

from lab.plots import words
from lab.session import share
from lab.store import budget
from lab.training import describe
from lab.training.runner import FINISHED, STOPPED, Status
from mlp.train import Config
from support import run_status


def test_counts_agree_with_their_noun():
    assert words.count(1, "dead unit") == "1 dead unit"
    assert words.count(0, "dead unit") == "0 dead units"
    assert words.count(14_070, "step") == "14,070 steps"
    assert words.count(2, "is", "are").endswith("are")
    assert words.plural(1, "is", "are") == "is" and words.plural(3, "is", "are") == "are"


@pytest.mark.parametrize("word, said", [(8, "an 8"), (7, "a 7"), (0, "a 0"), (11, "an 11"), (18, "an 18"),
                                        (80, "an 80"), (1, "a 1"), ("18,000", "an 18,000"), (8_500, "an 8500"),
                                        ("epoch", "an epoch"), ("dead unit", "a dead unit")])
def test_articles_go_by_sound(word, said):
    assert words.article(word) == said


def test_numbers_are_written_for_people():
    assert words.number(4_294_967_295) == "4,294,967,295"
    assert words.number(0.05) == "0.05" and words.number(0.1) == "0.1" and words.number(100.0) == "100"
    assert words.number(1e-6) == "1×10⁻⁶" and words.number(2.5e-9) == "2.5×10⁻⁹"
    assert words.number(1.23456) == "1.235" and words.number(float("inf")) == "infinite"
    assert "e+" not in words.number(3e20) and "e-" not in words.number(3e-20)


def test_two_numbers_compared_are_written_apart():
    """Issue 19: "about 6.0 billion … more than the 6.0 billion"."""
    assert words.apart(6.04, 6.0) == ("6.04", "6")
    assert words.apart(13.4, 6.0) == ("13.4", "6")
    assert words.apart(6.0001, 6.0)[0] != words.apart(6.0001, 6.0)[1]


def test_a_sentence_inside_another_drops_its_full_stop():
    """Issue 17: "(Finished 2 epochs, test accuracy 97.0%.), as it was"."""
    assert words.clause("Finished 2 epochs, test accuracy 97.0%.") == "Finished 2 epochs, test accuracy 97.0%"
    assert words.clause("Loading MNIST…") == "Loading MNIST…"


def status(phase: str, epochs: int, steps: int) -> Status:
    return run_status(phase, losses=np.ones(steps), test=(0.97,) * epochs)


def test_a_run_in_words_counts_its_epochs_and_steps_right():
    """Issue 19: "Finished 1 epochs"."""
    assert describe.run(status(FINISHED, 1, 469)).startswith("Finished 1 epoch, test accuracy 97.0%")
    assert describe.run(status(FINISHED, 3, 1407)).startswith("Finished 3 epochs")
    assert describe.run(status(STOPPED, 1, 1)).startswith("Stopped after 1 step,")
    assert describe.trained_model(status(STOPPED, 1, 1)) == "Trained model (1 step, 97.0% test accuracy)"


def test_a_link_value_out_of_range_names_the_range_in_plain_numbers():
    """Issue 17: "outside 0…4.29497e+09"."""
    _, notes = share.parse({"seed": "99999999999"}, [share.Field("seed", int, 0, 2**32 - 1)])
    assert notes == ["seed='99999999999' ignored: outside 0…4,294,967,295"]


def test_a_step_over_the_budget_is_told_apart_from_the_limit():
    """Issue 19: a step of 6.04 billion multiply-adds was "about 6.0 billion … more than the 6.0 billion"."""
    config = Config(batch_size=2048, hidden=1818)
    assert 6.0e9 < budget.step_work(config) < 6.05e9
    with pytest.raises(budget.OverBudget, match=r"about 6\.0\d billion multiply-adds, more than the 6 billion "):
        budget.check(config)
