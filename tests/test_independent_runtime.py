"""The canaries judge the contract, not the reference: a second runtime, written apart, passes.

``tests/support/alt_runtime.py`` differs from ``templates/reference`` wherever DESIGN §3
allows (Task replies with ``type`` parts, legacy card path only, no registration, a SQLite
session store, its own wording), so a canary that leaned on the reference's habits would
fail here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from canary import registry
from harness.config import DEFAULT_CANARY_IDS
from tests.support.runs import SUPPORT, run_template, write_config

pytestmark = pytest.mark.slow

ALT_RUNTIME = SUPPORT / "alt_runtime.py"


def run_alt(tmp_path: Path, fault: str = "") -> tuple[int, dict[str, Any], str]:
    config = write_config(
        tmp_path,
        f"""
        [templates.alt]
        command = ["python", "{ALT_RUNTIME}"]
        ready_path = "/.well-known/agent.json"
        probe = {{ session_store = "{{workspace}}/state", key = "ctx::{{context_id}}" }}
        env = {{ ALT_FAULT = "{fault}" }}
        gate = "required"
        boot_timeout = 30
        turn_timeout = 30
        """,
    )
    return run_template(config, "alt", tmp_path)


def test_independent_runtime_passes_every_canary_and_diagnostic(tmp_path: Path) -> None:
    code, result, stdout = run_alt(tmp_path)
    outcomes = {cid: entry["outcome"] for cid, entry in result["canaries"].items()}
    assert outcomes == dict.fromkeys(registry.selected(DEFAULT_CANARY_IDS, None), "passed"), result
    assert result["canaries"]["session_scope"]["observed"] == "context"
    assert result["status"] == "passed"
    assert code == 0, stdout
    # It was this runtime that answered, not the reference.
    log = (tmp_path / "artifacts" / "alt" / "runtime.log").read_text()
    assert "alt-runtime on 127.0.0.1" in log


def test_independent_runtime_that_forgets_fails_name_recall(tmp_path: Path) -> None:
    code, result, stdout = run_alt(tmp_path, fault="forget")
    canaries = {cid: result["canaries"][cid]["outcome"] for cid in DEFAULT_CANARY_IDS}
    assert canaries == {
        "name_recall": "failed",
        "file_only": "passed",
        "file_caption": "passed",
        "memory_recall": "passed",
    }, result
    assert result["canaries"]["name_recall"]["layer"] == "session"
    assert result["canaries"]["session_scope"]["outcome"] == "skipped"
    assert result["status"] == "failed"
    assert code == 1
    assert "name_recall" in stdout


def test_a_server_that_ignores_blocking_fails_with_the_answer_it_would_have_given(
    tmp_path: Path,
) -> None:
    code, result, _ = run_alt(tmp_path, fault="nonblocking")
    assert code == 1
    for cid in DEFAULT_CANARY_IDS:
        entry = result["canaries"][cid]
        assert (entry["outcome"], entry["layer"]) == ("failed", "wire"), (cid, entry)
        assert "ignored `blocking`" in entry["message"]
        assert "`submitted` task" in entry["message"]
    # Polling tasks/get (only to keep the evidence) recorded what it would have said.
    name_recall = result["canaries"]["name_recall"]["message"]
    assert "it would have answered 'Noted! Hello there," in name_recall
    transcript = (tmp_path / "artifacts" / "alt" / "transcript.jsonl").read_text()
    assert '"type": "a2a_poll"' in transcript
    assert '"method": "tasks/get"' in transcript


def test_a_card_without_protocol_0_3_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    _, result, stdout = run_alt(tmp_path)
    assert result["status"] == "passed"
    assert result["warnings"] == [
        "the agent card advertises no protocol version, not 0.3 (the platform speaks 0.3)"
    ]
    assert "warning: the agent card advertises no protocol version" in stdout
