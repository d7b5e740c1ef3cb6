"""nox sessions: one ``canary-<template>`` per entry of templates.toml, plus matrix, tests, …

Thin on purpose: it reads the config and calls the harness. Options after ``--``
go to the harness, e.g. ``nox -s canary-reference -- --driver process --canary file_only``.
"""

from __future__ import annotations

import hashlib
import signal
import sys
from pathlib import Path
from types import FrameType

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))  # harness.config needs only the standard library

from harness.config import default_path, load  # noqa: E402
from harness.errors import ConfigError  # noqa: E402

nox.options.reuse_venv = "yes"
STOP_GRACE_S = 60.0
CONFIG_PATH = default_path(ROOT)

try:
    CONFIG = load(CONFIG_PATH)
except ConfigError as exc:
    print(f"canary-matrix: error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)


def install(session: nox.Session, extras: str) -> None:
    """Install the project once per venv; skip it while pyproject.toml is unchanged."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = Path(session.virtualenv.location) / ".canary-matrix-installed"
    if stamp.is_file() and stamp.read_text() == digest:
        return
    session.install("-e", f"{ROOT}[{extras}]")
    stamp.write_text(digest)


def harness(session: nox.Session, *args: str) -> None:
    """Run the harness's command line with the session's extra arguments.

    On Ctrl-C or SIGTERM nox passes SIGTERM on to the harness and gives it
    ``STOP_GRACE_S`` to stop its runtimes and write its results.
    """
    session.run(
        "canary-matrix", "--config", str(CONFIG_PATH), *args, *session.posargs,
        terminate_timeout=STOP_GRACE_S,
    )  # fmt: skip


def _cancelled(signum: int, frame: FrameType | None) -> None:
    # nox dies on SIGTERM (what a CI cancel sends) and would leave the harness running;
    # as KeyboardInterrupt it terminates the harness and waits for it.
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _cancelled)


def _canary_session(name: str, description: str) -> None:
    @nox.session(name=f"canary-{name}", tags=["canary"])
    def canary(session: nox.Session) -> None:
        install(session, "reference")
        harness(session, "run", name)

    canary.__doc__ = description or f"Run the canaries against {name}"


for _template in CONFIG.templates.values():
    _canary_session(_template.name, _template.description)


@nox.session
def matrix(session: nox.Session) -> None:
    """Run every template whose gate is not 'off' and print the compatibility matrix."""
    install(session, "reference")
    harness(session, "matrix")


@nox.session(default=False)
def run(session: nox.Session) -> None:
    """canary-matrix run with the arguments after --, e.g. -- --image IMAGE (no template)."""
    install(session, "reference")
    harness(session, "run")


@nox.session(default=False)
def clean(session: nox.Session) -> None:
    """Remove every container, built image and local venv canary-matrix made."""
    install(session, "reference")
    harness(session, "clean")


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Print the matrix of existing results (e.g. merged from CI jobs): -- --format markdown."""
    install(session, "reference")
    harness(session, "report")


@nox.session(name="ci-matrix", default=False)
def ci_matrix(session: nox.Session) -> None:
    """The CI fan-out matrix as JSON: -- [--wave N] [--gate required]."""
    install(session, "reference")
    harness(session, "ci-matrix")


@nox.session(default=False)
def judge(session: nox.Session) -> None:
    """Re-judge stored transcripts with no runtime: -- artifacts/ [--results DIR]."""
    install(session, "reference")
    harness(session, "judge", *([] if session.posargs else ["artifacts"]))


@nox.session
def tests(session: nox.Session) -> None:
    """The harness's own tests, with lint and type checks."""
    install(session, "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Wall time and timings split of canary runs, as ratios measured in one run."""
    install(session, "reference")
    session.run("python", "scripts/benchmark.py", *session.posargs)


@nox.session(default=False)
def flakes(session: nox.Session) -> None:
    """Healthy copies with every canary, several matrices in a row: every false failure."""
    install(session, "reference")
    session.run("python", "scripts/flakes.py", *session.posargs)
