"""Every canary and diagnostic check, judged on small hand-written transcripts.

No runtime and no network: each test writes the events a run would have
recorded (see :mod:`tests.transcripts`) and calls the check directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from canary import (
    file_caption,
    file_only,
    memory_layers,
    memory_recall,
    model_files,
    model_history,
    name_recall,
    registry,
    session_scope,
    session_store,
    wire,
)
from canary.evidence import Evidence, Failed, NoEvidence
from tests.transcripts import (
    FAILED_TURN_LAYERS,
    FAILED_TURNS,
    SHAPES,
    WORKSPACE_ID,
    Event,
    Script,
    Sent,
    Shape,
    error_body,
    reply_body,
)

Check = Callable[[Evidence], str | None]

NAME = "Mababim"
CODE = "g51p3qa"
FILE = "notes-ae7fbc.txt"
URI = f"workspace:/workspace/.molecule/chat-uploads/abc-{FILE}"
COLOUR = "dark magenta"
MEMORIES = f"/workspaces/{WORKSPACE_ID}/memories"
CARD = "/.well-known/agent-card.json"
WIRE_ID = "canary-42"

# What a failure message says for each way a turn can fail (tests.transcripts.FAILED_TURNS).
FAULT_SAYS = {
    "http-500": "HTTP 500",
    "jsonrpc-error": "JSON-RPC error -32603",
    "transport-error": "ConnectError",
    "timeout": "no reply within 30s",
    "task-failed": "task ended failed",
    "empty-reply": "no text at all",
    "http-404": "HTTP 404",
    "not-json": "invalid JSON",
    "method-not-found": "does not accept the platform's 0.3 `message/send`",
    "invalid-params": "JSON-RPC error -32602",
    "ignored-blocking": "ignored `blocking`",
    "unshown-text": "has no 'kind' or 'type'",
}
assert set(FAULT_SAYS) == set(FAILED_TURNS)

CHECKS: dict[str, Check] = {
    "name_recall": name_recall.check,
    "file_only": file_only.check,
    "file_caption": file_caption.check,
    "memory_recall": memory_recall.check,
    "wire": wire.check,
    "session_scope": session_scope.check,
    "session_store": session_store.check,
    "memory_layers": memory_layers.check,
    "model_history": model_history.check,
    "model_files": model_files.check,
}


def judge(check: Check, evidence: Evidence) -> str | None:
    """What the check observed (None: it passed without a value); raises as the check does."""
    return check(evidence)


def fails(check: Check, evidence: Evidence, layer: str, line: int, *expected: str) -> Failed:
    """Assert the check fails at ``layer``, naming ``line`` and every ``expected`` text."""
    with pytest.raises(Failed) as caught:
        check(evidence)
    failure = caught.value
    assert failure.layer == layer, failure.message
    assert re.search(rf"\btranscript line {line}\b", failure.message), failure.message
    for text in expected:
        assert text in failure.message
    return failure


# --- conversations, as the canaries' scripts record them ---------------------------


def name_recall_talk(
    script: Script,
    answer: str = f"Your name is {NAME}.",
    *,
    shape: Shape = "message",
    told_fault: dict[str, Any] | None = None,
    asked_fault: dict[str, Any] | None = None,
) -> tuple[Sent, Sent]:
    script.start("name_recall")
    script.token("name_recall", "name", NAME)
    told = script.turn(
        "name_recall", f"Hi! My name is {NAME}. Please remember it.", "Nice to meet you!",
        shape=shape, context_id="ctx-a", **(told_fault or {}),
    )  # fmt: skip
    asked = script.turn(
        "name_recall", name_recall.QUESTION, answer, shape=shape, context_id="ctx-a",
        **(asked_fault or {}),
    )  # fmt: skip
    script.end("name_recall")
    return told, asked


def file_talk(
    script: Script,
    canary: str,
    answer: str,
    *,
    shape: Shape = "message",
    fault: dict[str, Any] | None = None,
) -> Sent:
    script.start(canary)
    script.token(canary, "code", CODE)
    script.token(canary, "file", FILE)
    script.upload(canary, FILE, URI)
    sent = (
        f"[file {FILE}, no text]" if canary == "file_only" else f"{file_caption.CAPTION} [+ file]"
    )
    turn = script.turn(canary, sent, answer, shape=shape, context_id="ctx-f", **(fault or {}))
    script.end(canary)
    return turn


def memory_recall_talk(
    script: Script,
    answer: str = f"Your favourite colour is {COLOUR}.",
    *,
    shape: Shape = "message",
    fault: dict[str, Any] | None = None,
) -> tuple[Sent, Sent]:
    script.start("memory_recall")
    script.token("memory_recall", "colour", COLOUR)
    stated = script.turn(
        "memory_recall", f"Please remember for future conversations: my favourite colour is "
        f"{COLOUR}.", "I'll remember that.", shape=shape, context_id="ctx-d",
    )  # fmt: skip
    asked = script.turn(
        "memory_recall", memory_recall.QUESTION, answer, shape=shape, context_id="ctx-e",
        **(fault or {}),
    )  # fmt: skip
    script.end("memory_recall")
    return stated, asked


def wire_talk(
    script: Script,
    body: str | None = None,
    *,
    status: int | None = 200,
    cards: tuple[tuple[str, int | None], ...] = ((CARD, 200),),
) -> Sent:
    script.start("wire")
    for path, card_status in cards:
        script.http("wire", path, card_status)
    request = {"jsonrpc": "2.0", "id": WIRE_ID, "method": wire.UNKNOWN_METHOD, "params": {}}
    if body is None:
        body = error_body(-32601, "Method not found", WIRE_ID)
    call = script.turn(
        "wire", f"JSON-RPC method {wire.UNKNOWN_METHOD!r}", context_id=None, request=request,
        status=status, body=body,
    )  # fmt: skip
    script.end("wire")
    return call


def fresh_question(
    script: Script, answer: str, *, shape: Shape = "message", fault: dict[str, Any] | None = None
) -> Sent:
    script.start("session_scope", "follow_up")
    fresh = script.turn(
        "session_scope", name_recall.QUESTION, answer, shape=shape, context_id="ctx-fresh",
        **(fault or {}),
    )  # fmt: skip
    script.end("session_scope")
    return fresh


def memory(content: str, memory_id: str = "mem-1") -> Event:
    return {"id": memory_id, "content": content, "scope": "LOCAL", "namespace": "workspace:x"}


def commit(script: Script, turn: int, *, status: int = 201, content: str | None = None) -> int:
    accepted = status == 201
    return script.platform(
        "POST", MEMORIES, turns=(turn,), status=status, auth="ok" if accepted else "invalid",
        body={"content": content or f"The user's favourite colour is {COLOUR}.", "scope": "LOCAL"},
        response={"id": "mem-1", "scope": "LOCAL"} if accepted else {"error": "unauthorized"},
    )  # fmt: skip


def search(
    script: Script, memories: list[Event], *, turns: tuple[int, ...], after_turn: int | None = None
) -> int:
    return script.platform(
        "GET", MEMORIES, turns=turns, after_turn=after_turn, query={"q": "favourite colour"},
        response={"success": True, "count": len(memories), "memories": memories},
    )  # fmt: skip


# --- the registry and the evidence itself ------------------------------------------


def test_every_registered_check_is_covered_here() -> None:
    assert set(CHECKS) == set(registry.specs())
    for cid, check in CHECKS.items():
        assert registry.specs()[cid].module().check is check


def test_evidence_needs_a_header(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no header"):
        Evidence([], root=tmp_path)


@pytest.mark.parametrize("shape", SHAPES)
def test_both_reply_shapes_read_as_production_reads_them(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    _, asked = name_recall_talk(script, shape=shape)
    turn = script.evidence(tmp_path).turns("name_recall")[1]
    assert (turn.line, turn.turn, turn.context_id) == (asked.line, asked.turn, "ctx-a")
    assert turn.reply.ok
    assert turn.reply.shape == shape
    # A task shows its first artifact's text; the status message is not appended.
    assert turn.reply.text == f"Your name is {NAME}."


def test_a_written_transcript_reads_back_like_the_built_one(tmp_path: Path) -> None:
    script = Script()
    _, asked = name_recall_talk(script, shape="task")
    loaded = Evidence.load(script.write(tmp_path))
    assert loaded.root == tmp_path
    assert loaded.turns("name_recall") == script.evidence(tmp_path).turns("name_recall")
    assert loaded.turns("name_recall")[1].line == asked.line


def test_conversation_problem_is_none_for_a_finished_conversation(tmp_path: Path) -> None:
    script = Script()
    name_recall_talk(script)
    assert script.evidence(tmp_path).conversation_problem("name_recall") is None


def test_conversation_problem_reports_a_missing_canary_end(tmp_path: Path) -> None:
    script = Script()
    script.start("name_recall")
    script.token("name_recall", "name", NAME)
    script.turn("name_recall", "Hi!", "Hello")
    script.start("wire")
    script.end("wire")  # another conversation's end does not count
    problem = script.evidence(tmp_path).conversation_problem("name_recall")
    assert problem is not None
    assert "name_recall" in problem
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


# --- failed turns fail at their layer: wire or runtime ------------------------------


@pytest.mark.parametrize("fault", FAILED_TURNS)
@pytest.mark.parametrize(
    "canary", ["name_recall", "file_only", "file_caption", "memory_recall", "session_scope"]
)
def test_a_failed_turn_fails_at_its_layer(tmp_path: Path, canary: str, fault: str) -> None:
    script = Script()
    broken = FAILED_TURNS[fault]
    if canary == "name_recall":
        _, turn = name_recall_talk(script, asked_fault=broken)
    elif canary in ("file_only", "file_caption"):
        turn = file_talk(script, canary, "irrelevant", fault=broken)
    elif canary == "memory_recall":
        _, turn = memory_recall_talk(script, fault=broken)
    else:
        name_recall_talk(script)
        turn = fresh_question(script, "irrelevant", fault=broken)
    layer = FAILED_TURN_LAYERS[fault]
    fails(CHECKS[canary], script.evidence(tmp_path), layer, turn.line, FAULT_SAYS[fault])


@pytest.mark.parametrize("fault", FAILED_TURNS)
def test_name_recall_fails_at_its_layer_when_the_first_turn_failed(
    tmp_path: Path, fault: str
) -> None:
    script = Script()
    told, _ = name_recall_talk(script, told_fault=FAILED_TURNS[fault])
    layer = FAILED_TURN_LAYERS[fault]
    fails(name_recall.check, script.evidence(tmp_path), layer, told.line, NAME)


@pytest.mark.parametrize("fault", FAILED_TURNS)
def test_the_wire_diagnostic_fails_exactly_when_a_turn_fails_at_the_wire(
    tmp_path: Path, fault: str
) -> None:
    # The canaries and the wire diagnostic never contradict each other (DESIGN §4).
    script = Script()
    _, asked = name_recall_talk(script, asked_fault=FAILED_TURNS[fault])
    wire_talk(script)
    evidence = script.evidence(tmp_path)
    if FAILED_TURN_LAYERS[fault] == "wire":
        failure = fails(wire.check, evidence, "wire", asked.line, FAULT_SAYS[fault])
        assert "name_recall conversation's message/send" in failure.message
    else:
        assert wire.check(evidence) is None


def test_a_rejected_send_names_the_missing_0_3_compatibility(tmp_path: Path) -> None:
    script = Script()
    _, asked = name_recall_talk(script, asked_fault=FAILED_TURNS["method-not-found"])
    wire_talk(script)
    failure = fails(wire.check, script.evidence(tmp_path), "wire", asked.line, "-32601")
    assert "enable_v0_3_compat=True" in failure.message


def test_an_internal_error_names_its_message_and_data(tmp_path: Path) -> None:
    script = Script()
    error = {"code": -32603, "message": "agent crashed", "data": {"trace": "KeyError: 'sessions'"}}
    body = json.dumps({"jsonrpc": "2.0", "id": "r", "error": error})
    _, asked = name_recall_talk(script, asked_fault={"body": body})
    failure = fails(name_recall.check, script.evidence(tmp_path), "runtime", asked.line)
    assert "JSON-RPC error -32603: agent crashed" in failure.message
    assert "KeyError: 'sessions'" in failure.message


# --- name_recall -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_name_recall_passes_when_the_reply_holds_the_name(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    name_recall_talk(script, f"You told me your name is {NAME.upper()}.", shape=shape)
    assert judge(name_recall.check, script.evidence(tmp_path)) is None


@pytest.mark.parametrize("shape", SHAPES)
def test_name_recall_fails_at_session_when_the_name_is_forgotten(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script()
    _, asked = name_recall_talk(script, "I don't know your name.", shape=shape)
    fails(name_recall.check, script.evidence(tmp_path), "session", asked.line, repr(NAME), "ctx-a")


def test_name_recall_has_no_evidence_with_one_turn(tmp_path: Path) -> None:
    script = Script()
    script.start("name_recall")
    script.token("name_recall", "name", NAME)
    script.turn("name_recall", "Hi!", "Hello")
    script.end("name_recall")
    with pytest.raises(NoEvidence):
        name_recall.check(script.evidence(tmp_path))


# --- file_only ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "answer",
    [
        "I received notes-ae7fbc.txt (6 lines).",
        "Thanks for the attachment: what would you like me to do with it?",
        "I read the document you uploaded.",
        f"It says the reference code is {CODE.upper()}.",
    ],
    ids=["names-file", "refers-to-attachment", "refers-to-document", "mentions-code"],
)
def test_file_only_passes_when_the_reply_engages(tmp_path: Path, answer: str, shape: Shape) -> None:
    script = Script()
    file_talk(script, "file_only", answer, shape=shape)
    assert judge(file_only.check, script.evidence(tmp_path)) is None


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("answer", ["Thanks, noted.", "How can I help?", "Profiles? Filed."])
def test_file_only_fails_at_files_when_the_reply_ignores_the_file(
    tmp_path: Path, shape: Shape, answer: str
) -> None:
    # A bare question is what a model says when the file never reached it.
    script = Script()
    turn = file_talk(script, "file_only", answer, shape=shape)
    fails(file_only.check, script.evidence(tmp_path), "files", turn.line, repr(CODE), "ctx-f")


@pytest.mark.parametrize("shape", SHAPES)
def test_file_only_fails_at_files_on_a_dropped_turn_marker(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    # The marker wins over what would otherwise pass (a question, the file's name).
    answer = f"no message provided for {FILE}. What should I do?"
    turn = file_talk(script, "file_only", answer, shape=shape)
    fails(file_only.check, script.evidence(tmp_path), "files", turn.line, "'No message provided'")


@pytest.mark.parametrize("shape", SHAPES)
def test_file_only_fails_at_files_when_the_file_could_not_be_read(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script()
    turn = file_talk(script, "file_only", f"I could not open {FILE}, sorry.", shape=shape)
    fails(file_only.check, script.evidence(tmp_path), "files", turn.line, "'could not open'")


@pytest.mark.parametrize("canary", ["file_only", "file_caption"])
def test_a_refused_upload_fails_at_files(tmp_path: Path, canary: str) -> None:
    script = Script()
    script.start(canary)
    script.token(canary, "code", CODE)
    script.token(canary, "file", FILE)
    line = script.upload(canary, FILE, None, error="PermissionError: read-only filesystem")
    script.end(canary)
    fails(CHECKS[canary], script.evidence(tmp_path), "files", line, FILE, "read-only filesystem")


def test_file_only_has_no_evidence_without_a_turn(tmp_path: Path) -> None:
    script = Script()
    script.start("file_only")
    script.upload("file_only", FILE, URI)
    script.end("file_only")
    with pytest.raises(NoEvidence):
        file_only.check(script.evidence(tmp_path))


# --- file_caption ------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "answer",
    [
        f"The reference code is {CODE.upper()}.",
        f"Sorry, I could not read all of it: {CODE.upper()}",
    ],
    ids=["plain", "apologetic-but-read"],
)
def test_file_caption_passes_with_the_code_in_uppercase(
    tmp_path: Path, answer: str, shape: Shape
) -> None:
    script = Script()
    file_talk(script, "file_caption", answer, shape=shape)
    assert judge(file_caption.check, script.evidence(tmp_path)) is None


@pytest.mark.parametrize("shape", SHAPES)
def test_file_caption_fails_at_caption_with_the_code_in_lowercase_only(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script()
    turn = file_talk(script, "file_caption", f"The reference code is {CODE}.", shape=shape)
    fails(
        file_caption.check, script.evidence(tmp_path), "caption", turn.line,
        repr(CODE.upper()), "ignored the caption",
    )  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
def test_file_caption_fails_at_caption_without_the_code(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    turn = file_talk(script, "file_caption", "There is no code in this file.", shape=shape)
    fails(
        file_caption.check, script.evidence(tmp_path), "caption", turn.line,
        repr(CODE.upper()), "did not reach the agent",
    )  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("(empty prompt — nothing to do)", "dropped"),
        (f"I can't read {FILE}. Could you paste it?", "could not read the file"),
    ],
    ids=["dropped", "unreadable"],
)
def test_file_caption_fails_at_files_when_the_file_did_not_reach_it(
    tmp_path: Path, answer: str, says: str, shape: Shape
) -> None:
    script = Script()
    turn = file_talk(script, "file_caption", answer, shape=shape)
    fails(file_caption.check, script.evidence(tmp_path), "files", turn.line, says)


# --- memory_recall -----------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_recall_passes_when_the_colour_comes_back(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    memory_recall_talk(script, "It is Dark Magenta!", shape=shape)
    assert judge(memory_recall.check, script.evidence(tmp_path)) is None


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_recall_fails_at_memory_when_the_colour_is_forgotten(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script()
    _, asked = memory_recall_talk(script, "I don't know your favourite colour.", shape=shape)
    fails(
        memory_recall.check, script.evidence(tmp_path), "memory", asked.line,
        repr(COLOUR), "ctx-d", "ctx-e",
    )  # fmt: skip


def test_memory_recall_fails_when_the_stating_turn_failed(tmp_path: Path) -> None:
    script = Script()
    script.start("memory_recall")
    script.token("memory_recall", "colour", COLOUR)
    stated = script.turn("memory_recall", "Remember: dark magenta.", status=503, body="busy")
    script.turn("memory_recall", memory_recall.QUESTION, f"It is {COLOUR}.")
    script.end("memory_recall")
    fails(memory_recall.check, script.evidence(tmp_path), "runtime", stated.line, "HTTP 503")


# --- wire --------------------------------------------------------------------------


def test_wire_passes_with_a_card_and_minus_32601(tmp_path: Path) -> None:
    script = Script()
    wire_talk(script)
    assert judge(wire.check, script.evidence(tmp_path)) is None


def test_wire_passes_with_the_legacy_card_path(tmp_path: Path) -> None:
    script = Script()
    wire_talk(script, cards=((CARD, 404), (wire.LEGACY_CARD_PATH, 200)))
    assert judge(wire.check, script.evidence(tmp_path)) is None


def test_wire_fails_without_an_agent_card(tmp_path: Path) -> None:
    script = Script()
    wire_talk(script, cards=((CARD, 404), (wire.LEGACY_CARD_PATH, None)))
    last_card = max(n for n, e in enumerate(script.events, start=1) if e["type"] == "http")
    fails(wire.check, script.evidence(tmp_path), "wire", last_card, CARD, "ConnectError")


@pytest.mark.parametrize("shape", SHAPES)
def test_wire_fails_when_an_unknown_method_gets_a_reply(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    call = wire_talk(script, reply_body("Hello! How can I help?", shape, WIRE_ID))
    fails(wire.check, script.evidence(tmp_path), "wire", call.line, "error code None", "-32601")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (error_body(-32600, "Invalid Request", WIRE_ID), "error code -32600 instead of -32601"),
        (error_body(-32601, "Method not found", "other"), f"instead of the request's {WIRE_ID!r}"),
        (
            error_body(-32601, "Method not found", None),
            f"id None instead of the request's {WIRE_ID!r}",
        ),
        (
            f'{{"id": "{WIRE_ID}", "error": {{"code": -32601, "message": "nope"}}}}',
            "jsonrpc None instead of '2.0'",
        ),
        ("Internal Server Error", "body is not JSON"),
        ("[1, 2]", "not a JSON-RPC object"),
    ],
    ids=["wrong-code", "wrong-id", "null-id", "no-jsonrpc", "not-json", "not-an-object"],
)
def test_wire_fails_on_a_bad_error_envelope(tmp_path: Path, body: str, says: str) -> None:
    script = Script()
    call = wire_talk(script, body, status=500 if body == "Internal Server Error" else 200)
    fails(wire.check, script.evidence(tmp_path), "wire", call.line, says)


def test_wire_fails_when_the_call_gets_no_response(tmp_path: Path) -> None:
    script = Script()
    call = wire_talk(script, status=None)
    fails(wire.check, script.evidence(tmp_path), "wire", call.line, "no reply within 30s")


def test_wire_has_no_evidence_without_the_call(tmp_path: Path) -> None:
    script = Script()
    script.start("wire")
    script.http("wire", CARD, 200)
    script.end("wire")
    with pytest.raises(NoEvidence):
        wire.check(script.evidence(tmp_path))


# --- session_scope -----------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_session_scope_observes_context(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    name_recall_talk(script, shape=shape)
    fresh_question(script, "I don't know your name yet.", shape=shape)
    assert session_scope.check(script.evidence(tmp_path)) == "context"


@pytest.mark.parametrize("shape", SHAPES)
def test_session_scope_fails_when_a_context_scoped_template_shares(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script(session_scope="context")
    name_recall_talk(script, shape=shape)
    fresh = fresh_question(script, f"You are {NAME}.", shape=shape)
    fails(
        session_scope.check, script.evidence(tmp_path), "session", fresh.line,
        repr(NAME), "ctx-fresh", "ctx-a",
    )  # fmt: skip


@pytest.mark.parametrize("declared", ["workspace", "container"])
@pytest.mark.parametrize("shape", SHAPES)
def test_session_scope_observes_shared_where_declared(
    tmp_path: Path, declared: str, shape: Shape
) -> None:
    script = Script(session_scope=declared)
    name_recall_talk(script, shape=shape)
    fresh_question(script, f"You are {NAME}.", shape=shape)
    assert session_scope.check(script.evidence(tmp_path)) == "shared"


@pytest.mark.parametrize("listed", [True, False], ids=["object", "bare-list"])
@pytest.mark.parametrize("shape", SHAPES)
def test_session_scope_observes_memory_when_a_search_in_that_turn_returned_the_name(
    tmp_path: Path, shape: Shape, listed: bool
) -> None:
    script = Script(session_scope="context")
    name_recall_talk(script, shape=shape)
    fresh = fresh_question(script, f"You are {NAME}.", shape=shape)
    found = [memory(f"The user's name is {NAME}.")]
    script.platform(
        "GET", MEMORIES, turns=(fresh.turn,), query={"q": "name"},
        response={"memories": found} if listed else found,
    )  # fmt: skip
    assert session_scope.check(script.evidence(tmp_path)) == "memory"


@pytest.mark.parametrize("elsewhere", ["during-name-recall", "after-the-turn", "returned-other"])
def test_session_scope_counts_only_searches_in_the_fresh_turn_that_returned_the_name(
    tmp_path: Path, elsewhere: str
) -> None:
    script = Script(session_scope="context")
    told, _ = name_recall_talk(script)
    fresh = fresh_question(script, f"You are {NAME}.")
    name_memory = [memory(f"The user's name is {NAME}.")]
    if elsewhere == "during-name-recall":
        script.platform("GET", MEMORIES, turns=(told.turn,), response={"memories": name_memory})
    elif elsewhere == "after-the-turn":
        script.platform("GET", MEMORIES, after_turn=fresh.turn, response={"memories": name_memory})
    else:
        other = [memory("The user likes tea.")]
        script.platform("GET", MEMORIES, turns=(fresh.turn,), response={"memories": other})
    fails(session_scope.check, script.evidence(tmp_path), "session", fresh.line, repr(NAME))


@pytest.mark.parametrize("recall", ["forgot", "http-500", "one-turn"])
def test_session_scope_has_no_evidence_when_name_recall_failed(tmp_path: Path, recall: str) -> None:
    script = Script()
    if recall == "one-turn":
        script.start("name_recall")
        script.token("name_recall", "name", NAME)
        script.turn("name_recall", "Hi!", f"Hello {NAME}")
        script.end("name_recall")
    else:
        fault = FAILED_TURNS["http-500"] if recall == "http-500" else None
        name_recall_talk(script, "Who are you?", asked_fault=fault)
    # Even a fresh context that "knows" the name decides nothing then.
    fresh_question(script, f"You are {NAME}.")
    with pytest.raises(NoEvidence, match="name_recall failed"):
        session_scope.check(script.evidence(tmp_path))


def test_session_scope_has_no_evidence_without_the_fresh_question(tmp_path: Path) -> None:
    script = Script()
    name_recall_talk(script)
    with pytest.raises(NoEvidence):
        session_scope.check(script.evidence(tmp_path))


# --- session_store -----------------------------------------------------------------


def store_copy(root: Path, files: dict[str, str]) -> str:
    """Write a copied session store below ``root``; returns its path relative to it."""
    relative = "snapshots/session_store-abc123/.sessions"
    (root / relative).mkdir(parents=True)
    for name, content in files.items():
        (root / relative / name).write_text(content, encoding="utf-8")
    return relative


def store_transcript(
    root: Path, copy: str | None, *, error: str | None = None, **header: Any
) -> tuple[Evidence, int]:
    script = Script(**header)
    name_recall_talk(script)
    script.start("session_store", "follow_up")
    line = script.snapshot("session_store", "{workspace}/.sessions", copy, error=error)
    script.end("session_store")
    return Evidence.load(script.write(root)), line


def test_session_store_passes_when_a_file_holds_the_key(tmp_path: Path) -> None:
    copy = store_copy(
        tmp_path,
        {
            "a1.json": f'{{"key": "{WORKSPACE_ID}:ctx-other", "state": {{}}}}',
            "b2.json": f'{{"key": "{WORKSPACE_ID}:ctx-a", "state": {{"name": "{NAME}"}}}}',
        },
    )
    evidence, _ = store_transcript(tmp_path, copy)
    assert judge(session_store.check, evidence) is None


def test_session_store_passes_when_a_file_name_holds_the_key(tmp_path: Path) -> None:
    copy = store_copy(tmp_path, {"ctx-a.jsonl": "[]"})
    evidence, _ = store_transcript(
        tmp_path, copy, probe_store="/data/sessions", probe_key="{context_id}"
    )
    assert judge(session_store.check, evidence) is None


def test_session_store_passes_when_the_store_is_one_file(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "sessions.db").write_bytes(b"\x00\x01ws-0001:ctx-a\x00")
    evidence, _ = store_transcript(tmp_path, "snapshots/sessions.db")
    assert judge(session_store.check, evidence) is None


@pytest.mark.parametrize(
    "files",
    [{}, {"a1.json": f'{{"key": "{WORKSPACE_ID}:ctx-other"}}'}, {"a1.json": '{"key": "ctx-a"}'}],
    ids=["empty", "other-context", "no-workspace"],
)
def test_session_store_fails_when_no_file_holds_the_key(
    tmp_path: Path, files: dict[str, str]
) -> None:
    evidence, line = store_transcript(tmp_path, store_copy(tmp_path, files))
    fails(session_store.check, evidence, "session", line, repr(f"{WORKSPACE_ID}:ctx-a"))


def test_session_store_fails_when_the_store_is_missing(tmp_path: Path) -> None:
    evidence, line = store_transcript(tmp_path, None)
    fails(session_store.check, evidence, "session", line, "does not exist")


def test_session_store_fails_when_the_copy_failed(tmp_path: Path) -> None:
    evidence, line = store_transcript(tmp_path, None, error="OSError: disk full")
    fails(session_store.check, evidence, "session", line, "OSError: disk full")


@pytest.mark.parametrize("missing", ["probe", "snapshot", "copy-on-disk", "turns"])
def test_session_store_has_no_evidence(tmp_path: Path, missing: str) -> None:
    # Everything else is there and would pass: only the missing piece decides.
    script = Script(probe_store=None, probe_key=None) if missing == "probe" else Script()
    if missing != "turns":
        name_recall_talk(script)
    copy = store_copy(tmp_path, {"s.json": f"{WORKSPACE_ID}:ctx-a"})
    if missing == "copy-on-disk":
        copy = "snapshots/gone"
    if missing != "snapshot":
        script.snapshot("session_store", "{workspace}/.sessions", copy)
    with pytest.raises(NoEvidence):
        session_store.check(script.evidence(tmp_path))


# --- memory_layers -----------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_layers_observes_platform_when_the_platform_carried_it(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script()
    stated, asked = memory_recall_talk(
        script, "Your favourite colour is Dark Magenta.", shape=shape
    )
    commit(script, stated.turn)
    search(script, [memory(f"favourite colour is {COLOUR}")], turns=(asked.turn,))
    assert memory_layers.check(script.evidence(tmp_path)) == "platform"


@pytest.mark.parametrize("commit_status", [None, 401], ids=["no-commit", "refused"])
@pytest.mark.parametrize("shape", SHAPES)
def test_memory_layers_observes_runtime_when_the_runtime_kept_it(
    tmp_path: Path, shape: Shape, commit_status: int | None
) -> None:
    script = Script()
    stated, _ = memory_recall_talk(script, shape=shape)
    if commit_status is not None:
        commit(script, stated.turn, status=commit_status)
    assert memory_layers.check(script.evidence(tmp_path)) == "runtime"


@pytest.mark.parametrize("stored", [None, "The user likes cats."], ids=["none", "other-content"])
@pytest.mark.parametrize("shape", SHAPES)
def test_memory_layers_fails_at_commit_when_the_colour_was_never_stored(
    tmp_path: Path, shape: Shape, stored: str | None
) -> None:
    script = Script()
    stated, _ = memory_recall_talk(script, "I have no idea.", shape=shape)
    if stored is not None:
        commit(script, stated.turn, content=stored)
    fails(
        memory_layers.check, script.evidence(tmp_path), "memory:commit", stated.line,
        repr(COLOUR), "ctx-d",
    )  # fmt: skip


def test_memory_layers_fails_at_commit_when_the_platform_refused_it(tmp_path: Path) -> None:
    script = Script()
    stated, _ = memory_recall_talk(script, "I have no idea.")
    line = commit(script, stated.turn, status=401)
    fails(memory_layers.check, script.evidence(tmp_path), "memory:commit", line, "HTTP 401")


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_layers_fails_at_search_without_a_search(tmp_path: Path, shape: Shape) -> None:
    script = Script()
    stated, asked = memory_recall_talk(script, "I have no idea.", shape=shape)
    commit(script, stated.turn)
    fails(
        memory_layers.check, script.evidence(tmp_path), "memory:search", asked.line,
        "never searched", "ctx-e",
    )  # fmt: skip


@pytest.mark.parametrize("when", ["stating-turn", "after-asking", "between"])
def test_memory_layers_counts_only_searches_during_the_asking_turn(
    tmp_path: Path, when: str
) -> None:
    script = Script()
    stated, asked = memory_recall_talk(script, "I have no idea.")
    commit(script, stated.turn)
    found = [memory(f"favourite colour is {COLOUR}")]
    if when == "stating-turn":
        search(script, found, turns=(stated.turn,))
    elif when == "after-asking":
        search(script, found, turns=(), after_turn=asked.turn)
    else:
        search(script, found, turns=(), after_turn=stated.turn)
    fails(memory_layers.check, script.evidence(tmp_path), "memory:search", asked.line)


def test_memory_layers_fails_at_search_when_no_search_returned_the_memory(tmp_path: Path) -> None:
    script = Script()
    stated, asked = memory_recall_talk(script, "I have no idea.")
    commit(script, stated.turn)
    line = search(script, [], turns=(asked.turn,))
    search(script, [memory(f"favourite colour is {COLOUR}", "mem-other")], turns=(asked.turn,))
    fails(
        memory_layers.check, script.evidence(tmp_path), "memory:search", line, "'favourite colour'"
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_layers_fails_at_reply_when_the_reply_ignored_the_memory(
    tmp_path: Path, shape: Shape
) -> None:
    script = Script()
    stated, asked = memory_recall_talk(script, "I have no idea.", shape=shape)
    commit(script, stated.turn)
    # Another turn in flight at the same time does not hide the search.
    search(script, [memory(f"favourite colour is {COLOUR}")], turns=(asked.turn, asked.turn + 7))
    fails(
        memory_layers.check, script.evidence(tmp_path), "memory:reply", asked.line,
        repr(COLOUR), "I have no idea.",
    )  # fmt: skip


def test_memory_layers_has_no_evidence_with_one_turn(tmp_path: Path) -> None:
    script = Script()
    script.start("memory_recall")
    script.token("memory_recall", "colour", COLOUR)
    script.turn("memory_recall", "Remember dark magenta.", "OK")
    script.end("memory_recall")
    with pytest.raises(NoEvidence):
        memory_layers.check(script.evidence(tmp_path))


# --- regressions found while writing these tests ----------------------------------


def test_memory_calls_with_a_trailing_slash_count(tmp_path: Path) -> None:
    script = Script()
    stated, asked = memory_recall_talk(script, "No idea.")
    script.platform(
        "POST", MEMORIES + "/", turns=(stated.turn,), status=201, auth="ok",
        body={"content": f"favourite colour is {COLOUR}"}, response={"id": "mem-1"},
    )  # fmt: skip
    script.platform(
        "GET", MEMORIES + "/", turns=(asked.turn,), response=[memory(f"colour is {COLOUR}")]
    )
    with pytest.raises(Failed) as failure:
        memory_layers.check(script.evidence(tmp_path))
    assert failure.value.layer == "memory:reply"


def test_a_search_list_without_wrapper_is_read(tmp_path: Path) -> None:
    # The real platform answers the search with a bare list (DESIGN §3).
    script = Script()
    stated, asked = memory_recall_talk(script)
    commit(script, stated.turn)
    script.platform("GET", MEMORIES, turns=(asked.turn,), response=[memory(COLOUR)])
    assert memory_layers.check(script.evidence(tmp_path)) == "platform"


def test_a_commit_never_read_back_is_the_runtime_s_memory(tmp_path: Path) -> None:
    script = Script()
    stated, _ = memory_recall_talk(script)
    commit(script, stated.turn)  # stored, but no search ever returned it
    assert memory_layers.check(script.evidence(tmp_path)) == "runtime"


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


def test_an_apology_next_to_the_code_is_not_an_unreadable_file(tmp_path: Path) -> None:
    script = Script()
    file_talk(script, "file_only", f"I can't read all of it, but the code is {CODE}.")
    file_only.check(script.evidence(tmp_path))
    script = Script()
    file_talk(script, "file_caption", f"Sorry, I can't read the layout, but the code is {CODE}.")
    with pytest.raises(Failed) as failure:
        file_caption.check(script.evidence(tmp_path))
    assert failure.value.layer == "caption"


def test_memory_search_after_the_reply_is_named_as_such(tmp_path: Path) -> None:
    script = Script()
    stated, asked = memory_recall_talk(script, "I don't know yet.")
    commit(script, stated.turn)
    line = search(script, [memory(f"colour is {COLOUR}")], turns=(), after_turn=asked.turn)
    with pytest.raises(Failed) as failure:
        memory_layers.check(script.evidence(tmp_path))
    assert failure.value.layer == "memory:search"
    assert "only after the reply" in failure.value.message
    assert f"transcript line {line}" in failure.value.message


# --- model_history -------------------------------------------------------------------


def model_request(script: Script, turn: int, *texts: str, role: str = "user") -> int:
    """A model request whose last message is the user's; earlier ones have ``role``."""
    roles = [role] * (len(texts) - 1) + ["user"]
    return script.add(
        "model", api="chat", stream=False, turns=[turn], after_turn=None, tools=[],
        messages=[{"role": r, "text": t} for r, t in zip(roles, texts, strict=True)],
        answer="…", tool_call=None,
    )  # fmt: skip


