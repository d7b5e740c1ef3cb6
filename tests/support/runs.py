"""Running the harness as a user would, from the tests: config files, the CLI, processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
SUPPORT = Path(__file__).resolve().parent
"""Where the independent runtimes live (they never import the harness)."""
MODEL_RUNTIME = SUPPORT / "model_runtime.py"
"""An independent runtime that thinks with an OpenAI-compatible model (the scripted one)."""


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
