"""Issue 16 in Chromium: the Draw page on one screen at 1280×900 and on a phone with nothing cut off,
its details one click away, and the answer "so far" until the pen rests, then settled with no run after."""
from __future__ import annotations


import pytest

from lab.drawing import draw
from support import CANVAS, CUT_OFF, PREDICTION, SEVEN, draw_strokes, open_draw, read_prediction

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LINE = ".st-key-prediction_line"
MAIN = '[data-testid="stMain"]'
CHART = ".st-key-{} .main-svg >> nth=0"


def canvas_hidden_px(page) -> float:
    """How much of the canvas its column hides (it scrolls sideways in a column narrower than 280 px)."""
    return page.locator(".dc-scroll").first.evaluate("scroller => scroller.scrollWidth - scroller.clientWidth")


def off_screen(page, selectors: list[str]) -> list[str]:
    """The selectors whose element is not wholly inside the window as it opened (not scrolled)."""
    size = page.viewport_size
    boxes = {selector: page.locator(selector).first.bounding_box() for selector in selectors}   # pierces shadow roots
    return [selector for selector, box in boxes.items()
            if box is None or box["height"] == 0 or box["x"] < 0 or box["y"] < 0
            or box["x"] + box["width"] > size["width"] or box["y"] + box["height"] > size["height"]]


# Counts the script's runs from now on.
COUNT_RUNS = """() => {
    window.__runs = 0;
    const app = document.querySelector('.stApp');
    new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') window.__runs++; })
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


@pytest.fixture
def tab(new_tab, request):
    """A tab at the window size given as the test's parameter (a phone's has touch)."""
    viewport = request.param
    phone = viewport == PHONE
    return new_tab(viewport, is_mobile=phone, has_touch=phone)


def seven_drawn(page, server):
    """The Draw page opened in `page`, a 7 drawn on it."""
    open_draw(page, server[0])
    draw_strokes(page, SEVEN)
    return page


def settled(page) -> str:
    """The answer box's text once the pen has rested (no longer "so far")."""
    box = page.locator(PREDICTION)
    sync_api.expect(box).not_to_contain_text("So far", timeout=15_000)
    return box.inner_text()


@pytest.mark.parametrize("tab", [DESKTOP], indirect=True)
def test_at_1280_by_900_canvas_answer_probabilities_why_and_hidden_layer_fit_one_screen(tab, server, tmp_path):
    page = seven_drawn(tab, server)
    assert read_prediction(page) == "7"
    page.locator(CHART.format("probabilities")).wait_for()
    page.wait_for_function("""() => [...document.querySelectorAll('.st-key-draw_glance img')]
                                    .filter(i => i.complete && i.naturalWidth > 0).length === 2""")
    settled(page)
    page.screenshot(path=str(tmp_path / "draw-1280x900.png"))
    assert page.evaluate("window.scrollY") == 0
    assert off_screen(page, [CANVAS, PREDICTION, ".st-key-probabilities", ".st-key-draw_glance"]) == []
    assert canvas_hidden_px(page) == 0
    assert page.evaluate(CUT_OFF) == []

    page.locator(f".st-key-{draw.WHY} summary").click()          # the detail, one click away
    page.locator(CHART.format("why_gradient")).wait_for()
    page.locator(f".st-key-{draw.HIDDEN} summary").click()
    page.locator(CHART.format("hidden")).wait_for()
    assert page.evaluate(CUT_OFF) == []


@pytest.mark.parametrize("tab", [PHONE], indirect=True)
def test_on_a_phone_canvas_and_answer_fit_and_no_detail_is_cut_off(tab, server, tmp_path):
    page = seven_drawn(tab, server)
    page.locator(LINE).wait_for()
    assert page.evaluate("window.scrollY") == 0
    assert off_screen(page, [CANVAS, LINE]) == []
    assert canvas_hidden_px(page) == 0
    settled(page)
    for key, chart in ((draw.PIPELINE, None), (draw.WHY, "why_gradient"), (draw.HIDDEN, "hidden")):
        page.locator(f".st-key-{key} summary").click()
        if chart is not None:
            page.locator(CHART.format(chart)).wait_for()
    page.locator(".katex-display").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(tmp_path / "draw-phone.png"), full_page=True)
    assert page.evaluate(CUT_OFF, MAIN) == []       # (the sidebar is folded away off the screen)
    beyond = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] *')]
        .filter(el => el.offsetParent !== null && el.getBoundingClientRect().right > innerWidth + 1
                      && !el.closest('.js-plotly-plot, .katex-mathml'))   // (MathML for screen readers: 1 px)
        .map(el => el.tagName + ' ' + (el.innerText || '').slice(0, 40))""")
    assert beyond == [], f"past the right edge of a 390 px screen: {beyond}"


@pytest.mark.parametrize("tab", [DESKTOP], indirect=True)
def test_the_answer_is_so_far_until_the_pen_rests_then_settles_and_the_page_stays_still(tab, server):
    page = seven_drawn(tab, server)
    assert read_prediction(page) == "7"
    assert "Confident: " in settled(page)
    page.evaluate(COUNT_RUNS)
    page.wait_for_timeout(3000)                     # the settling run's timer must not go on ticking
    assert page.evaluate("window.__runs") == 0