def test_model_history_passes_when_turn_two_carried_turn_one(tmp_path: Path) -> None:
    script = Script()
    told, asked = name_recall_talk(script)
    model_request(script, told.turn, f"Hi! My name is {NAME}.")
    model_request(script, asked.turn, f"Hi! My name is {NAME}.", "What is my name?")
    assert model_history.check(script.evidence(tmp_path)) == "history"


def test_model_history_names_the_turn_that_lost_its_history(tmp_path: Path) -> None:
    script = Script()
    told, asked = name_recall_talk(script, "I don't know your name.")
    model_request(script, told.turn, f"Hi! My name is {NAME}.")
    line = model_request(script, asked.turn, "What is my name?")
    with pytest.raises(Failed) as failure:
        model_history.check(script.evidence(tmp_path))
    assert failure.value.layer == "model:history"
    assert "reached the model without turn 1" in failure.value.message
    assert f"transcript line {line}" in failure.value.message


def test_model_history_does_not_take_the_models_echo_for_turn_one(tmp_path: Path) -> None:
    # A context window cut to the last messages keeps "Nice to meet you, X" but not
    # the user's turn: the model cannot know the name, and the diagnostic must say so.
    script = Script()
    told, asked = name_recall_talk(script, "I don't know your name.")
    model_request(script, told.turn, f"Hi! My name is {NAME}.")
    model_request(script, asked.turn, f"Nice to meet you, {NAME}!", "What is my name?",
                  role="assistant")  # fmt: skip
    with pytest.raises(Failed) as failure:
        model_history.check(script.evidence(tmp_path))
    assert failure.value.layer == "model:history"


