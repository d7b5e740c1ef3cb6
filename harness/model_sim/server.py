"""The scripted model endpoint, served per run on starlette + uvicorn like the platform.

It speaks OpenAI Chat Completions (``/v1/chat/completions``), OpenAI Responses
(``/v1/responses``), Anthropic Messages (``/v1/messages``, ``count_tokens``) and
Google Gemini (``/v1beta/models/{model}:generateContent`` and
``:streamGenerateContent``), JSON and SSE, and ``/v1/models``. Every request and what
the oracle answered go to a recorder (the template's transcript), so a diagnostic can say which turn
reached the model with what history.
"""

from __future__ import annotations

import json
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
from harness.model_sim.oracle import Conversation, Decision, decide
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


class _Routes:
    def __init__(
        self, recorder: Recorder | None, unserved: UnservedRecorder | None, slow: SlowRequests
    ) -> None:
        self.recorder = recorder
        self.on_unserved = unserved
        self.slow = slow

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
        self, api: str, stream: bool, conversation: Conversation, decision: Decision
    ) -> None:
        if self.recorder is None:
            return
        called = ToolCall(decision.tool, decision.arguments) if decision.tool else None
        self.recorder(
            ModelCall(
                api=api, stream=stream,
                messages=tuple(ModelMessage(m.role, m.text) for m in conversation.messages),
                tools=tuple(t.name for t in conversation.tools), answer=decision.text,
                tool_call=called,
            )
        )  # fmt: skip

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
        decision = decide(conversation)
        streamed = bool(body.get("stream")) if stream is None else stream
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

    Attributes:
        slow: The slow requests it got, and the hold on their answers (``stream_cancel``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        recorder: Recorder | None = None,
        unserved: UnservedRecorder | None = None,
    ) -> None:
        self.slow = SlowRequests()
        super().__init__(_Routes(recorder, unserved, self.slow).app(), host, "model simulator")
