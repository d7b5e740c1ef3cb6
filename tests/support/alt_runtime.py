"""A second, independently written runtime: proves the canaries test the contract (DESIGN §3).

Standard library only, and different from ``templates/reference`` wherever the contract
allows: it answers with a Task (``type`` part discriminators, the answer in its first
artifact and a note in the status message), serves its card only at the legacy path, never
registers with the platform, keeps sessions in SQLite and words every reply its own way.

Environment: ``HOST``, ``PORT``, ``WORKSPACE_ID``, ``PLATFORM_URL``, ``WORKSPACE_DIR``
(default ``/workspace``) and ``ALT_FAULT``: ``forget`` (forget each conversation) or
``nonblocking`` (ignore ``blocking``: answer every send with a ``submitted`` task, and give
the answer only to ``tasks/get``, as some A2A servers do).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import threading
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WORKSPACE = Path(os.environ.get("WORKSPACE_DIR", "/workspace")).resolve()
PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "alt")
FORGET = os.environ.get("ALT_FAULT", "") == "forget"
NONBLOCKING = os.environ.get("ALT_FAULT", "") == "nonblocking"
FINISHED: dict[str, dict[str, Any]] = {}  # task id → the completed task, for tasks/get
CARD = {"name": "alt-runtime", "version": "0.0.1", "description": "independent test runtime"}

INTRO = re.compile(r"my name is ([A-Za-z][\w-]*)", re.I)
ASK_NAME = re.compile(r"what(?: is|'s) my name", re.I)
REMEMBER = re.compile(r"\bremember\b[^:]*:\s*(.+)", re.I | re.S)
COLOUR_FACT = re.compile(r"favou?rite colou?r is ([a-z][a-z ]*[a-z])", re.I)
ASK_COLOUR = re.compile(r"favou?rite colou?r\s*\?", re.I)
CODE = re.compile(r"reference code\s*:\s*(\w+)", re.I)

Reply = tuple[str, str]  # (artifact text, status message text): the answer spans both


class Sessions:
    """Per-context state, cached in memory by context id and persisted in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS sessions (k TEXT PRIMARY KEY, v TEXT)")
        self._db.commit()
        self._cache: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()

    def load(self, context_id: str) -> dict[str, str]:
        if FORGET:
            return {}
        if context_id not in self._cache:
            row = self._db.execute(
                "SELECT v FROM sessions WHERE k = ?", (f"ctx::{context_id}",)
            ).fetchone()
            self._cache[context_id] = json.loads(row[0]) if row else {}
        return self._cache[context_id]

    def save(self, context_id: str, state: dict[str, str]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (k, v) VALUES (?, ?)",
            (f"ctx::{context_id}", json.dumps(state)),
        )
        self._db.commit()