def test_model_history_fails_when_the_model_was_never_asked(tmp_path: Path) -> None:
    script = Script()
    name_recall_talk(script)
    with pytest.raises(Failed) as failure:
        model_history.check(script.evidence(tmp_path))
    assert failure.value.layer == "model:call"


def test_model_history_has_no_evidence_without_replies(tmp_path: Path) -> None:
    script = Script()
    name_recall_talk(script, asked_fault={"status": 500, "body": "boom"})
    with pytest.raises(NoEvidence):
        model_history.check(script.evidence(tmp_path))


# --- memory carried, or a session leaked (memory_recall and memory_layers agree) -----

STATED = f"Please remember for future conversations: my favourite colour is {COLOUR}."


def colour_request(script: Script, turn: int, *messages: tuple[str, str]) -> int:
    """A model request during the asking turn: (role, text) pairs as the model got them."""
    return script.add(
        "model", api="chat", stream=False, turns=[turn], after_turn=None, tools=["memory"],
        messages=[{"role": role, "text": text} for role, text in messages], answer="…",
        tool_call=None,
    )  # fmt: skip


ASKED = memory_recall.QUESTION
LEAKS = {
    "earlier-user-message": [("user", STATED), ("assistant", "Noted."), ("user", ASKED)],
    "embedded-history": [
        ("user", f"Conversation so far:\nUser: {STATED}\nAgent: Noted.\n\nCurrent request: {ASKED}")
    ],
    "smolagents-new-task": [("user", f"New task:\n{STATED}"), ("user", f"New task:\n{ASKED}")],
}
CARRIED = {
    "system-prompt": [("system", f"MEMORY.md\n§ my favourite colour is {COLOUR}."),
                      ("user", ASKED)],
    "tool-result": [("user", ASKED), ("assistant", ""),
                    ("tool", f'{{"success": true, "content": "favourite colour is {COLOUR}"}}')],
    "injected-context": [
        ("user", f"[Prior context from memory]\n- [LOCAL] Conversation: {STATED}\n\n{ASKED}")
    ],
    "memory-and-leak": [("system", f"§ favourite colour is {COLOUR}"), ("user", STATED),
                        ("user", ASKED)],
}  # fmt: skip


