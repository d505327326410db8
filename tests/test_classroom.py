"""A classroom on more than one core: `python -m deploy.classroom` (HAProxy + app processes) on 127.0.0.1.

The launcher is run as a user runs it and stopped with SIGTERM at the end of each test,
which must leave none of its processes behind.  Through the proxy:
- each browser stays on one process (its pictures under /media/ exist only there: asked of
  the other process they are 404), two browsers land on different processes, and a file
  saved to the weights folder by a user on one process is offered to a user on the other;
- 20 users draw at once (tests/test_load.py's drawing users): every answer arrives, is the
  digit drawn, median under 1.5 s, and both processes serve some of them.  Here the 20 users' Chromium
  shares the server's two cores (load average ~8), which a classroom's own laptops would not: the bound
  catches a queue that stalls, and docs/serving.md's capacity table reports the figures measured.

MLP_LAB_CLASSROOM_USERS and MLP_LAB_CLASSROOM_PROCESSES change the load's size (docs/serving.md's
capacity figures were measured that way).  Run with -s to see the latencies printed.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.classroom import COOKIE, find_haproxy
from lab.drawing import draw
from lab.store import mnist
from support import CHROMIUM, CHROMIUM_ARGS, ONE, ROOT, SEVEN, draw_strokes, free_port, open_draw, read_prediction

USERS = int(os.environ.get("MLP_LAB_CLASSROOM_USERS", "20"))
PROCESSES = int(os.environ.get("MLP_LAB_CLASSROOM_PROCESSES", "2"))
START_LIMIT = 120.0      # s: the launcher's start-up, a Streamlit process per core on a busy machine
LOAD_DEADLINE = 480.0    # s: the whole load through the proxy (~4 min for 20 users on a busy 2-core machine)
MEDIAN_LIMIT = 1.5       # s: see the docstring; quiet runs give 0.7–1.0 s

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(find_haproxy() is None, reason="no HAProxy (apt-get install haproxy)"),
    pytest.mark.skipif(not mnist.is_ready(), reason="MNIST is not downloaded (run `python -m mlp.fetch`)"),
]
sync_api = pytest.importorskip("playwright.sync_api")

# Every picture the page shows under /media/ has arrived and decoded (a 404 leaves naturalWidth 0).
PICTURES_LOADED = """(least) => {
  const shown = Array.from(document.images).filter(i => i.src.includes('/media/'));
  return shown.length >= least && shown.every(i => i.complete && i.naturalWidth > 0);
}"""
# The Train page's "Or one from the weights folder" shows `name` (the newest file), as text or as its input's value.
OFFERED = """(name) => {
  const pick = document.querySelector('.st-key-saved_pick');
  return !!pick && (pick.innerText.includes(name)
                    || Array.from(pick.querySelectorAll('input')).some(i => i.value.includes(name)));
}"""
STAGE_PICTURES = 4   # the Draw page's "What the network sees" row, at the least


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@contextlib.contextmanager
def launched(tmp_path: Path, processes: int):
    """`python -m deploy.classroom` on a free port; yields (url, launcher process, log folder).

    Leaving the block normally stops it with SIGTERM and checks that it exits cleanly and
    takes its processes with it; in any case nothing it started outlives the block.
    """
    port, logs, out = free_port(), tmp_path / "logs", tmp_path / "launcher.out"
    with open(out, "w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "deploy.classroom", "--port", str(port), "--processes", str(processes),
             "--logs", str(logs), "--weights", str(tmp_path / "weights"), "--max-training", "2"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    started: list[int] = []
    try:
        deadline = time.monotonic() + START_LIMIT
        while "Classroom ready" not in out.read_text():
            assert launcher.poll() is None, f"the launcher exited:\n{out.read_text()}"
            assert time.monotonic() < deadline, f"the classroom did not start:\n{out.read_text()}"
            time.sleep(0.3)
        started = children(launcher.pid)
        assert len(started) == processes + 1, f"expected {processes} app processes and the proxy: {started}"
        yield f"http://127.0.0.1:{port}", launcher, logs
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(30) == 0, out.read_text()
        assert "Classroom stopped." in out.read_text()
        left = [pid for pid in started if alive(pid)]
        assert not left, f"processes left running after SIGTERM: {left}"
    finally:
        if launcher.poll() is None:
            launcher.kill()      # its children get SIGTERM from the kernel (PR_SET_PDEATHSIG)
            launcher.wait(10)
        for pid in started:
            with contextlib.suppress(OSError):
                if alive(pid) and Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] in (
                        sys.executable.encode(), find_haproxy().encode()):
                    os.kill(pid, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assert_clean_logs(logs: Path) -> None:
    for log in logs.glob("app*.log"):
        text = log.read_text()
        assert "Traceback" not in text and "Error" not in text, f"{log.name}:\n{text}"


def served_by(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)


def test_a_browser_stays_on_its_process_and_the_weights_folder_is_shared(tmp_path):
    # Playwright's sync side is started here and not by conftest's module-wide `browser`: while it runs it holds
    # this thread's event loop, and the load test below runs Playwright's async side with asyncio.run.
    with launched(tmp_path, processes=2) as (url, _, logs), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages, pictures = [], []
            for strokes, digit in ((SEVEN, "7"), (ONE, "1")):   # one after the other: the second sees the first's
                page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
                page.set_default_timeout(30_000)
                open_draw(page, url)
                draw_strokes(page, strokes)
                assert read_prediction(page) == digit
                page.locator(f".st-key-{draw.PIPELINE} summary").click()   # the pipeline's pictures, one click away
                page.wait_for_function(PICTURES_LOADED, arg=STAGE_PICTURES)
                pictures.append(page.eval_on_selector_all("img", "all => all.map(i => i.src)"
                                                          ".filter(s => s.includes('/media/'))"))
                pages.append(page)
            homes = [served_by(page) for page in pages]
            assert sorted(homes) == ["app1", "app2"], f"the two browsers' processes: {homes}"

            # A picture exists only in the process that made it: the cookie is what finds it.  (Pictures both
            # pages show, such as a hidden unit's weights, are named by their content and exist in both.)
            for page, shown, seen_elsewhere, elsewhere in zip(pages, pictures, reversed(pictures), reversed(homes)):
                own = set(shown) - set(seen_elsewhere)
                assert len(own) >= STAGE_PICTURES, f"pictures of this drawing alone: {own}"
                stranger = playwright.request.new_context(extra_http_headers={"Cookie": f"{COOKIE}={elsewhere}"})
                try:
                    for src in own:
                        assert page.request.get(src).status == 200, src
                        assert stranger.get(src).status == 404, f"{src} found on {elsewhere} too"
                finally:
                    stranger.dispose()

            saver, finder = pages
            name = f"from-{served_by(saver)}"
            saver.goto(f"{url}/Train")
            saver.locator(".st-key-save_name input").fill(name)
            saver.locator(".st-key-save_name input").press("Enter")
            saver.get_by_role("button", name="Save to the weights folder").click()
            saver.get_by_text(f"Saved as {name}.npz").wait_for()
            assert (tmp_path / "weights" / f"{name}.npz").is_file()
            finder.goto(f"{url}/Train")
            finder.wait_for_function(OFFERED, arg=f"{name}.npz")   # fails by timeout if the other process lacks it
            assert served_by(finder) != served_by(saver)
        finally:
            browser.close()
    assert_clean_logs(logs)


def test_twenty_users_drawing_through_the_proxy(tmp_path):
    from crowd import DRAWINGS_EACH, load     # Playwright's async side, only for this test

    with launched(tmp_path, processes=PROCESSES) as (url, launcher, logs):
        apps = [pid for pid in children(launcher.pid) if b"streamlit" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        idle, started = sum(cpu_seconds(pid) for pid in apps), time.monotonic()
        answers, _, _ = asyncio.run(asyncio.wait_for(load(url, launcher.pid, drawers=USERS, trainers=0),
                                                     LOAD_DEADLINE))
        elapsed = time.monotonic() - started
        served = sum(cpu_seconds(pid) for pid in apps) - idle   # page opens, warm-up drawings and the load
    # HAProxy logs a WebSocket when it closes: by now every user's has.
    sessions = collections.Counter(re.findall(r" app/(app\d+) .*\"GET /_stcore/stream ",
                                              (logs / "proxy.log").read_text()))

    lost = [a for a in answers if a[3] is None]
    assert not lost and len(answers) == USERS * DRAWINGS_EACH, f"answers lost (user, digit): {lost}"
    seconds = sorted(a[3] for a in answers)
    median = statistics.median(seconds)
    print(f"\nclassroom: {USERS} users drawing through HAProxy to {PROCESSES} processes "
          f"(WebSockets per process {dict(sorted(sessions.items()))}); {len(seconds)} answers, "
          f"mouse-up → prediction: median {median:.2f} s, p90 {seconds[round(0.9 * len(seconds)) - 1]:.2f} s, "
          f"max {seconds[-1]:.2f} s; whole test {elapsed:.0f} s; load average {os.getloadavg()[0]:.1f}; "
          f"app processes' CPU {served:.0f} s, {served / (USERS * (DRAWINGS_EACH + 1)):.2f} s per drawing")
    wrong = [a for a in answers if a[1] != a[2]]
    assert not wrong, f"(user, drawn, read, s) answers that are not the digit drawn: {wrong}"
    assert len(sessions) == min(PROCESSES, USERS), f"users per process: {sessions}"
    assert median < MEDIAN_LIMIT, f"median {median:.2f} s"
    assert_clean_logs(logs)


def test_without_haproxy_the_launcher_says_how_to_install_it(tmp_path, capsys):
    from deploy import classroom

    with pytest.raises(classroom.ClassroomError, match="apt-get install haproxy"):
        with classroom.running(free_port(), 1, tmp_path / "logs", tmp_path / "weights", haproxy="no-such-haproxy"):
            pass
    assert classroom.main(["--port", "1", "--processes", "0", "--logs", str(tmp_path / "logs")]) == 1
    assert "--processes must be at least 1" in capsys.readouterr().err


def test_a_busy_port_stops_the_classroom_and_names_the_proxy_log(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "deploy.classroom", "--port", str(port), "--processes", "1",
             "--logs", str(tmp_path / "logs"), "--weights", str(tmp_path / "weights")],
            cwd=ROOT, capture_output=True, text=True, timeout=START_LIMIT)
    assert done.returncode == 1
    assert f"proxy exited during start-up; see {tmp_path / 'logs' / 'proxy.log'}" in done.stderr
    assert "cannot bind socket" in (tmp_path / "logs" / "proxy.log").read_text()
