"""The reference runtime's wiring: a2a-sdk server, session store, platform calls.

Environment (DESIGN §3): ``PORT``, ``WORKSPACE_ID``, ``PLATFORM_URL``, plus
``WORKSPACE_DIR`` (default ``/workspace``), ``HOST`` (default 127.0.0.1),
``REFERENCE_FAULTS`` (comma-separated fault switches, see ``faults``) and
``REFERENCE_LATENCY`` (seconds of simulated model time per turn, default 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from a2a.helpers.proto_helpers import new_task, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    TaskState,
)
from starlette.applications import Starlette

from templates.reference.agent import Attachment, Skill, respond, session_from_history
from templates.reference.faults import STREAMING, Faults, WireFaults, leaked

WORKSPACE_URI_PREFIX = "workspace:"
HEARTBEAT_INTERVAL_S = 15.0
HANG_S = 86_400.0
CRASH_AFTER_TURNS = 2
GLOBAL_SESSION_THINK_S = 0.3
STREAM_WORK_S = 0.3
SLOW_TASK_S = 8.0
SLOW_RE = re.compile(r"\btake your time\b", re.IGNORECASE)
NAME_TURN_RE = re.compile(r"\bmy name\b", re.IGNORECASE)
log = logging.getLogger("reference")


@dataclass(frozen=True)
class Settings:
    """The runtime's configuration, read once from the environment."""

    host: str
    port: int
    workspace_id: str
    workspace: Path
    configs: Path
    platform_url: str | None
    faults: Faults
    latency_s: float = 0.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            host=os.environ.get("HOST", "127.0.0.1"),
            port=int(os.environ.get("PORT", "8000")),
            workspace_id=os.environ.get("WORKSPACE_ID", "local"),
            workspace=Path(os.environ.get("WORKSPACE_DIR", "/workspace")).resolve(),
            configs=Path(os.environ.get("CONFIGS_DIR", "/configs")).resolve(),
            platform_url=os.environ.get("PLATFORM_URL") or None,
            faults=Faults.parse(os.environ.get("REFERENCE_FAULTS", "")),
            latency_s=_latency(os.environ.get("REFERENCE_LATENCY", "")),
        )


def _latency(value: str) -> float:
    try:
        seconds = float(value or 0)
    except ValueError:
        raise SystemExit(f"REFERENCE_LATENCY: expected seconds, got {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise SystemExit(f"REFERENCE_LATENCY: expected 0 to 3600 seconds, got {value!r}")
    return seconds


class SessionStore:
    """Conversations persisted as JSON files under ``<workspace>/.sessions/``.

    An entry's key is ``{workspace_id}:{context_id}`` (declared in the template's
    ``probe``); the file name is a digest of it and the file holds the key itself.
    """

    def __init__(self, workspace: Path) -> None:
        self.root = workspace / ".sessions"
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _path(self, key: str) -> Path:
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def load(self, key: str) -> dict[str, Any]:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        state: dict[str, Any] = entry.get("state", {})
        return state

    def save(self, key: str, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"key": key, "state": state}), encoding="utf-8")
        temporary.replace(path)


class PlatformMemory:
    """Memories through the platform API, with the token registration gave."""

    def __init__(self, settings: Settings, token: str | None) -> None:
        self._settings = settings
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _url(self) -> str:
        return f"{self._settings.platform_url}/workspaces/{self._settings.workspace_id}/memories"

    def commit(self, content: str) -> None:
        if not self._settings.platform_url:
            return
        response = httpx.post(
            self._url(),
            json={"content": content, "scope": "LOCAL"},
            headers=self._headers,
            timeout=10,
        )
        response.raise_for_status()

    def search(self, query: str) -> list[str]:
        if not self._settings.platform_url:
            return []
        response = httpx.get(self._url(), params={"q": query}, headers=self._headers, timeout=10)
        response.raise_for_status()
        # The platform answers with the list itself (DESIGN §3).
        return [m["content"] for m in response.json() if isinstance(m, dict)]


