"""The platform's A2A client: sends DESIGN §3.1's envelope, reads replies per §3.2.

A failed turn (HTTP error, invalid JSON, JSON-RPC error, no text) is returned as a
:class:`Reply` with ``ok`` false and a description, never raised: a runtime's
failure is a verdict, not a crash of the harness.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

BODY_EXCERPT_BYTES = 500
RPC_DATA_CHARS = 300
# JSON-RPC errors about the request itself: the runtime does not take what the platform
# sends. Any other code (-32603, a server's own -32000…) is the runtime failing the turn.
WIRE_RPC_CODES = frozenset({-32700, -32600, -32601, -32602})
WIRE = "wire"
RUNTIME = "runtime"
FAILED_TASK_STATES = frozenset({"failed", "rejected", "canceled", "cancelled"})
PENDING_TASK_STATES = frozenset({"submitted", "working"})

Part = dict[str, Any]


def text_part(text: str) -> Part:
    """A text part in the production (0.3) wire shape."""
    return {"kind": "text", "text": text}


def file_part(name: str, uri: str, mime_type: str = "text/plain") -> Part:
    """A file part referencing an uploaded file by its ``workspace:`` URI."""
    return {"kind": "file", "file": {"name": name, "mimeType": mime_type, "uri": uri}}


def message_envelope(parts: list[Part], context_id: str) -> dict[str, Any]:
    """The exact JSON-RPC request production sends for one user turn."""
    return {
        "jsonrpc": "2.0",
        "id": str(uuid.uuid4()),
        "method": "message/send",
        "params": {
            "message": {
                "role": "user",
                "messageId": str(uuid.uuid4()),
                "kind": "message",
                "contextId": context_id,
                "parts": parts,
            },
            "configuration": {"acceptedOutputModes": ["text/plain"], "blocking": True},
        },
    }


@dataclass(frozen=True)
class Reply:
    """What a runtime answered to one turn.

    Attributes:
        ok: The turn produced reply text (it may still be a wrong answer).
        text: The reply text, text parts joined by newlines.
        problem: Why the turn failed, when ``ok`` is false.
        status_code: The HTTP status, or None when no response came.
        body_excerpt: The first 500 bytes of the response body.
        shape: ``message`` or ``task`` (or what the result looked like).
        task_state: The task's state for Task replies.
        rpc_error: The JSON-RPC error object, when the runtime answered with one.
        layer: Where a failed turn's fault sits: ``wire`` (the reply does not fit the
            protocol the platform speaks: a bad status, invalid JSON, a rejected request,
            text where the platform does not look, an ignored ``blocking``) or
            ``runtime`` (it took the turn and failed it: an internal error, a 5xx, a
            failed task, no reply in time, no text at all). None when ``ok``.
    """

    ok: bool
    text: str = ""
    problem: str | None = None
    status_code: int | None = None
    body_excerpt: str = ""
    shape: str = ""
    task_state: str | None = None
    rpc_error: dict[str, Any] | None = field(default=None)
    layer: str | None = None

    def describe(self) -> str:
        """One line for a failure message: the problem or the (trimmed) text."""
        if self.ok:
            return f"reply {trim(self.text)!r}"
        return f"failed turn: {self.problem}"


def trim(text: str, limit: int = 300) -> str:
    """Shorten text for messages, keeping the start and saying how much was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} chars)"


