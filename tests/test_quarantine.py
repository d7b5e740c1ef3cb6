"""Quarantine: a known failure parked until a date runs and shows, and gates again after it."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from harness.config import load
from harness.errors import ConfigError
from harness.report import junit, render
from harness.results import CanaryResult, Result, Status, quarantined, template_status
from tests.support.runs import ROOT, run_cli, write_config

TODAY = datetime.date(2026, 12, 2)


def test_a_quarantine_table_is_read_with_dates(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [templates.alpha]
        image = "example/alpha:1"
        quarantine = { memory_recall = 2026-12-15, session_scope = "2027-01-31" }
        """,
    )
    alpha = load(path, {}).templates["alpha"]
    assert alpha.quarantine == {
        "memory_recall": datetime.date(2026, 12, 15),
        "session_scope": datetime.date(2027, 1, 31),
    }


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('{ memroy_recall = "2026-12-15" }', "key 'quarantine.memroy_recall': unknown canary"),
        ('{ memory_recall = "next week" }', "key 'quarantine.memory_recall': expected a date"),
        ('{ memory_deep = "2026-12-15" }', "does not run this canary"),
        ('"memory_recall"', "key 'quarantine': expected a table"),
    ],
)
def test_a_bad_quarantine_names_file_template_and_key(
    tmp_path: Path, table: str, problem: str
) -> None:
    path = write_config(tmp_path, f'[templates.alpha]\nimage = "a:1"\nquarantine = {table}\n')
    with pytest.raises(ConfigError) as caught:
        load(path, {})
    assert str(path) in str(caught.value)
    assert "template 'alpha'" in str(caught.value)
    assert problem in str(caught.value)


def test_quarantine_is_a_template_key_not_a_default(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[defaults]\nquarantine = {}\n[templates.a]\nimage = "a:1"\n')
    with pytest.raises(ConfigError, match="key 'quarantine': unknown key"):
        load(path, {})


def test_a_quarantine_holds_through_its_date_and_ends_the_day_after() -> None:
    verdicts = {
        "name_recall": CanaryResult(Status.PASSED),
        "memory_recall": CanaryResult(Status.FAILED, message="no colour", layer="memory"),
    }
    held, ended = quarantined(verdicts, {"memory_recall": "2026-12-02"}, TODAY)
    assert held["memory_recall"].quarantined_until == "2026-12-02"
    assert ended == []
    assert template_status(held) == Status.PASSED

    expired, ended = quarantined(verdicts, {"memory_recall": "2026-12-01"}, TODAY)
    assert expired["memory_recall"].quarantined_until is None
    assert ended == ["the quarantine of memory_recall ended on 2026-12-01: it gates again"]
    assert template_status(expired) == Status.FAILED


def test_a_quarantined_failure_is_shown_in_every_format_and_skipped_in_junit() -> None:
    result = Result(
        template="alpha", gate="required", wave=0, status=Status.PASSED,
        canaries={"memory_recall": CanaryResult(
            Status.FAILED, message="no colour", layer="memory", quarantined_until="2026-12-15"
        )},
    )  # fmt: skip
    assert "FAIL~q" in render([result])
    assert "quarantined until 2026-12-15: does not gate" in render([result])
    assert "FAIL (quarantined until 2026-12-15)" in render([result], "markdown")
    assert "quarantined until 2026-12-15" in render([result], "html")
    case = junit([result])
    assert 'failures="0"' in case
    assert 'skipped="1"' in case
    assert "quarantined until 2026-12-15, failed: no colour" in case
    again = Result.from_json(json.loads(json.dumps(result.to_json())))
    assert again.canaries["memory_recall"].quarantined_until == "2026-12-15"


@pytest.mark.slow
@pytest.mark.parametrize(("until", "code"), [("2999-12-31", 0), ("2020-01-01", 1)])
def test_a_quarantined_failing_cell_gates_only_after_its_date(
    tmp_path: Path, until: str, code: int
) -> None:
    # The reference with its memory fault: memory_recall fails, in a required gate.
    config = write_config(
        tmp_path,
        f"""
        [templates.reference]
        command = ["python", "-m", "templates.reference"]
        env = {{ PYTHONPATH = "{ROOT}", REFERENCE_FAULTS = "no_memory" }}
        gate = "required"
        quarantine = {{ memory_recall = "{until}" }}
        """,
    )
    completed = run_cli(
        "--config", str(config), "run", "reference", "--canary", "name_recall",
        "--canary", "memory_recall", "--results", str(tmp_path / "results"),
        "--artifacts", str(tmp_path / "artifacts"),
    )  # fmt: skip
    result = json.loads((tmp_path / "results" / "reference.json").read_text())
    memory = result["canaries"]["memory_recall"]
    assert memory["outcome"] == "failed", result
    assert completed.returncode == code, completed.stdout + completed.stderr
    if code == 0:
        assert memory["quarantined_until"] == until
        assert result["status"] == "passed"
        assert f"quarantined until {until}: does not gate" in completed.stdout
    else:
        assert "quarantined_until" not in memory
        assert result["status"] == "failed"
        assert f"the quarantine of memory_recall ended on {until}: it gates again" in (
            completed.stdout
        )
    # The judge of stored transcripts gives the same verdict.
    rejudged = run_cli(
        "--config", str(config), "judge", str(tmp_path / "artifacts"),
        "--results", str(tmp_path / "rejudged"),
    )  # fmt: skip
    assert rejudged.returncode == code, rejudged.stdout + rejudged.stderr
