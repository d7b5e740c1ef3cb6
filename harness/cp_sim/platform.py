"""The platform API a runtime calls back, in production's shapes (DESIGN §3).

One :class:`PlatformServer` serves one runtime under test (one workspace id) on
starlette + uvicorn, in a thread of the harness. It hands every call to a
recorder (the template's transcript), so the layer diagnostics can say which
step a runtime skipped. It serves the platform's API and nothing else: a path it
does not serve answers 404 and is listed as unserved, so a divergence from
production is visible, never silent; no path grants a runtime a harness action.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.cp_sim.serving import ThreadedServer
from harness.events import PlatformCall

RECENT_LIMIT = 10
SCOPES = ("LOCAL", "TEAM", "GLOBAL")
_WORD_RE = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    ["the", "and", "for", "are", "was", "what", "who", "how", "why", "your", "our", "you",
     "its", "his", "her"]
)  # fmt: skip

Recorder = Callable[[PlatformCall], None]
"""Receives each platform call as it is answered (tokens never included)."""


@dataclass
class Memory:
    """One stored memory, as the platform lists it."""

    id: str
    content: str
    scope: str
    namespace: str
    created_at: str


def search_memories(memories: list[Memory], query: str, scope: str | None) -> list[Memory]:
    """Rank memories for a query: whole-phrase matches first, then shared words.

    An empty query returns the most recent memories, as the platform does.

    Args:
        memories: Candidates, oldest first.
        query: What the runtime searched for.
        scope: Only memories of this scope (case-insensitive), when given.

    Returns:
        Matching memories, best first, newest first among equals.
    """
    pool = [m for m in memories if not scope or m.scope.lower() == scope.lower()]
    if not query.strip():
        return list(reversed(pool))[:RECENT_LIMIT]
    phrase = query.strip().lower()
    words = {w for w in _WORD_RE.findall(phrase) if len(w) > 2 and w not in _STOPWORDS}
    scored = []
    for index, memory in enumerate(pool):
        content = memory.content.lower()
        content_words = set(_WORD_RE.findall(content))
        shared = sum(1 for w in words if any(_same_word(w, c) for c in content_words))
        score = (100 if phrase in content else 0) + shared
        if score:
            scored.append((score, index, memory))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    return [memory for _, _, memory in scored]


def _same_word(query_word: str, content_word: str) -> bool:
    # Tolerates plurals and inflections ("colours" ~ "colour") without a stemmer.
    if query_word == content_word:
        return True
    shorter, longer = sorted((query_word, content_word), key=len)
    return len(shorter) >= 4 and longer.startswith(shorter)


class _Refused(Exception):
    """A request the platform answers with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _require(body: Any, key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    if not isinstance(body, dict):
        raise _Refused(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
    if key not in body or body[key] is None:
        if optional:
            return None
        raise _Refused(HTTPStatus.BAD_REQUEST, f"missing {key!r}")
    value = body[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise _Refused(HTTPStatus.BAD_REQUEST, f"{key!r} has the wrong type")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


@dataclass(frozen=True)
class Peer:
    """Another workspace this one may delegate to, as the platform lists it.

    Attributes:
        workspace_id: Its workspace.
        name: What its agent card calls it.
        a2a_url: Where the platform (here: the harness) reaches its JSON-RPC endpoint.
        card: Its agent card.
        turn_timeout: How long a turn of it may take (the proxy's and the harness's wait).
    """

    workspace_id: str
    name: str
    a2a_url: str
    card: dict[str, Any]
    turn_timeout: float = 120.0


class PlatformState:
    """The platform's memory of one workspace, shared by the server and the harness."""

    def __init__(self, workspace_id: str, recorder: Recorder | None = None) -> None:
        self.workspace_id = workspace_id
        self.peers: dict[str, Peer] = {}
        """Workspaces listed under ``/registry/{id}/peers``; their ``/a2a`` is proxied."""
        self.platform_url = ""
        """This server's URL as the runtime reaches it (the peers' URLs are under it)."""
        self.auth_token: str | None = None
        self.memories: list[Memory] = []
        self.sample: Callable[[], int] = lambda: 1
        """The sample being driven (``--repeat``): a search finds only the memories written
        during it, as if each sample had a workspace of its own."""
        self._written_in: dict[str, int] = {}
        self.calls: list[PlatformCall] = []
        self.recorder = recorder
        self.lock = threading.Lock()

    def record(self, call: PlatformCall) -> None:
        """Number a call, append it to the record and hand it to the recorder."""
        with self.lock:
            call = replace(call, seq=len(self.calls) + 1)
            self.calls.append(call)
        if self.recorder is not None:
            self.recorder(call)

    def registered(self) -> bool:
        """Whether the runtime has registered (its calls then need the token)."""
        return self.auth_token is not None

    def unserved(self) -> list[str]:
        """``METHOD /path`` of every call the simulator does not serve, the id generalized."""
        with self.lock:
            seen = [f"{c.method} {c.path}" for c in self.calls if not c.served]
        named = [s.replace(self.workspace_id, "{workspace_id}") for s in seen]
        return sorted(set(named))

    # --- the platform's handlers: (body, query) → (status, payload) ------------

    def register(self, body: Any) -> tuple[int, Any]:
        claimed = _require(body, "id", str)
        _require(body, "url", str)
        _require(body, "agent_card", dict)
        _require(body, "configuration_status", (str, dict), optional=True)
        _require(body, "delivery_mode", str, optional=True)
        self._same_workspace(claimed)
        with self.lock:
            if self.auth_token is None:
                self.auth_token = secrets.token_urlsafe(24)
            token = self.auth_token
        return HTTPStatus.OK, {"auth_token": token}

    def heartbeat(self, body: Any) -> tuple[int, Any]:
        self._same_workspace(_require(body, "workspace_id", str))
        _require(body, "error_rate", (int, float), optional=True)
        _require(body, "sample_error", str, optional=True)
        _require(body, "active_tasks", int, optional=True)
        _require(body, "current_task", str, optional=True)
        _require(body, "uptime_seconds", (int, float), optional=True)
        return HTTPStatus.OK, {"status": "ok"}

    def remember(self, body: Any) -> tuple[int, Any]:
        content = _require(body, "content", str)
        if not content.strip():
            raise _Refused(HTTPStatus.BAD_REQUEST, "'content' is empty")
        scope = _require(body, "scope", str, optional=True) or "LOCAL"
        if scope not in SCOPES:
            raise _Refused(HTTPStatus.BAD_REQUEST, f"'scope' must be one of {', '.join(SCOPES)}")
        memory = Memory(
            id=str(uuid.uuid4()),
            content=content,
            scope=scope,
            namespace=f"workspace:{self.workspace_id}",
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        with self.lock:
            self.memories.append(memory)
            self._written_in[memory.id] = self.sample()
        return HTTPStatus.CREATED, {"id": memory.id, "scope": scope, "namespace": memory.namespace}

    def recall(self, query: dict[str, str]) -> tuple[int, Any]:
        scope = query.get("scope") or None
        if scope is not None and scope.upper() not in SCOPES:
            raise _Refused(HTTPStatus.BAD_REQUEST, f"'scope' must be one of {', '.join(SCOPES)}")
        sample = self.sample()
        with self.lock:
            pool = [m for m in self.memories if self._written_in.get(m.id, sample) == sample]
            found = search_memories(pool, query.get("q", ""), scope)
        # The platform's handler answers with the list itself (DESIGN §3).
        return HTTPStatus.OK, [asdict(m) for m in found]

    def peer_list(self) -> tuple[int, Any]:
        """The peers, as the platform lists them: each reached through the platform's proxy."""
        listed = [
            {"id": p.workspace_id, "name": p.name, "role": "peer", "status": "online",
             "agent_card": p.card, "url": self.peer_url(p)}
            for p in self.peers.values()
        ]  # fmt: skip
        return HTTPStatus.OK, listed

    def discover(self, target: str) -> tuple[int, Any]:
        """Where a peer is reached (``GET /registry/discover/{id}``), as production answers.

        Production hands out the peer's internal URL; this one is the platform's proxy to
        it, so the call the runtime then makes is in the transcript.
        """
        peer = self.peers.get(target)
        if peer is None:
            return HTTPStatus.NOT_FOUND, {"error": "workspace not found"}
        return HTTPStatus.OK, {"id": peer.workspace_id, "url": self.peer_url(peer),
                               "name": peer.name}  # fmt: skip

    def peer_url(self, peer: Peer) -> str:
        """The URL the runtime reaches ``peer`` at: the platform's proxy."""
        return f"{self.platform_url}/workspaces/{peer.workspace_id}/a2a"

    def _same_workspace(self, claimed: str) -> None:
        if claimed != self.workspace_id:
            raise _Refused(HTTPStatus.NOT_FOUND, f"unknown workspace {claimed!r}")


def proxy_target(method: str, path: str) -> str | None:
    """The workspace a call to the platform's A2A proxy (``POST /workspaces/{id}/a2a``) is
    for; None for any other call."""
    parts = path.strip("/").split("/")
    if method == "POST" and len(parts) == 3 and parts[0] == "workspaces" and parts[2] == "a2a":
        return parts[1]
    return None


def _is_discovery(path: str) -> bool:
    return path.strip("/").startswith("registry/discover/")


class _Routes:
    """The ASGI side: authorization, routing by path, recording."""

    def __init__(self, state: PlatformState) -> None:
        self.state = state

    def app(self) -> Starlette:
        # One catch-all route: every call, served or not, goes through the same recording.
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST",
                                      "PUT", "PATCH", "DELETE"])])  # fmt: skip

    def _auth(self, request: Request) -> str:
        if not self.state.registered():
            return "open"
        header = request.headers.get("authorization", "")
        if not header:
            return "missing"
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip(), self.state.auth_token or ""
        ):
            return "ok"
        return "invalid"

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        query = dict(request.query_params)
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"_unparsed": raw[:500].decode("utf-8", errors="replace")}
        auth = self._auth(request)
        handler = self._route(request.method, path)
        peer = self._proxied(request.method, path)
        status: int
        payload: Any
        if handler is None:
            status = HTTPStatus.NOT_FOUND
            payload = {"error": f"not served: {request.method} {path}"}
        elif peer is not None:
            # Stands for the peer's own URL, which production's discovery hands out and
            # runtimes call without the platform's token.
            status, payload = await self._forward(peer, raw)
        elif auth in ("missing", "invalid") and path != "/registry/register":
            status, payload = HTTPStatus.UNAUTHORIZED, {"error": f"authorization {auth}"}
        elif _is_discovery(path) and not request.headers.get("x-workspace-id"):
            status, payload = HTTPStatus.BAD_REQUEST, {"error": "X-Workspace-ID header is required"}
        else:
            try:
                status, payload = handler(body, query)
            except _Refused as refused:
                status, payload = refused.status, {"error": refused.message}
        # The record is evidence others read: the bearer token it hands out stays out of it.
        recorded = (
            {**payload, "auth_token": "<issued>"}
            if isinstance(payload, dict) and "auth_token" in payload
            else payload
        )
        self.state.record(
            PlatformCall(at=time.time(), method=request.method, path=path, query=query, body=body,
                         status=int(status), auth=auth, response=recorded,
                         served=handler is not None)
        )  # fmt: skip
        return JSONResponse(payload, status_code=int(status))

    def _proxied(self, method: str, path: str) -> Peer | None:
        """The peer a ``POST /workspaces/{peer}/a2a`` goes to, when it is one."""
        target = proxy_target(method, path)
        return None if target is None else self.state.peers.get(target)

    async def _forward(self, peer: Peer, body: bytes) -> tuple[int, Any]:
        """Hand the JSON-RPC body on to the peer as the platform does, the caller named."""
        headers = {"Content-Type": "application/json", "X-Workspace-ID": self.state.workspace_id}
        try:
            async with httpx.AsyncClient(timeout=peer.turn_timeout) as client:
                answer = await client.post(peer.a2a_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return HTTPStatus.BAD_GATEWAY, {"error": f"peer unreachable: {type(exc).__name__}"}
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return HTTPStatus.BAD_GATEWAY, {"error": "the peer's answer is not JSON"}

    def _route(
        self, method: str, path: str
    ) -> Callable[[Any, dict[str, str]], tuple[int, Any]] | None:
        state = self.state
        parts = path.strip("/").split("/")
        own = len(parts) >= 2 and parts[1] == state.workspace_id
        table: dict[tuple[str, str], Callable[[Any, dict[str, str]], tuple[int, Any]]] = {
            ("POST", "registry/register"): lambda body, query: state.register(body),
            ("POST", "registry/heartbeat"): lambda body, query: state.heartbeat(body),
        }
        if parts[:2] == ["registry", "discover"] and len(parts) == 3:
            return lambda body, query: state.discover(parts[2])
        if own:
            table.update({
                ("GET", f"registry/{state.workspace_id}/peers"): lambda b, q: state.peer_list(),
                ("GET", f"workspaces/{state.workspace_id}/delegations"):
                    lambda b, q: (HTTPStatus.OK, []),
                ("POST", f"workspaces/{state.workspace_id}/activity"):
                    lambda b, q: (HTTPStatus.OK, {"status": "ok"}),
                ("POST", f"workspaces/{state.workspace_id}/memories"):
                    lambda body, query: state.remember(body),
                ("GET", f"workspaces/{state.workspace_id}/memories"):
                    lambda body, query: state.recall(query),
            })  # fmt: skip
        elif len(parts) >= 2 and parts[0] in ("workspaces", "registry") and parts[1] not in (
            "register", "heartbeat"
        ):  # fmt: skip
            # Another workspace's resource: served by the platform, but not found there.
            return lambda body, query: (
                HTTPStatus.NOT_FOUND, {"error": f"unknown workspace {parts[1]!r}"}
            )  # fmt: skip
        return table.get((method, "/".join(parts)))


class PlatformServer(ThreadedServer):
    """The platform API for one workspace, serving on a free port in a thread.

    Args:
        workspace_id: The workspace the runtime under test belongs to.
        host: The address to bind: 127.0.0.1, or a container network's gateway.
        recorder: Receives every call as it is answered.
    """

    def __init__(
        self, workspace_id: str, host: str = "127.0.0.1", recorder: Recorder | None = None
    ) -> None:
        self.state = PlatformState(workspace_id, recorder)
        super().__init__(_Routes(self.state).app(), host, "platform simulator")

    def calls(self) -> list[PlatformCall]:
        """A copy of the call record."""
        with self.state.lock:
            return list(self.state.calls)
