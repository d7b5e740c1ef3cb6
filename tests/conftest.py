"""Fixtures shared by the harness's own tests (helpers live in :mod:`tests.support`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import docker
import pytest

from harness.drivers.docker import engine
from harness.drivers.images import image_exists
from tests.support.runs import ROOT

LOCAL_BASES = ("canary-matrix/python-base:bookworm", "python:3.11-slim")


@pytest.fixture
def reference_config() -> Path:
    """The project's templates file (tests run ``reference`` from it, results go to tmp)."""
    return ROOT / "templates.toml"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires Docker: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    found, problem = engine()
    if found is None:
        _unavailable(problem or "no Docker engine")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def base_image(client: docker.DockerClient) -> str:
    wanted = os.environ.get("CANARY_BASE_IMAGE")
    candidates = [wanted] if wanted else list(LOCAL_BASES)
    for candidate in candidates:
        if candidate and image_exists(client, candidate):
            return candidate
    _unavailable(f"no base image among {candidates}: run scripts/bootstrap-base-image.sh")
    raise AssertionError("unreachable")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the verdict table's accuracy, when it ran."""
    table = sys.modules.get("tests.test_verdict_table")
    for driver, rows in getattr(table, "ACCURACY", {}).items():
        terminalreporter.write_line(
            f"verdict accuracy ({driver} driver): {sum(rows)}/{len(rows)} rows right"
        )