@pytest.mark.parametrize("leak", LEAKS)
def test_a_colour_that_came_only_through_a_shared_session_is_no_memory(
    tmp_path: Path, leak: str
) -> None:
    script = Script()
    _, asked = memory_recall_talk(script)
    line = colour_request(script, asked.turn, *LEAKS[leak])
    evidence = script.evidence(tmp_path)
    failure = fails(memory_recall.check, evidence, "session", asked.line, "not through memory")
    assert f"transcript line {line}" in failure.message
    fails(memory_layers.check, evidence, "session", asked.line, "no memory carried it")


@pytest.mark.parametrize("carried", CARRIED)
def test_a_colour_memory_carried_passes_whatever_memory_it_was(
    tmp_path: Path, carried: str
) -> None:
    script = Script()
    _, asked = memory_recall_talk(script)
    colour_request(script, asked.turn, *CARRIED[carried])
    evidence = script.evidence(tmp_path)
    assert memory_recall.check(evidence) is None
    assert memory_layers.check(evidence) == "runtime"


@pytest.mark.parametrize(
    "other",
    [[("user", STATED)], [("user", ASKED), ("assistant", f"It is {COLOUR}."), ("user", "Hi!")]],
    ids=["without-the-question", "question-earlier-in-a-shared-session"],
)
def test_a_request_of_another_conversation_in_flight_decides_nothing(
    tmp_path: Path, other: list[tuple[str, str]]
) -> None:
    script = Script()
    _, asked = memory_recall_talk(script)
    # Another conversation's request, in flight at the same time: not the question's own.
    colour_request(script, asked.turn, *other)
    assert memory_recall.check(script.evidence(tmp_path)) is None


