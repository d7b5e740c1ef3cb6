"""Bad input and missing preconditions: one clear line, a distinct exit code, never green.

Each case is a row of the "truthful under faults" table: what a user can get wrong, and
what the harness must answer (README, "Exit codes").
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import results
from harness.results import Result, Status
from tests.support.runs import ROOT, run_cli, write_config

REFERENCE = 'command = ["python", "-m", "templates.reference"]'


def one_line_error(completed: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert completed.returncode == code, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    errors = [line for line in completed.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, completed.stderr
    for needle in needles:
        assert needle in errors[0]


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ("turn_timeout = 1e300", "turn_timeout", "from 1 to 86400"),
        ("boot_timeout = 100000", "boot_timeout", "from 1 to 86400"),
        ('mem_limit = "lots"', "mem_limit", "not a memory size"),
        ("cpus = 0", "cpus", "from 0.01"),
        ("port = 70000", "port", "from 1 to 65535"),
        (f'image = "{"x" * 300}"', "image", "not an image reference"),
        ('model = "gpt-4"', "model", "must be one of sim"),
        ('dialects = ["a2a-0.2"]', "dialects", "unknown dialect 'a2a-0.2' (known: context"),
        ("dialects = []", "dialects", "must name at least one dialect"),
    ],
)
def test_out_of_range_values_stop_everything_with_exit_2(
    tmp_path: Path, body: str, key: str, says: str
) -> None:
    config = write_config(tmp_path, f"[templates.t]\n{REFERENCE}\n{body}\n")
    completed = run_cli("--config", str(config), "run", "t")
    one_line_error(completed, 2, str(config), "template 't'", f"key {key!r}", says)


def test_a_template_name_too_long_for_a_file_name_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"[templates.{'n' * 300}]\n{REFERENCE}\n")
    completed = run_cli("--config", str(config), "matrix")
    one_line_error(completed, 2, str(config), "at most 64")


@pytest.mark.parametrize("flag", ["--results", "--artifacts"])
def test_an_unwritable_output_directory_stops_before_anything_runs(
    tmp_path: Path, flag: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    completed = run_cli("run", "reference", "--driver", "process", flag, str(tmp_path / "file/x"))
    one_line_error(completed, 2, flag, "not a writable directory")
    assert "[reference] preparing" not in completed.stderr  # nothing was started


def test_docker_asked_for_with_no_engine_is_an_error_not_a_skip(tmp_path: Path) -> None:
    completed = run_cli(
        "run", "reference", "--driver", "docker", "--results", str(tmp_path / "r"),
        "--artifacts", str(tmp_path / "a"), env={"DOCKER_HOST": "tcp://127.0.0.1:1"},
    )  # fmt: skip
    assert completed.returncode == 1
    result = json.loads((tmp_path / "r" / "reference.json").read_text())
    assert result["status"] == "error"
    assert result["reason"].startswith("--driver docker: no Docker engine answers")


def test_run_canary_script_without_an_image_is_a_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEMPLATE_IMAGE"}
    completed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run-canary.sh")],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "set TEMPLATE_IMAGE" in completed.stderr


def _results(directory: Path, *entries: Result) -> None:
    for entry in entries:
        results.write(entry, directory)


def test_report_counts_a_corrupt_result_of_a_required_template_as_an_error(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, f"[templates.alpha]\n{REFERENCE}\ngate = 'required'\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "alpha.json").write_text("{not json")
    completed = run_cli("report", "--config", str(config), "--results", str(tmp_path / "results"))
    assert completed.returncode == 1
    assert "unreadable result file" in completed.stdout
    assert "alpha.json" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    "content",
    [
        {"schema": 1, "template": "alpha", "canaries": {}},  # no status
        {"schema": 1, "template": "alpha", "status": "passed", "canaries": []},
        {"schema": 1, "template": "alpha", "status": "great", "canaries": {}},
    ],
    ids=["no-status", "canaries-not-a-mapping", "unknown-status"],
)
def test_report_never_tracebacks_on_a_malformed_result(tmp_path: Path, content: object) -> None:
    config = write_config(tmp_path, f"[templates.alpha]\n{REFERENCE}\ngate = 'required'\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "alpha.json").write_text(json.dumps(content))
    completed = run_cli("report", "--config", str(config), "--results", str(tmp_path / "results"))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "alpha" in completed.stdout


def test_report_counts_a_missing_required_result(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"[templates.alpha]\n{REFERENCE}\ngate = 'required'\n"
        f"[templates.beta]\n{REFERENCE}\ngate = 'required'\n",
    )
    _results(tmp_path / "results", Result("alpha", "required", 0, Status.PASSED))
    completed = run_cli("report", "--config", str(config), "--results", str(tmp_path / "results"))
    assert completed.returncode == 1
    assert "beta" in completed.stdout
    assert "no result in" in completed.stdout


def test_a_skipped_required_template_is_loud_and_fails_only_when_strict(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"[templates.needy]\n{REFERENCE}\ngate = 'required'\nsecrets = ['CANARY_UNSET_KEY']\n",
    )
    args = ("--config", str(config), "matrix", "--results", str(tmp_path / "r"),
            "--artifacts", str(tmp_path / "a"))  # fmt: skip
    relaxed = run_cli(*args, env={"CI": "false"})
    assert relaxed.returncode == 0
    assert "NOT TESTED: 1 required template(s) did not run: needy" in relaxed.stderr
    assert "CANARY_UNSET_KEY" in relaxed.stderr
    assert run_cli(*args, "--strict", env={"CI": "false"}).returncode == 1
    assert run_cli(*args, env={"CI": "true"}).returncode == 1


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"schema": 1, "template": "alpha", "canaries": {}}),
     json.dumps({"schema": 1, "template": "alpha", "gate": "required", "status": "passed",
                 "canaries": "all good"})],
    ids=["truncated", "no-status", "canaries-a-string"],
)  # fmt: skip
def test_report_fails_on_a_damaged_result_from_any_working_directory(
    tmp_path: Path, content: str
) -> None:
    # No templates file says alpha is required here: a damaged file is still no verdict.
    folder = tmp_path / "downloaded"
    _results(folder, Result("beta", "advisory", 0, Status.PASSED))
    (folder / "alpha.json").write_text(content)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = run_cli("report", str(folder), cwd=elsewhere)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert f"unreadable or foreign result file {folder / 'alpha.json'}" in completed.stderr


def test_judge_refuses_a_transcript_of_another_schema_in_one_line(tmp_path: Path) -> None:
    stored = tmp_path / "artifacts" / "old"
    stored.mkdir(parents=True)
    header = {"t": 0, "type": "header", "schema": 1, "template": "old", "selected": []}
    (stored / "transcript.jsonl").write_text(json.dumps(header) + "\n")
    completed = run_cli("judge", str(tmp_path / "artifacts"), "--results", str(tmp_path / "r"))
    one_line_error(completed, 2, "a schema-1 transcript", "reads schema 2")
