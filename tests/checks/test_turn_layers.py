"""A failed turn fails each canary at its layer (wire or runtime), and wire agrees (DESIGN §4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from canary import file_caption, file_only, memory_recall, name_recall, session_scope, wire
from tests.support.scripted import (
    ASKS_COLOUR,
    ASKS_NAME,
    CAPTION,
    FAILED_TURN_LAYERS,
    FAILED_TURNS,
    FILE_ONLY,
    FRESH,
    TOLD,
    Agent,
    Answer,
    fails,
    record,
    rpc_error,
)

# What a failure message says for each way a turn can fail.
SAYS = {
    "http-500": "HTTP 500", "jsonrpc-error": "JSON-RPC error -32603",
    "transport-error": "ConnectError", "task-failed": "task ended failed",
    "empty-reply": "no text at all", "http-404": "HTTP 404", "not-json": "invalid JSON",
    "method-not-found": "does not accept the platform's 0.3 `message/send`",
    "invalid-params": "JSON-RPC error -32602", "ignored-blocking": "ignored `blocking`",
    "unshown-text": "has no 'kind' or 'type'",
}  # fmt: skip
assert set(SAYS) == set(FAILED_TURNS) == set(FAILED_TURN_LAYERS)
# The turn each canary depends on, and the conversation it sits in.
TURNS = {
    "name_recall": (ASKS_NAME, ["name_recall"], name_recall.check, 1),
    "file_only": (FILE_ONLY, ["file_only"], file_only.check, 0),
    "file_caption": (CAPTION, ["file_caption"], file_caption.check, 0),
    "memory_recall": (ASKS_COLOUR, ["memory_recall"], memory_recall.check, 1),
    "session_scope": (FRESH, ["name_recall"], session_scope.check, 0),
}


@pytest.mark.parametrize("fault", FAILED_TURNS)
@pytest.mark.parametrize("canary", TURNS)
def test_a_failed_turn_fails_at_its_layer(tmp_path: Path, canary: str, fault: str) -> None:
    key, conversations, check, index = TURNS[canary]
    evidence = record(tmp_path, conversations, Agent(tmp_path, answers={key: FAILED_TURNS[fault]}))
    turn = evidence.turns(canary)[index]
    fails(check, evidence, FAILED_TURN_LAYERS[fault], turn.line, SAYS[fault])


@pytest.mark.parametrize("fault", FAILED_TURNS)
def test_a_failed_first_turn_fails_name_recall_at_its_layer(tmp_path: Path, fault: str) -> None:
    evidence = record(
        tmp_path, ["name_recall"], Agent(tmp_path, answers={TOLD: FAILED_TURNS[fault]})
    )
    told = evidence.turns("name_recall")[0]
    name = evidence.token("name_recall", "name")
    fails(name_recall.check, evidence, FAILED_TURN_LAYERS[fault], told.line, name)


@pytest.mark.parametrize("fault", FAILED_TURNS)
def test_the_wire_diagnostic_fails_exactly_when_a_turn_fails_at_the_wire(
    tmp_path: Path, fault: str
) -> None:
    agent = Agent(tmp_path, answers={ASKS_NAME: FAILED_TURNS[fault]})
    evidence = record(tmp_path, ["name_recall", "wire"], agent)
    asked = evidence.turns("name_recall")[1]
    if FAILED_TURN_LAYERS[fault] == "wire":
        message = fails(wire.check, evidence, "wire", asked.line, SAYS[fault])
        assert "name_recall conversation's message/send" in message
    else:
        assert wire.check(evidence) is None


def test_a_rejected_send_names_the_missing_0_3_compatibility(tmp_path: Path) -> None:
    agent = Agent(tmp_path, answers={ASKS_NAME: FAILED_TURNS["method-not-found"]})
    evidence = record(tmp_path, ["name_recall", "wire"], agent)
    asked = evidence.turns("name_recall")[1]
    message = fails(wire.check, evidence, "wire", asked.line, "-32601")
    assert "enable_v0_3_compat=True" in message


def test_an_internal_error_names_its_message_and_data(tmp_path: Path) -> None:
    broken = rpc_error(-32603, "agent crashed", {"trace": "KeyError: 'sessions'"})
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path, answers={ASKS_NAME: broken}))
    asked = evidence.turns("name_recall")[1]
    message = fails(name_recall.check, evidence, "runtime", asked.line)
    assert "JSON-RPC error -32603: agent crashed" in message
    assert "KeyError: 'sessions'" in message


def test_a_truncated_failed_body_says_how_much_was_kept(tmp_path: Path) -> None:
    huge = Answer(500, "x" * ((1 << 20) + 10))
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path, answers={ASKS_NAME: huge}))
    asked = evidence.turns("name_recall")[1]
    fails(name_recall.check, evidence, "runtime", asked.line, f"body of {(1 << 20) + 10} bytes")
