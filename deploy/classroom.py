"""Serve MLP Lab to a class: several `streamlit run app.py` processes behind HAProxy, with sticky sessions.

One Streamlit process runs its Python on one core at a time, so a class on a many-core
server needs several processes.  A Streamlit session lives in the process that holds its
WebSocket (its state, its training run, the pictures it serves under /media/), so the
proxy sends every request of one browser to one process, by a cookie it sets on the first
answer.  All processes share one weights folder (lab/store/user_weights.py reads it from
$MLP_LAB_USER_WEIGHTS) and one cookie secret (so Streamlit's XSRF cookie is valid on all).

    python -m deploy.classroom --port 8501 --processes 4

starts the processes on free ports of 127.0.0.1, writes the proxy's configuration from
haproxy.cfg.template into the log folder, waits until every process answers through the
proxy, and stops everything on Ctrl-C or SIGTERM (or when one of them dies).  Logs: one file
per process, the proxy's (one line per request, with the process that served it) and this
launcher's own lines on stdout.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")
COOKIE = "MLPLAB"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
DEFAULT_LOGS = Path("~/.cache/mlp-lab/classroom-logs").expanduser()
START_TIMEOUT = 90.0     # s: a Streamlit process on a busy machine takes a few seconds to start
STOP_TIMEOUT = 10.0      # s: after SIGTERM, before SIGKILL
USERS_PER_PROCESS = 1000  # the proxy's connection cap is this times the processes (one WebSocket per user)


class ClassroomError(RuntimeError):
    """The classroom could not start or stopped on its own; the message says why and where the log is."""


@dataclass
class Classroom:
    """A running classroom: the proxy's URL and the processes behind it (names app1, app2, … as in the cookie)."""
    url: str
    logs: Path
    apps: dict[str, subprocess.Popen] = field(default_factory=dict)
    proxy: subprocess.Popen | None = None

    def processes(self) -> dict[str, subprocess.Popen]:
        return {**self.apps, **({"proxy": self.proxy} if self.proxy is not None else {})}

    def dead(self) -> str | None:
        """The name of a process that has exited, if any."""
        return next((name for name, p in self.processes().items() if p.poll() is not None), None)


def find_haproxy(name: str = "haproxy") -> str | None:
    """The HAProxy binary: on PATH, else in the sbin folders (Debian installs it there, off a user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def proxy_config(address: str, port: int, backends: dict[str, int], template: Path = TEMPLATE) -> str:
    """The HAProxy configuration for the proxy on address:port in front of backends {name: port on 127.0.0.1}."""
    servers = "\n".join(f"    server {name} 127.0.0.1:{backend} cookie {name} check inter 2s fall 3 rise 2"
                        for name, backend in backends.items())
    return string.Template(template.read_text()).substitute(
        address=address, port=port, servers=servers, cookie=COOKIE, maxconn=USERS_PER_PROCESS * len(backends))


def _die_with_parent() -> None:
    """In the child before exec: on Linux, be sent SIGTERM if the launcher dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,   # Ctrl-C reaches us, we stop them
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


def _wait_healthy(room: Classroom, urls: dict[str, str], deadline: float) -> None:
    waiting = dict(urls)
    while waiting:
        for name, url in list(waiting.items()):
            if _answers(url):
                del waiting[name]
        gone = room.dead()
        if gone is not None:
            raise ClassroomError(f"{gone} exited during start-up; see {room.logs / (gone + '.log')}")
        if waiting and time.monotonic() > deadline:
            raise ClassroomError(f"{', '.join(waiting)} did not answer within {START_TIMEOUT:.0f} s; "
                                 f"see the logs in {room.logs}")
        time.sleep(0.3)


def stop(room: Classroom) -> None:
    """The proxy first (no new requests), then the app processes: SIGTERM, then SIGKILL after STOP_TIMEOUT."""
    order = ([room.proxy] if room.proxy is not None else []) + list(room.apps.values())
    for process in order:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in order:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def default_weights_folder() -> Path:
    from lab.store import user_weights    # the app's own rule, so the launcher and a plain `make run` agree
    return user_weights.folder()


