"""Users in a real browser, for the load tests (tests/test_load.py, tests/test_classroom.py).

`load(url, server_pid, drawers, trainers)` opens one Chromium with a context per user: `trainers`
start long runs on the Train page and then look at the Draw page, `drawers` draw digits at a
person's pace, each a few times, clearing in between.  It returns every answer with the time
from mouse-up to "Prediction: d" on the page, timed inside the page.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from pathlib import Path

from playwright import async_api

from support import CHROMIUM, CHROMIUM_ARGS, ONE, PREDICTION, PROMPT, SEVEN, ZERO, progress_bar, steps_in

DRAWERS, TRAINERS = 8, 2
DRAWINGS_EACH = 3
DIGITS = ((SEVEN, "7"), (ONE, "1"), (ZERO, "0"))
ANSWER_TIMEOUT = 20.0     # s: an answer slower than this counts as lost
DEADLINE = 240.0          # s: the whole load, from the first page opened to the last closed (~2 min)
MEDIAN_LIMIT = 1.0        # s
PEN_PAUSE_MS = 60         # between points of a stroke: a digit takes about a second to draw, as by hand
AIM_MS = 1000             # a user looks at the empty canvas this long before drawing...
READ_MS = 2500            # ...and reads the answer (and the pipeline under it) this long
BROWSER_NICENESS = 10     # the users' side runs below the server (see give_way_to)

# Timed inside the page, so the figure is what the user sees and not how fast Playwright polls:
# from the mouseup event to the moment the prediction box shows "Prediction:" in the DOM.
STOPWATCH = """
if (window.top === window) {
  window.__answered = null;
  document.addEventListener('mouseup', () => {
    const lifted = performance.now();
    window.__answered = null;
    const look = () => {
      const box = document.querySelector('.st-key-prediction');
      if (box && box.innerText.includes('Prediction:')) { window.__answered = performance.now() - lifted; return true; }
      return false;
    };
    const watcher = new MutationObserver(() => { if (look()) watcher.disconnect(); });
    watcher.observe(document.body, {subtree: true, childList: true, characterData: true});
  }, true);
}
"""


async def settled(page, generation: int) -> dict:
    """Where canvas number `generation` (Clear makes the next) is, once it alone is on the page and stays put.

    While the page reruns, the new canvas can first appear below the old one; a stroke aimed
    there lands beside the canvas once the old one goes.
    """
    holder = page.locator(f'.st-key-draw_canvas_{generation}')
    canvas = holder.locator('canvas.upper-canvas')
    await canvas.wait_for()
    deadline, seen = time.monotonic() + ANSWER_TIMEOUT, []
    while True:
        await page.locator('.stApp[data-test-script-state="notRunning"]').wait_for()
        box, top = await canvas.bounding_box(), await holder.bounding_box()
        seen = (seen + [box])[-3:]
        if len(seen) == 3 and box is not None and seen.count(box) == 3 and abs(box["y"] - top["y"]) < 40 \
                and await page.locator('[class*="st-key-draw_canvas"]').count() == 1:
            return box
        assert time.monotonic() < deadline, f"canvas {generation} never settled"
        await page.wait_for_timeout(150)


async def draw(page, box: dict, strokes) -> None:
    """Draw at a person's pace (about a second per digit); a digit's last stroke ends with the mouseup timed."""
    for stroke in strokes:
        await page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
            await page.wait_for_timeout(PEN_PAUSE_MS)
        await page.mouse.up()


async def draw_and_read(page, generation: int, strokes) -> tuple[str, float] | None:
    """Draw on canvas number `generation` (Clear makes the next), then (digit read, seconds); None if lost."""
    await page.wait_for_timeout(AIM_MS)
    box = await settled(page, generation)
    await draw(page, box, strokes)
    try:
        await page.wait_for_function("window.__answered !== null", polling=50)
    except async_api.TimeoutError:
        return None
    seconds = await page.evaluate("window.__answered") / 1000
    read = re.search(r"Prediction: (\d)", await page.locator(PREDICTION).inner_text()).group(1)
    await page.wait_for_timeout(READ_MS)
    await page.get_by_role("button", name="Clear").click()
    await page.get_by_text(PROMPT).wait_for()
    return read, seconds


async def drawer(browser, url: str, user: int, opening: asyncio.Semaphore, all_open: asyncio.Barrier,
                 answers: list, on_all_open=None) -> None:
    """One user: opens the app, draws DRAWINGS_EACH digits; appends (user, drawn, read or None, seconds).

    Opening the page and the first drawing (which loads the charting library into the page)
    happen a few users at a time and are not timed; then all users draw at once.
    """
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    await context.add_init_script(STOPWATCH)
    try:
        page = await context.new_page()
        page.set_default_timeout(ANSWER_TIMEOUT * 1000)
        try:
            async with opening:
                await page.goto(url, timeout=60_000)
                await page.get_by_text(PROMPT).wait_for(timeout=60_000)
                warm_up = await draw_and_read(page, 0, DIGITS[user % len(DIGITS)][0])
                assert warm_up is not None, f"user {user}: the first drawing got no answer"
        except BaseException:
            await all_open.abort()                               # the others must not wait for this one
            raise
        if await all_open.wait() == 0 and on_all_open is not None:   # once, as the timed drawings begin
            on_all_open()
        await page.wait_for_timeout(user * 250)                  # people do not all lift the pen at once
        for i in range(DRAWINGS_EACH):
            strokes, digit = DIGITS[(user + i) % len(DIGITS)]
            answer = await draw_and_read(page, i + 1, strokes)
            answers.append((user, digit) + (answer or (None, None)))
            if answer is None:
                return
    finally:
        await context.close()


async def steps_shown(page) -> int:
    return steps_in(await progress_bar(page).inner_text())


async def start_training(browser, url: str):
    """A user who starts a long run on the Train page; returns (context, page)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    await page.goto(f"{url}/Train")
    epochs = page.locator('[class*="st-key-train_epochs"] input')
    await epochs.fill("200")
    await epochs.press("Enter")
    await page.wait_for_timeout(500)
    await page.get_by_role("button", name="Start").click()
    await page.get_by_role("button", name="Stop").and_(page.locator(":enabled")).wait_for()
    await progress_bar(page).wait_for()
    return context, page


