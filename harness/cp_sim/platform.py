"""The platform API a runtime calls back: registration, heartbeat, memories.

One :class:`PlatformServer` serves one runtime under test (one workspace id). It
hands every call to a recorder (the template's transcript), so the layer
diagnostics can say which step a runtime skipped. It serves the platform's API
and nothing else: no path grants a runtime any action of the harness.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RECENT_LIMIT = 10
_WORD_RE = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "are",
        "was",
        "what",
        "who",
        "how",
        "why",
        "your",
        "our",
        "you",
        "its",
        "his",
        "her",
    }
)
_MEMORIES_RE = re.compile(r"^/workspaces/([^/]+)/memories/?$")

Recorder = Callable[[dict[str, Any]], None]
"""Receives each platform call as a JSON-ready dict (tokens never included)."""


@dataclass
class Memory:
    """One stored memory."""

    id: str
    content: str
    scope: str
    namespace: str
    created_at: float


@dataclass
class Call:
    """One platform call as the runtime made it (tokens never recorded)."""

    seq: int
    at: float
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    auth: str
    response: Any = field(default=None)


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


class PlatformState:
    """The platform's memory of one workspace, shared by the handler threads."""

    def __init__(self, workspace_id: str, recorder: Recorder | None = None) -> None:
        self.workspace_id = workspace_id
        self.auth_token: str | None = None
        self.memories: list[Memory] = []
        self.calls: list[Call] = []
        self.recorder = recorder
        self.lock = threading.Lock()

    def record(self, call: Call) -> None:
        with self.lock:
            call.seq = len(self.calls) + 1
            self.calls.append(call)
        if self.recorder is not None:
            self.recorder(asdict(call))

    def registered(self) -> bool:
        return self.auth_token is not None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; the call record is the log."""

    # --- plumbing -------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"_unparsed": raw[:500].decode("utf-8", errors="replace")}

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _auth(self) -> str:
        state = self.server.state
        header = self.headers.get("Authorization", "")
        if not state.registered():
            return "open"
        if not header:
            return "missing"
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip(), state.auth_token or ""
        ):
            return "ok"
        return "invalid"

    def _platform(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body() if method == "POST" else None
        auth = self._auth()
        status, payload = self._route(method, url.path, query, body, auth)
        # The record is evidence others read: the bearer token it hands out stays out of it.
        recorded = (
            {**payload, "auth_token": "<issued>"}
            if isinstance(payload, dict) and "auth_token" in payload
            else payload
        )
        self.server.state.record(
            Call(0, time.time(), method, url.path, query, body, status, auth, recorded)
        )
        self._send(status, payload)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, auth: str
    ) -> tuple[int, Any]:
        state = self.server.state
        if method == "POST" and path == "/registry/register":
            return self._register(body)
        if auth in ("missing", "invalid"):
            return HTTPStatus.UNAUTHORIZED, {"error": f"authorization {auth}"}
        if method == "POST" and path == "/registry/heartbeat":
            return HTTPStatus.OK, {"ok": True}
        match = _MEMORIES_RE.match(path)
        if not match:
            return HTTPStatus.NOT_FOUND, {"error": f"no such platform endpoint: {method} {path}"}
        if match.group(1) != state.workspace_id:
            return HTTPStatus.NOT_FOUND, {"error": f"unknown workspace {match.group(1)!r}"}
        if method == "POST":
            return self._remember(body)
        return self._recall(query)

    def _register(self, body: Any) -> tuple[int, Any]:
        state = self.server.state
        claimed = body.get("workspace_id") if isinstance(body, dict) else None
        if claimed not in (None, state.workspace_id):
            return HTTPStatus.NOT_FOUND, {"error": f"unknown workspace {claimed!r}"}
        with state.lock:
            if state.auth_token is None:
                state.auth_token = secrets.token_urlsafe(24)
            token = state.auth_token
        return HTTPStatus.OK, {"auth_token": token, "workspace_id": state.workspace_id}

    def _remember(self, body: Any) -> tuple[int, Any]:
        state = self.server.state
        if not isinstance(body, dict) or not isinstance(body.get("content"), str):
            return HTTPStatus.BAD_REQUEST, {"error": "body must be JSON with a string 'content'"}
        if not body["content"].strip():
            return HTTPStatus.BAD_REQUEST, {"error": "'content' is empty"}
        scope = body.get("scope") or "LOCAL"
        if not isinstance(scope, str):
            return HTTPStatus.BAD_REQUEST, {"error": "'scope' must be a string"}
        memory = Memory(
            id=str(uuid.uuid4()),
            content=body["content"],
            scope=scope,
            namespace=f"workspace:{state.workspace_id}",
            created_at=time.time(),
        )
        with state.lock:
            state.memories.append(memory)
        return HTTPStatus.CREATED, {
            "id": memory.id,
            "scope": memory.scope,
            "namespace": memory.namespace,
        }

    def _recall(self, query: dict[str, str]) -> tuple[int, Any]:
        state = self.server.state
        with state.lock:
            found = search_memories(list(state.memories), query.get("q", ""), query.get("scope"))
        memories = [asdict(m) for m in found]
        return HTTPStatus.OK, {"success": True, "count": len(memories), "memories": memories}

    def do_GET(self) -> None:
        self._platform("GET")

    def do_POST(self) -> None:
        self._platform("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: PlatformState) -> None:
        self.state = state
        super().__init__(address, _Handler)


class PlatformServer:
    """The platform API stub for one workspace, serving on a free port.

    Args:
        workspace_id: The workspace the runtime under test belongs to.
        host: The address to bind: 127.0.0.1, or a container network's gateway.
    """

    def __init__(
        self, workspace_id: str, host: str = "127.0.0.1", recorder: Recorder | None = None
    ) -> None:
        self.state = PlatformState(workspace_id, recorder)
        self._server = _Server((host, 0), self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"cp-sim-{workspace_id[:8]}",
            daemon=True,
        )

    @property
    def host(self) -> str:
        """The bound address."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of this server as the harness reaches it."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> PlatformServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def calls(self) -> list[Call]:
        """A copy of the call record."""
        with self.state.lock:
            return list(self.state.calls)

    def __enter__(self) -> PlatformServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
