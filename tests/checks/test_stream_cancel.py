"""stream_cancel, judged on what its real conversation (streams, polls, cancels) recorded."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from canary import stream_cancel
from canary.evidence import Failed, NoEvidence
from tests.support.scripted import Answer, Got, Reply, events, message, record

CARD = {"name": "streamer", "protocolVersion": "0.3.0", "capabilities": {"streaming": True}}
NAME = re.compile(r"my name is (\w+)", re.IGNORECASE)


class Streaming:
    """A runtime that streams task lifecycles, each bug a switch."""

    def __init__(self, **bugs: bool) -> None:
        self.bugs = bugs
        self.tasks: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.wedged = False

    def _answer(self, got: Got) -> str:
        if found := NAME.search(got.text):
            self.names[got.context_id] = found.group(1)
            return "Hello."
        name = self.names.get(got.context_id)
        return f"Your name is {name}." if name else "Still here."

    def __call__(self, got: Got) -> Reply:
        params = got.request.get("params") or {}
        if got.method == "tasks/get":
            state = self.tasks.get(str(params.get("id")))
            if state is None:
                return _error(got, -32001)
            return _result(
                got, {"kind": "task", "id": params.get("id"), "status": {"state": state}}
            )
        if got.method == "tasks/cancel":
            if "id" not in params:
                return _error(got, -32602)
            if not self.bugs.get("cancel_ignored"):
                self.tasks[str(params["id"])] = "canceled"
            self.wedged = bool(self.bugs.get("wedge"))
            return _result(got, {"kind": "task", "id": params["id"],
                                 "status": {"state": self.tasks[str(params["id"])]}})  # fmt: skip
        if self.wedged:
            return Answer(lost="wedged")
        if got.method == "message/send":
            return message(self._answer(got))
        task = secrets.token_hex(4)
        text = self._answer(got)
        if self.bugs.get("message_only"):
            return events(message(text))
        # stuck: what it streams says completed, but the task it keeps says working.
        end = "completed"
        if self.bugs.get("cancel_on_disconnect") or "take your time" in got.text:
            end = "canceled" if self.bugs.get("cancel_on_disconnect") else "working"
        self.tasks[task] = "working" if self.bugs.get("stuck") and end == "completed" else end
        first = {"kind": "task", "id": task, "status": {"state": "submitted"}}
        if self.bugs.get("bad_order"):
            first = {"kind": "artifact-update", "taskId": task, "artifact": {"parts": []}}
        last = {"kind": "status-update", "taskId": task, "final": True,
                "status": {"state": "working" if self.bugs.get("unended") else end}}  # fmt: skip
        artifact = {"kind": "artifact-update", "taskId": task,
                    "artifact": {"parts": [{"kind": "text", "text": text}]}}  # fmt: skip
        return events(first, artifact, last, request_id=got.request.get("id"))


def _result(got: Got, result: dict[str, Any]) -> Answer:
    return Answer(body=json.dumps({"jsonrpc": "2.0", "id": got.request.get("id"),
                                   "result": result}))  # fmt: skip


def _error(got: Got, code: int) -> Answer:
    return Answer(body=json.dumps({"jsonrpc": "2.0", "id": got.request.get("id"),
                                   "error": {"code": code, "message": "no"}}))  # fmt: skip


def test_passes_when_streams_survive_a_disconnect_and_a_cancel_cancels(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["stream_cancel"], Streaming(), card=CARD)
    assert stream_cancel.check(evidence) == "task"


def test_a_runtime_that_streams_messages_only_passes_with_what_it_can_show(
    tmp_path: Path,
) -> None:
    evidence = record(tmp_path, ["stream_cancel"], Streaming(message_only=True), card=CARD)
    assert stream_cancel.check(evidence) == "message"


def test_no_evidence_where_the_card_does_not_advertise_streaming(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["stream_cancel"], Streaming())
    assert evidence.turns("stream_cancel") == []  # nothing is sent to it
    with pytest.raises(NoEvidence, match="does not advertise streaming"):
        stream_cancel.check(evidence)


@pytest.mark.parametrize(
    ("bug", "layer", "says"),
    [
        ("bad_order", "stream:order", "the first event is a 'artifact-update'"),
        ("unended", "stream:order", "ended in state 'working'"),
        ("cancel_on_disconnect", "stream:disconnect", "is 'canceled', not 'completed'"),
        ("stuck", "stream:disconnect", "is 'working', not 'completed'"),
        ("cancel_ignored", "stream:cancel", "not 'canceled'"),
        ("wedge", "stream:wedged", "after the cancel"),
    ],
)
def test_each_stream_bug_fails_at_its_layer(
    tmp_path: Path, bug: str, layer: str, says: str
) -> None:
    evidence = record(
        tmp_path, ["stream_cancel"], Streaming(**{bug: True}), card=CARD, turn_timeout=1.0
    )
    with pytest.raises(Failed) as caught:
        stream_cancel.check(evidence)
    failure = caught.value
    assert (failure.layer, says in failure.message) == (layer, True), failure.message


def test_the_disconnect_is_after_the_first_event_and_the_stop_button_is_recorded(
    tmp_path: Path,
) -> None:
    from harness.events import A2ACall, StreamCall

    evidence = record(tmp_path, ["stream_cancel"], Streaming(), card=CARD)
    full, dropped, slow = (line.event for line in evidence.events("stream_cancel", StreamCall))
    assert (len(full.events), full.disconnected) == (3, False)
    assert (len(dropped.events), dropped.disconnected) == (1, True)
    assert slow.disconnected
    methods = [line.event.request["method"] for line in evidence.events("stream_cancel", A2ACall)]
    assert methods[-1] == "tasks/cancel"
    last = evidence.events("stream_cancel", A2ACall)[-1].event
    assert last.request["params"] == {}  # recorded with what came back, not judged


def late_model(runtime: Streaming, *asked: tuple[str, str]) -> Any:
    """``runtime``, and once its slow task is cancelled, its model is asked ``asked`` (once)."""
    pending = [asked]

    def answer(got: Got) -> Reply:
        task = str((got.request.get("params") or {}).get("id"))
        if got.method == "tasks/get" and runtime.tasks.get(task) == "canceled" and pending:
            got.model(*pending.pop())
        return runtime(got)

    return answer


def test_a_second_model_request_after_the_cancel_fails(tmp_path: Path) -> None:
    runtime = Streaming()
    followed = late_model(runtime, ("user", stream_cancel.SLOW), ("tool", "No peers."))

    def first_then_late(got: Got) -> Reply:
        if got.method == "message/stream" and "take your time" in got.text:
            got.model(("user", stream_cancel.SLOW))  # on it when the cancel comes
        return followed(got)

    evidence = record(tmp_path, ["stream_cancel"], first_then_late, card=CARD)
    message_ = fails_any(evidence)
    assert "a model request started after tasks/cancel" in message_


def test_the_slow_turns_first_model_request_may_arrive_after_the_cancel(tmp_path: Path) -> None:
    # Sent just before the runtime had the cancel, it can reach the model after the cancel's
    # answer on a loaded machine: no proof of a turn that went on.
    evidence = record(
        tmp_path, ["stream_cancel"], late_model(Streaming(), ("user", stream_cancel.SLOW)),
        card=CARD,
    )  # fmt: skip
    assert stream_cancel.check(evidence) == "task"


def fails_any(evidence: Any) -> str:
    with pytest.raises(Failed) as caught:
        stream_cancel.check(evidence)
    assert caught.value.layer == "stream:cancel"
    return caught.value.message
