"""The CI workflows: valid YAML, and every command they run exists in this repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.config import load
from tests.support.runs import ROOT

WORKFLOWS = [ROOT / ".github" / "workflows" / "canary-matrix.yml",
             ROOT / "ci" / "template-repository.yml"]  # fmt: skip


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.fixture(scope="module")
def sessions() -> set[str]:
    """Every session of the noxfile, those not run by default included."""
    completed = subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-l"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return set(re.findall(r"^[*-] ([\w.-]+) (?:\[[^]]*\] )?->", completed.stdout, re.MULTILINE))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_runs_only_what_exists(path: Path, sessions: set[str]) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert workflow["jobs"], path
    for step in steps(workflow):
        script = str(step.get("run", ""))
        for session in re.findall(r"nox -s ([\w.-]+)", script):
            assert session in sessions, f"{path.name}: nox session {session!r} does not exist"
        for relative in re.findall(r"(?:canary-matrix/)?(scripts/[\w./-]+)", script):
            assert (ROOT / relative).is_file(), f"{path.name}: {relative} does not exist"


def test_every_fanned_out_session_exists_and_every_secret_is_mapped(sessions: set[str]) -> None:
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    canary = workflow["jobs"]["canary"]
    assert "nox -s ${{ matrix.session }}" in " ".join(str(s.get("run")) for s in canary["steps"])
    mapped = {name for step in canary["steps"] for name in step.get("env", {})}
    for template in load(ROOT / "templates.toml").matrix_templates():
        assert template.session_name in sessions
        missing = set(template.secrets) - mapped
        assert not missing, f"the workflow does not map {missing} for {template.name}"


def test_artifacts_are_uploaded_even_when_a_job_fails() -> None:
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    uploads = [s for s in workflow["jobs"]["canary"]["steps"]
               if str(s.get("uses", "")).startswith("actions/upload-artifact")]  # fmt: skip
    assert uploads
    assert uploads[0]["if"] == "always()"
    assert "${{ matrix.cell }}" in uploads[0]["with"]["name"]  # one per template and dialect
    assert workflow["jobs"]["report"]["if"] == "always()"
