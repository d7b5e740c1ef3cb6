"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def write_config(directory: Path, body: str, header: str = "schema = 1\n") -> Path:
    """Write a templates file into ``directory`` and return its path."""
    path = directory / "templates.toml"
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return path


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
def reference_config(tmp_path: Path) -> Path:
    """A templates file holding only the reference runtime, run from the project root."""
    path = tmp_path / "templates.toml"
    text = (ROOT / "templates.toml").read_text(encoding="utf-8")
    reference = text.split("[templates.reference]")[1].split("\n[templates.")[0]
    header = text.split("[templates.reference]")[0]
    path.write_text(header + "[templates.reference]" + reference, encoding="utf-8")
    # Relative paths resolve against the file's directory, so point them back at the project.
    text = path.read_text().replace(
        'context = "templates/reference"', f'context = "{ROOT}/templates/reference"'
    )
    text = text.replace(
        "[templates.reference]", f'[templates.reference]\nenv = {{ PYTHONPATH = "{ROOT}" }}'
    )
    path.write_text(text, encoding="utf-8")
    return path
