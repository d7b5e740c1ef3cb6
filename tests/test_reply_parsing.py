"""Reading replies per DESIGN §3.2: every shape production runtimes answer with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.cp_sim import parse_reply
from harness.cp_sim.a2a import message_envelope, text_part


def rpc(result: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": "1", "result": result}).encode()


@pytest.mark.parametrize("discriminator", ["kind", "type"])
def test_message_reply(discriminator: str) -> None:
    body = rpc(
        {
            discriminator: "message",
            "role": "agent",
            "parts": [
                {discriminator: "text", "text": "Hello"},
                {discriminator: "text", "text": "there"},
            ],
        }
    )
    reply = parse_reply(200, body)
    assert reply.ok
    assert reply.text == "Hello\nthere"
    assert reply.shape == "message"


def task(artifacts: list[Any] | None = None, status_text: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"state": "completed"}
    if status_text is not None:
        status["message"] = {"role": "agent", "parts": [{"type": "text", "text": status_text}]}
    return {"kind": "task", "id": "t1", "contextId": "c", "status": status,
            "artifacts": artifacts or []}  # fmt: skip


def test_task_reply_shows_the_first_place_with_text_only() -> None:
    # canvas extractAgentText: parts, then artifacts[0].parts, then status.message.parts.
    reply = parse_reply(
        200, rpc(task([{"parts": [{"kind": "text", "text": "from artifact"}]}], "from status"))
    )
    assert reply.ok
    assert reply.text == "from artifact"
    assert reply.shape == "task"
    assert reply.task_state == "completed"
    reply = parse_reply(200, rpc(task([{"parts": [{"kind": "data", "data": {}}]}], "from status")))
    assert (reply.ok, reply.text) == (True, "from status")


@pytest.mark.parametrize(
    ("result", "where"),
    [
        # An answer production would show as "(Could not extract response text)".
        (
            task([{"parts": [{"kind": "data", "data": {}}]},
                  {"parts": [{"kind": "text", "text": "second"}]}]),
            "result.artifacts[1]",
        ),
        ({"kind": "message", "parts": [{"text": "no discriminator"}]}, "no 'kind' or 'type'"),
        ({"task": task([{"parts": [{"kind": "text", "text": "wrapped"}]}])}, "result.task"),
        ({"message": {"role": "ROLE_AGENT", "parts": [{"text": "v1 shape"}]}}, "result.message"),
    ],
    ids=["second-artifact", "no-discriminator", "task-wrapper", "message-wrapper"],
)  # fmt: skip
def test_text_production_would_not_show_is_a_failed_turn(
    result: dict[str, Any], where: str
) -> None:
    reply = parse_reply(200, rpc(result))
    assert not reply.ok
    assert where in (reply.problem or "")


@pytest.mark.parametrize("state", ["submitted", "working", "TASK_STATE_SUBMITTED"])
def test_a_pending_task_says_the_runtime_ignored_blocking(state: str) -> None:
    reply = parse_reply(200, rpc({"kind": "task", "id": "t1", "status": {"state": state}}))
    assert not reply.ok
    assert "ignored `blocking`" in (reply.problem or "")
    assert f"`{state.lower().removeprefix('task_state_')}` task" in (reply.problem or "")


def test_non_text_parts_are_ignored() -> None:
    body = rpc(
        {
            "kind": "message",
            "parts": [
                {"kind": "data", "data": {"text": "not me"}},
                {"kind": "file", "file": {"uri": "x"}},
                {"kind": "text", "text": "only me"},
            ],
        }
    )
    assert parse_reply(200, body).text == "only me"


def test_jsonrpc_error_is_a_failed_turn_with_code_and_message() -> None:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": "1", "error": {"code": -32603, "message": "boom"}}
    ).encode()
    reply = parse_reply(200, body)
    assert not reply.ok
    assert "-32603" in (reply.problem or "")
    assert "boom" in (reply.problem or "")


def test_non_200_status_is_a_failed_turn_with_body_excerpt() -> None:
    reply = parse_reply(502, b"Bad Gateway" + b"x" * 2000)
    assert not reply.ok
    assert "HTTP 502" in (reply.problem or "")
    assert len(reply.body_excerpt) == 500


def test_invalid_json_is_a_failed_turn() -> None:
    reply = parse_reply(200, b"<html>oops</html>")
    assert not reply.ok
    assert "invalid JSON" in (reply.problem or "")
    assert "oops" in (reply.problem or "")


@pytest.mark.parametrize(
    "result",
    [
        {"kind": "message", "parts": []},
        {"kind": "task", "status": {"state": "completed"}},
    ],
)
def test_no_text_is_a_failed_turn(result: dict[str, Any]) -> None:
    reply = parse_reply(200, rpc(result))
    assert not reply.ok
    assert "no text at all" in (reply.problem or "")


def test_missing_result_is_a_failed_turn() -> None:
    assert not parse_reply(200, b'{"jsonrpc": "2.0", "id": "1"}').ok
    assert not parse_reply(200, b"[1, 2]").ok


def test_request_envelope_is_the_production_wire_shape() -> None:
    envelope = message_envelope([text_part("hi")], "ctx-1")
    assert envelope["method"] == "message/send"
    assert envelope["jsonrpc"] == "2.0"
    message = envelope["params"]["message"]
    assert message["kind"] == "message"
    assert message["role"] == "user"
    assert message["contextId"] == "ctx-1"
    assert message["messageId"]
    assert envelope["params"]["configuration"] == {
        "acceptedOutputModes": ["text/plain"],
        "blocking": True,
    }


@pytest.mark.parametrize("state", ["failed", "rejected", "canceled", "TASK_STATE_FAILED"])
def test_a_task_that_ended_badly_is_a_failed_turn_even_with_text(state: str) -> None:
    body = rpc(
        {
            "kind": "task",
            "status": {
                "state": state,
                "message": {"parts": [{"kind": "text", "text": "model quota exceeded?"}]},
            },
        }
    )
    reply = parse_reply(200, body)
    assert not reply.ok
    assert "task ended" in (reply.problem or "")


def test_input_required_task_with_a_question_is_a_reply() -> None:
    body = rpc(
        {
            "kind": "task",
            "status": {
                "state": "input-required",
                "message": {"parts": [{"kind": "text", "text": "What should I do with it?"}]},
            },
        }
    )
    assert parse_reply(200, body).ok
