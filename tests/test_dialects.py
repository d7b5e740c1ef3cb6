"""Platform dialects (DESIGN §3.4): what goes on the wire for each, and one cell per dialect.

The history-only runtime (``tests/support/history_runtime.py``) never imports the harness
and keeps no session: it remembers only what a request's ``params.metadata.history``
holds. It must pass ``name_recall`` when the harness speaks ``history`` and fail it, saying
the history was empty, when it speaks today's ``context``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import config as config_module
from harness import report
from harness.config import cells, load
from harness.cp_sim import dialects
from harness.cp_sim.a2a import file_part, parse_reply, text_part
from harness.cp_sim.dialects import HISTORY_TURNS, dialect, history_turn
from harness.results import CanaryResult, Result, Status
from tests.support.runs import ROOT, SUPPORT, run_cli, write_config

REFERENCE = f'command = ["python", "-m", "templates.reference"]\nenv = {{ PYTHONPATH = "{ROOT}" }}'
HISTORY_RUNTIME = f'command = ["python", "{SUPPORT / "history_runtime.py"}"]'


def test_the_config_and_the_simulator_name_the_same_dialects() -> None:
    assert config_module.DIALECTS == dialects.DIALECTS


def test_context_names_the_conversation_and_sends_no_history() -> None:
    envelope = dialect("context").envelope([text_part("hi")], "ctx-1", [history_turn("user", "x")])
    message = envelope["params"]["message"]
    assert (envelope["method"], message["contextId"]) == ("message/send", "ctx-1")
    assert "metadata" not in envelope["params"]
    assert message["parts"] == [{"kind": "text", "text": "hi"}]


def test_history_sends_the_earlier_turns_and_no_context_id() -> None:
    earlier = [history_turn("user" if i % 2 else "agent", f"turn {i}") for i in range(25)]
    parts = [text_part("and now?"), file_part("a.txt", "workspace:/workspace/a.txt")]
    envelope = dialect("history").envelope(parts, "ctx-1", earlier, method="message/stream")
    params = envelope["params"]
    assert envelope["method"] == "message/stream"
    assert "contextId" not in params["message"]
    assert params["message"]["parts"] == parts
    sent = params["metadata"]["history"]
    assert sent == earlier[-HISTORY_TURNS:]  # the chat sent at most the last 20
    assert sent[-1] == {"role": "agent", "parts": [{"kind": "text", "text": "turn 24"}]}


def test_a_cell_keeps_its_template_name_only_in_its_one_declared_dialect(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"""
        [templates.a]
        {REFERENCE}
        dialects = ["context", "history"]
        [templates.b]
        {REFERENCE}
        """,
    )
    loaded = load(path)
    both = cells(loaded.templates.values())
    assert [(c.label, c.dialect) for c in both] == [
        ("a@context", "context"), ("a@history", "history"), ("b", "context"),
    ]  # fmt: skip
    # The same names whatever else the run speaks (a CI job per dialect writes these).
    history = cells(loaded.templates.values(), ("history",))
    assert [c.label for c in history] == ["a@history", "b@history"]
    assert [c.label for c in cells(loaded.templates.values(), ("context",))] == ["a@context", "b"]


def _run(tmp_path: Path, body: str, *args: str) -> tuple[int, dict[str, dict], str]:
    config = write_config(tmp_path, body)
    completed = run_cli(
        "--config", str(config), "run", *args, "--driver", "process",
        "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "artifacts"),
        timeout=600,
    )  # fmt: skip
    found = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")}
    return completed.returncode, found, completed.stdout + completed.stderr


@pytest.mark.slow
def test_a_history_only_runtime_fails_name_recall_in_context_and_passes_in_history(
    tmp_path: Path,
) -> None:
    body = f"""
    [templates.hist]
    {HISTORY_RUNTIME}
    gate = "required"
    boot_timeout = 60
    turn_timeout = 30
    """
    code, found, output = _run(tmp_path, body, "hist", "--dialect", "context",
                               "--dialect", "history")  # fmt: skip
    assert sorted(found) == ["hist", "hist@history"], output  # its own dialect: its own name
    today, april = found["hist"], found["hist@history"]
    assert (today["dialect"], april["dialect"]) == ("context", "history")
    outcomes = {c: e["outcome"] for c, e in today["canaries"].items() if e["outcome"] != "passed"}
    # session_scope needs a name_recall that passed; session_store, a declared store.
    assert outcomes == {"name_recall": "failed", "session_scope": "skipped",
                        "session_store": "skipped"}, today  # fmt: skip
    recall = today["canaries"]["name_recall"]
    assert recall["layer"] == "session"
    assert "no params.metadata.history" in recall["message"]
    assert april["status"] == "passed", april
    outcomes = {c: e["outcome"] for c, e in april["canaries"].items() if e["outcome"] != "passed"}
    assert outcomes == {"session_store": "skipped"}, april
    assert "dialect context:" in output
    assert "dialect history:" in output
    assert (tmp_path / "artifacts" / "hist@history" / "transcript.jsonl").is_file()
    assert (tmp_path / "artifacts" / "hist" / "transcript.jsonl").is_file()
    assert code == 1  # a required cell failed


@pytest.mark.slow
def test_the_reference_passes_in_both_dialects(tmp_path: Path) -> None:
    body = f"""
    [defaults]
    dialects = ["context", "history"]
    [templates.reference]
    {REFERENCE}
    gate = "required"
    probe = {{ session_store = "{{workspace}}/.sessions", key = "{{workspace_id}}:{{context_id}}" }}
    """
    code, found, output = _run(tmp_path, body, "reference")
    assert sorted(found) == ["reference@context", "reference@history"], output
    for name, result in found.items():
        assert result["status"] == "passed", (name, result)
    store = found["reference@history"]["canaries"]["session_store"]
    assert store["outcome"] == "skipped"
    assert "sends no contextId" in store["message"]
    assert found["reference@context"]["canaries"]["session_store"]["outcome"] == "passed"
    assert code == 0, output


@pytest.mark.slow
def test_the_reference_that_ignores_history_forgets_in_history_only(tmp_path: Path) -> None:
    body = f"""
    [templates.reference]
    {REFERENCE.replace('" }', '", REFERENCE_FAULTS = "no_history" }')}
    dialects = ["context", "history"]
    """
    _, found, output = _run(tmp_path, body, "reference", "--canary", "name_recall")
    assert found["reference@context"]["canaries"]["name_recall"]["outcome"] == "passed", output
    forgot = found["reference@history"]["canaries"]["name_recall"]
    assert (forgot["outcome"], forgot["layer"]) == ("failed", "session"), forgot
    assert "metadata.history" not in forgot["message"]  # it was sent: no such note


def test_a2a_1_0_sends_the_1_0_binding() -> None:
    spoken = dialect("a2a-1.0")
    parts = [text_part("hi"), file_part("a.txt", "workspace:/workspace/a.txt")]
    envelope = spoken.envelope(parts, "ctx-1", method="message/stream")
    message = envelope["params"]["message"]
    assert envelope["method"] == "SendStreamingMessage"
    assert spoken.headers == {"A2A-Version": "1.0"}
    assert (message["role"], message["contextId"], "kind" in message) == ("ROLE_USER", "ctx-1",
                                                                          False)  # fmt: skip
    assert message["parts"] == [
        {"text": "hi"},
        {"url": "workspace:/workspace/a.txt", "filename": "a.txt", "mediaType": "text/plain"},
    ]
    assert envelope["params"]["configuration"]["returnImmediately"] is False
    assert [spoken.method(m) for m in ("tasks/get", "tasks/cancel")] == ["GetTask", "CancelTask"]
    assert dialect("context").headers == {}


def test_1_0_replies_are_read_by_1_0_rules_and_only_under_1_0() -> None:
    message = {"result": {"message": {"role": "ROLE_AGENT", "parts": [{"text": "Hello, Ada."}]}}}
    task = {"result": {"task": {"id": "t", "status": {"state": "TASK_STATE_COMPLETED"},
                                "artifacts": [{"parts": [{"text": "Done, Ada."}]}]}}}  # fmt: skip
    read = parse_reply(200, json.dumps(message).encode(), v1=True)
    assert (read.ok, read.text, read.shape) == (True, "Hello, Ada.", "message")
    read = parse_reply(200, json.dumps(task).encode(), v1=True)
    assert (read.ok, read.text, read.shape, read.task_state) == (True, "Done, Ada.", "task",
                                                                 "completed")  # fmt: skip
    # The platform's 0.3 chat would show neither: the same bodies fail under context.
    for body in (message, task):
        read = parse_reply(200, json.dumps(body).encode())
        assert not read.ok
        assert "A2A 1.0 shape" in str(read.problem)


@pytest.mark.slow
def test_a_runtime_without_0_3_compatibility_fails_in_context_and_passes_in_1_0(
    tmp_path: Path,
) -> None:
    body = f"""
    [templates.reference]
    {REFERENCE.replace('" }', '", REFERENCE_FAULTS = "only_1_0" }')}
    dialects = ["context", "a2a-1.0"]
    """
    _, found, output = _run(tmp_path, body, "reference")
    today, v1 = found["reference@context"], found["reference@a2a-1.0"]
    for canary, entry in today["canaries"].items():
        if entry["outcome"] != "skipped":
            assert (entry["outcome"], entry["layer"]) == ("failed", "wire"), (canary, entry)
    assert "needs 0.3 compatibility" in today["canaries"]["name_recall"]["message"]
    assert any("not 0.3" in w for w in today["warnings"]), today["warnings"]
    assert v1["status"] == "passed", v1
    assert v1["warnings"] == [], v1["warnings"]  # its card lists 1.0, the version it was spoken
    assert "dialect a2a-1.0:" in output


@pytest.mark.slow
def test_a_0_3_only_runtime_fails_in_1_0_saying_so(tmp_path: Path) -> None:
    body = f"""
    [templates.alt]
    command = ["python", "{SUPPORT / "alt_runtime.py"}"]
    ready_path = "/.well-known/agent.json"
    dialects = ["a2a-1.0"]
    """
    _, found, _ = _run(tmp_path, body, "alt", "--canary", "name_recall")
    recall = found["alt"]["canaries"]["name_recall"]  # its one dialect: its own name
    assert (recall["outcome"], recall["layer"]) == ("failed", "wire"), recall
    assert "does not take A2A 1.0's `SendMessage`" in recall["message"]


@pytest.mark.slow
def test_auto_speaks_1_0_to_a_card_that_lists_only_1_0_and_says_so(tmp_path: Path) -> None:
    body = f"""
    [templates.new]
    {REFERENCE.replace('" }', '", REFERENCE_FAULTS = "only_1_0" }')}
    dialects = ["auto"]
    [templates.both]
    {REFERENCE}
    dialects = ["auto"]
    """
    _, found, output = _run(tmp_path, body, "new", "both", "--canary", "name_recall")
    new, both = found["new"], found["both"]
    assert (new["status"], new["dialect"]) == ("passed", "a2a-1.0"), new
    assert "dialect auto: spoke a2a-1.0 (the card lists 1.0)" in new["warnings"]
    assert (both["status"], both["dialect"]) == ("passed", "context"), both  # it reads 0.3 too
    assert "dialect a2a-1.0:" in output


def test_a_baseline_compares_each_cell_with_the_same_cell() -> None:
    def cell(name: str, dialect_name: str, recall: str) -> Result:
        canaries = {"name_recall": CanaryResult(Status(recall))}
        return Result(name, "required", 0, Status(recall), canaries=canaries, dialect=dialect_name)

    before = [cell("hermes", "context", "passed"), cell("hermes@history", "history", "passed")]
    after = [cell("hermes", "context", "passed"), cell("hermes@history", "history", "failed")]
    assert [c.line() for c in report.compare(before, after)] == [
        "REGRESSION hermes@history / name_recall: passed -> failed",
    ]
