"""The scripted model endpoint, served per run on starlette + uvicorn like the platform.

It speaks OpenAI Chat Completions (``/v1/chat/completions``), OpenAI Responses
(``/v1/responses``), Anthropic Messages (``/v1/messages``, ``count_tokens``) and
Google Gemini (``/v1beta/models/{model}:generateContent`` and
``:streamGenerateContent``), JSON and SSE, and ``/v1/models``. Every request and what
the oracle answered go to a recorder (the template's transcript), so a diagnostic can say which turn
reached the model with what history.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.cp_sim.serving import ThreadedServer
from harness.events import ModelCall, ModelMessage, ModelUnserved, ToolCall
from harness.model_sim import shapes
from harness.model_sim.flake import NO_MEMORY_TOOL, RATE_LIMIT, STALL, Flake
from harness.model_sim.oracle import Conversation, Decision, decide, without_memory_tools
from harness.model_sim.slow import SlowRequests

MODEL_ID = "canary-sim"

Recorder = Callable[[ModelCall], None]
UnservedRecorder = Callable[[ModelUnserved], None]
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _sse(events: list[shapes.Event], done: bool) -> AsyncIterator[bytes]:
    async def stream() -> AsyncIterator[bytes]:
        for name, data in events:
            prefix = f"event: {name}\n" if name else ""
            yield f"{prefix}data: {json.dumps(data)}\n\n".encode()
        if done:
            yield b"data: [DONE]\n\n"

    return stream()


@dataclass(frozen=True)
class _Api:
    """One API's shape: how its requests are read and its answers written."""

    read: Callable[[dict[str, Any]], Conversation]
    write: Callable[[Decision, Conversation, str], dict[str, Any]]
    stream: Callable[[Decision, Conversation, str, dict[str, Any]], list[shapes.Event]]
    ends_with_done: bool  # OpenAI Chat Completions' "data: [DONE]"


_APIS = {
    "chat": _Api(
        shapes.read_chat,
        shapes.write_chat,
        lambda d, c, m, body: shapes.stream_chat(
            d, c, m, bool((body.get("stream_options") or {}).get("include_usage"))
        ),
        ends_with_done=True,
    ),
    "responses": _Api(
        shapes.read_responses,
        shapes.write_responses,
        lambda d, c, m, body: shapes.stream_responses(d, c, m),
        ends_with_done=False,
    ),
    "messages": _Api(
        shapes.read_messages,
        shapes.write_messages,
        lambda d, c, m, body: shapes.stream_messages(d, c, m),
        ends_with_done=False,
    ),
    "gemini": _Api(
        shapes.read_gemini,
        shapes.write_gemini,
        lambda d, c, m, body: shapes.stream_gemini(d, c, m),
        ends_with_done=False,
    ),
}
GEMINI_METHODS = {"generateContent": False, "streamGenerateContent": True}


_RATE_LIMITED = "rate limit reached (the scripted model's CANARY_MODEL_FLAKE)"
_RATE_LIMIT_BODIES: dict[str, dict[str, Any]] = {
    "chat": {"error": {"message": _RATE_LIMITED, "type": "requests",
                       "code": "rate_limit_exceeded"}},
    "messages": {"type": "error", "error": {"type": "rate_limit_error",
                                            "message": _RATE_LIMITED}},
    "gemini": {"error": {"code": 429, "message": _RATE_LIMITED, "status": "RESOURCE_EXHAUSTED"}},
}  # fmt: skip
_RATE_LIMIT_BODIES["responses"] = _RATE_LIMIT_BODIES["chat"]
# Clients retry a 429 after this (their own backoff is seconds): a flaked turn ends soon.
_RETRY_AFTER = {"retry-after-ms": "50", "retry-after": "1"}
# A stalled request is let go (504) at the latest after this, or when the server stops.
STALL_CAP_S = 600.0
_STALL_POLL_S = 0.1


@dataclass(frozen=True)
class Turns:
    """Which turn a request belongs to, for ``CANARY_MODEL_FLAKE``.

    Attributes:
        template: The cell's name.
        in_flight: The turns in flight (conversation key, place in it).
    """

    template: str
    in_flight: Callable[[], list[tuple[str, int]]]