@contextlib.contextmanager
def running(port: int, processes: int, logs: Path, weights: Path | None = None, max_training: int | None = None,
            address: str = "127.0.0.1", allowed_hosts: list[str] = (), haproxy: str = "haproxy"):
    """Start `processes` app processes and HAProxy on address:port; yield the Classroom; stop all of it at the end.

    max_training is the number of training runs for the whole class (default: the CPU
    count), shared out between the processes, since each process caps its own runs.
    The processes accept the Host names of .streamlit/config.toml, or, when the proxy is on
    another address or allowed_hosts names more, those besides localhost.
    """
    if processes < 1:
        raise ClassroomError(f"--processes must be at least 1, not {processes}")
    binary = find_haproxy(haproxy)
    if binary is None:
        raise ClassroomError(f"{haproxy} is not installed; on Debian or Ubuntu: sudo apt-get install haproxy")
    logs = Path(logs).resolve()
    logs.mkdir(parents=True, exist_ok=True)
    weights = Path(weights if weights is not None else default_weights_folder()).expanduser().resolve()
    weights.mkdir(parents=True, exist_ok=True)
    runs = max_training if max_training is not None else (os.cpu_count() or 1)
    env = dict(os.environ,
               MLP_LAB_USER_WEIGHTS=str(weights),
               MLP_LAB_MAX_TRAINING=str(max(1, -(-runs // processes))),
               STREAMLIT_SERVER_COOKIE_SECRET=secrets.token_hex(32))
    env.setdefault("MALLOC_ARENA_MAX", "2")       # as `make run`: memory freed by passing sessions goes back
    extra_hosts = [*([] if address in LOOPBACK else [address]), *allowed_hosts]
    hosts = [arg for host in (*LOOPBACK, *extra_hosts) for arg in ("--server.allowedHosts", host)]
    streamlit = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                 "--server.headless", "true", "--browser.gatherUsageStats", "false", *(hosts if extra_hosts else [])]
    backends = {f"app{i + 1}": free_port() for i in range(processes)}
    config = logs / "haproxy.cfg"
    config.write_text(proxy_config(address, port, backends))
    checked = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ClassroomError(f"HAProxy refused {config}:\n{checked.stdout}{checked.stderr}")

    room = Classroom(url=f"http://{address}:{port}", logs=logs)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        for name, backend in backends.items():
            room.apps[name] = _spawn([*streamlit, "--server.port", str(backend)], logs / f"{name}.log", env)
        _wait_healthy(room, {name: f"http://127.0.0.1:{backend}" for name, backend in backends.items()}, deadline)
        room.proxy = _spawn([binary, "-db", "-f", str(config)], logs / "proxy.log", env)
        _wait_healthy(room, {"proxy": room.url}, deadline)
        yield room
    finally:
        stop(room)


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt    # the same way out as Ctrl-C: through running()'s clean-up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.classroom", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8501, help="the proxy's port, the one users open (8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="the proxy's address (127.0.0.1; a LAN address to serve a class, see docs/serving.md)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="another name students type to reach the proxy (repeatable); its --address is allowed")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="app processes behind the proxy (default: the CPU count)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="the weights folder all processes share "
                             "(default: $MLP_LAB_USER_WEIGHTS, else weights/user)")
    parser.add_argument("--max-training", type=int, default=None,
                        help="training runs at once for the whole class (default: the CPU count)")
    parser.add_argument("--logs", type=Path, default=DEFAULT_LOGS, help=f"log folder (default: {DEFAULT_LOGS})")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with running(args.port, args.processes, args.logs, args.weights, args.max_training, args.address,
                     args.allowed_host) as room:
            print(f"Classroom ready at {room.url}: {len(room.apps)} app processes behind HAProxy; "
                  f"logs in {room.logs}. Ctrl-C stops it.", flush=True)
            while (gone := room.dead()) is None:
                time.sleep(1)
            print(f"{gone} exited; stopping the classroom. See {room.logs / (gone + '.log')}", file=sys.stderr)
            return 1
    except ClassroomError as e:
        print(f"classroom: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print("Classroom stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
