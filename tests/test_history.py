"""``report --history``: each cell's last outcomes and flake rate over stored runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.history import Trend
from harness.results import CanaryResult, Result, Status, write
from tests.support.runs import ROOT, run_cli, write_config

P, F, E, S = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


def _run(directory: Path, started: str, **outcomes: Status) -> Path:
    """One stored run: the template ``alpha`` with these canary outcomes."""
    canaries = {
        cid: CanaryResult(o, message=None if o == P else "why") for cid, o in outcomes.items()
    }
    failed = any(o in (F, E) for o in outcomes.values())
    result = Result(
        template="alpha", gate="advisory", wave=0, status=F if failed else P,
        started_at=started, canaries=canaries,
    )  # fmt: skip
    write(result, directory)
    return directory


def test_a_trend_counts_flips_between_verdicts_and_ignores_skips() -> None:
    assert Trend((P, P, P)).flake_rate == 0
    assert Trend((F, F, F)).flake_rate == 0  # broken every time: not flaky
    assert Trend((P, F, P, F)).flake_rate == 1
    assert Trend((P, S, None, F, P)).flips == 2
    assert Trend((P, S, None, F, P)).marks() == ".s-F."
    assert Trend((P,)).flake_rate is None
    assert Trend((P, F, P, P, E, P, P)).cell() == "..E.. 67%"  # 4 flips in 6 chances


def test_report_history_shows_each_cells_last_outcomes_over_three_runs(tmp_path: Path) -> None:
    first = _run(tmp_path / "first", "2026-11-28T02:00:00+00:00", name_recall=P, memory_recall=P)
    second = _run(tmp_path / "second", "2026-11-29T02:00:00+00:00", name_recall=P, memory_recall=F)
    third = _run(tmp_path / "third", "2026-11-30T02:00:00+00:00", name_recall=P, memory_recall=P)
    now = _run(tmp_path / "now", "2026-12-01T02:00:00+00:00", name_recall=P, memory_recall=F)
    config = write_config(tmp_path, '[templates.alpha]\nimage = "example/alpha:1"\n')
    history = ["--history", str(first), "--history", str(second), "--history", str(third)]

    shown = run_cli("--config", str(config), "report", str(now), *history)
    assert shown.returncode == 0, shown.stderr  # alpha is advisory: history never gates
    assert "history over 4 runs" in shown.stdout
    row = next(
        line for line in shown.stdout.splitlines() if line.startswith("alpha") and "%" in line
    )
    assert row.split()[1:] == ["....", ".F.F", "100%"], shown.stdout

    markdown = run_cli(
        "--config", str(config), "report", str(now), *history, "--format", "markdown"
    ).stdout
    assert "**History** over 4 runs" in markdown
    assert "| .F.F 100% |" in markdown

    page = run_cli("--config", str(config), "report", str(now), *history, "--format", "html").stdout
    assert ".F.F 100%" in page

    data = json.loads(
        run_cli("--config", str(config), "report", str(now), *history, "--format", "json").stdout
    )
    trend = data["templates"][0]["history"]["memory_recall"]
    assert trend == {"outcomes": ["passed", "failed", "passed", "failed"], "flake_rate": 1.0}


def test_a_damaged_result_in_the_history_is_an_error(tmp_path: Path) -> None:
    now = _run(tmp_path / "now", "2026-12-01T02:00:00+00:00", name_recall=P)
    config = ["--config", str(write_config(tmp_path, '[templates.alpha]\nimage = "a:1"\n'))]
    old = tmp_path / "old"
    old.mkdir()
    (old / "alpha.json").write_text("{ not json")
    shown = run_cli(*config, "report", str(now), "--history", str(old))
    assert shown.returncode == 1
    assert f"unreadable or foreign result file {old / 'alpha.json'}" in shown.stderr
    missing = run_cli(*config, "report", str(now), "--history", str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert "no history directory" in missing.stderr


@pytest.mark.slow
def test_rerun_failed_runs_only_the_failed_cells_canaries_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    reference = 'command = ["python", "-m", "templates.reference"]\ngate = "required"\n'
    config = write_config(
        tmp_path,
        f"""
        [templates.flaky]
        {reference}env = {{ PYTHONPATH = "{ROOT}", REFERENCE_FAULTS = "${{FAULT:-}}" }}
        [templates.steady]
        {reference}env = {{ PYTHONPATH = "{ROOT}" }}
        """,
    )
    results, artifacts = tmp_path / "results", tmp_path / "artifacts"
    where = ["--results", str(results), "--artifacts", str(artifacts), "--driver", "process"]
    first = run_cli("--config", str(config), "matrix", *where, env={"FAULT": "no_memory"})
    assert first.returncode == 1, first.stdout + first.stderr
    before = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert before["flaky"]["canaries"]["memory_recall"]["outcome"] == "failed"
    assert before["steady"]["status"] == "passed"

    again = run_cli("--config", str(config), "matrix", *where, "--rerun-failed", str(results))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[steady]" not in again.stderr  # a cell that passed is not run again
    after = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert after["steady"] == before["steady"]
    flaky = after["flaky"]
    assert flaky["status"] == "passed"
    outcomes = {c: e["outcome"] for c, e in before["flaky"]["canaries"].items()}
    assert {c: e["outcome"] for c, e in flaky["canaries"].items()} == {
        **outcomes,
        "memory_recall": "passed",
        "memory_layers": "passed",
    }
    # Only memory_recall's conversation ran again; the others' verdicts are the first run's.
    transcript = (artifacts / "flaky" / "transcript.jsonl").read_text()
    assert '"canary": "memory_recall"' in transcript
    assert '"canary": "name_recall"' not in transcript
    carried = [w for w in flaky["warnings"] if "carried over" in w]
    assert carried, flaky["warnings"]
    assert "name_recall" in carried[0]
    assert before["flaky"]["started_at"] in carried[0]

    nothing = run_cli("--config", str(config), "matrix", *where, "--rerun-failed", str(results))
    assert nothing.returncode == 0
    assert "nothing to rerun" in nothing.stdout


def test_rerun_failed_from_a_bad_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = ["--config", str(write_config(tmp_path, '[templates.beta]\nimage = "b:1"\n'))]
    missing = run_cli(*config, "matrix", "--rerun-failed", str(tmp_path / "absent"))
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1), missing.stderr
    assert "no results directory" in missing.stderr
    gone = _run(tmp_path / "old", "2026-12-01T02:00:00+00:00", memory_recall=F)  # alpha
    unknown = run_cli(*config, "matrix", "--rerun-failed", str(gone))
    assert (unknown.returncode, unknown.stderr.count("\n")) == (2, 1), unknown.stderr
    assert f"template 'alpha' is not in {tmp_path / 'templates.toml'}" in unknown.stderr