class PlatformPeers:
    """Delegation through the platform: the peers it lists, their A2A through its proxy."""

    def __init__(self, settings: Settings, token: str | None) -> None:
        self._settings = settings
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def ask(self, text: str) -> str | None:
        if not self._settings.platform_url:
            return None
        listed = httpx.get(
            f"{self._settings.platform_url}/registry/{self._settings.workspace_id}/peers",
            headers=self._headers, timeout=10,
        )  # fmt: skip
        listed.raise_for_status()
        peers = [p for p in listed.json() if isinstance(p, dict) and p.get("id")]
        if not peers:
            return None
        # As the platform's own runtime delegates: discover the peer's URL, then call it.
        found = httpx.get(
            f"{self._settings.platform_url}/registry/discover/{peers[0]['id']}",
            headers={**self._headers, "X-Workspace-ID": self._settings.workspace_id}, timeout=10,
        )  # fmt: skip
        found.raise_for_status()
        request = {
            "jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": "message/send",
            "params": {"message": {
                "role": "user", "kind": "message", "messageId": str(uuid.uuid4()),
                "contextId": f"delegation-{uuid.uuid4().hex[:12]}",
                "parts": [{"kind": "text", "text": text}],
            }},
        }  # fmt: skip
        answer = httpx.post(found.json()["url"], json=request, headers=self._headers, timeout=60)
        answer.raise_for_status()
        return _reply_text(answer.json().get("result")) or "(the peer gave no text)"


def _reply_text(result: Any) -> str:
    """The text of a JSON-RPC result, whether a Message or a Task."""
    if not isinstance(result, dict):
        return ""
    artifacts = result.get("artifacts") or []
    holders = [result, *artifacts, (result.get("status") or {}).get("message")]
    texts = [
        part["text"]
        for holder in holders if isinstance(holder, dict)
        for part in holder.get("parts") or [] if isinstance(part, dict) and part.get("text")
    ]  # fmt: skip
    return " ".join(texts)


class Registration:
    """Registers with the platform and keeps the heartbeat going."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token: str | None = None

    async def register(self) -> None:
        if not self.settings.platform_url:
            return
        payload = {
            "id": self.settings.workspace_id,
            "url": f"http://{self.settings.host}:{self.settings.port}",
            "agent_card": {"name": "canary-matrix reference runtime"},
        }
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(
                    f"{self.settings.platform_url}/registry/register", json=payload
                )
                response.raise_for_status()
                self.token = response.json().get("auth_token")
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("registration failed, continuing unregistered: %s", exc)

    async def heartbeat_forever(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                await asyncio.sleep(HEARTBEAT_INTERVAL_S)
                # The body production runtimes send.
                beat = {
                    "workspace_id": self.settings.workspace_id,
                    "error_rate": 0.0,
                    "sample_error": "",
                    "active_tasks": 0,
                    "current_task": "",
                    "uptime_seconds": round(time.monotonic() - started),
                }
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(
                        f"{self.settings.platform_url}/registry/heartbeat",
                        json=beat,
                        headers=headers,
                    )


def read_attachment(settings: Settings, name: str, uri: str) -> Attachment:
    """Read a ``workspace:`` file, refusing anything outside the workspace."""
    if not uri.startswith(WORKSPACE_URI_PREFIX):
        return Attachment(name, None, f"unsupported URI {uri!r} (expected workspace:<path>)")
    path = Path(uri[len(WORKSPACE_URI_PREFIX) :]).resolve()
    if not path.is_relative_to(settings.workspace):
        return Attachment(name, None, "the path is outside my workspace")
    try:
        return Attachment(name, path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return Attachment(name, None, exc.strerror or str(exc))


def load_skills(settings: Settings) -> list[Skill]:
    """The skills provisioned as the platform does: ``skills/*/SKILL.md`` in the workspace and
    in the configs directory."""
    found = []
    for root in (settings.workspace / "skills", settings.configs / "skills"):
        for path in sorted(root.glob("*/SKILL.md")):
            text = path.read_text(encoding="utf-8", errors="replace")
            front = dict(re.findall(r"^(\w+):\s*(.+)$", text.split("---")[1], re.MULTILINE)
                         if text.startswith("---") else [])  # fmt: skip
            found.append(Skill(front.get("name", path.parent.name),
                               front.get("description", ""), text))  # fmt: skip
    return found


