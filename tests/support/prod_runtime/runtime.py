"""A runtime shaped like the real Molecule workspace runtime, written apart from the harness.

Standard library only; it never imports the harness. What it does the way the
production runtime does, and the reference does not:

- reads its port from ``$WORKSPACE_CONFIG_PATH/config.yaml`` (``a2a.port``, default
  ``/configs``), not from ``$PORT``;
- registers with ``{"id", "url", "agent_card"}`` and saves its token to
  ``$CONFIGS_DIR/.auth_token``;
- at boot calls peers, delegations and activity; beats with production's body;
- refuses attachment paths outside ``/workspace`` (fixed, not configurable);
- stores memories with scope ``LOCAL`` and iterates the search's bare list;
- answers with a plain Message (``kind`` parts), sessions kept in memory by context.

``PROD_EXTRA_CALL=1`` makes it also call ``GET /workspaces/{id}/skills`` at boot, a
path the simulator does not serve (for the unserved-call report).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WORKSPACE = Path("/workspace")
CONFIG_DIR = Path(os.environ.get("WORKSPACE_CONFIG_PATH", "/configs"))
TOKEN_DIR = Path(os.environ.get("CONFIGS_DIR", str(CONFIG_DIR)))
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
CARD = {
    "name": "prod-shaped runtime",
    "description": "shaped like the production workspace runtime",
    "version": "0.1.2",
    "protocolVersion": "0.3.0",
    "capabilities": {"streaming": False},
    "skills": [],
}
NAME = re.compile(r"\b(?i:my name is) ([A-Z][a-z]+)")
REMEMBER = re.compile(r"remember .*?: (.+)$", re.I)
ASKS_NAME = re.compile(r"what is my name", re.I)
ASKS_COLOUR = re.compile(r"what is my favou?rite colou?r", re.I)
COLOUR = re.compile(r"favou?rite colou?r is ([a-z]+ [a-z]+)", re.I)
CODE = re.compile(r"reference code: (\w+)")


def a2a_port() -> int:
    """``a2a.port`` from config.yaml (a two-level YAML read without a YAML library)."""
    text = (CONFIG_DIR / "config.yaml").read_text(encoding="utf-8")
    match = re.search(r"^a2a:\s*\n(?:[ \t]+.*\n)*?[ \t]+port:\s*(\d+)", text, re.M)
    if not match:
        raise SystemExit(f"{CONFIG_DIR / 'config.yaml'}: no a2a.port")
    return int(match.group(1))


class Platform:
    """The runtime's platform client."""

    def __init__(self) -> None:
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
             ) -> Any:  # fmt: skip
        url = PLATFORM_URL + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def register(self, port: int) -> None:
        body = {"id": WORKSPACE_ID, "url": f"http://127.0.0.1:{port}", "agent_card": CARD,
                "configuration_status": "configured", "delivery_mode": "push"}  # fmt: skip
        self.token = self.call("POST", "/registry/register", body)["auth_token"]
        TOKEN_DIR.mkdir(parents=True, exist_ok=True)
        (TOKEN_DIR / ".auth_token").write_text(self.token or "", encoding="utf-8")

    def boot_calls(self) -> None:
        self.call("GET", f"/registry/{WORKSPACE_ID}/peers")
        self.call("GET", f"/workspaces/{WORKSPACE_ID}/delegations")
        self.activity("boot")
        if os.environ.get("PROD_EXTRA_CALL") == "1":
            with contextlib.suppress(urllib.error.HTTPError):  # the simulator does not serve it
                self.call("GET", f"/workspaces/{WORKSPACE_ID}/skills")

    def activity(self, kind: str) -> None:
        self.call("POST", f"/workspaces/{WORKSPACE_ID}/activity", {"type": kind})

    def heartbeat_forever(self, started: float) -> None:
        while True:
            time.sleep(10)
            beat = {"workspace_id": WORKSPACE_ID, "error_rate": 0.0, "sample_error": "",
                    "active_tasks": 0, "current_task": "",
                    "uptime_seconds": int(time.monotonic() - started)}  # fmt: skip
            with contextlib.suppress(OSError):
                self.call("POST", "/registry/heartbeat", beat)


PLATFORM = Platform()
SESSIONS: dict[str, dict[str, str]] = {}
LOCK = threading.Lock()


def attachment(file: dict[str, Any]) -> str:
    """The attachment's text, or why it is refused (production's rule: /workspace only)."""
    uri = str(file.get("uri", ""))
    path = Path(uri.removeprefix("workspace:")).resolve()
    if not uri.startswith("workspace:") or not path.is_relative_to(WORKSPACE):
        return f"REFUSED: attachment path {path} is outside /workspace"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"REFUSED: cannot read {path}: {exc.strerror}"


def respond(context_id: str, text: str, files: list[dict[str, Any]]) -> str:
    with LOCK:
        session = SESSIONS.setdefault(context_id, {})
    if files:
        content = attachment(files[0])
        name = files[0].get("name", "the file")
        if content.startswith("REFUSED"):
            return f"I cannot open {name}: {content}"
        code = CODE.search(content)
        if text and code:
            wanted = code.group(1).upper() if "uppercase" in text.lower() else code.group(1)
            return f"The reference code is {wanted}."
        return f"You sent {name}. What should I do with it?"
    if match := NAME.search(text):
        session["name"] = match.group(1)
        return f"Hello {match.group(1)}, noted."
    if ASKS_NAME.search(text):
        return f"You are {session['name']}." if "name" in session else "I do not know yet."
    if match := REMEMBER.search(text):
        PLATFORM.call("POST", f"/workspaces/{WORKSPACE_ID}/memories",
                      {"content": match.group(1), "scope": "LOCAL"})  # fmt: skip
        PLATFORM.activity("memory_write")
        return "Stored in memory."
    if ASKS_COLOUR.search(text):
        found = PLATFORM.call("GET", f"/workspaces/{WORKSPACE_ID}/memories",
                              query={"q": "favourite colour", "scope": "LOCAL"})  # fmt: skip
        for memory in found:  # the platform's bare list
            if colour := COLOUR.search(memory["content"]):
                return f"Your favourite colour is {colour.group(1)}."
        return "I have no memory of that."
    return "How can I help?"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path in ("/.well-known/agent-card.json", "/.well-known/agent.json"):
            self._send(CARD)
        else:
            self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        rpc_id = request.get("id")
        if request.get("method") != "message/send":
            error = {"code": -32601, "message": "Method not found"}
            self._send({"jsonrpc": "2.0", "id": rpc_id, "error": error})
            return
        message = request["params"]["message"]
        texts = [p["text"] for p in message["parts"] if p.get("kind") == "text"]
        files = [p["file"] for p in message["parts"] if p.get("kind") == "file"]
        context_id = message.get("contextId") or str(uuid.uuid4())
        answer = respond(context_id, " ".join(texts), files)
        result = {"kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
                  "contextId": context_id, "parts": [{"kind": "text", "text": answer}]}  # fmt: skip
        self._send({"jsonrpc": "2.0", "id": rpc_id, "result": result})


def main() -> None:
    port = a2a_port()
    started = time.monotonic()
    PLATFORM.register(port)
    PLATFORM.boot_calls()
    threading.Thread(target=PLATFORM.heartbeat_forever, args=(started,), daemon=True).start()
    host = os.environ.get("HOST", "0.0.0.0")  # inside a container
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"prod-shaped runtime on {host}:{port} (config {CONFIG_DIR})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
