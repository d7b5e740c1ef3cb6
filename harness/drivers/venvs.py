"""Local copies of a build for the process driver: the context's files and a venv.

A template with ``process_from_build`` runs as a process the way its image runs:
its ``command`` in a copy of the build context (with ``build.include``), with a
venv of the build's requirements first on ``PATH``. Both live under the config
root's ``.cache/`` and are reused while what they are made from is unchanged.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.config import Build
from harness.drivers.base import TemplateError, tail
from harness.drivers.contexts import (
    WHEELHOUSE_DIR,
    Progress,
    context_digest,
    context_files,
    prepare_wheelhouse,
)

CACHE_DIR = ".cache"
READY_FILE = ".canary-matrix-ready"


@dataclass(frozen=True)
class LocalBuild:
    """Where a template's process runs.

    Attributes:
        app: A copy of the build context: the command's working directory.
        bin: The venv's ``bin`` directory, first on the command's ``PATH``.
    """

    app: Path
    bin: Path


def prepare(build: Build, name: str, cache: Path, progress: Progress) -> LocalBuild:
    """The template's local copy and venv, made now or reused.

    Raises:
        TemplateError: The venv could not be made (the message has pip's last lines).
    """
    return LocalBuild(app=_app(build, name, cache), bin=_venv(build, name, cache, progress) / "bin")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One maker at a time (concurrent runs, or two templates of one build)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _app(build: Build, name: str, cache: Path) -> Path:
    target = cache / "apps" / f"{name}-{context_digest(build)[:12]}"
    with _locked(cache / "apps" / f".{name}.lock"):
        if not target.is_dir():
            fresh = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
            for relative, source in context_files(build):
                (fresh / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, fresh / relative)
            fresh.rename(target)
    return target


def _venv(build: Build, name: str, cache: Path, progress: Progress) -> Path:
    spec = build.wheelhouse
    assert spec is not None, "config: process_from_build needs build.wheelhouse"
    requirements = build.context / spec.requirements
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = hashlib.sha256(requirements.read_bytes() + f"{python} {platform.machine()}".encode())
    target = cache / "venvs" / f"{name}-{key.hexdigest()[:12]}"
    with _locked(cache / "venvs" / f".{name}.lock"):
        if (target / READY_FILE).is_file():
            return target
        shutil.rmtree(target, ignore_errors=True)
        progress(f"making a local venv from {requirements.name} (kept for later runs)")
        env = dict(os.environ)
        if python == spec.python and sys.platform.startswith("linux"):
            # The image's own wheels, installed as the image installs them: same versions,
            # no index, and none of the host's pip configuration.
            prepare_wheelhouse(build, progress)
            source = ["--no-index", "--find-links", str(build.context / WHEELHOUSE_DIR)]
            env["PIP_CONFIG_FILE"] = os.devnull
        else:
            source = []  # the wheelhouse is for the image's Python and Linux, not this host
        commands = [
            [sys.executable, "-m", "venv", str(target)],
            [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *source, "-r", str(requirements)],
        ]  # fmt: skip
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                raise TemplateError(
                    f"could not make a local venv from {requirements}: "
                    f"{tail(done.stderr or done.stdout, 5)}"
                )
        (target / READY_FILE).write_text(f"{requirements}\n")
    return target


def clean(cache: Path) -> int:
    """Remove every local copy and venv under ``cache``; returns how many there were."""
    made = [p for kind in ("apps", "venvs") for p in (cache / kind).glob("*") if p.is_dir()]
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
    return len(made)
