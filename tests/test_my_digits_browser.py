"""My digits in a real browser: `streamlit run app.py` driven through Debian's Chromium (see test_browser.py)."""
from __future__ import annotations

import numpy as np

import test_browser as tb
from lab import my_digits as md
from test_browser import browser, needs_mnist, page, pytestmark, server  # noqa: F401  (fixtures, skip marks)


# A 6 as many print it: a straight stem into a round, closed loop.
SIX = [[(175, 40), (150, 80), (125, 120), (100, 165)],
       [(140 + 48 * np.sin(2 * np.pi * t / 24), 195 - 48 * np.cos(2 * np.pi * t / 24)) for t in range(25)]]


@needs_mnist
def test_in_a_browser_draw_confirm_correct_keep_reload_and_fine_tune(page, server, tmp_path):
    url, _ = server
    tb.open_draw(page, url)
    tb.draw(page, tb.SEVEN)
    assert tb.read_prediction(page) == "7"
    page.get_by_role("button", name="Yes, it is a 7").click()
    page.get_by_text("Added to My digits as a 7").wait_for()

    tb.clear(page)
    tb.draw(page, SIX)
    tb.read_prediction(page)
    page.locator(".st-key-teach_label").click()
    page.get_by_role("option", name="6", exact=True).click()
    page.get_by_role("button", name="Correct it").click()
    page.get_by_text("Added to My digits as a 6").wait_for()

    tb.go_to(page, "My digits")
    page.get_by_text("2 drawings: what each model reads").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the set (2 drawings)").click()
    kept = tmp_path / "mine.npz"
    download.value.save_as(kept)
    assert md.from_bytes(kept.read_bytes()).y.tolist() == [7, 6]

    page.get_by_role("button", name="Remove the last one").click()
    page.get_by_text("1 drawings: what each model reads").wait_for()
    page.locator('.st-key-my_digits_upload input[type="file"]').set_input_files(str(kept))
    page.get_by_text("Loaded 2 drawings; the set now holds 2").wait_for()

    page.get_by_role("button", name="Fine-tune").click()
    page.get_by_text("MNIST test moved by").wait_for(timeout=60_000)
    assert "fine-tuned on 2" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
