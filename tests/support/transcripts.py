"""Hand-written transcripts for the check tests: an event builder and both reply shapes.

A :class:`Script` appends events in the format :mod:`harness.cp_sim.transcript`
writes (line numbers start at 1 with the header), then hands them to the checks
as :class:`canary.evidence.Evidence`, in memory or through a ``transcript.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from canary import registry
from canary.evidence import Evidence
from harness import events
from harness.cp_sim import message_envelope, text_part
from harness.cp_sim.transcript import FILE_NAME, Line

Shape = Literal["message", "task"]
SHAPES: tuple[Shape, ...] = ("message", "task")
Event = dict[str, Any]

WORKSPACE_ID = "ws-0001"
DROPPED_MARKERS = ("(empty prompt — nothing to do)", "No message provided")
HEADER: Event = {
    "schema": events.SCHEMA_VERSION,
    "template": "handwritten",
    "gate": "required",
    "wave": 0,
    "conversations": [],
    "session_scope": "context",
    "probe_store": "{workspace}/.sessions",
    "probe_key": "{workspace_id}:{context_id}",
    "dropped_markers": list(DROPPED_MARKERS),
    "workspace_id": WORKSPACE_ID,
    "ready_path": "/.well-known/agent-card.json",
}


def message_result(text: str) -> Event:
    """A Message result: parts discriminated by ``kind`` (A2A 0.3)."""
    return {"kind": "message", "role": "agent", "parts": [{"kind": "text", "text": text}]}


def task_result(text: str, state: str = "completed") -> Event:
    """A Task result: the text in an artifact, parts discriminated by ``type``."""
    return {
        "kind": "task",
        "id": "task-1",
        "contextId": "ctx",
        "status": {
            "state": state,
            "message": {"role": "agent", "parts": [{"type": "text", "text": "Task finished."}]},
        },
        "artifacts": [{"parts": [{"type": "text", "text": text}]}],
    }


def reply_body(text: str, shape: Shape = "message", request_id: str = "req-1") -> str:
    """A JSON-RPC response body whose reply text is ``text``, in either shape."""
    result = message_result(text) if shape == "message" else task_result(text)
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def error_body(
    code: int = -32603, message: str = "Internal error", request_id: Any = "req-1"
) -> str:
    """A JSON-RPC error response body."""
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    )


# Ways a turn fails: keyword arguments for :meth:`Script.turn`, by name.
FAILED_TURNS: dict[str, dict[str, Any]] = {
    "http-500": {"status": 500, "body": "Internal Server Error"},
    "jsonrpc-error": {"body": error_body()},
    "transport-error": {"status": None, "error": "transport error: ConnectError: refused"},
    "timeout": {"status": None, "error": "no reply within 30s"},
    "task-failed": {
        "body": json.dumps({"jsonrpc": "2.0", "id": "r", "result": task_result("boom", "failed")})
    },
    "empty-reply": {"body": reply_body("")},
    "http-404": {"status": 404, "body": "Not Found"},
    "not-json": {"body": "<html>oops</html>"},
    "method-not-found": {"body": error_body(-32601, "Method not found")},
    "invalid-params": {"body": error_body(-32602, "Invalid params")},
    "ignored-blocking": {
        "body": json.dumps(
            {"jsonrpc": "2.0", "id": "r", "result": task_result("later", "submitted")}
        )
    },
    "unshown-text": {"body": reply_body("no discriminator").replace('"kind": "text", ', "", 1)},
}
# Where each failure sits: the runtime took the turn and failed it, or the reply does not
# fit the protocol the platform speaks (DESIGN §3.2, §4 wire).
FAILED_TURN_LAYERS = {
    "http-500": "runtime", "jsonrpc-error": "runtime", "transport-error": "runtime",
    "timeout": "runtime", "task-failed": "runtime", "empty-reply": "runtime",
    "http-404": "wire", "not-json": "wire", "method-not-found": "wire",
    "invalid-params": "wire", "ignored-blocking": "wire", "unshown-text": "wire",
}  # fmt: skip


@dataclass(frozen=True)
class Sent:
    """Where a recorded A2A exchange sits: its transcript line and its turn id."""

    line: int
    turn: int
    context_id: str | None


class Script:
    """Builds one transcript event by event; every method returns the event's line.

    Args:
        header: Header members overriding :data:`HEADER` (``selected`` defaults to all).
    """

    def __init__(self, **header: Any) -> None:
        self.events: list[Event] = []
        self._turns = 0
        selected = list(registry.specs())
        self.add("header", **{**HEADER, "selected": selected, **header})

    def add(self, kind: str, **fields: Any) -> int:
        """Append any event; returns its (1-based) line number."""
        self.events.append({"t": round(len(self.events) * 0.01, 2), "type": kind, **fields})
        return len(self.events)

    def start(self, canary: str, step: str = "converse") -> int:
        return self.add("canary_start", canary=canary, step=step)

    def end(self, canary: str, error: str | None = None) -> int:
        return self.add("canary_end", canary=canary, error=error)

    def token(self, canary: str, name: str, value: str) -> str:
        """Record a token; returns the value."""
        self.add("token", canary=canary, name=name, value=value)
        return value

    def turn(
        self,
        canary: str,
        sent: str,
        reply: str | None = None,
        *,
        shape: Shape = "message",
        context_id: str | None = "ctx-a",
        status: int | None = 200,
        body: str | None = None,
        error: str | None = None,
        request: Event | None = None,
    ) -> Sent:
        """One A2A exchange: ``reply`` text in ``shape``, or an explicit body/status/error."""
        self._turns += 1
        if request is None:
            request = message_envelope([text_part(sent)], context_id or "")
        fields: Event = {
            "turn": self._turns, "context_id": context_id, "sent": sent, "request": request,
            "started": 0.0, "status": status, "elapsed_s": 0.01,
        }  # fmt: skip
        if status is None:
            fields["error"] = error or "no reply within 30s"
        elif body is not None:
            fields["body"] = body
        else:
            fields["body"] = reply_body(reply or "", shape, str(request.get("id")))
        line = self.add("a2a", canary=canary, **fields)
        return Sent(line, self._turns, context_id)

    def http(self, canary: str, path: str, status: int | None, body: str = "{}") -> int:
        """A plain GET the harness made (the agent card)."""
        fields: Event = {"method": "GET", "path": path, "status": status, "elapsed_s": 0.01}
        if status is None:
            fields["error"] = "transport error: ConnectError: refused"
        else:
            fields["body"] = body
        return self.add("http", canary=canary, **fields)

    def upload(self, canary: str, name: str, uri: str | None, error: str | None = None) -> int:
        fields: Event = {"name": name, "size": 217, "uri": uri}
        if error is not None:
            fields["error"] = error
        return self.add("upload", canary=canary, **fields)

    def snapshot(self, canary: str, path: str, copy: str | None, error: str | None = None) -> int:
        fields: Event = {"path": path, "copy": copy}
        if error is not None:
            fields["error"] = error
        return self.add("snapshot", canary=canary, **fields)

    def platform(
        self,
        method: str,
        path: str,
        *,
        turns: tuple[int, ...] = (),
        after_turn: int | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        status: int = 200,
        auth: str = "ok",
        response: Any = None,
    ) -> int:
        """A call the runtime made to the platform, tied to the turns in flight."""
        return self.add(
            "platform", method=method, path=path, query=query or {}, body=body, status=status,
            auth=auth, response=response, turns=list(turns), after_turn=after_turn,
        )  # fmt: skip

    def evidence(self, root: Path) -> Evidence:
        """The events as evidence, in memory (snapshots resolve below ``root``)."""
        lines = [
            Line(number, events.from_json(event)) for number, event in enumerate(self.events, 1)
        ]
        return Evidence(lines, root=root)

    def write(self, directory: Path) -> Path:
        """Write ``transcript.jsonl`` into ``directory``; returns its path."""
        path = directory / FILE_NAME
        text = "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in self.events)
        path.write_text(text, encoding="utf-8")
        return path