class _Routes:
    def __init__(
        self,
        recorder: Recorder | None,
        unserved: UnservedRecorder | None,
        slow: SlowRequests,
        flake: Flake | None = None,
        turns: Turns | None = None,
    ) -> None:
        self.recorder = recorder
        self.on_unserved = unserved
        self.slow = slow
        self.flake = flake if turns is not None else None
        self.turns = turns
        self.stopping = False

    def _fate(self) -> str | None:
        if self.flake is None or self.turns is None:
            return None
        flying = self.turns.in_flight()
        if not flying:  # between turns (a runtime's own start-up call): it behaves
            return None
        conversation, turn = flying[0]
        return self.flake.fate(self.turns.template, conversation, turn)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/messages", self.messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
                Route("/{version}/models/{call}", self.gemini, methods=_ANY_METHOD),
                Route("/{path:path}", self.unserved, methods=_ANY_METHOD),
            ]
        )

    def _record(
        self,
        api: str,
        stream: bool,
        conversation: Conversation,
        decision: Decision | None,
        *,
        status: int = 200,
        stalled: bool = False,
    ) -> None:
        if self.recorder is None:
            return
        called = ToolCall(decision.tool, decision.arguments) if decision and decision.tool else None
        self.recorder(
            ModelCall(
                api=api, stream=stream,
                messages=tuple(ModelMessage(m.role, m.text) for m in conversation.messages),
                tools=tuple(t.name for t in conversation.tools),
                answer=decision.text if decision else None, tool_call=called, status=status,
                stalled=stalled,
            )
        )  # fmt: skip

    async def _stall(self, request: Request) -> Response:
        """Send nothing until the client gives up (or the server stops, or the cap)."""
        deadline = time.monotonic() + STALL_CAP_S
        while not self.stopping and time.monotonic() < deadline:
            if await request.is_disconnected():
                break
            await asyncio.sleep(_STALL_POLL_S)
        message = "timed out before the first token (the scripted model's CANARY_MODEL_FLAKE)"
        return JSONResponse({"error": {"message": message, "type": "timeout"}}, 504)

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        return body if isinstance(body, dict) else {}

    async def models(self, request: Request) -> Response:
        model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "canary-matrix"}
        return JSONResponse({"object": "list", "data": [model]})

    async def chat(self, request: Request) -> Response:
        return await self._answer(request, "chat")

    async def responses(self, request: Request) -> Response:
        return await self._answer(request, "responses")

    async def messages(self, request: Request) -> Response:
        return await self._answer(request, "messages")

    async def gemini(self, request: Request) -> Response:
        model, _, method = str(request.path_params["call"]).partition(":")
        version = request.path_params["version"]
        if (
            request.method != "POST"
            or version not in ("v1", "v1beta")
            or method not in GEMINI_METHODS
        ):
            return await self.unserved(request)
        return await self._answer(request, "gemini", model=model, stream=GEMINI_METHODS[method])

    async def _answer(
        self, request: Request, api: str, *, model: str | None = None, stream: bool | None = None
    ) -> Response:
        """Read the request in its API's shape, decide, answer in the same shape."""
        body = await self._body(request)
        shape = _APIS[api]
        conversation = shape.read(body)
        streamed = bool(body.get("stream")) if stream is None else stream
        fate = self._fate()
        if fate == RATE_LIMIT:
            self._record(api, streamed, conversation, None, status=429)
            return JSONResponse(_RATE_LIMIT_BODIES[api], 429, headers=_RETRY_AFTER)
        if fate == STALL:
            self._record(api, streamed, conversation, None, status=504, stalled=True)
            return await self._stall(request)
        if fate == NO_MEMORY_TOOL:
            conversation = without_memory_tools(conversation)
        decision = decide(conversation)
        self._record(api, streamed, conversation, decision)
        if decision.think_s:
            await self.slow.think(decision.think_s)  # on record first: the request has started
        model = model or str(body.get("model") or MODEL_ID)
        if streamed:
            events = shape.stream(decision, conversation, model, body)
            done = shape.ends_with_done
            return StreamingResponse(_sse(events, done=done), media_type="text/event-stream")
        return JSONResponse(shape.write(decision, conversation, model))

    async def count_tokens(self, request: Request) -> Response:
        return JSONResponse(shapes.count_tokens(await self._body(request)))

    async def unserved(self, request: Request) -> Response:
        """404, and on the record: a runtime that needed this route failed for want of it."""
        if self.on_unserved is not None:
            self.on_unserved(ModelUnserved(method=request.method, path=request.url.path))
        return JSONResponse({"error": {"message": "not served by the scripted model"}}, 404)


class ModelServer(ThreadedServer):
    """The scripted model for one run, serving on a free port in a thread.

    Args:
        host: The address to bind: 127.0.0.1, or a container network's gateway.
        recorder: Receives every model request with the oracle's answer.
        unserved: Receives every request to a route the simulator does not serve
            (a framework probing for Ollama or vLLM routes, or needing embeddings).
        flake: ``CANARY_MODEL_FLAKE``'s setting, if it is on.
        turns: Which turn each request belongs to (what ``flake`` decides by).

    Attributes:
        slow: The slow requests it got, and the hold on their answers (``stream_cancel``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        recorder: Recorder | None = None,
        unserved: UnservedRecorder | None = None,
        flake: Flake | None = None,
        turns: Turns | None = None,
    ) -> None:
        self.slow = SlowRequests()
        self._routes = _Routes(recorder, unserved, self.slow, flake, turns)
        super().__init__(self._routes.app(), host, "model simulator")

    def stop(self) -> None:
        """Let stalled requests go, then stop serving."""
        self._routes.stopping = True
        super().stop()