def read_allowed(settings: Settings, path: str) -> str | None:
    """A file's text when it is in the workspace or the configs directory."""
    resolved = Path(path).resolve()
    if not any(resolved.is_relative_to(root) for root in (settings.workspace, settings.configs)):
        return None
    try:
        return resolved.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _history(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The earlier turns a request carries in ``params.metadata.history`` (April 2026 chat)."""
    history = metadata.get("history") if isinstance(metadata, dict) else None
    return [turn for turn in history if isinstance(turn, dict)] if isinstance(history, list) else []


class ReferenceExecutor(AgentExecutor):
    """Turns an A2A message into one agent reply."""

    def __init__(self, settings: Settings, registration: Registration) -> None:
        self.settings = settings
        self.registration = registration
        self.sessions = SessionStore(settings.workspace)
        self.turns = 0
        self.current_context: str | None = None
        self.wedged = False

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        context_id = context.context_id or ""
        texts: list[str] = []
        attachments: list[Attachment] = []
        for part in message.parts if message else []:
            content = part.WhichOneof("content")
            if content == "text":
                texts.append(part.text)
            elif content == "url":
                attachments.append(
                    read_attachment(self.settings, part.filename or part.url, part.url)
                )
            elif content == "raw":
                attachments.append(
                    Attachment(part.filename or "file", part.raw.decode("utf-8", "replace"))
                )
        faults = self.settings.faults
        text = "\n".join(texts)
        self.turns += 1
        if self.wedged:
            log.info("wedge_after_cancel: not answering context=%s", context_id)
            await asyncio.sleep(HANG_S)
        if STREAMING.get():
            await self._streamed(context, event_queue, text, attachments)
            return
        if "crash_mid_run" in faults and self.turns > CRASH_AFTER_TURNS:
            # Dies as the next turn arrives, so that turn (at least) is never answered.
            print(f"crash_mid_run: exiting at turn {self.turns}", flush=True)
            os._exit(4)
        if faults.hangs(text, bool(attachments)):
            log.info("hang_turn: not answering context=%s", context_id)
            await asyncio.sleep(HANG_S)
        delay = self.settings.latency_s + faults.seconds("slow_turn")
        if delay:
            await asyncio.sleep(delay)  # a model thinking, without the CPU
        session_context = context_id
        if "global_session" in faults and NAME_TURN_RE.search(text):
            # One "current conversation" per process: the turn that started last owns it.
            self.current_context = context_id
            await asyncio.sleep(GLOBAL_SESSION_THINK_S)
            session_context = self.current_context or context_id
        earlier = [] if "no_history" in faults else _history(context.metadata)
        reply = await asyncio.to_thread(self._turn, session_context, text, attachments, earlier)
        if "leak_env" in faults:
            reply += leaked(os.environ)
        log.info("turn context=%s text_parts=%d files=%d", context_id, len(texts), len(attachments))
        await event_queue.enqueue_event(new_text_message(reply, context_id=context_id))

    async def _streamed(
        self, context: RequestContext, event_queue: EventQueue, text: str, files: list[Attachment]
    ) -> None:
        """A streamed turn is a task: submitted, working, its answer as an artifact, completed."""
        task_id, context_id = context.task_id or "", context.context_id or ""
        history = [context.message] if context.message else []
        await event_queue.enqueue_event(
            new_task(task_id, context_id, TaskState.TASK_STATE_SUBMITTED, history=history)
        )
        updater = TaskUpdater(event_queue, task_id, context_id)
        await updater.start_work()
        await asyncio.sleep(STREAM_WORK_S)  # work in progress: a client may leave meanwhile
        if "cancel_on_disconnect" in self.settings.faults:
            await updater.cancel()  # the bug: a closed stream taken for a cancel
            return
        if SLOW_RE.search(text):
            await asyncio.sleep(SLOW_TASK_S)  # long enough to be cancelled
        reply = await asyncio.to_thread(self._turn, context.context_id or "", text, files)
        await updater.add_artifact([new_text_part(reply)])
        await updater.complete()

    def _turn(
        self,
        context_id: str,
        text: str,
        attachments: list[Attachment],
        history: list[dict[str, Any]] | None = None,
    ) -> str:
        faults = self.settings.faults
        shared = "shared_sessions" in faults  # keyed by workspace: every context is one session
        key = self.settings.workspace_id if shared else f"{self.settings.workspace_id}:{context_id}"
        memory = PlatformMemory(self.settings, self.registration.token)
        with self.sessions.lock(key):
            session = {} if "forget_context" in faults else self.sessions.load(key)
            # Without a contextId each message is a new context: the history is the session.
            session = {**session_from_history(history or []), **session}
            skills = load_skills(self.settings)
            try:
                reply = respond(
                    text, attachments, session, memory, faults.names, skills=skills,
                    read=lambda path: read_allowed(self.settings, path),
                    peer=PlatformPeers(self.settings, self.registration.token),
                )  # fmt: skip
            except httpx.HTTPError as exc:
                reply = f"A platform call failed: {exc}"
            self.sessions.save(key, session)
        return reply

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Cancel a task in progress (the request handler stops its execution)."""
        if "wedge_after_cancel" in self.settings.faults:
            self.wedged = True
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel()


def agent_card(settings: Settings) -> AgentCard:
    """The card served at ``/.well-known/agent-card.json``."""
    return AgentCard(
        name="canary-matrix reference runtime",
        description="Deterministic rule-based runtime implementing the canary-matrix contract",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(
                url=f"http://{settings.host}:{settings.port}/",
                protocol_binding="JSONRPC",
                protocol_version=version,
            )
            # The platform speaks 0.3; a2a-sdk 1.x serves 1.0 on the same route.
            for version in (("1.0",) if "only_1_0" in settings.faults else ("0.3", "1.0"))
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(
                id="conversation",
                name="Conversation",
                description="Remembers names, reads attached files, stores memories",
                tags=["canary"],
            )
        ],
    )


