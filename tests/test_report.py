"""Results files and the matrix: pure functions, so CI jobs' results merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import report, results
from harness.config import load
from tests.conftest import ROOT, run_cli


def result(
    name: str, status: str, gate: str = "advisory", wave: int = 1, **canaries: str
) -> dict[str, Any]:
    template = load(ROOT / "templates.toml").templates["reference"]
    data = results.new_result(template)
    data.update(template=name, status=status, gate=gate, wave=wave)
    data["canaries"] = {
        c: {"outcome": o, "duration_s": 0.1, "message": f"{c} {o}", "layer": None}
        for c, o in canaries.items()
    }
    return data


def test_template_status_fails_on_any_failed_or_errored_canary() -> None:
    assert (
        results.template_status({"a": {"outcome": "passed"}, "b": {"outcome": "skipped"}})
        == "passed"
    )
    assert (
        results.template_status({"a": {"outcome": "passed"}, "b": {"outcome": "failed"}})
        == "failed"
    )
    assert results.template_status({"a": {"outcome": "error"}}) == "failed"


def test_exit_code_follows_required_gates_only() -> None:
    assert results.exit_code([result("a", "failed", gate="advisory")]) == 0
    assert results.exit_code([result("a", "skipped", gate="required")]) == 0
    assert results.exit_code([result("a", "error", gate="required")]) == 1
    assert results.exit_code([result("a", "failed", gate="required"), result("b", "passed")]) == 1


def test_results_from_separate_jobs_merge_into_one_matrix(tmp_path: Path) -> None:
    results.write(result("zeta", "passed", wave=2, name_recall="passed"), tmp_path)
    results.write(
        result("alpha", "failed", gate="required", wave=0, name_recall="failed"), tmp_path
    )
    (tmp_path / "notes.json").write_text("[]")
    merged = results.read_all(tmp_path)
    assert [r["template"] for r in merged] == ["alpha", "zeta"]
    text = report.render(merged, "markdown")
    assert text.index("alpha") < text.index("zeta")
    assert "FAIL" in text
    assert "name_recall failed" in text
    assert json.loads(report.render(merged, "json"))["templates"][0]["canaries"] == {
        "name_recall": "failed"
    }
    assert "<table>" in report.render(merged, "html")


def test_skipped_template_shows_its_reason() -> None:
    skipped = result("hermes", "skipped")
    skipped["reason"] = "secret MINIMAX_API_KEY is not set in the environment"
    assert "MINIMAX_API_KEY" in report.render([skipped])


def test_report_command_exit_code_and_output(tmp_path: Path) -> None:
    results.write(result("alpha", "failed", gate="required", name_recall="failed"), tmp_path)
    out = tmp_path / "matrix.md"
    completed = run_cli(
        "report", "--results", str(tmp_path), "--format", "markdown", "--output", str(out)
    )
    assert completed.returncode == 1
    assert "| alpha" in out.read_text()
