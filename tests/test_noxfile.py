"""The noxfile: sessions generated from the templates file a user points it at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.runs import ROOT, write_config


def nox(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lists_one_session_per_template_plus_matrix_and_tests() -> None:
    completed = nox("-l", "--json", env={"CANARY_TEMPLATES": str(ROOT / "templates.toml")})
    sessions = [s["session"] for s in json.loads(completed.stdout)]
    assert sessions[:2] == ["canary-reference", "canary-hermes"]
    assert {"canary-codex", "canary-google-adk", "matrix", "tests"} <= set(sessions)


def test_canary_templates_selects_another_file(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '[templates.zeta]\nimage = "x/zeta:1"\ndescription = "Zeta agent"\n'
    )
    completed = nox("-l", "--json", env={"CANARY_TEMPLATES": str(path)})
    listed = {s["session"]: s["description"] for s in json.loads(completed.stdout)}
    assert listed["canary-zeta"] == "Zeta agent"
    assert "canary-reference" not in listed


def test_bad_templates_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[templates.zeta]\nimage = "x/zeta:1"\nimgae = "typo"\n')
    completed = nox("-l", env={"CANARY_TEMPLATES": str(path)})
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        f"canary-matrix: error: {path}: template 'zeta', key 'imgae': unknown key"
    )
