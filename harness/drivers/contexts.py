"""Build contexts on the host: their files, their hash, their wheelhouse.

Docker builds and the process driver's local venvs install Python dependencies
offline from a wheelhouse the harness prepares on the host (DESIGN §7:
containers here cannot reach the package index, and air-gapped CI has the same
need). Needs no docker-py.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.config import Build
from harness.drivers.base import TemplateError, tail

WHEELHOUSE_DIR = "wheelhouse"
STAMP_FILE = ".stamp"
# Files that never change what an image does: kept out of the context hash.
_IGNORED_PARTS = frozenset({"__pycache__", WHEELHOUSE_DIR, ".pytest_cache", ".mypy_cache"})

Progress = Callable[[str], None]


def context_files(build: Build) -> Iterator[tuple[str, Path]]:
    """The files that define the image: the context's own, then the shared ones."""
    for path in sorted(build.context.rglob("*")):
        relative = path.relative_to(build.context)
        if path.is_file() and not _IGNORED_PARTS & set(relative.parts):
            yield relative.as_posix(), path
    yield from build.include


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
    machine = {"arm64": "aarch64", "AMD64": "x86_64"}.get(platform.machine(), platform.machine())
    return f"cp{python.replace('.', '')}-{machine}"


def prepare_wheelhouse(build: Build, progress: Progress) -> None:
    """Download binary wheels for the image's Python into ``<context>/wheelhouse``.

    Skipped when the wheelhouse's stamp matches the requirements file and the
    target, so an unchanged context needs no network.

    Raises:
        TemplateError: pip could not get every requirement as a wheel.
    """
    spec = build.wheelhouse
    if spec is None:
        return
    requirements = build.context / spec.requirements
    stamp_value = f"{hashlib.sha256(requirements.read_bytes()).hexdigest()} {wheel_target(build)}"
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
    fresh = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=build.context))
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        "--abi", f"cp{python.replace('.', '')}", "-d", str(fresh), "-r", str(requirements),
        *(arg for p in platforms for arg in ("--platform", p)),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        raise TemplateError(
            f"could not prepare the wheelhouse from {requirements}: {tail(completed.stderr, 5)}"
        )
    (fresh / STAMP_FILE).write_text(stamp_value + "\n")
    fresh.chmod(0o755)
    shutil.rmtree(wheelhouse, ignore_errors=True)
    fresh.rename(wheelhouse)
