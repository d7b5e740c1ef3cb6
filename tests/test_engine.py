"""The evidence-first engine: many templates at once, re-judging, no side door.

A single green run proves little: these run many copies of the healthy
reference in one matrix and require every one to pass, judge the same
transcripts under different xdist layouts, and re-judge stored transcripts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.drivers import isolation
from tests.support.runs import ROOT, SUPPORT, run_cli

pytestmark = pytest.mark.slow

SNOOP_RUNTIME = SUPPORT / "snoop_runtime.py"
PROBE = '{ session_store = "{workspace}/.sessions", key = "{workspace_id}:{context_id}" }'


def copies_file(directory: Path, copies: int, **env: str) -> Path:
    """A templates file of ``copies`` healthy reference templates, runnable from anywhere."""
    env_table = ", ".join(f'{k} = "{v}"' for k, v in {"PYTHONPATH": str(ROOT), **env}.items())
    lines = ["schema = 1", "[defaults]", 'gate = "required"', "turn_timeout = 60"]
    for index in range(1, copies + 1):
        lines += [
            f"[templates.healthy{index}]",
            'command = ["python", "-m", "templates.reference"]',
            f"env = {{ {env_table} }}",
            f"probe = {PROBE}",
        ]
    path = directory / "copies.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def results_in(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a verdict is made of, per template and canary (not timings)."""
    return {
        name: {
            cid: (entry["outcome"], entry.get("layer"), entry.get("observed"))
            for cid, entry in result["canaries"].items()
        }
        for name, result in results.items()
    }


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One matrix of 20 healthy reference templates (process driver)."""
    directory = tmp_path_factory.mktemp("twenty")
    completed = run_cli(
        "--config", str(copies_file(directory, 20)), "matrix", "--driver", "process",
        "--results", str(directory / "results"), "--artifacts", str(directory / "artifacts"),
        timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return directory


def test_twenty_healthy_copies_in_one_matrix_all_pass(twenty: Path) -> None:
    results = results_in(twenty / "results")
    assert len(results) == 20
    failing = {n: r["canaries"] for n, r in results.items() if r["status"] != "passed"}
    assert failing == {}
    for result in results.values():
        assert {e["outcome"] for e in result["canaries"].values()} == {"passed"}
        assert len(result["canaries"]) == 8


@pytest.mark.parametrize("workers", [0, 2, 4])
def test_judging_does_not_depend_on_xdist(twenty: Path, tmp_path: Path, workers: int) -> None:
    completed = run_cli(
        "judge", str(twenty / "artifacts"), "--workers", str(workers),
        "--results", str(tmp_path / "rejudged"),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert verdicts(results_in(tmp_path / "rejudged")) == verdicts(results_in(twenty / "results"))


def test_judge_reproduces_the_stored_results(twenty: Path, tmp_path: Path) -> None:
    completed = run_cli("judge", str(twenty / "artifacts"), "--results", str(tmp_path / "rejudged"))
    assert completed.returncode == 0, completed.stderr
    assert results_in(tmp_path / "rejudged") == results_in(twenty / "results")
    assert "healthy20" in completed.stdout


def test_judge_finds_a_broken_transcript_failing(twenty: Path, tmp_path: Path) -> None:
    # Re-judging is not replaying stored verdicts: change the evidence, the verdict follows.
    artifacts = tmp_path / "artifacts"
    shutil.copytree(twenty / "artifacts" / "healthy1", artifacts / "healthy1")
    transcript = artifacts / "healthy1" / "transcript.jsonl"
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    name = next(e["value"] for e in events if e["type"] == "token" and e["canary"] == "name_recall")
    asked = [e for e in events if e["type"] == "a2a" and e["canary"] == "name_recall"][1]
    asked["body"] = asked["body"].replace(name, "Somebody")
    transcript.write_text("".join(json.dumps(e) + "\n" for e in events))
    completed = run_cli("judge", str(artifacts), "--results", str(tmp_path / "r"))
    assert completed.returncode == 1
    result = results_in(tmp_path / "r")["healthy1"]
    assert result["status"] == "failed"
    assert result["canaries"]["name_recall"]["outcome"] == "failed"
    assert "transcript line" in result["canaries"]["name_recall"]["message"]


def test_conversations_overlap(tmp_path: Path) -> None:
    # With 1 s of model time per turn, 8 turns in sequence take 8 s; overlapped, about 3.
    completed = run_cli(
        "--config", str(copies_file(tmp_path, 1, REFERENCE_LATENCY="1")), "matrix",
        "--driver", "process", "--results", str(tmp_path / "r"),
        "--artifacts", str(tmp_path / "a"),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = results_in(tmp_path / "r")["healthy1"]
    assert result["status"] == "passed"
    assert 3.0 <= result["timings"]["canaries_s"] < 6.0


def test_a_runtime_finds_nothing_of_the_harness_it_can_use(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        f'schema = 1\n[templates.snoop]\ncommand = ["python", "{SNOOP_RUNTIME}"]\n'
        "boot_timeout = 30\n"
    )
    completed = run_cli(
        "--config", str(config), "run", "snoop", "--driver", "process",
        "--results", str(tmp_path / "r"), "--artifacts", str(tmp_path / "a"),
    )  # fmt: skip
    log = (tmp_path / "a" / "snoop" / "runtime.log").read_text()
    assert "snoop: searched" in log, completed.stderr  # it did look
    assert "USABLE" not in log
    if isolation.unavailable() is None:
        # In its own PID namespace it sees itself and its shell, not the harness.
        visible = int(log.split("processes visible: ")[1].split()[0])
        assert visible <= 3, log
