"""The platform's A2A client: sends DESIGN §3.1's envelope, reads replies per §3.2.

A failed turn (HTTP error, invalid JSON, JSON-RPC error, no text) is returned as a
:class:`Reply` with ``ok`` false and a description, never raised: a runtime's
failure is a verdict, not a crash of the harness.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

BODY_EXCERPT_BYTES = 500
FAILED_TASK_STATES = frozenset({"failed", "rejected", "canceled", "cancelled"})

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
    """

    ok: bool
    text: str = ""
    problem: str | None = None
    status_code: int | None = None
    body_excerpt: str = ""
    shape: str = ""
    task_state: str | None = None
    rpc_error: dict[str, Any] | None = field(default=None)

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


def parse_reply(status_code: int, body: bytes) -> Reply:
    """Read one JSON-RPC response per DESIGN §3.2.

    Args:
        status_code: The HTTP status of the response.
        body: The raw response body.

    Returns:
        The reply; ``ok`` is false for a non-200 status, invalid JSON, a JSON-RPC
        error object or a result without any text.
    """
    excerpt = body[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace")
    received = Reply(ok=False, status_code=status_code, body_excerpt=excerpt)
    if status_code != 200:
        return replace(received, problem=f"HTTP {status_code}: {excerpt!r}")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return replace(received, problem=f"invalid JSON ({exc}): {excerpt!r}")
    if not isinstance(payload, dict):
        return replace(received, problem=f"response is not a JSON-RPC object: {excerpt!r}")
    error = payload.get("error")
    if error is not None:
        details = error if isinstance(error, dict) else {"message": error}
        problem = f"JSON-RPC error {details.get('code')}: {details.get('message')}"
        return replace(received, problem=problem, rpc_error=details)
    result = payload.get("result")
    if not isinstance(result, dict):
        return replace(received, problem=f"no 'result' object in response: {excerpt!r}")
    result = _unwrap(result)
    text = reply_text(result)
    received = replace(received, text=text, shape=_shape(result), task_state=_task_state(result))
    if received.task_state in FAILED_TASK_STATES:
        return replace(received, problem=f"task ended {received.task_state}: {trim(text)!r}")
    if not text.strip():
        problem = f"reply has no text ({received.shape}, state {received.task_state}): {excerpt!r}"
        return replace(received, problem=problem)
    return replace(received, ok=True)


def reply_text(result: dict[str, Any]) -> str:
    """Concatenate the text parts of a Message or Task result, in §3.2's order."""
    texts = _part_texts(result.get("parts"))
    for artifact in _dicts(result.get("artifacts")):
        texts += _part_texts(artifact.get("parts"))
    status = result.get("status")
    if isinstance(status, dict) and isinstance(status.get("message"), dict):
        texts += _part_texts(status["message"].get("parts"))
    return "\n".join(texts)


def _unwrap(result: dict[str, Any]) -> dict[str, Any]:
    # A2A 1.0 servers wrap the answer as {"message": {...}} or {"task": {...}}.
    if "parts" not in result and "status" not in result and "artifacts" not in result:
        for key in ("message", "task"):
            if isinstance(result.get(key), dict):
                inner: dict[str, Any] = result[key]
                return {"kind": key, **inner}
    return result


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


def _part_texts(parts: Any) -> list[str]:
    texts = []
    for part in _dicts(parts):
        discriminator = part.get("kind", part.get("type"))
        # A2A 1.0 parts carry no discriminator: a "text" member makes a text part.
        is_text = discriminator == "text" or (discriminator is None and "text" in part)
        if is_text and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return texts


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
    """

    def __init__(self, base_url: str, a2a_path: str, timeout: float) -> None:
        self.base_url = base_url
        self.a2a_path = a2a_path
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=None, max_keepalive_connections=8)
        )

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> A2AClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def post(self, envelope: dict[str, Any]) -> Exchange:
        """POST a JSON-RPC envelope to the A2A endpoint."""
        return await self._request("POST", self.a2a_path, envelope)

    async def get(self, path: str) -> Exchange:
        """GET a path of the runtime (its agent card, say)."""
        return await self._request("GET", path, None)

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Exchange:
        started = time.monotonic()
        try:
            # The whole exchange, not each read: a runtime that trickles bytes still times out.
            async with asyncio.timeout(self.timeout):
                response = await self._client.request(method, self.base_url + path, json=payload)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no reply within {self.timeout:g}s"
        except httpx.HTTPError as exc:
            error = f"transport error: {type(exc).__name__}: {exc}"
        else:
            elapsed = round(time.monotonic() - started, 4)
            return Exchange(response.status_code, response.content, None, elapsed)
        return Exchange(None, b"", error, round(time.monotonic() - started, 4))
