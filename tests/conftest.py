"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.drivers.docker import engine
from harness.drivers.images import image_exists

ROOT = Path(__file__).resolve().parent.parent


def write_config(directory: Path, body: str, header: str = "schema = 1\n") -> Path:
    """Write a templates file into ``directory`` and return its path."""
    path = directory / "templates.toml"
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return path


def project_templates_text() -> str:
    """The project's templates.toml with its paths made absolute, to load from anywhere."""
    return (ROOT / "templates.toml").read_text().replace('"templates/', f'"{ROOT}/templates/')


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m harness`` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def reference_config() -> Path:
    """The project's templates file (tests run ``reference`` from it, results go to tmp)."""
    return ROOT / "templates.toml"


def run_template(
    config: Path, template: str, tmp_path: Path, *extra: str,
    driver: str = "process", env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:  # fmt: skip
    """Run one template through the CLI; returns exit code, its result file, and stdout."""
    completed = run_cli(
        "--config", str(config), "run", template, "--driver", driver,
        "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "artifacts"),
        *extra, env=env, timeout=600,
    )  # fmt: skip
    result_file = tmp_path / "results" / f"{template}.json"
    assert result_file.exists(), completed.stdout + completed.stderr
    return completed.returncode, json.loads(result_file.read_text()), completed.stdout


LOCAL_BASES = ("canary-matrix/python-base:bookworm", "python:3.11-slim")


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


def pids_with(marker: str, where: str = "cmdline") -> list[int]:
    """Processes whose command line (or environment) holds a marker."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / where).read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
