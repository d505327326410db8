"""The Draw page after issue 16 (AppTest): "so far" until the pen rests, each picture read once,
details computed only when opened, and the compact why and hidden layer beside the answer."""
from __future__ import annotations

import numpy as np

from lab.drawing import canvas, draw, why
from lab.plots import images
from lab.session.state import Key
from lab.store import models
from support import canvas_from_mnist, draw as draw_on, needs_mnist, no_errors, open_details, prediction


def markdown(at) -> str:
    return " ".join(m.value for m in at.markdown) + " " + " ".join(c.value for c in at.caption)


def charts(at) -> set[str]:
    return {el.proto.id.rsplit("-", 1)[1] for el in at.get("plotly_chart")}


def pen_rested(at) -> None:
    """As if PEN_REST_S had passed since the last stroke."""
    drawing = at.session_state[Key.DRAWING]
    at.session_state[Key.DRAWING] = drawing._replace(drawn_at=drawing.drawn_at - canvas.PEN_REST_S)


@needs_mnist
def test_a_stroke_gets_an_answer_so_far_and_confidence_only_once_the_pen_rests(app):
    draw_on(app, canvas_from_mnist(0))
    no_errors(app)
    assert prediction(app) == "7"
    assert "So far it reads a 7" in markdown(app) and "Confident" not in markdown(app)
    pen_rested(app)
    app.run()
    assert prediction(app) == "7"
    assert "Confident: 100%." in markdown(app) and "So far" not in markdown(app)


@needs_mnist
def test_a_rerun_keeps_the_drawing_read_from_the_same_picture(app):
    draw_on(app, canvas_from_mnist(0))
    first = app.session_state[Key.DRAWING]
    app.run()                                      # e.g. the settling run, or a widget elsewhere on the page
    assert app.session_state[Key.DRAWING] is first
    draw_on(app, canvas_from_mnist(1))             # a new picture is read
    assert app.session_state[Key.DRAWING].digest != first.digest


@needs_mnist
def test_details_are_computed_only_once_opened(app):
    draw_on(app, canvas_from_mnist(0))
    assert charts(app) == {"probabilities"}
    assert [e.label.split(":")[0] for e in app.expander] == \
        ["What the network sees", "Why 7 and not another digit", "Inside the hidden layer"]
    assert not [c for image in app.image for c in image.captions if c.startswith("unit ")]
    open_details(app)
    no_errors(app)
    assert charts(app) == {"probabilities", "why_gradient", "hidden"}
    captions = [c for image in app.image for c in image.captions]
    assert "28×28 input x" in captions and sum(c.startswith("unit ") for c in captions) >= 3


@needs_mnist
def test_the_glance_shows_why_against_the_runner_up_and_the_hidden_layer(app):
    draw_on(app, canvas_from_mnist(0))
    x = app.session_state[Key.DRAWING].x
    p = models.shipped().model.predict_proba(x[None])[0]
    assert f"Why 7 and not {why.runner_up(p)}?" in markdown(app)
    h = draw.answer(models.shipped().model, x).h
    assert f"{int((h > 0).sum())} of {len(h)} units fire" in markdown(app)


def test_the_hidden_picture_puts_unit_j_at_row_j_over_16_brightest_for_the_strongest():
    h = np.zeros(128, np.float32)
    h[37], h[5] = 2.0, 1.0
    picture = draw.hidden_picture(h, factor=1)
    assert picture.shape == (8, 16)
    assert picture[37 // 16, 37 % 16] == 255 and picture[0, 5] == 128 and picture.sum() == 255 + 128
    assert draw.hidden_picture(np.zeros(4096, np.float32), factor=1).shape[1] > 16   # a big layer stays wide


def test_the_glance_picture_is_the_gradient_with_the_ink_shaded():
    rng = np.random.default_rng(0)
    c = why.Contrast(7, 3, 1.0, rng.normal(size=784))
    x = np.zeros(784, np.float32)
    x[100] = 1.0
    picture = why.glance_picture(c, x, factor=2)
    plain = images.signed(c.gradient, 2)
    assert picture.shape == plain.shape == (56, 56, 3)
    row, column = divmod(100, 28)
    assert np.array_equal(picture[:2 * row], plain[:2 * row])                       # no ink: the gradient's colour
    shaded = picture[2 * row, 2 * column].astype(int)
    assert (shaded <= plain[2 * row, 2 * column].astype(int) * (1 - why.INK_SHADE) + 1).all()
