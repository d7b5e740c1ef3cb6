"""The scripted model endpoint, served per run on starlette + uvicorn like the platform.

It speaks OpenAI Chat Completions (``/v1/chat/completions``), OpenAI Responses
(``/v1/responses``) and Anthropic Messages (``/v1/messages``, ``count_tokens``),
JSON and SSE, and ``/v1/models``. Every request and what the oracle answered go
to a recorder (the template's transcript), so a diagnostic can say which turn
reached the model with what history.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.model_sim import shapes
from harness.model_sim.oracle import Conversation, Decision, decide

MODEL_ID = "canary-sim"
START_TIMEOUT_S = 10.0

Recorder = Callable[[dict[str, Any]], None]


def _sse(events: list[shapes.Event], done: bool) -> AsyncIterator[bytes]:
    async def stream() -> AsyncIterator[bytes]:
        for name, data in events:
            prefix = f"event: {name}\n" if name else ""
            yield f"{prefix}data: {json.dumps(data)}\n\n".encode()
        if done:
            yield b"data: [DONE]\n\n"

    return stream()


class _Routes:
    def __init__(self, recorder: Recorder | None) -> None:
        self.recorder = recorder

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/messages", self.messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
            ]
        )

    def _record(self, api: str, body: Any, conversation: Conversation, decision: Decision) -> None:
        if self.recorder is None:
            return
        self.recorder({
            "api": api,
            "stream": bool(isinstance(body, dict) and body.get("stream")),
            "messages": [{"role": m.role, "text": m.text} for m in conversation.messages],
            "tools": [t.name for t in conversation.tools],
            "answer": decision.text,
            "tool_call": {"name": decision.tool, "arguments": decision.arguments}
            if decision.tool else None,
        })  # fmt: skip

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
        body = await self._body(request)
        conversation = shapes.read_chat(body)
        decision = decide(conversation)
        self._record("chat", body, conversation, decision)
        model = str(body.get("model") or MODEL_ID)
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = shapes.stream_chat(decision, conversation, model, usage)
            return StreamingResponse(_sse(events, done=True), media_type="text/event-stream")
        return JSONResponse(shapes.write_chat(decision, conversation, model))

    async def responses(self, request: Request) -> Response:
        body = await self._body(request)
        conversation = shapes.read_responses(body)
        decision = decide(conversation)
        self._record("responses", body, conversation, decision)
        model = str(body.get("model") or MODEL_ID)
        if body.get("stream"):
            events = shapes.stream_responses(decision, conversation, model)
            return StreamingResponse(_sse(events, done=False), media_type="text/event-stream")
        return JSONResponse(shapes.write_responses(decision, conversation, model))

    async def messages(self, request: Request) -> Response:
        body = await self._body(request)
        conversation = shapes.read_messages(body)
        decision = decide(conversation)
        self._record("messages", body, conversation, decision)
        model = str(body.get("model") or MODEL_ID)
        if body.get("stream"):
            events = shapes.stream_messages(decision, conversation, model)
            return StreamingResponse(_sse(events, done=False), media_type="text/event-stream")
        return JSONResponse(shapes.write_messages(decision, conversation, model))

    async def count_tokens(self, request: Request) -> Response:
        return JSONResponse(shapes.count_tokens(await self._body(request)))


class ModelServer:
    """The scripted model for one run, serving on a free port in a thread.

    Args:
        host: The address to bind: 127.0.0.1, or a container network's gateway.
        recorder: Receives every model request with the oracle's answer.
    """

    def __init__(self, host: str = "127.0.0.1", recorder: Recorder | None = None) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        config = uvicorn.Config(
            _Routes(recorder).app(), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="model-sim",
            daemon=True,
        )  # fmt: skip

    @property
    def host(self) -> str:
        """The bound address."""
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL as the harness reaches it (without ``/v1``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ModelServer:
        """Start serving; returns once connections are accepted."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the model simulator did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
