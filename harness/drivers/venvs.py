"""Local copies of a build for the process driver: the context's files, a venv, its npm
packages.

A template with ``process_from_build`` is built for the process driver as its
image is built: its ``command`` runs in a copy of the build context (with
``build.include``), with a venv of the build's requirements first on ``PATH``, then
the commands of its npm packages (``build.npm``, Node among them where listed).
Both live in the harness's cache (:func:`~harness.drivers.contexts.cache_root`, shared
by every checkout) and are reused while what they are made from is unchanged; a newer
one replaces the older ones of its template that no run has used for a day (another
checkout may still be using them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from harness.config import Build
from harness.drivers.base import TemplateError
from harness.drivers.contexts import (
    NPM_DIR,
    WHEELHOUSE_DIR,
    Progress,
    Stopped,
    context_digest,
    context_files,
    locked,
    never,
    npm_stamp,
    packages_ready,
    run_stoppable,
)

READY_FILE = ".canary-matrix-ready"
KINDS = ("apps", "venvs", "npm")
UNUSED_FOR_S = 24 * 3600
"""An older copy or venv of a template goes once no run has used it for this long."""
_MADE_RE = re.compile(r"^(?P<name>.+)-[0-9a-f]{12}$")
_HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class LocalBuild:
    """Where a template's process runs.

    Attributes:
        app: A copy of the build context: the command's working directory.
        path: What goes first on the command's ``PATH``: the venv's ``bin``, then the
            npm packages' commands.
    """

    app: Path
    path: tuple[Path, ...]


def prepare(
    build: Build, name: str, cache: Path, progress: Progress, stopped: Stopped = never
) -> LocalBuild:
    """The template's local copy and venv, made now or reused.

    Raises:
        TemplateError: The venv could not be made (the message has pip's last lines),
            or the run was interrupted.
    """
    app = _app(build, name, cache, stopped)
    venv_bin = _venv(build, name, cache, progress, stopped) / "bin"
    npm = _npm(build, name, cache, progress, stopped)
    return LocalBuild(app=app, path=(venv_bin, *([npm / "node_modules" / ".bin"] if npm else [])))


def _made(kind_dir: Path, name: str) -> list[Path]:
    """What the harness made for this template in one kind of cache."""
    if not kind_dir.is_dir():
        return []
    return [
        p for p in kind_dir.iterdir()
        if p.is_dir() and (m := _MADE_RE.match(p.name)) and m.group("name") == name
    ]  # fmt: skip


def _used(target: Path) -> Path:
    """Marks ``target`` as used now (its time is what keeps it from being replaced)."""
    os.utime(target)
    return target


def _replace_older(target: Path, name: str) -> None:
    """The new one in place; the template's older ones go (hundreds of MB each) once
    unused for a day, so that a run from another checkout keeps its own."""
    for older in _made(target.parent, name):
        with contextlib.suppress(OSError):
            if older != target and time.time() - older.stat().st_mtime > UNUSED_FOR_S:
                shutil.rmtree(older, ignore_errors=True)


def _app(build: Build, name: str, cache: Path, stopped: Stopped) -> Path:
    target = cache / "apps" / f"{name}-{context_digest(build)[:12]}"
    with locked(cache / "apps" / f".{name}.lock", stopped):
        if not target.is_dir():
            fresh = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
            for relative, source in context_files(build):
                (fresh / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, fresh / relative)
            fresh.rename(target)
            _replace_older(target, name)
    return _used(target)


def _venv(build: Build, name: str, cache: Path, progress: Progress, stopped: Stopped) -> Path:
    spec = build.wheelhouse
    assert spec is not None, "config: process_from_build needs build.wheelhouse"
    requirements = build.context / spec.requirements
    host = f"{_HOST_PYTHON} {platform.machine()}{' no-deps' if spec.no_deps else ''}"
    key = hashlib.sha256(requirements.read_bytes() + host.encode())
    target = cache / "venvs" / f"{name}-{key.hexdigest()[:12]}"
    with locked(cache / "venvs" / f".{name}.lock", stopped):
        if (target / READY_FILE).is_file():
            return _used(target)
        shutil.rmtree(target, ignore_errors=True)
        progress(f"making a local venv from {requirements.name} (kept for later runs)")
        try:
            code, output = run_stoppable(
                [sys.executable, "-m", "venv", str(target)], target, stopped, dict(os.environ)
            )
            if code == 0:
                code, output = _install(build, requirements, target, progress, stopped)
            if code != 0:
                raise TemplateError(f"could not make a local venv from {requirements}: {output}")
        except BaseException:  # interrupted too: no half-made venv stays behind
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / READY_FILE).write_text(f"{requirements}\n")
        _replace_older(target, name)
    return _used(target)


def _install(
    build: Build, requirements: Path, target: Path, progress: Progress, stopped: Stopped
) -> tuple[int, str]:
    assert build.wheelhouse is not None
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]  # fmt: skip
    if build.wheelhouse.no_deps:  # the requirements are the whole tree
        pip.append("--no-deps")
    if build.wheelhouse.python != _HOST_PYTHON or not sys.platform.startswith("linux"):
        # The wheelhouse is for the image's Python and Linux, not this host.
        return run_stoppable([*pip, "-r", str(requirements)], target, stopped, dict(os.environ))
    # The image's own wheels, installed as the image installs them: same versions, no
    # index, and none of the host's pip settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    with packages_ready(build, progress, stopped):
        wheels = ["--no-index", "--find-links", str(build.context / WHEELHOUSE_DIR)]
        return run_stoppable([*pip, *wheels, "-r", str(requirements)], target, stopped, env)


def _npm(build: Build, name: str, cache: Path, progress: Progress, stopped: Stopped) -> Path | None:
    """The context's npm packages, linked into the cache: the context's own ``npm/`` is
    replaced when its list changes, maybe while this template still runs."""
    if not build.npm:
        return None
    key = hashlib.sha256(npm_stamp(build).encode()).hexdigest()[:12]
    target = cache / "npm" / f"{name}-{key}"
    with locked(cache / "npm" / f".{name}.lock", stopped):
        if (target / READY_FILE).is_file():
            return _used(target)
        shutil.rmtree(target, ignore_errors=True)
        with packages_ready(build, progress, stopped):
            # Hard links: hundreds of MB, copied in a moment, on the same file system.
            try:
                shutil.copytree(build.context / NPM_DIR, target, symlinks=True,
                                copy_function=os.link)  # fmt: skip
            except OSError:
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(build.context / NPM_DIR, target, symlinks=True)
        (target / READY_FILE).write_text(npm_stamp(build) + "\n")
        _replace_older(target, name)
    return _used(target)


def clean(cache: Path, templates: Collection[str] = ()) -> int:
    """Remove the local copies and venvs under ``cache`` no run is using; returns how many.

    Only those of ``templates`` when it names any.
    """
    removed = 0
    for kind in KINDS:
        for path in sorted((cache / kind).glob("*")):
            made = _MADE_RE.match(path.name)
            if not path.is_dir() or made is None:
                continue
            if templates and made.group("name") not in templates:
                continue
            try:
                with locked(cache / kind / f".{made.group('name')}.lock", stopped=lambda: True):
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
            except TemplateError:
                continue  # a run is making or using it right now
    return removed
