"""wire, judged on what its real conversation (card, unknown method) recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from canary import wire
from canary.evidence import Evidence
from harness.events import A2ACall, HttpGet
from tests.support.scripted import Agent, Answer, Got, Reply, fails, message, record, task
from tests.support.transcripts import Script


def _wire(tmp_path: Path, body: str | None = None, status: int = 200) -> tuple[Evidence, int]:
    """Record wire against a healthy runtime whose answer to the unknown method is ``body``."""
    agent = Agent(tmp_path)

    def runtime(got: Got) -> Reply:
        if got.method != wire.UNKNOWN_METHOD or body is None:
            return agent(got)
        if body == "lost":
            return Answer(lost="refused")
        return Answer(status, body.replace("{ID}", str(got.request["id"])))

    evidence = record(tmp_path, ["wire"], runtime)
    return evidence, evidence.turns("wire")[0].line


def test_passes_with_a_card_and_minus_32601(tmp_path: Path) -> None:
    assert wire.check(record(tmp_path, ["wire"], Agent(tmp_path))) is None


def test_the_unknown_method_carries_jsonrpc_and_an_id(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["wire"], Agent(tmp_path))
    (call,) = evidence.events("wire", A2ACall)
    assert call.event.request["method"] == wire.UNKNOWN_METHOD
    assert call.event.request["jsonrpc"] == "2.0"
    assert call.event.request["id"]


@pytest.mark.parametrize("shape", [message, task], ids=["message", "task"])
def test_fails_when_an_unknown_method_gets_a_reply(tmp_path: Path, shape: Any) -> None:
    reply = json.dumps({"jsonrpc": "2.0", "id": "{ID}", "result": shape("How can I help?")})
    evidence, line = _wire(tmp_path, reply)
    fails(wire.check, evidence, "wire", line, "error code None", "-32601")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"jsonrpc": "2.0", "id": "{ID}", "error": {"code": -32600, "message": "x"}}',
         "error code -32600 instead of -32601"),
        ('{"jsonrpc": "2.0", "id": "other", "error": {"code": -32601, "message": "x"}}',
         "instead of the request's"),
        ('{"jsonrpc": "2.0", "id": null, "error": {"code": -32601, "message": "x"}}',
         "id None instead of the request's"),
        ('{"id": "{ID}", "error": {"code": -32601, "message": "nope"}}',
         "jsonrpc None instead of '2.0'"),
        ("Internal Server Error", "body is not JSON"),
        ("[1, 2]", "not a JSON-RPC object"),
    ],
    ids=["wrong-code", "wrong-id", "null-id", "no-jsonrpc", "not-json", "not-an-object"],
)  # fmt: skip
def test_fails_on_a_bad_error_envelope(tmp_path: Path, body: str, says: str) -> None:
    status = 500 if body == "Internal Server Error" else 200
    evidence, line = _wire(tmp_path, body, status)
    fails(wire.check, evidence, "wire", line, says)


def test_fails_when_the_call_gets_no_response(tmp_path: Path) -> None:
    evidence, line = _wire(tmp_path, "lost")
    fails(wire.check, evidence, "wire", line, "ConnectError")


def test_the_legacy_card_path_counts(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["wire"], Agent(tmp_path), ready_path="/.well-known/agent.json")
    paths = [line.event.path for line in evidence.events("wire", HttpGet)]
    assert paths == [wire.LEGACY_CARD_PATH]
    assert wire.check(evidence) is None


def _no_card(tmp_path: Path, *, exited: bool) -> tuple[Evidence, int]:
    script = Script()
    script.start("wire")
    line = script.http("wire", "/.well-known/agent-card.json", None)
    script.http("wire", "/.well-known/agent.json", None)
    if exited:
        script.add("runtime_exit", code=4, last_line="crash_mid_run: exiting at turn 3")
    script.end("wire")
    return script.evidence(tmp_path), line + 1


def test_no_card_fails_at_wire(tmp_path: Path) -> None:
    evidence, line = _no_card(tmp_path, exited=False)
    fails(wire.check, evidence, "wire", line, "no agent card", "ConnectError")


def test_no_card_from_a_runtime_that_exited_fails_at_runtime(tmp_path: Path) -> None:
    # The card went with the runtime (it crashed while the canaries ran): blaming the
    # wire would send its maintainers after the wrong bug.
    evidence, line = _no_card(tmp_path, exited=True)
    fails(wire.check, evidence, "runtime", line, "no agent card", "exited with code 4")
