"""The Train page in Chromium: settings from a link, and a run found again after a reload and a server restart."""
from __future__ import annotations

import re

import pytest

from support import needs_mnist, progress_bar, steps_in, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_mnist]


def test_a_run_survives_a_reload_and_a_server_restart(runs, new_tab, tmp_path):
    page = new_tab({"width": 1400, "height": 1200})
    with streamlit_server(tmp_path / "first.log", max_training=2) as (url, _):
        page.goto(f"{url}/Train?epochs=200&lr=0.05&seed=3")      # a shared link's settings
        page.get_by_role("button", name="Start").click()
        page.get_by_role("button", name="Stop").and_(page.locator(":enabled")).wait_for()
        assert page.locator('[class*="st-key-train_epochs"] input').input_value() == "200"
        assert "mlp_lab_browser" in {c["name"] for c in page.context.cookies()}
        page.wait_for_timeout(6_000)                               # a checkpoint is kept every 5 s
        before = steps_in(progress_bar(page).inner_text())
        assert before > 0
        page.reload()                                              # the run goes on: the page follows it
        page.get_by_text("Your run is still training").wait_for()
        page.get_by_role("button", name="Stop").and_(page.locator(":enabled")).wait_for()
        last = steps_in(progress_bar(page).inner_text())
        assert last >= before
    # The server shuts down (its runs keep their last steps) and comes back on another port (the cookie
    # is per host, not per port).
    with streamlit_server(tmp_path / "second.log", max_training=2) as (url, _):
        page.goto(f"{url}/Train")
        page.get_by_text("Restored your last run").wait_for()
        page.get_by_text("Nothing was lost").wait_for()
        assert steps_in(progress_bar(page).inner_text()) >= last
        assert page.locator('[class*="st-key-train_lr"] input').input_value() == "0.05"
        page.get_by_role("button", name=re.compile(r"^Continue: \d+ epochs left at η 0\.05$")).click()
        page.get_by_role("button", name="Stop").and_(page.locator(":enabled")).wait_for()
        page.wait_for_function("() => /steps: [\\d,]+/.test(document.body.innerText)")


def set_number(page, key: str, value: str) -> None:
    field = page.locator(f'[class*="st-key-{key}"] input')
    field.fill(value)
    field.press("Enter")
    page.wait_for_timeout(500)


def test_a_diverged_run_is_plotted_then_overlaid_under_the_next_one_in_slow_motion(new_tab, tmp_path):
    with streamlit_server(tmp_path / "server.log") as (url, _):
        page = new_tab({"width": 1400, "height": 1200}, timeout_ms=60_000)
        page.goto(f"{url}/Train?lr=50&epochs=1")
        page.get_by_role("button", name="Start").click()
        page.get_by_text("Training diverged").first.wait_for()
        loss = page.locator('[data-testid="stPlotlyChart"]').first
        loss.locator("text=diverged").first.wait_for()                  # the explosion is on the chart
        page.get_by_text("No epoch was completed").wait_for()
        assert page.get_by_text("appear after the first epoch").count() == 0

        set_number(page, "train_lr", "0.1")
        slow = page.locator('[class*="st-key-train_slow_motion"] [tabindex="0"]').first
        thumb = page.locator('[class*="st-key-train_slow_motion"] [aria-valuetext]').first
        for _ in range(8):                                              # off → 0.05 → 0.2 → 0.5 s a step
            if thumb.get_attribute("aria-valuetext") == "0.5 s a step":
                break
            slow.press("ArrowRight")
            page.wait_for_timeout(700)
        assert thumb.get_attribute("aria-valuetext") == "0.5 s a step"
        page.get_by_role("button", name="Start").click()
        page.get_by_role("button", name="Stop").and_(page.locator(":enabled")).wait_for()
        legend = page.locator('[data-testid="stPlotlyChart"]').first
        legend.locator("text=earlier: η 50").first.wait_for()            # the diverged run stays, with its settings
        first = steps_in(progress_bar(page).inner_text())
        page.wait_for_timeout(3000)
        assert steps_in(progress_bar(page).inner_text()) - first <= 10   # ~2 steps a second, not hundreds
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("Stopped; the weights so far are kept.").wait_for()