def give_way_to(server_pid: int) -> None:
    """Lower the priority of this test's other child processes (Playwright's driver, Chromium) below the server's.

    The browsers stand for the users' own computers; here they share the server's cores
    and, at equal priority, take most of them.  Renderers that Chromium starts later are
    forked from processes lowered here, so they inherit it.  Linux only; elsewhere a no-op.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:   # gone meanwhile
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child != server_pid and child not in found:
                found.add(child)
                todo.append(child)
    for pid in found:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, BROWSER_NICENESS)


async def load(url: str, server_pid: int, drawers: int = DRAWERS, trainers: int = TRAINERS,
               on_all_open=None) -> tuple[list, list[int], list[int]]:
    """Run the load against url (tests/test_classroom.py runs it through a proxy); (answers, steps before, after).

    `on_all_open()` is called once, when every user has opened the app and the timed drawings begin."""
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        give_way_to(server_pid)
        try:
            trainers = await asyncio.gather(*(start_training(browser, url) for _ in range(trainers)))
            before = [await steps_shown(page) for _, page in trainers]
            for _, page in trainers:
                await page.get_by_role("link", name="Draw").click()
                await page.get_by_text(PROMPT).wait_for()
            answers: list = []
            opening, all_open = asyncio.Semaphore(3), asyncio.Barrier(drawers)
            await asyncio.gather(*(drawer(browser, url, user, opening, all_open, answers, on_all_open)
                                   for user in range(drawers)))
            for _, page in trainers:
                await page.get_by_role("link", name="Train").click()
            after = [await steps_shown(page) for _, page in trainers]
            for context, page in trainers:
                await page.get_by_role("button", name="Stop").click()
                await page.get_by_text("Stopped; the weights so far are kept.").wait_for()
                await context.close()
            return answers, before, after
        finally:
            await browser.close()