@pytest.mark.parametrize("searched", [False, True], ids=["no-search", "search-returned-it"])
def test_without_model_evidence_a_shared_scope_means_a_leak_unless_memory_carried_it(
    tmp_path: Path, searched: bool
) -> None:
    script = Script(session_scope="container")
    name_recall_talk(script)
    fresh_question(script, f"You are {NAME}.")
    stated, asked = memory_recall_talk(script)
    if searched:
        commit(script, stated.turn)
        search(script, [memory(f"favourite colour is {COLOUR}")], turns=(asked.turn,))
        assert memory_recall.check(script.evidence(tmp_path)) is None
        assert memory_layers.check(script.evidence(tmp_path)) == "platform"
    else:
        failure = fails(memory_recall.check, script.evidence(tmp_path), "session", asked.line)
        assert "session_scope" in failure.message


# --- model_files -------------------------------------------------------------------


def file_request(
    script: Script, turn: int, *messages: tuple[str, str], tools: tuple[str, ...] = ()
) -> int:
    return script.add(
        "model", api="chat", stream=False, turns=[turn], after_turn=None, tools=list(tools),
        messages=[{"role": role, "text": text} for role, text in messages], answer="…",
        tool_call=None,
    )  # fmt: skip


UPLOADED = URI.removeprefix("workspace:")


