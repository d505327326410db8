"""Nothing a user makes is lost on a reload, in Chromium (issue 17, items 1–6): My digits and the user's model
come back, a reload follows the run still training, a restart says what it lost, a link's settings and a
restored run are told apart, a diverged run is not offered to diverge again, and the buttons fit."""
from __future__ import annotations

import re
import time

import pytest

from lab.plots import words
from support import (SEVEN, draw_strokes, needs_mnist, open_draw, progress_bar, read_prediction, steps_in,
                     streamlit_server)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_mnist]

SIDEBAR = '[data-testid="stSidebar"]'
STOP_ENABLED, STOP_DISABLED = ":enabled", ":disabled"


@pytest.fixture
def tab_at(new_tab):
    """tab_at(width=1400): a tab 1200 px high that waits up to a minute a step (the server trains beside it)."""
    return lambda width=1400: new_tab({"width": width, "height": 1200}, timeout_ms=60_000)


def stop_button(page, state: str):
    return page.get_by_role("button", name="Stop", exact=True).and_(page.locator(state))


def steps_now(page) -> int:
    return steps_in(progress_bar(page).inner_text())


def wait_for_steps_above(page, floor: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while steps_now(page) <= floor:
        assert time.monotonic() < deadline, f"steps stayed at {steps_now(page)}"
        page.wait_for_timeout(100)


def start(page, url: str, query: str) -> None:
    page.goto(f"{url}/Train?{query}")
    page.get_by_role("button", name="Start").click()
    stop_button(page, STOP_ENABLED).wait_for()


def my_digits_count(page) -> str:
    page.locator(SIDEBAR).get_by_role("link", name="My digits").click()
    heading = page.get_by_text(re.compile(r"(\d+ drawings?: what each model reads)|(No drawings yet)")).first
    heading.wait_for()
    return heading.inner_text()


def test_1_my_digits_and_the_taught_model_survive_a_reload_and_a_restart_until_forgotten(tab_at, runs, tmp_path):
    tab = tab_at()
    with streamlit_server(tmp_path / "first.log") as (url, _):
        open_draw(tab, url)
        draw_strokes(tab, SEVEN)
        digit = read_prediction(tab)
        tab.get_by_role("button", name=f"Yes, it is {words.article(int(digit))}").click()
        tab.get_by_text(f"Added to My digits as {words.article(int(digit))}").wait_for()
        tab.get_by_role("button", name="Teach it").click()
        tab.get_by_text("went from").wait_for()
        assert "lesson" in tab.locator(SIDEBAR).inner_text()
        tab.reload()
        assert my_digits_count(tab).startswith("1 drawing:")
        assert "Shipped weights + 1 lesson" in tab.locator(SIDEBAR).inner_text()      # still the model in use
    with streamlit_server(tmp_path / "second.log") as (url, _):
        tab.goto(f"{url}/My_digits")
        tab.get_by_text("1 drawing: what each model reads").wait_for()
        assert "Shipped weights + 1 lesson" in tab.locator(SIDEBAR).inner_text()
        tab.get_by_role("button", name="Forget what this browser keeps").click()
        tab.get_by_role("button", name="Yes, forget my run, My digits and my model").click()
        tab.get_by_text("Forgotten:").wait_for()
        tab.reload()
        assert my_digits_count(tab).startswith("No drawings yet")
        assert "Shipped weights" in tab.locator(SIDEBAR).inner_text()
        assert not [p for p in runs.iterdir() if not p.name.startswith(".")]


def test_2_a_reload_follows_the_live_run_and_a_restart_says_how_many_steps_were_lost(tab_at, runs, tmp_path):
    tab = tab_at()
    with streamlit_server(tmp_path / "first.log", max_training=2) as (url, server):
        start(tab, url, "epochs=200&lr=0.05&seed=3")
        tab.wait_for_timeout(6_500)                        # past the first checkpoint (every 5 s)
        before = steps_now(tab)
        tab.reload()
        tab.get_by_text("Your run is still training").wait_for()
        stop_button(tab, STOP_ENABLED).wait_for()          # not stopped, not rolled back to the checkpoint
        assert steps_now(tab) >= before
        tab.wait_for_function("(before) => { const m = document.body.innerText.match(/steps: ([\\d,]+)/);"
                              " return m && Number(m[1].replace(/,/g, '')) > before + 50; }", arg=before)
        server.kill()                                      # the server dies without a word
        server.wait(10)
    with streamlit_server(tmp_path / "second.log", max_training=2) as (url, _):
        tab.goto(f"{url}/Train")
        message = tab.get_by_text("The server stopped while your run trained")
        message.wait_for()
        assert re.search(r"the steps after it were lost: up to 5 s of training, about [\d,]+ steps",
                         message.inner_text())
        stop_button(tab, STOP_DISABLED).wait_for()


def visible_alerts(page) -> list[str]:
    return [a.inner_text().strip() for a in page.locator('[data-testid="stAlert"]').all() if a.is_visible()]


def cut_off_buttons(page) -> list[str]:
    """The labels of main-area buttons whose text does not fit (an ellipsis)."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] button')]
        .filter(b => [...b.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1
                                                         && getComputedStyle(e).overflow === 'hidden'))
        .map(b => b.innerText)""")


