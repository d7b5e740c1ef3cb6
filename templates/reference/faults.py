"""The reference runtime's fault switches: failure modes production runtimes have shown.

``REFERENCE_FAULTS`` is a comma-separated list, each a name or ``name=value``:

========================  ==================================================================
``forget_context``        forgets each conversation (sessions are never loaded)
``no_history``            ignores the earlier turns a request carries (``metadata.history``)
``only_1_0``              speaks A2A 1.0 only (no 0.3 compatibility; its card lists 1.0)
``empty_prompt``          drops a file-only message as "(empty prompt — nothing to do)"
``ignore_caption``        ignores the text next to a file
``no_memory``             never stores memories through the platform
``search_unused``         searches memories and finds the colour, but does not use it
``shared_sessions``       keys sessions by workspace, not by context
``stale_memory``          says it updated a memory, and keeps the old one
``global_session``        one "current conversation" per process, taken by each name turn
``ignore_skills``         never reads the skills provisioned in its workspace and configs
``cancel_on_disconnect``  cancels a streamed task instead of finishing it
``wedge_after_cancel``    never answers again once a task was cancelled
``drop_peer_context``     delegates to its peer without the user's request
``task_reply``            answers with a Task (text in artifacts[0], a note in the status)
``type_parts``            marks parts with ``type`` instead of ``kind``
``slow_boot=S``           serves only after S seconds
``crash_on_boot``         exits with code 3 before serving
``no_card``               never serves an agent card
``hang_turn=ID``          never answers the turns of canary ID (by what they say)
``slow_turn=S``           every turn takes S seconds
``jsonrpc_error``         answers every send with a JSON-RPC error
``bad_json``              answers every send with a body that is not JSON
``http_500``              answers every send with HTTP 500
``leak_env``              prints its environment, and echoes secret-shaped values in replies
``crash_mid_run``         exits (code 4) after its second turn
========================  ==================================================================
"""

from __future__ import annotations

import contextvars
import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

