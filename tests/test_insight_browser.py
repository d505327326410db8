"""Issue 11 in Chromium: the canvas's top-right corner draws, a phone draws with touch and sees the answer,
clicks on the confusion matrix and the W1 grid choose, and nothing is cut off at 1280 px."""
from __future__ import annotations

import re

import pytest

from support import CANVAS, CUT_OFF, PREDICTION, PROMPT, SEVEN, needs_mnist

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

PHONE = {"width": 390, "height": 844}
LINE = ".st-key-prediction_line"


@pytest.fixture
def desktop(new_tab):
    return new_tab({"width": 1280, "height": 1000})


def open_draw(page, url: str):
    page.goto(url)
    page.locator(CANVAS).wait_for()
    page.get_by_text(PROMPT).wait_for()
    return page.locator(CANVAS).bounding_box()


def test_a_stroke_starting_in_the_top_right_corner_draws(desktop, server):
    """Issue 11 bug 3: the toolbar's invisible box over the top-right corner swallowed such strokes."""
    url, _ = server
    box = open_draw(desktop, url)
    start = (box["x"] + 272, box["y"] + 6)           # the top-right corner, where the toolbar was
    desktop.mouse.move(*start)
    desktop.mouse.down()                             # at once: no hover time for a toolbar to slide away
    for x, y in ((200, 10), (120, 12), (110, 150), (100, 260)):
        desktop.mouse.move(box["x"] + x, box["y"] + y, steps=6)
    desktop.mouse.up()
    desktop.locator(PREDICTION).wait_for(timeout=15_000)
    assert desktop.locator(".dc-toolbar").first.is_hidden(), "no toolbar over the canvas"
    assert desktop.get_by_role("button", name="Clear").count() == 1, "one Clear control"


def test_a_phone_draws_with_touch_and_sees_the_answer_without_scrolling(new_tab, server, tmp_path):
    url, _ = server
    phone = new_tab(PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    box = open_draw(phone, url)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "the whole canvas fits the width"
    touch = phone.context.new_cdp_session(phone)
    stroke = SEVEN[0]

    def finger(kind: str, x: float = 0, y: float = 0) -> None:
        points = [] if kind == "touchEnd" else [{"x": box["x"] + x, "y": box["y"] + y}]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    finger("touchStart", *stroke[0])
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        for i in range(1, 9):
            finger("touchMove", x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8)
    finger("touchEnd")
    line = phone.locator(LINE)
    line.wait_for()
    assert re.search(r"Prediction: (\d)", line.inner_text()).group(1) == "7"
    where = line.bounding_box()
    assert phone.evaluate("window.scrollY") == 0 and where["y"] + where["height"] <= PHONE["height"], \
        f"the answer is below the fold: {where}"
    phone.screenshot(path=str(tmp_path / "phone.png"))


def test_the_phone_line_is_hidden_on_a_wide_screen(desktop, server):
    url, _ = server
    box = open_draw(desktop, url)
    desktop.mouse.move(box["x"] + SEVEN[0][0][0], box["y"] + SEVEN[0][0][1])
    desktop.mouse.down()
    for x, y in SEVEN[0][1:]:
        desktop.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    desktop.mouse.up()
    sync_api.expect(desktop.locator(PREDICTION)).to_contain_text("Prediction: 7")
    sync_api.expect(desktop.locator(LINE)).to_be_hidden()    # one answer on a wide screen


def click_data_point(page, key: str, x, y) -> None:
    """Click the chart made with `key` where its axes put the data point (x, y), as plotly itself maps them."""
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.locator(".nsewdrag").first.wait_for()
    where = chart.evaluate("""(plot, [x, y]) => {
        const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
        return [box.left + xa._offset + xa.l2p(xa.d2l(x)), box.top + ya._offset + ya.l2p(ya.d2l(y))];
    }""", [x, y])
    page.mouse.move(*where)
    page.wait_for_timeout(300)                       # plotly finds the point under the mouse on hover
    page.mouse.click(*where)


@needs_mnist
def test_clicking_a_confusion_cell_looks_inside_it(desktop, server):
    url, _ = server
    desktop.goto(f"{url}/Evaluate")
    true, predicted = 4, 9                            # not the cell the page opens on (the most frequent confusion)
    click_data_point(desktop, "confusion", str(predicted), str(true))
    sync_api.expect(desktop.locator('[class*="st-key-cell_true"] input')).to_have_value(str(true))
    sync_api.expect(desktop.locator('[class*="st-key-cell_predicted"] input')).to_have_value(str(predicted))


@needs_mnist
def test_clicking_a_tile_of_the_weight_grid_selects_its_unit(desktop, server):
    url, _ = server
    desktop.goto(f"{url}/Hidden_units")
    unit = 37                                          # row 2, column 5 of the 16-wide grid; tiles are 28 + 1 px
    click_data_point(desktop, "weight_grid", unit % 16 * 29 + 20, unit // 16 * 29 + 6)   # off the tile's centre
    desktop.get_by_role("heading", name=re.compile(rf"^Unit {unit}\b")).wait_for()


@pytest.mark.parametrize("path, last", [("", PROMPT), ("Train", "Load weights"), ("Hidden_units", "seen from above"),
                                        ("Backprop", "Gradient check"), ("Evaluate", "Most confident mistakes"),
                                        ("Boundaries", "On real digits"), ("My_digits", "No drawings yet")])
def test_no_title_or_button_is_cut_off_at_1280_px(desktop, server, path, last):
    url, _ = server
    desktop.goto(f"{url}/{path}")
    desktop.get_by_text(last).first.wait_for()       # the page's last section: everything above it is there
    desktop.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                                        .every(chart => chart.querySelector('.main-svg'))""")
    desktop.wait_for_timeout(500)
    cut = desktop.evaluate(CUT_OFF)
    assert cut == [], f"cut off at 1280 px: {cut}"


def test_server_log_has_no_tracebacks(server):
    _, log_path = server
    log = log_path.read_text()
    assert "Traceback" not in log and "Uncaught" not in log, log
