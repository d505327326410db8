"""Issue 17, "charts and words a newcomer misread": the figures as a reader meets them (plotly specs,
no browser), and the pages' words that go through lab.plots.words."""
from __future__ import annotations

import numpy as np
import pytest

from streamlit.testing.v1 import AppTest

from lab.boundaries import figures as boundary_figures
from lab.plots import figures, words
from lab.session.state import Key
from lab.store import mnist, models
from lab.training import checkpoints, train_view
from lab.training.checkpoints import Checkpoint
from lab.training.runner import DIVERGED, FINISHED, RUNNING
from mlp.model import MLP
from mlp.train import Config
from support import (APP, array, canvas_from_mnist, click, draw, first_test_image_of, needs_mnist, new_session,
                     no_errors, open_details, plotly, start_runner, track_session)
from support import run_status as status


def percentage_axes(figure) -> list[dict]:
    layout = figure.to_plotly_json()["layout"]
    return [axis for name, axis in layout.items() if name.startswith(("xaxis", "yaxis"))
            and ("%" in axis.get("tickformat", "") or any("%" in str(t) for t in axis.get("ticktext", ())))]


# -- one rule for percentage axes ----------------------------------------------------------------------

def test_a_small_accuracy_span_gets_tick_labels_that_never_repeat():
    """Train's accuracy axis read 12.0%, 12.0%, 12.0%, 11.9%: plotly's ticks under a fixed ".1%"."""
    figure = train_view.accuracy_curve(status(test=(0.1195, 0.1201, 0.1190, 0.1199), train=(0.1192, 0.1197,
                                                                                             0.1188, 0.1200)))
    axis = figure.to_plotly_json()["layout"]["yaxis"]
    labels = axis.get("ticktext")
    assert labels and len(labels) >= 3 and len(set(labels)) == len(labels), labels
    low, high = axis["range"]
    assert low <= 0.1188 and 0.1201 <= high and high - low < 0.01, "zoomed on the values"
    for value, label in zip(axis["tickvals"], labels):
        assert float(label.rstrip("%")) == pytest.approx(100 * value)


@pytest.mark.parametrize("low, high", [(0.1189, 0.1201), (0.5, 0.5004), (0.976, 0.997), (0, 1.05), (0.4, 1.02),
                                       (0.9, 1.0), (0.99999, 1.0)])
def test_the_percentage_rule_writes_distinct_ticks_inside_the_range(low, high):
    axis = figures.percent_axis(low, high)
    assert len(set(axis["ticktext"])) == len(axis["ticktext"]) >= 2
    assert all(low - 1e-12 <= v <= min(high, 1.0) + 1e-12 for v in axis["tickvals"])


def test_every_percentage_axis_in_the_app_follows_the_one_rule():
    accuracy = np.array([0.991, 0.993, 0.976, 0.98, 0.985, 0.979, 0.982, 0.975, 0.97, 0.997])
    built = {"accuracy per epoch": train_view.accuracy_curve(status(test=(0.95, 0.96))),
             "accuracy per digit": figures.per_class_accuracy(accuracy),
             "before and after": figures.before_after(np.full(10, 0.1), np.full(10, 0.1), 3),
             "boundaries' race": boundary_figures.accuracy_race(np.arange(3), np.full(3, 0.8), np.full(3, 0.9))}
    for name, figure in built.items():
        axes = percentage_axes(figure)
        assert axes, f"{name}: no percentage axis found"
        for axis in axes:
            assert "%" not in axis.get("tickformat", ""), f"{name}: plotly's own ticks under {axis['tickformat']}"
            assert len(set(axis["ticktext"])) == len(axis["ticktext"]), name


def test_counts_on_axes_are_written_in_full_not_over_a_shared_power_of_ten():
    """The loss axis showed "0.5×10⁴" (plotly writes every tick over the largest one's exponent)."""
    figure = train_view.loss_curve(status(losses=np.linspace(2.3, 0.2, 30_000)), Config())
    layout = figure.to_plotly_json()["layout"]
    for axis in (layout["xaxis"], layout["yaxis"]):
        assert axis["exponentformat"] == "none" and axis["separatethousands"]
    assert figures.histogram(np.zeros(10_000)).layout.yaxis.exponentformat == "none"


# -- the accuracy-per-digit chart ---------------------------------------------------------------------

@needs_mnist
def test_evaluate_shows_accuracy_per_digit_zoomed_sorted_and_labelled(app):
    """It was bars from 0 to 100%, so 97.6% and 99.7% looked alike, with labels shrunk to ~6 px."""
    app.switch_page("pages/4_Evaluate.py").run()
    no_errors(app)
    spec = plotly(app, "per_class")
    [dots] = spec["data"]
    values = array(dots["x"]).astype(float)
    assert np.all(np.diff(values) >= 0), "sorted, hardest digit first"
    assert sorted(dots["y"]) == [str(d) for d in range(10)]
    assert dots["text"] == [f"{v:.1%}" for v in values], "each digit's value written beside it"
    assert dots["textfont"]["size"] >= 12 and dots["type"] == "scatter", "plain text, not shrunk to a bar"
    low, high = spec["layout"]["xaxis"]["range"]
    assert low > 0.5 and high - low < 4 * (values.max() - values.min()), "the axis zoomed on the values"


# -- an earlier run beside a diverged one -------------------------------------------------------------