def platform(method: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
    """Call the platform's memories API, unregistered (so without a token)."""
    url = f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def read_file(file: dict[str, Any]) -> tuple[str, str | None]:
    """(name, content) of a file part; content is None when it may not or cannot be read."""
    name = str(file.get("name") or "file")
    if "bytes" in file:
        return name, base64.b64decode(file["bytes"]).decode("utf-8", "replace")
    uri = str(file.get("uri", ""))
    if not uri.startswith("workspace:"):
        return name, None
    path = Path(uri.removeprefix("workspace:")).resolve()
    if not path.is_relative_to(WORKSPACE) or not path.is_file():
        return name, None
    return name, path.read_text(encoding="utf-8", errors="replace")


def answer(text: str, files: list[tuple[str, str | None]], state: dict[str, str]) -> Reply:
    """The agent's rules: one turn in, one split reply out."""
    if files:
        name, content = files[0]
        if content is None:
            return f"Couldn't open {name}", "(outside my workspace or missing)."
        code = CODE.search(content)
        if text and "code" in text.lower() and code:
            value = code.group(1).upper() if "uppercase" in text.lower() else code.group(1)
            return "The code you're after:", value
        lines = len(content.splitlines())
        return f"Got a file named {name} ({lines} lines).", "Want me to summarize it?"
    if intro := INTRO.search(text):
        state["who"] = intro.group(1)
        return "Noted!", f"Hello there, {intro.group(1)}."
    if ASK_NAME.search(text):
        if "who" in state:
            return "Sure thing —", f"you told me you're called {state['who']}."
        return "Hmm,", "I don't believe you've introduced yourself in this chat."
    if (remember := REMEMBER.search(text)) and COLOUR_FACT.search(remember.group(1)):
        platform("POST", body={"content": remember.group(1).strip(), "scope": "LOCAL"})
        return "Saved to long-term memory.", "I'll recall it in later chats."
    if ASK_COLOUR.search(text):
        found = platform("GET", query={"q": "colour"})  # the platform's bare list
        for memory in found:
            if fact := COLOUR_FACT.search(str(memory.get("content", ""))):
                return "From memory:", f"your favourite colour is {fact.group(1)}."
        return "From memory:", "nothing about a favourite colour yet."
    return "I'm alt-runtime.", "Introduce yourself, send a file, or ask me to remember things."


def as_task(context_id: str, reply: Reply, state: str = "completed") -> dict[str, Any]:
    """A Task: the answer in its first artifact, a short note in the status message."""
    return {
        "kind": "task",
        "id": str(uuid.uuid4()),
        "contextId": context_id,
        "status": {
            "state": state,
            "message": {
                "role": "agent",
                "messageId": str(uuid.uuid4()),
                "parts": [{"type": "text", "text": "(alt-runtime: done)"}],
            },
        },
        "artifacts": [
            {"artifactId": str(uuid.uuid4()), "parts": [{"type": "text", "text": " ".join(reply)}]}
        ],
    }


def submitted(task: dict[str, Any]) -> dict[str, Any]:
    """What a server that ignores ``blocking`` answers first: the task, not yet done."""
    FINISHED[task["id"]] = task
    return {"kind": "task", "id": task["id"], "contextId": task["contextId"],
            "status": {"state": "submitted"}}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sessions: Sessions

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/.well-known/agent.json":
            self._reply(200, CARD)
        else:
            self._reply(404, {"detail": "not found"})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            rpc = json.loads(raw)
        except ValueError:
            self._reply(200, rpc_error(None, -32700, "parse error"))
            return
        rpc_id = rpc.get("id") if isinstance(rpc, dict) else None
        if isinstance(rpc, dict) and rpc.get("method") == "tasks/get":
            task = FINISHED.get(str((rpc.get("params") or {}).get("id")))
            if task is None:
                self._reply(200, rpc_error(rpc_id, -32001, "task not found"))
            else:
                self._reply(200, {"jsonrpc": "2.0", "id": rpc_id, "result": task})
            return
        if not isinstance(rpc, dict) or rpc.get("method") != "message/send":
            self._reply(200, rpc_error(rpc_id, -32601, "method not found"))
            return
        message = (rpc.get("params") or {}).get("message") or {}
        context_id = str(message.get("contextId") or uuid.uuid4())
        texts, files = [], []
        for part in message.get("parts", []):
            kind = part.get("kind", part.get("type"))
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "file":
                files.append(read_file(part.get("file") or {}))
        with self.sessions.lock:
            state = self.sessions.load(context_id)
            try:
                reply = answer(" ".join(texts).strip(), files, state)
            except OSError as exc:
                reply = ("My memory service is unreachable:", str(exc))
            self.sessions.save(context_id, state)
        task = as_task(context_id, reply)
        result = submitted(task) if NONBLOCKING else task
        self._reply(200, {"jsonrpc": "2.0", "id": rpc_id, "result": result})


def rpc_error(rpc_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}


def main() -> None:
    Handler.sessions = Sessions(WORKSPACE / "state" / "sessions.db")
    address = (os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000")))
    server = ThreadingHTTPServer(address, Handler)
    print(f"alt-runtime on {address[0]}:{address[1]} (forget={FORGET})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