def build_app(settings: Settings) -> Starlette:
    """The ASGI app: agent card, JSON-RPC (0.3 wire shape and 1.0), registration on startup."""
    registration = Registration(settings)
    card = agent_card(settings)
    handler = DefaultRequestHandler(
        agent_executor=ReferenceExecutor(settings, registration),
        task_store=InMemoryTaskStore(),
        agent_card=card,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await registration.register()
        heartbeat = (
            asyncio.create_task(registration.heartbeat_forever()) if registration.token else None
        )
        log.info(
            "reference runtime ready on %s:%d (faults: %s)",
            settings.host,
            settings.port,
            ",".join(sorted(settings.faults.names)) or "none",
        )
        yield
        if heartbeat:
            heartbeat.cancel()

    compat = "only_1_0" not in settings.faults
    routes = create_jsonrpc_routes(handler, "/", enable_v0_3_compat=compat)
    if "no_card" not in settings.faults:
        routes = create_agent_card_routes(card) + routes
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    """Serve until stopped."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(name)s %(message)s"
    )
    settings = Settings.from_env()
    faults = settings.faults
    if "leak_env" in faults:
        print(f"environment: {dict(os.environ)}", flush=True)
    if "crash_on_boot" in faults:
        print("ReferenceBootError: crash_on_boot: refusing to start", flush=True)
        sys.exit(3)
    if faults.seconds("slow_boot"):
        log.info("slow_boot: starting in %gs", faults.seconds("slow_boot"))
        time.sleep(faults.seconds("slow_boot"))
    settings.workspace.mkdir(parents=True, exist_ok=True)
    app = WireFaults(build_app(settings), faults)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning",
        timeout_graceful_shutdown=1,  # a hung turn must not hold up stopping
    )  # fmt: skip
