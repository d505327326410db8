"""The README's first five minutes, walked in Chromium against `streamlit run`, a screenshot at each stop.

With MLP_LAB_TOUR=docs/tour the screenshots are written where the README shows them (that is how
they were made); otherwise they go to the test's temporary folder.  Either way each stop must show
what the README says it shows, and each picture must hold more than a blank page.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support import (ROOT, SEVEN, draw_strokes, needs_mnist, open_draw, progress_bar,
                     read_prediction, steps_in, streamlit_server)

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_mnist]

VIEWPORT = {"width": 1280, "height": 860}
CHART = '[data-testid="stPlotlyChart"] .main-svg'


def snap(page, folder: Path, name: str) -> Path:
    """A screenshot of what the user sees, checked to be a real page (many colours, not one blank)."""
    page.wait_for_timeout(800)   # let plotly finish its transitions
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert pixels.shape == (VIEWPORT["height"], VIEWPORT["width"])
    assert pixels.std() > 20, f"{name}.png looks blank"
    return path


def test_first_five_minutes(new_tab, tmp_path):
    folder = Path(os.environ.get("MLP_LAB_TOUR") or tmp_path)
    if not folder.is_absolute():
        folder = ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    with streamlit_server(tmp_path / "server.log", max_training=1) as (url, _):
        page = new_tab(VIEWPORT, timeout_ms=60_000)

        open_draw(page, url)                                           # 1. draw a digit, read the answer
        draw_strokes(page, SEVEN)
        assert read_prediction(page) == "7"
        page.locator(CHART).first.wait_for()
        page.get_by_text("Why 7 and not").first.wait_for()             # the input gradient's map, at a glance
        snap(page, folder, "1-draw")
        page.get_by_role("button", name="Yes, it is a 7").click()      # ...and keep it in My digits
        page.get_by_text("This drawing is in").first.wait_for()
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="My digits").click()
        page.get_by_role("button", name="Fine-tune").wait_for()        # 7. (shown last in the README)
        snap(page, folder, "7-my-digits")

        page.goto(f"{url}/Train?epochs=3&lr=0.1")                       # 2. train live
        page.get_by_role("button", name="Start").click()
        page.get_by_text("Accuracy per epoch").first.wait_for(timeout=120_000)
        assert steps_in(progress_bar(page).inner_text()) > 0
        snap(page, folder, "2-train")

        for path, name, heading in (("Hidden_units", "3-hidden-units", "Hidden units"),   # 3-5. look inside
                                    ("Backprop", "4-backprop", "Backprop"),
                                    ("Evaluate", "5-evaluate", "Evaluate")):
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=heading).first.wait_for()
            page.locator(CHART).first.wait_for()
            snap(page, folder, name)

        page.goto(f"{url}/Boundaries?data=xor&hidden=8&lr=1&seed=2")   # 6. why a hidden layer
        page.locator(CHART).first.wait_for()
        page.get_by_role("button", name="Play").click()
        page.wait_for_timeout(4000)
        snap(page, folder, "6-boundaries")