def test_model_files_observes_the_text_in_the_prompt(tmp_path: Path) -> None:
    script = Script()
    turn = file_talk(script, "file_only", f"It holds {CODE}.")
    file_request(script, turn.turn, ("user", f"[attachment {FILE}]\nreference code: {CODE}\n"))
    assert model_files.check(script.evidence(tmp_path)) == "text"


def test_model_files_observes_a_tool_that_read_the_path(tmp_path: Path) -> None:
    script = Script()
    turn = file_talk(script, "file_only", f"It holds {CODE}.")
    manifest = f"Attached files:\n- {FILE} (text/plain) at {UPLOADED}"
    file_request(script, turn.turn, ("user", manifest), tools=("read_file",))
    file_request(script, turn.turn, ("user", manifest), ("assistant", ""),
                 ("tool", f"reference code: {CODE}"), tools=("read_file",))  # fmt: skip
    assert model_files.check(script.evidence(tmp_path)) == "tool"


def test_model_files_names_a_path_no_offered_tool_could_read(tmp_path: Path) -> None:
    script = Script()
    turn = file_talk(script, "file_only", "I cannot read it.")
    line = file_request(script, turn.turn, ("user", f"see {UPLOADED}"), tools=("web_search",))
    fails(model_files.check, script.evidence(tmp_path), "model:files", line, "only as its path",
          "web_search")  # fmt: skip


def test_model_files_names_a_dropped_file(tmp_path: Path) -> None:
    # The runtime dropped the file and still called the model: it got an empty prompt.
    script = Script()
    turn = file_talk(script, "file_only", "There is nothing to answer.")
    line = file_request(script, turn.turn, ("user", "(no text)"))
    fails(model_files.check, script.evidence(tmp_path), "model:files", line,
          "neither as its text nor as its path", "(no text)")  # fmt: skip


def test_model_files_fails_when_the_model_was_never_asked(tmp_path: Path) -> None:
    script = Script()
    turn = file_talk(script, "file_only", "(empty prompt — nothing to do)")
    fails(model_files.check, script.evidence(tmp_path), "model:call", turn.line)


def test_model_files_reads_file_caption_too(tmp_path: Path) -> None:
    script = Script()
    only = file_talk(script, "file_only", f"It holds {CODE}.")
    file_request(script, only.turn, ("user", f"reference code: {CODE}"))
    caption = file_talk(script, "file_caption", "I cannot see it.")
    line = file_request(script, caption.turn, ("user", file_caption.CAPTION))
    fails(model_files.check, script.evidence(tmp_path), "model:files", line, "file_caption")
