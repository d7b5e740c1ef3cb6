"""The A2A side every framework template shares: a2a-sdk server, registration, attachments.

The framework lives in ``adapter.py`` (the template's own file), which provides
``NAME``, ``DESCRIPTION``, ``build()`` (called once at start) and
``async answer(state, context_id, text) -> str`` (one turn in one context); an adapter
with ``TEXT_PARTS_ONLY`` true gets no file parts (a production mistake it switches on), one
with ``ATTACHMENTS_AS_PATHS`` true gets their paths for its own file tool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import adapter
import httpx
import platform_api
import uvicorn
from a2a.helpers.proto_helpers import new_task, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, TaskState
from starlette.applications import Starlette

WORKSPACE = Path(os.environ.get("WORKSPACE_DIR", "/workspace")).resolve()


def attachment(name: str, uri: str) -> str:
    """A file part as the prompt sees it: its name and text (workspace files only), or its
    name and path for an agent that reads files with its own tool (``ATTACHMENTS_AS_PATHS``)."""
    path = Path(uri.removeprefix("workspace:")).resolve()
    if not uri.startswith("workspace:") or not path.is_relative_to(WORKSPACE):
        return f"[attachment {name}: refused, outside the workspace]"
    if getattr(adapter, "ATTACHMENTS_AS_PATHS", False):
        return f"Attached file: {name} at {path} (read it with your file tool)"
    try:
        return f"[attachment {name}]\n{path.read_text(encoding='utf-8', errors='replace')}"
    except OSError as exc:
        return f"[attachment {name}: unreadable ({exc.strerror})]"


class Executor(AgentExecutor):
    def __init__(self) -> None:
        self.state = adapter.build()

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        parts = []
        for part in context.message.parts if context.message else []:
            kind = part.WhichOneof("content")
            if kind == "text":
                parts.append(part.text)
            elif kind == "url" and not getattr(adapter, "TEXT_PARTS_ONLY", False):
                parts.append(attachment(part.filename or part.url, part.url))
        prompt = "\n\n".join(parts) or "(no text)"
        # Each turn is a task (submitted, working, its answer as an artifact, completed), so
        # a stream shows its lifecycle and a client can cancel it or ask after it.
        task_id, context_id = context.task_id or "", context.context_id or ""
        history = [context.message] if context.message else []
        await event_queue.enqueue_event(
            new_task(task_id, context_id, TaskState.TASK_STATE_SUBMITTED, history=history)
        )
        updater = TaskUpdater(event_queue, task_id, context_id)
        await updater.start_work()
        reply = await adapter.answer(self.state, context_id, prompt)
        await updater.add_artifact([new_text_part(reply)])
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Mark the task canceled; the request handler then cancels its execution (an
        adapter that runs its framework in a thread cannot stop the thread itself)."""
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel()


async def register(host: str, port: int) -> None:
    if not platform_api.PLATFORM_URL:
        return
    body = {"id": platform_api.WORKSPACE_ID, "url": f"http://{host}:{port}",
            "agent_card": {"name": adapter.NAME}}  # fmt: skip
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                f"{platform_api.PLATFORM_URL}/registry/register", json=body
            )
            platform_api.TOKEN["value"] = response.json()["auth_token"]


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000"))
    card = AgentCard(
        name=adapter.NAME, description=adapter.DESCRIPTION, version="1.0.0",
        supported_interfaces=[AgentInterface(url=f"http://{host}:{port}/",
                                             protocol_binding="JSONRPC", protocol_version="0.3")],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"], default_output_modes=["text/plain"],
        skills=[AgentSkill(id="conversation", name="Conversation", description=adapter.DESCRIPTION,
                           tags=["chat"])],
    )  # fmt: skip
    handler = DefaultRequestHandler(
        agent_executor=Executor(), task_store=InMemoryTaskStore(), agent_card=card
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await register(host, port)
        yield

    routes = create_agent_card_routes(card) + create_jsonrpc_routes(
        handler, "/", enable_v0_3_compat=True
    )
    app = Starlette(routes=routes, lifespan=lifespan)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
