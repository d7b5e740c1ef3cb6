"""The evidence itself: strict reading, the schema, incomplete conversations, odd calls.

Shapes a real conversation never records (a stopped run, a call after the reply) are
written by hand with :class:`tests.support.transcripts.Script`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from canary import memory_layers, name_recall, registry, wire
from canary.evidence import Evidence, Failed, NoEvidence
from harness.cp_sim.transcript import read
from harness.events import TranscriptError
from tests.support.scripted import Agent, record
from tests.support.transcripts import WORKSPACE_ID, Script

CHECKS = Path(__file__).parent
MEMORIES = f"/workspaces/{WORKSPACE_ID}/memories"
COLOUR = "dark magenta"


def test_every_canary_and_diagnostic_has_tests_here() -> None:
    sources = "".join(p.read_text() for p in CHECKS.glob("test_*.py"))
    for cid in registry.specs():
        assert f"{cid}.check" in sources, cid


def test_evidence_needs_a_header(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no header"):
        Evidence([], root=tmp_path)


def test_a_recorded_transcript_reads_back_line_for_line(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path))
    again = Evidence.load(tmp_path / "transcript.jsonl")
    assert again.turns("name_recall") == evidence.turns("name_recall")
    assert evidence.conversation_problem("name_recall") is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda e: e.update(type="a2a_call"), "unknown event type 'a2a_call'"),
        (lambda e: e.update(contextId=e.pop("context_id")), "unknown member 'contextId'"),
        (lambda e: e.pop("turn"), "missing member 'turn'"),
        (lambda e: e.update(turn="2"), "a2a.turn: expected int"),
    ],
    ids=["unknown-type", "renamed-member", "missing-member", "wrong-kind"],
)
def test_a_changed_event_is_a_load_error_not_a_default(
    tmp_path: Path, change: Any, says: str
) -> None:
    record(tmp_path, ["name_recall"], Agent(tmp_path))
    path = tmp_path / "transcript.jsonl"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if '"type": "a2a"' in line)
    event = json.loads(lines[number])
    change(event)
    lines[number] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TranscriptError, match=rf":{number + 1}: .*{says}"):
        read(path)


def test_a_transcript_of_another_schema_is_refused_whole(tmp_path: Path) -> None:
    record(tmp_path, ["name_recall"], Agent(tmp_path))
    path = tmp_path / "transcript.jsonl"
    header, *rest = path.read_text().splitlines()
    path.write_text("\n".join([json.dumps({**json.loads(header), "schema": 1}), *rest]) + "\n")
    with pytest.raises(TranscriptError, match="a schema-1 transcript; this canary-matrix reads"):
        read(path)


def test_conversation_problem_reports_a_missing_canary_end(tmp_path: Path) -> None:
    script = Script()
    script.start("name_recall")
    script.token("name_recall", "name", "Mababim")
    script.turn("name_recall", "Hi!", "Hello")
    script.start("wire")
    script.end("wire")  # another conversation's end does not count
    problem = script.evidence(tmp_path).conversation_problem("name_recall")
    assert problem is not None
    assert "did not finish" in problem


def test_conversation_problem_reports_an_error_in_canary_end(tmp_path: Path) -> None:
    script = Script()
    script.start("file_only")
    line = script.end("file_only", error="RuntimeError: the driver broke")
    problem = script.evidence(tmp_path).conversation_problem("file_only")
    assert problem is not None
    assert "RuntimeError: the driver broke" in problem
    assert f"(transcript line {line})" in problem


def test_conversation_problem_reports_a_conversation_that_never_started(tmp_path: Path) -> None:
    problem = Script().evidence(tmp_path).conversation_problem("memory_recall")
    assert problem is not None
    assert "never started" in problem


def test_an_unfinished_second_step_is_a_conversation_problem(tmp_path: Path) -> None:
    script = Script()
    script.start("session_scope")
    script.end("session_scope")
    script.start("session_scope", step="follow_up")
    assert "did not finish" in str(script.evidence(tmp_path).conversation_problem("session_scope"))


def test_an_error_in_an_earlier_step_is_not_hidden(tmp_path: Path) -> None:
    script = Script()
    script.start("session_scope")
    script.end("session_scope", error="RuntimeError: boom")
    script.start("session_scope", step="follow_up")
    script.end("session_scope")
    assert "boom" in str(script.evidence(tmp_path).conversation_problem("session_scope"))


def test_a_stopped_conversation_with_one_turn_is_no_evidence(tmp_path: Path) -> None:
    script = Script()
    script.start("name_recall")
    script.token("name_recall", "name", "Mababim")
    script.turn("name_recall", "Hi!", "Hello")
    with pytest.raises(NoEvidence):
        name_recall.check(script.evidence(tmp_path))
    with pytest.raises(NoEvidence):
        memory_layers.check(script.evidence(tmp_path))


def test_a_card_without_the_unknown_method_call_is_no_evidence(tmp_path: Path) -> None:
    script = Script()
    script.start("wire")
    script.http("wire", "/.well-known/agent-card.json", 200)
    script.end("wire")
    with pytest.raises(NoEvidence):
        wire.check(script.evidence(tmp_path))


def _memory_script() -> tuple[Script, int, int]:
    script = Script()
    script.start("memory_recall")
    script.token("memory_recall", "colour", COLOUR)
    stated = script.turn("memory_recall", f"Remember: my favourite colour is {COLOUR}.", "OK")
    asked = script.turn("memory_recall", "What is my favourite colour?", "I don't know yet.")
    script.end("memory_recall")
    return script, stated.turn, asked.turn


def test_memory_calls_with_a_trailing_slash_count(tmp_path: Path) -> None:
    script, stated, asked = _memory_script()
    stored = {"content": f"favourite colour is {COLOUR}"}
    script.platform("POST", MEMORIES + "/", turns=(stated,), status=201, body=stored,
                    response={"id": "mem-1"})  # fmt: skip
    script.platform("GET", MEMORIES + "/", turns=(asked,),
                    response=[{"id": "mem-1", "content": f"colour is {COLOUR}"}])  # fmt: skip
    with pytest.raises(Failed) as failure:
        memory_layers.check(script.evidence(tmp_path))
    assert failure.value.layer == "memory:reply"


def test_memory_search_after_the_reply_is_named_as_such(tmp_path: Path) -> None:
    script, stated, asked = _memory_script()
    stored = {"content": f"favourite colour is {COLOUR}"}
    script.platform("POST", MEMORIES, turns=(stated,), status=201, body=stored,
                    response={"id": "mem-1"})  # fmt: skip
    line = script.platform("GET", MEMORIES, after_turn=asked,
                           response=[{"id": "mem-1", "content": COLOUR}])  # fmt: skip
    with pytest.raises(Failed) as failure:
        memory_layers.check(script.evidence(tmp_path))
    assert failure.value.layer == "memory:search"
    assert "only after the reply" in failure.value.message
    assert f"transcript line {line}" in failure.value.message


def test_a_task_shows_its_first_artifact_as_production_does(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path, shape="task"))
    asked = evidence.turns("name_recall")[1]
    assert asked.reply.shape == "task"
    assert asked.reply.text.startswith("Your name is ")  # not the status message "Task finished."