SWITCHES = frozenset({
    "forget_context", "no_history", "only_1_0", "empty_prompt", "ignore_caption", "no_memory",
    "search_unused",
    "shared_sessions", "stale_memory", "global_session", "ignore_skills",
    "cancel_on_disconnect", "wedge_after_cancel", "drop_peer_context", "task_reply",
    "type_parts",
    "slow_boot", "crash_on_boot", "no_card", "hang_turn", "slow_turn", "jsonrpc_error",
    "bad_json", "http_500", "leak_env", "crash_mid_run",
})  # fmt: skip
WITH_VALUE = frozenset({"slow_boot", "hang_turn", "slow_turn"})
CANARY_TURNS = {
    # What each canary's turns say, so hang_turn can pick them out by content alone.
    "name_recall": re.compile(r"my name is", re.IGNORECASE),
    "memory_recall": re.compile(r"remember for future conversations|favou?rite colou?r", re.I),
}
SEND_METHODS = frozenset({"message/send", "SendMessage"})  # A2A 0.3 and 1.0
STREAM_METHODS = frozenset({"message/stream", "SendStreamingMessage"})
STREAMING: contextvars.ContextVar[bool] = contextvars.ContextVar("streaming", default=False)
"""Whether the request being served is a ``message/stream`` (the executor answers it as a
task whose lifecycle the stream shows)."""
SECRET_NAME_RE = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD)($|_)", re.IGNORECASE)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Faults:
    """The parsed switches."""

    names: frozenset[str] = frozenset()
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Parse ``REFERENCE_FAULTS``; an unknown switch or a missing value is fatal."""
        names, values = set(), {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, _, value = item.partition("=")
            if name not in SWITCHES:
                raise SystemExit(
                    f"REFERENCE_FAULTS: unknown fault {name!r} (known: {sorted(SWITCHES)})"
                )
            if (name in WITH_VALUE) != bool(value):
                needs = "needs" if name in WITH_VALUE else "takes no"
                raise SystemExit(f"REFERENCE_FAULTS: {name} {needs} a value")
            names.add(name)
            if value:
                values[name] = value
        return cls(frozenset(names), values)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def seconds(self, name: str) -> float:
        """The value of a timed switch, in seconds (0 when it is off)."""
        return float(self.values.get(name, 0) or 0)

    def hangs(self, text: str, has_file: bool) -> bool:
        """Whether this turn belongs to the canary ``hang_turn`` names."""
        target = self.values.get("hang_turn")
        if target == "file_only":
            return has_file and not text.strip()
        if target == "file_caption":
            return has_file and bool(text.strip())
        pattern = CANARY_TURNS.get(target or "")
        return bool(pattern and not has_file and pattern.search(text))


def leaked(environ: MutableMapping[str, str] | dict[str, str]) -> str:
    """What ``leak_env`` appends to replies: the secret-shaped values it was given."""
    found = [f"{name}={value}" for name, value in environ.items() if SECRET_NAME_RE.search(name)]
    return f" (debug: {', '.join(found)})" if found else ""


class WireFaults:
    """ASGI middleware that breaks the JSON-RPC answers the way a switch says."""

    def __init__(self, app: App, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = _json(body)
        method = request.get("method") if isinstance(request, dict) else None
        STREAMING.set(method in STREAM_METHODS)
        if method in SEND_METHODS:
            broken = self._broken(request.get("id"))
            if broken is not None:
                await _respond(send, *broken)
                return

        replayed = False

        async def replay() -> Message:
            # The body once; then the real channel, where a disconnect arrives (a streaming
            # response listens for it: answering it with the body again would spin forever).
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if method in STREAM_METHODS or not ({"task_reply", "type_parts"} & self.faults.names):
            await self.app(scope, replay, send)
            return
        status, headers, answer = await _capture(self.app, scope, replay)
        await _respond(send, status, self._reshape(answer), headers)

    def _broken(self, rpc_id: Any) -> tuple[int, bytes] | None:
        if "jsonrpc_error" in self.faults:
            error = {"code": -32603, "message": "reference fault: internal error"}
            return 200, json.dumps({"jsonrpc": "2.0", "id": rpc_id, "error": error}).encode()
        if "bad_json" in self.faults:
            return 200, b"<html><body>reference fault: not JSON</body></html>"
        if "http_500" in self.faults:
            return 500, b"reference fault: internal server error"
        return None

    def _reshape(self, answer: bytes) -> bytes:
        payload = _json(answer)
        result = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(result, dict):
            return answer
        if "task_reply" in self.faults and result.get("kind") == "message":
            result = {
                "kind": "task",
                "id": str(uuid.uuid4()),
                "contextId": result.get("contextId"),
                "status": {"state": "completed", "message": {
                    "kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
                    "parts": [{"kind": "text", "text": "Done."}],
                }},
                "artifacts": [{"artifactId": str(uuid.uuid4()), "parts": result.get("parts", [])}],
            }  # fmt: skip
        if "type_parts" in self.faults:
            result = _retag(result)
        return json.dumps({**payload, "result": result}).encode()


def _retag(value: Any) -> Any:
    """Parts say ``type`` instead of ``kind``."""
    if isinstance(value, list):
        return [_retag(item) for item in value]
    if isinstance(value, dict):
        retagged = {key: _retag(item) for key, item in value.items()}
        if "kind" in retagged and ("text" in retagged or "file" in retagged):
            retagged["type"] = retagged.pop("kind")
        return retagged
    return value


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _capture(app: App, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
    status, headers, chunks = 200, [], []

    async def keep(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return status, headers, b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    kept = [(k, v) for k, v in headers or [] if k.lower() not in (b"content-length",)]
    if not any(k.lower() == b"content-type" for k, _ in kept):
        kept.append((b"content-type", b"application/json"))
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})
