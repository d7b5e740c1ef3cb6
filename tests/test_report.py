"""Results files and the matrix: pure functions, so CI jobs' results merge."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from canary import registry
from harness import report, results
from harness.results import CanaryResult, Result, Status
from tests.support.runs import run_cli


def result(
    name: str, status: str, gate: str = "advisory", wave: int = 1, **canaries: str
) -> Result:
    return Result(
        template=name, gate=gate, wave=wave, status=Status(status),
        canaries={c: CanaryResult(Status(o), 0.1, f"{c} {o}") for c, o in canaries.items()},
    )  # fmt: skip


def outcomes(**canaries: str) -> dict[str, CanaryResult]:
    return {c: CanaryResult(Status(o)) for c, o in canaries.items()}


def test_template_status_fails_on_any_failed_or_errored_canary() -> None:
    assert results.template_status(outcomes(a="passed", b="skipped")) == Status.PASSED
    assert results.template_status(outcomes(a="passed", b="failed")) == Status.FAILED
    assert results.template_status(outcomes(a="error")) == Status.FAILED
    assert results.template_status(outcomes(a="skipped")) == Status.SKIPPED


def test_result_file_round_trips(tmp_path: Path) -> None:
    original = result("alpha", "failed", gate="required", name_recall="failed")
    scope = CanaryResult(Status.PASSED, observed="context")
    original = replace(original, canaries={**original.canaries, "session_scope": scope})
    path = results.write(original, tmp_path)
    assert Result.from_json(json.loads(path.read_text())) == original


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
    found = results.read_all(tmp_path)
    merged = found.results
    assert [r.template for r in merged] == ["alpha", "zeta"]
    assert len(found.problems) == 1
    assert found.problems[0].path.name == "notes.json"
    text = report.render(merged, "markdown")
    assert text.index("alpha") < text.index("zeta")
    assert "FAIL" in text
    assert "name_recall failed" in text
    assert json.loads(report.render(merged, "json"))["templates"][0]["canaries"] == {
        "name_recall": "failed"
    }
    assert '<table class="grid">' in report.render(merged, "html")


def test_skipped_template_shows_its_reason() -> None:
    skipped = replace(
        result("hermes", "skipped"), reason="secret MINIMAX_API_KEY is not set in the environment"
    )
    assert "MINIMAX_API_KEY" in report.render([skipped])


def test_report_command_exit_code_and_output(tmp_path: Path) -> None:
    results.write(result("alpha", "failed", gate="required", name_recall="failed"), tmp_path)
    out = tmp_path / "matrix.md"
    completed = run_cli(
        "report", "--results", str(tmp_path), "--format", "markdown", "--output", str(out)
    )
    assert completed.returncode == 1
    assert "| alpha" in out.read_text()


def test_nested_job_directories_merge_and_the_newest_result_wins(tmp_path: Path) -> None:
    # As CI lays out downloaded artifacts: one folder per job, results/ inside.
    older = result("alpha", "failed", name_recall="failed")
    older = replace(older, started_at="2026-11-24T10:00:00+00:00")
    newer = result("alpha", "passed", name_recall="passed")
    newer = replace(newer, started_at="2026-11-25T10:00:00+00:00")
    results.write(older, tmp_path / "job-alpha-1" / "results")
    results.write(newer, tmp_path / "job-alpha-2" / "results")
    results.write(result("beta", "passed"), tmp_path / "job-beta" / "results")
    session_file = tmp_path / "job-beta" / "artifacts" / "beta" / "snapshots" / "s.json"
    session_file.parent.mkdir(parents=True)
    session_file.write_text('{"key": "not a result"}')  # ignored: not where results go
    found = results.read_all(tmp_path)
    assert [(r.template, r.status) for r in found.results] == [
        ("alpha", Status.PASSED),
        ("beta", Status.PASSED),
    ]
    assert found.problems == []
    assert len(found.notes) == 1
    assert "alpha: 2 results; kept the newest (2026-11-25T10:00:00+00:00" in found.notes[0]


def test_report_of_two_job_directories_says_which_result_it_kept(tmp_path: Path) -> None:
    first = result("alpha", "failed", gate="required", name_recall="failed")
    first = replace(first, started_at="2026-11-24T10:00:00+00:00")
    second = result("alpha", "passed", gate="required", name_recall="passed")
    second = replace(second, started_at="2026-11-25T10:00:00+00:00")
    results.write(first, tmp_path / "one")
    results.write(second, tmp_path / "two")
    config = tmp_path / "templates.toml"
    config.write_text('schema = 1\n[templates.alpha]\ncommand = ["true"]\ngate = "required"\n')
    completed = run_cli(
        "report", "--config", str(config), str(tmp_path / "one"), str(tmp_path / "two")
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "kept the newest" in completed.stderr
    assert "FAIL" not in completed.stdout


def test_the_terminal_matrix_of_every_project_template_fits_120_columns() -> None:
    from harness.config import load
    from tests.support.runs import ROOT

    config = load(ROOT / "templates.toml")
    everything = [*registry.canary_ids(), *registry.diagnostic_ids()]
    rows = []
    for template in config.matrix_templates():
        canaries = {cid: CanaryResult(Status.PASSED, observed=registry.specs()[cid].usual)
                    for cid in everything}  # fmt: skip
        rows.append(Result(template.name, template.gate, template.wave, Status.PASSED,
                           reason="docker image unavailable (" + "x" * 200 + ")",
                           timings={"boot_s": 123.45}, driver="process", canaries=canaries,
                           warnings=("the agent card advertises 1.0, not 0.3",)))  # fmt: skip
    table = report.render(rows, "terminal").split("\n\n")[0]
    assert max(len(line) for line in table.splitlines()) <= 120, table
    assert "docker image unavailable" not in table  # reasons are notes below it
    wide = report.render(rows, "terminal", wide=True).split("\n\n")[0]
    assert "name_recall" in wide  # --wide keeps the long column names


def test_a_bracket_shows_only_an_unusual_observation() -> None:
    usual = CanaryResult(Status.PASSED, observed="context")
    shared = CanaryResult(Status.PASSED, observed="shared")
    plain = Result("a", "required", 0, Status.PASSED, canaries={"session_scope": usual})
    odd = Result("b", "required", 0, Status.PASSED, canaries={"session_scope": shared})
    text = report.render([plain, odd], "terminal")
    assert "(context)" not in text
    assert "ok (shared)" in text


def test_a_canary_column_shows_only_where_it_ran_in_every_format() -> None:
    # No messages: a column head is the only place a canary's name can come from.
    plain = replace(result("plain", "passed"), canaries=outcomes(name_recall="passed"))
    peered = replace(result("peered", "failed"),
                     canaries=outcomes(name_recall="passed", peer_call="failed"))  # fmt: skip
    without = {f: report.render([plain], f) for f in ("terminal", "markdown", "html", "junit")}
    assert not any("peer" in text for text in without.values())
    both = [plain, peered]
    assert " peer " in report.render(both, "terminal").splitlines()[0] + " "
    assert "peer_call" in report.render(both, "terminal", wide=True)
    assert "peer_call" in report.render(both, "markdown")
    assert "peer_call" in report.render(both, "html")
    junit = report.render(both, "junit")
    assert junit.count('name="peer_call"') == 1  # the template that ran it, not the other
    json_rows = json.loads(report.render(both, "json"))["templates"]
    assert [sorted(r["canaries"]) for r in json_rows] == [["name_recall", "peer_call"],
                                                          ["name_recall"]]  # fmt: skip
