"""Memory a server keeps after sessions have come and gone, with and without MALLOC_ARENA_MAX=2,
and how soon Stop ends the biggest runs the budget allows: `python bench/session_memory.py [sessions]`.

For each setting one `streamlit run app.py` is started on 127.0.0.1 and `sessions` Chromium users
(4 at a time, each its own browser context) open the Draw page, draw a 7, read the answer, go to
Hidden units and Evaluate, and leave.  The server's resident memory (VmRSS) is read after one
warm-up session and again once every session has gone (and 15 s later), side by side.
Needs Debian's Chromium (/usr/bin/chromium) and PyPI playwright, like tests/test_browser.py.
"""
from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from lab.store import blas, budget, mnist  # noqa: E402
from lab.training.runner import TrainingRunner, load_mnist  # noqa: E402
from mlp.train import Config  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CANVAS = '[class*="st-key-draw_canvas"] canvas.upper-canvas'
SEVEN = [(75, 65), (205, 65), (185, 120), (155, 180), (130, 235)]
AT_ONCE = 4
SETTLE = 15   # seconds after the last session left, for the server to drop them


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_server(env: dict, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                "--server.headless", "true"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("streamlit did not start")
        time.sleep(0.3)


async def one_session(browser, url: str) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    try:
        page = await context.new_page()
        page.set_default_timeout(120_000)
        await page.goto(url)
        canvas = page.locator(CANVAS)
        await canvas.wait_for()
        box = await canvas.bounding_box()
        await page.mouse.move(box["x"] + SEVEN[0][0], box["y"] + SEVEN[0][1])
        await page.mouse.down()
        for x, y in SEVEN[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        await page.mouse.up()
        await page.locator(".st-key-prediction").wait_for()
        await page.get_by_role("link", name="Hidden units").click()
        await page.get_by_text("Dead units").first.wait_for()
        await page.get_by_role("link", name="Evaluate").click()
        await page.get_by_text("Confusion matrix").first.wait_for()
    finally:
        await context.close()


async def sessions(url: str, count: int) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for start in range(0, count, AT_ONCE):
                await asyncio.gather(*(one_session(browser, url) for _ in range(min(AT_ONCE, count - start))))
        finally:
            await browser.close()


def measure(arena_max: str | None, count: int) -> tuple[float, float, float]:
    """(MB after one warm-up session, MB once `count` more have left, MB SETTLE s later)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if arena_max is not None:
        env["MALLOC_ARENA_MAX"] = arena_max
    with tempfile.TemporaryFile("w+") as log:
        process, url = start_server(env, log)
        try:
            asyncio.run(sessions(url, 1))
            time.sleep(3)
            warm = rss_mb(process.pid)
            asyncio.run(sessions(url, count))
            after = rss_mb(process.pid)
            time.sleep(SETTLE)
            return warm, after, rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(15)


def stop_latency(config: Config, trials: int = 3) -> list[float]:
    """Seconds from stop() to the training thread's end, a few steps into a run with `config`."""
    seconds = []
    for _ in range(trials):
        run = TrainingRunner(config, load_data=lambda progress: load_mnist(progress))
        run.start()
        while run.status().steps < 3:
            assert run.alive, run.status().message
            time.sleep(0.01)
        time.sleep(0.2)   # somewhere inside a step
        asked = time.perf_counter()
        run.stop()
        run.join(60)
        seconds.append(time.perf_counter() - asked)
    return seconds


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    if not os.path.exists(CHROMIUM) or not mnist.is_ready():
        print("needs /usr/bin/chromium and MNIST (python -m mlp.fetch)")
        return 1
    print(f"Server memory (VmRSS, MB) around {count} sessions, {AT_ONCE} at a time")
    print(f"{'':24}{'after 1 session':>17}{'after ' + str(count):>12}{f'+{SETTLE} s':>8}{'growth':>9}")
    for label, arena in (("glibc default arenas", None), ("MALLOC_ARENA_MAX=2", "2")):
        warm, after, settled = measure(arena, count)
        print(f"{label:24}{warm:17.0f}{after:12.0f}{settled:8.0f}{settled - warm:+9.0f}")

    blas.use_one_thread()   # as the app does
    print("\nStop: seconds from stop() to the end of training (3 tries), largest runs the budget allows")
    largest_batch = lambda hidden: budget.MAX_STEP_WORK // (784 * (2 * hidden + budget.PIXEL_WORK))
    for batch, hidden in ((largest_batch(4096), 4096), (largest_batch(128), 128), (largest_batch(16), 16), (128, 128)):
        config = Config(batch_size=batch, hidden=hidden, epochs=1000)
        latency = stop_latency(config)
        print(f"batch {batch:6,} × hidden {hidden:5,}: {budget.step_work(config) / 1e9:4.1f}·10⁹ multiply-adds a step,"
              f" stop in median {statistics.median(latency):.2f} s, worst {max(latency):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