def test_3_a_restored_run_shows_no_empty_box_and_every_button_fits_at_1280_px(tab_at, tmp_path, runs):
    with streamlit_server(tmp_path / "server.log") as (url, _):
        first = tab_at(width=1280)
        start(first, url, "epochs=30&lr=0.1")
        first.wait_for_timeout(1_500)
        first.get_by_role("button", name="Stop", exact=True).click()
        stop_button(first, STOP_DISABLED).wait_for()
        again = first.context.new_page()                   # the same browser, another tab: the run is restored
        again.goto(f"{url}/Train")
        again.get_by_text("Restored your last run").wait_for()
        again.get_by_role("button", name=re.compile("^Continue")).wait_for()
        again.wait_for_timeout(1_000)
        assert all(visible_alerts(again)), visible_alerts(again)
        assert cut_off_buttons(again) == []


def test_4_a_links_settings_and_a_restored_run_are_told_apart_and_steps_count_once(tab_at, tmp_path, runs):
    with streamlit_server(tmp_path / "server.log") as (url, _):
        first = tab_at()
        # 20 epochs (9,380 steps): on a quiet machine 5 epochs ended before Stop arrived, leaving nothing to continue
        start(first, url, "epochs=20&lr=0.1&seed=0")
        wait_for_steps_above(first, 469)                    # past the first epoch (469 steps each)
        first.get_by_role("button", name="Stop", exact=True).click()
        stop_button(first, STOP_DISABLED).wait_for()
        shared = first.context.new_page()
        shared.goto(f"{url}/Train?lr=0.9&epochs=7&seed=9")
        shared.get_by_text("The link's settings (η 0.9 · epochs 7 · seed 9) are in the fields").wait_for()
        sync_api.expect(shared.locator('[class*="st-key-train_lr"] input')).to_have_value("0.9")
        shared.get_by_role("button", name="Use my run's settings").wait_for()
        resume = shared.get_by_role("button", name=re.compile(r"^Continue: \d+ epochs? left at η 0\.1$"))
        resume.click()
        shared.get_by_text("Finished 20 epochs").first.wait_for(timeout=300_000)
        # The message is drawn first in the rerun that shows it; the progress bar keeps the last refresh's
        # count until the same rerun reaches it, so wait for the bar rather than read it once.
        sync_api.expect(progress_bar(shared)).to_contain_text("steps: 9,380/9,380")  # 20 × 469: none counted twice
        shared.get_by_role("button", name="Use my run's settings").wait_for(state="detached")


def test_5_a_diverged_run_opened_in_a_new_tab_is_not_offered_to_diverge_again(tab_at, tmp_path, runs):
    with streamlit_server(tmp_path / "server.log") as (url, _):
        first = tab_at()
        first.goto(f"{url}/Train?lr=50&epochs=3")
        first.get_by_role("button", name="Start").click()
        first.get_by_text("Training diverged").first.wait_for()
        again = first.context.new_page()
        again.goto(f"{url}/Train")
        again.get_by_text("Restored your last run").wait_for()
        again.get_by_text("Training diverged").first.wait_for()
        assert "press Continue" not in again.locator("body").inner_text()
        assert again.get_by_role("button", name=re.compile(r"at η 50")).count() == 0
        again.get_by_role("button", name="Continue: 3 epochs left at η 5").wait_for()


def test_6_emptying_my_digits_closes_its_confirmation(tab_at, tmp_path, runs):
    with streamlit_server(tmp_path / "server.log") as (url, _):
        tab = tab_at()
        open_draw(tab, url)
        draw_strokes(tab, SEVEN)
        digit = read_prediction(tab)
        tab.get_by_role("button", name=f"Yes, it is {words.article(int(digit))}").click()
        tab.get_by_text(f"Added to My digits as {words.article(int(digit))}").wait_for()
        assert my_digits_count(tab).startswith("1 drawing")
        tab.get_by_role("button", name="Empty the set").click()
        confirm = tab.get_by_role("button", name="Yes, remove 1 drawing")
        confirm.click()
        tab.get_by_text("My digits is empty.").wait_for()
        confirm.wait_for(state="hidden", timeout=5_000)
        tab.get_by_text("My digits is empty.").click(trial=True, timeout=5_000)   # nothing covers it