def parse_reply(status_code: int, body: bytes, *, v1: bool = False) -> Reply:
    """Read one JSON-RPC response as the platform's chat reads it (DESIGN §3.2).

    Args:
        status_code: The HTTP status of the response.
        body: The raw response body.
        v1: Read it by A2A 1.0's rules (dialect ``a2a-1.0``): the answer is in
            ``result.message`` or ``result.task``, and a part is text when it has ``text``.

    Returns:
        The reply; ``ok`` is false for a non-200 status, invalid JSON, a JSON-RPC
        error object, a task that failed or is still pending, or a result with no
        text the platform would show (the problem then says where the text was).
    """
    excerpt = body[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace")
    received = Reply(ok=False, status_code=status_code, body_excerpt=excerpt, layer=WIRE)
    if status_code != 200:
        layer = RUNTIME if status_code >= 500 else WIRE
        return replace(received, problem=f"HTTP {status_code}: {excerpt!r}", layer=layer)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return replace(received, problem=f"invalid JSON ({exc}): {excerpt!r}")
    if not isinstance(payload, dict):
        return replace(received, problem=f"response is not a JSON-RPC object: {excerpt!r}")
    error = payload.get("error")
    if error is not None:
        details = error if isinstance(error, dict) else {"message": error}
        code = details.get("code")
        layer = WIRE if code in WIRE_RPC_CODES else RUNTIME
        return replace(received, problem=_rpc_problem(details), rpc_error=details, layer=layer)
    result = payload.get("result")
    if not isinstance(result, dict):
        return replace(received, problem=f"no 'result' object in response: {excerpt!r}")
    result, wrapper = unwrap(result) if v1 else (result, "")
    text = reply_text(result, v1=v1)
    state = _task_state(result)
    received = replace(received, text=text, shape=wrapper or _shape(result), task_state=state)
    if state in FAILED_TASK_STATES:
        return replace(received, problem=f"task ended {state}: {trim(text)!r}", layer=RUNTIME)
    if state in PENDING_TASK_STATES:
        problem = (
            f"the runtime ignored `blocking` and answered with a `{state}` task "
            "(the platform's chat does not poll)"
        )
        return replace(received, problem=problem)
    if not text.strip():
        why = _unshown(result)
        layer = RUNTIME if why == NO_TEXT else WIRE
        return replace(received, problem=f"{why}: {excerpt!r}", layer=layer)
    return replace(received, ok=True, layer=None)


def lost(problem: str) -> Reply:
    """A turn that got no HTTP response at all (no reply in time, a refused connection)."""
    return Reply(ok=False, problem=problem, layer=RUNTIME)


def _rpc_problem(error: dict[str, Any]) -> str:
    """A JSON-RPC error in words: its code, its message and (trimmed) its data."""
    problem = f"JSON-RPC error {error.get('code')}: {error.get('message')}"
    data = error.get("data")
    if data not in (None, "", {}, []):
        shown = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        problem += f" (data: {trim(shown, RPC_DATA_CHARS)})"
    return problem


def unwrap(result: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A 1.0 ``SendMessage`` answer's Message or Task, and which (a Task as is: ``""``)."""
    for key in ("message", "task"):
        inner = result.get(key)
        if isinstance(inner, dict) and len(result) == 1:
            return inner, key
    return result, ""


def reply_text(result: dict[str, Any], *, v1: bool = False) -> str:
    """The text the platform's chat shows for a result (canvas ``extractAgentText``).

    The text parts of the first of ``result.parts``, ``result.artifacts[0].parts``
    and ``result.status.message.parts`` that has any, joined with newlines (``v1``: of
    an unwrapped 1.0 Message or Task, whose text parts have no discriminator).
    """
    for parts in _shown_places(result):
        texts = _part_texts(parts, v1=v1)
        if texts:
            return "\n".join(texts)
    return ""


def task_id(result: Any) -> str | None:
    """The id of a Task result, for polling ``tasks/get``."""
    if isinstance(result, dict) and isinstance(result.get("id"), str) and "status" in result:
        return str(result["id"])
    return None


def _shown_places(result: dict[str, Any]) -> list[Any]:
    artifacts = _dicts(result.get("artifacts"))
    status = result.get("status")
    message = status.get("message") if isinstance(status, dict) else None
    return [
        result.get("parts"),
        artifacts[0].get("parts") if artifacts else None,
        message.get("parts") if isinstance(message, dict) else None,
    ]


NO_TEXT = "the reply has no text at all"


def _unshown(result: dict[str, Any]) -> str:
    """Why a result shows no text: where text was found that the platform would not show."""
    for where, value in _strings_named_text(result, "result"):
        if not value.strip():
            continue
        if where.startswith(("result.task.", "result.message.")):
            wrapper = where.split(".")[1]
            return (
                f"the answer is wrapped in result.{wrapper} (the A2A 1.0 shape) at {where}; "
                "the platform reads only result.parts, result.artifacts[0].parts and "
                "result.status.message.parts"
            )
        if re.match(r"result\.artifacts\[[1-9]\d*\]", where):
            return (
                f"the answer is at {where}, and the platform shows only the first artifact "
                "(result.artifacts[0])"
            )
        if where.endswith(".text") and re.search(r"parts\[\d+\]\.text$", where):
            return (
                f"the text part at {where[: -len('.text')]} has no 'kind' or 'type' of 'text', "
                "so the platform does not show it"
            )
        return f"the only text is at {where}, where the platform does not look"
    return NO_TEXT


def _strings_named_text(value: Any, where: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}"
            if key == "text" and isinstance(item, str):
                found.append((path, item))
            else:
                found += _strings_named_text(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _strings_named_text(item, f"{where}[{index}]")
    return found


def _shape(result: dict[str, Any]) -> str:
    shape = result.get("kind") or result.get("type")
    if isinstance(shape, str):
        return shape
    return "task" if "status" in result else "message"


def _task_state(result: dict[str, Any]) -> str | None:
    status = result.get("status")
    if isinstance(status, dict) and isinstance(status.get("state"), str):
        # 0.3 says "failed", 1.0 says "TASK_STATE_FAILED": one vocabulary for both.
        return str(status["state"]).lower().removeprefix("task_state_").replace("_", "-")
    return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _part_texts(parts: Any, *, v1: bool = False) -> list[str]:
    # A part is text only when its "kind" (0.3) or "type" says so, as the canvas reads it;
    # in 1.0 a part is what its one content field is, and a text part has "text".
    return [
        part["text"]
        for part in _dicts(parts)
        if (v1 or "text" in (part.get("kind"), part.get("type")))
        and isinstance(part.get("text"), str)
    ]


@dataclass(frozen=True)
class Exchange:
    """One HTTP request's raw outcome: status and body, or why none came."""

    status: int | None
    body: bytes
    error: str | None
    elapsed_s: float


class A2AClient:
    """Talks to one runtime the way the platform does, asynchronously.

    Args:
        base_url: Where the runtime's HTTP port answers, e.g. ``http://127.0.0.1:8000``.
        a2a_path: The JSON-RPC endpoint's path.
        timeout: Seconds one turn may take.
        transport: Where requests go instead of the network (a test's scripted runtime,
            e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        a2a_path: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.a2a_path = a2a_path
        self.timeout = timeout
        # No connection kept alive between turns: a runtime's server closes an idle one
        # after its own timeout (uvicorn: 5 s, httpx's own expiry), and a turn sent on it
        # just then failed at once with a ReadError the runtime never saw.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        self._client = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> A2AClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def post(
        self, envelope: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Exchange:
        """POST a JSON-RPC envelope to the A2A endpoint (``headers``: the dialect's)."""
        return await self._request("POST", self.a2a_path, envelope, headers)

    async def get(self, path: str) -> Exchange:
        """GET a path of the runtime (its agent card, say)."""
        return await self._request("GET", path, None)

    async def stream(
        self,
        envelope: dict[str, Any],
        *,
        events: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Streamed:
        """POST a streaming JSON-RPC envelope and read its server-sent events.

        Args:
            envelope: ``message/stream``, as the platform sends it.
            events: Disconnect after this many events (None: read to the stream's end).
            headers: The dialect's headers.
        """
        started = time.monotonic()
        read: list[str] = []
        status: int | None = None
        try:
            async with asyncio.timeout(self.timeout):
                sent = {"Accept": "text/event-stream", **(headers or {})}
                url = self.base_url + self.a2a_path
                async with self._client.stream("POST", url, json=envelope, headers=sent) as reply:
                    status = reply.status_code
                    if "text/event-stream" not in reply.headers.get("content-type", ""):
                        body = await reply.aread()
                        return Streamed(status, (), body, None, _since(started))
                    async for line in reply.aiter_lines():
                        if line.startswith("data:"):
                            read.append(line[len("data:") :].strip())
                            if events is not None and len(read) >= events:
                                return Streamed(status, tuple(read), b"", None,
                                                _since(started), disconnected=True)  # fmt: skip
        except (TimeoutError, httpx.TimeoutException):
            return Streamed(status, tuple(read), b"", f"no end of the stream within "
                            f"{self.timeout:g}s", _since(started))  # fmt: skip
        except httpx.HTTPError as exc:
            error = f"transport error: {type(exc).__name__}: {exc}"
            return Streamed(status, tuple(read), b"", error, _since(started))
        return Streamed(status, tuple(read), b"", None, _since(started))

    async def _request(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        started = time.monotonic()
        url = self.base_url + path
        try:
            # The whole exchange, not each read: a runtime that trickles bytes still times out.
            async with asyncio.timeout(self.timeout):
                response = await self._client.request(method, url, json=payload, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no reply within {self.timeout:g}s"
        except httpx.HTTPError as exc:
            error = f"transport error: {type(exc).__name__}: {exc}"
        else:
            elapsed = round(time.monotonic() - started, 4)
            return Exchange(response.status_code, response.content, None, elapsed)
        return Exchange(None, b"", error, round(time.monotonic() - started, 4))


@dataclass(frozen=True)
class Streamed:
    """One ``message/stream`` exchange: the SSE events read (their ``data``), or why none.

    Attributes:
        status: The HTTP status, or None when no response came.
        events: Each event's ``data``, in order, as far as it was read.
        body: The body, when the answer was not an event stream.
        error: Why the exchange ended without a response, or before the stream ended.
        elapsed_s: Seconds from the request to the last event read.
        disconnected: The client stopped reading after the events it wanted.
    """

    status: int | None
    events: tuple[str, ...]
    body: bytes
    error: str | None
    elapsed_s: float
    disconnected: bool = False


def _since(started: float) -> float:
    return round(time.monotonic() - started, 4)


def protocol_versions(card: dict[str, Any]) -> list[str]:
    """Protocol versions an agent card advertises (0.3's field and 1.0's interfaces)."""
    found = [card.get("protocolVersion"), card.get("protocol_version")]
    for key in ("supportedInterfaces", "supported_interfaces", "additionalInterfaces"):
        interfaces = card.get(key)
        for interface in interfaces if isinstance(interfaces, list) else []:
            if isinstance(interface, dict):
                found += [interface.get("protocolVersion"), interface.get("protocol_version")]
    return list(dict.fromkeys(str(v) for v in found if isinstance(v, str | int | float) and v))
