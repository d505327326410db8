"""How a newcomer's first Train run looks in Chromium: `python bench/first_run.py [--epochs N]`.

Opens /Train with the page's default settings (or `--epochs N`), presses Start, and times from the
press: the first loss chart drawn, the first accuracy chart drawn, and the run's end ("Finished").
A first run should be visibly live: it should go on well after its charts first draw, so the
printed "live after the first chart" is the figure that matters (the README's defaults cite it).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

LOSS_CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'


def first_run(url: str, epochs: int | None) -> dict[str, float]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/Train" + (f"?epochs={epochs}" if epochs else ""))
        start = page.get_by_role("button", name="Start")
        start.wait_for()
        page.wait_for_timeout(1500)                    # the page settled, as a person reading it first
        pressed = time.monotonic()
        start.click()
        times = {}
        deadline = pressed + 300
        while "finished" not in times and time.monotonic() < deadline:
            charts = page.locator(LOSS_CHART).count()
            if charts >= 1:
                times.setdefault("loss chart", time.monotonic() - pressed)
            if charts >= 2:
                times.setdefault("accuracy chart", time.monotonic() - pressed)
            if page.get_by_text("Finished ").count():
                times["finished"] = time.monotonic() - pressed
            page.wait_for_timeout(50)
        browser.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="instead of the page's default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp) / "server.log") as (url, _):
        times = first_run(url, args.epochs)
    load = os.getloadavg()[0]
    for name, seconds in times.items():
        print(f"{name:>15}: {seconds:5.1f} s after Start")
    if "loss chart" in times and "finished" in times:
        print(f"live after the first chart: {times['finished'] - times['loss chart']:.1f} s "
              f"(load average {load:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