def test_a_diverged_run_is_not_squeezed_by_an_earlier_longer_run():
    """The earlier run's 9,380 steps set the axis, so a run that diverged at step 30 was a dot at the left."""
    earlier = train_view.EarlierRun("η 0.1 · batch 128 · h 128 · seed 0", np.arange(0, 9_381, 35),
                                    np.linspace(2.3, 0.05, len(np.arange(0, 9_381, 35))), 0.978)
    blown = status(DIVERGED, losses=np.r_[np.linspace(2.3, 8, 29), 25_000.0])
    figure = train_view.loss_curve(blown, Config(lr=50.0), [earlier]).to_plotly_json()
    layout = figure["layout"]
    assert layout["xaxis"]["range"][1] <= 40, "the step axis spans the diverged run"
    top = layout["yaxis"]["range"][1]
    assert top <= train_view.LOSS_CEILING, "the explosion does not flatten the earlier run into the floor"
    [earlier_line] = [t for t in figure["data"] if t["name"].startswith("earlier:")]
    assert "past the edge" in earlier_line["name"]
    [mark] = [t for t in figure["data"] if t["name"] == "diverged"]
    assert mark["y"][0] <= top and "25,000" in mark["text"][0] and "off the scale" in mark["text"][0]


def test_a_running_run_is_drawn_to_its_own_steps_and_keeps_a_loss_on_the_scale():
    earlier = train_view.EarlierRun("η 0.1", np.array([0, 500, 1000]), np.array([2.3, 0.4, 0.2]), None)
    figure = train_view.loss_curve(status(RUNNING, losses=[2.3, 1.5, 1.1], steps=[10, 20, 30]), Config(),
                                   [earlier]).to_plotly_json()
    assert figure["layout"]["xaxis"]["range"] == [0, 30]
    few = train_view.loss_curve(status(DIVERGED, losses=[2.3, 41.1]), Config(lr=50.0)).to_plotly_json()
    assert few["layout"]["xaxis"]["range"] == [0, 2] and few["layout"]["xaxis"]["dtick"] == 1, "no step 0.5"
    assert figure["layout"]["yaxis"]["range"][1] == pytest.approx(1.05 * 2.3)


# -- words on the pages -------------------------------------------------------------------------------

def test_draw_with_one_model_says_which_answers_instead_of_a_radio_of_one(app):
    no_errors(app)
    assert not [r for r in app.radio if r.key == Key.MODEL_SOURCE], "a radio with a single option"
    assert any("**Which model answers**: Shipped weights" in m.value for m in app.markdown)


def test_draw_offers_the_choice_once_there_are_two_models():
    run = start_runner(config=Config(epochs=1, batch_size=32, hidden=16))
    assert run.join(30)
    at = new_session()
    at.session_state[Key.RUNNER] = run
    at.run()
    assert at.radio(key=Key.MODEL_SOURCE).options == ["Shipped weights", "Model from the Train page"]


@needs_mnist
def test_dead_units_and_digits_are_counted_and_named_in_good_english(app):
    """ "✕ marks the 1 dead units", "in My digits as a 8"."""
    open_details(draw(app, canvas_from_mnist(first_test_image_of(8))))   # the hidden layer is a detail
    no_errors(app)
    dead = int(models.dead_units(models.shipped()).sum())
    caption = " ".join(c.value for c in app.caption)
    assert f"{words.count(dead, 'unit')} {words.plural(dead, 'is', 'are')} dead, silent on all " in caption
    app.selectbox(key=Key.TEACH_LABEL).set_value(8)
    click(app, "Correct it" if not any(b.label == "Yes, it is an 8" for b in app.button) else "Yes, it is an 8")
    no_errors(app)
    texts = [e.value for kind in (app.success, app.markdown) for e in kind]
    assert any("as an 8" in t for t in texts), texts


# -- the first run ---------------------------------------------------------------------------------------

def test_the_first_run_goes_on_well_after_its_charts_first_draw(app):
    """The default 5-epoch run took ~3 s on an idle machine and ended about when its charts first drew
    (the live view redraws every second; the accuracy chart waits for an epoch).  bench/first_run.py
    measures it in Chromium; the README's defaults give the figures."""
    app.switch_page("pages/1_Train.py").run()
    epochs = app.number_input(key=Key.train("epochs")).value
    assert epochs == Config().epochs >= 15, "as mlp.train: about 10 s idle, 14 accuracy points after the first"
    assert any(f"Press Start to train {epochs} epochs" in i.value for i in app.info) or not mnist.is_ready()


def test_a_restored_run_is_described_in_one_sentence_without_stray_stops():
    """It read "(Finished 1 epochs, test accuracy 97.0%.), as it was…"."""
    token = checkpoints.new_token()
    losses = np.linspace(2, 0.5, 100, dtype=np.float32)
    checkpoints.save(token, Checkpoint(Config(epochs=1, hidden=8), MLP.init(hidden=8, seed=1), np.arange(1, 101),
                                       losses, (0.97,), (0.98,), (1,), 1, FINISHED, 100))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[Key.BROWSER_TOKEN] = token              # the browser's cookie, as a reload sends it
    at.switch_page("pages/1_Train.py")
    track_session(at.run())
    said = " ".join(i.value for i in [*at.info, *at.success, *at.toast])
    assert "(Finished 1 epoch, test accuracy 97.0%). Nothing was lost" in said, said
