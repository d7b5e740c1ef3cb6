"""A runtime shaped like the platform's real templates, thinking with a model; never imports
the harness (standard library only).

It does what the platform's hermes template and shared runtime do, not what the
harness's own adapters do:

- memory through one ``memory`` tool with an ``action`` argument (hermes-agent's schema),
  kept in ``$HOME/.shaped/memories/MEMORY.md`` (entries joined by ``§``), and injected
  into the system prompt of every new session as a frozen snapshot;
- attachments listed as paths in an "Attached files:" manifest, with a ``read_file``
  tool (``path``, ``offset``, ``limit``) that reads files under the workspace;
- history embedded in the current user message ("Conversation so far: … Current
  request: …"), per context;
- skills from ``skills/*/SKILL.md`` (workspace and configs) listed in the system prompt;
- peers through the platform runtime's ``list_peers`` and ``delegate_task`` tools: the
  peer list, then ``GET /registry/discover/{id}`` for its URL, then a ``message/send``
  with no context there, the first part's text taken as the answer;
- its state under ``/tmp/shaped``, as real images keep theirs under ``/tmp``: at boot
  it claims that directory and ``$HOME/.shaped`` for its workspace, and refuses to
  start on one another runtime claimed.

``SHAPED_FAULTS`` (comma-separated) breaks it the way real templates broke:
``shared_session`` (one history for every context), ``no_memory_tool``, ``drop_file``
(forwards text parts only, and still calls the model), ``method_not_found`` (-32601
for the platform's 0.3 ``message/send``: a 1.x server without 0.3 compatibility),
``internal_error`` (-32603, with data, on every turn), ``ignore_skills`` (never lists the
skills provisioned in its workspace), ``no_peer_tools`` (offers no peer tools),
``boot_fail_hint`` (prints a
``[FAIL]`` line, a warning and a ``Fix:`` hint, and exits), ``boot_log_file`` (writes
its only useful error to ``/tmp/shaped/boot.log`` and exits).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAULTS = {f.strip() for f in os.environ.get("SHAPED_FAULTS", "").split(",") if f.strip()}
WORKSPACE = Path(os.environ.get("WORKSPACE_DIR", "/workspace")).resolve()
CONFIGS = Path(os.environ.get("CONFIGS_DIR", "/configs")).resolve()
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "shaped")
MODEL_URL = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
STATE = Path("/tmp/shaped")
MEMORY_FILE = Path(os.environ.get("HOME", "/root")) / ".shaped" / "memories" / "MEMORY.md"
SYSTEM = "You are a helpful assistant on the shaped runtime."
MAX_TOOL_ROUNDS = 4
CARD = {"name": "shaped-runtime", "version": "0.2", "protocolVersion": "0.3.0",
        "capabilities": {"streaming": False}, "skills": []}  # fmt: skip
MEMORY_TOOL = {"type": "function", "function": {
    "name": "memory",
    "description": "Save important information to persistent memory that survives across "
                   "sessions. Memory is injected into future turns, so keep it compact.",
    "parameters": {"type": "object", "required": ["action", "target"], "properties": {
        "action": {"type": "string", "enum": ["add", "replace", "remove"]},
        "target": {"type": "string", "enum": ["memory", "user"]},
        "content": {"type": "string", "description": "Required for 'add' and 'replace'."},
        "old_text": {"type": "string"}}}}}  # fmt: skip
READ_FILE_TOOL = {"type": "function", "function": {
    "name": "read_file",
    "description": "Read a text file with line numbers.",
    "parameters": {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string"}, "offset": {"type": "integer", "default": 1},
        "limit": {"type": "integer", "default": 500}}}}}  # fmt: skip
# The platform runtime's MCP tools (molecule_runtime/a2a_mcp_server.py), as OpenAI tools.
PEER_TOOLS = [
    {"type": "function", "function": {
        "name": "list_peers",
        "description": "List all workspaces this agent can communicate with (siblings and "
                       "parent/children). Returns name, ID, status, and role for each peer.",
        "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {
        "name": "delegate_task",
        "description": "Delegate a task to another workspace via A2A protocol and WAIT for the "
                       "response. Use list_peers to find available targets.",
        "parameters": {"type": "object", "required": ["workspace_id", "task"], "properties": {
            "workspace_id": {"type": "string",
                             "description": "Target workspace ID (from list_peers)"},
            "task": {"type": "string",
                     "description": "The task description to send to the target workspace"}}}}},
]  # fmt: skip
HISTORY: dict[str, list[tuple[str, str]]] = {}
SNAPSHOTS: dict[str, str] = {}  # the memory each session started with
LOCK = threading.Lock()


def claim(directory: Path) -> None:
    """Own a state directory for this workspace; another runtime's claim is fatal."""
    directory.mkdir(parents=True, exist_ok=True)
    owner = directory / "owner"
    if owner.exists() and owner.read_text() != WORKSPACE_ID:
        print(
            f"[FAIL] {directory} belongs to workspace {owner.read_text()}: shared state", flush=True
        )
        sys.exit(5)
    owner.write_text(WORKSPACE_ID)


def memories() -> list[str]:
    text = MEMORY_FILE.read_text() if MEMORY_FILE.exists() else ""
    return [entry.strip() for entry in text.split("§") if entry.strip()]


def memory_block() -> str:
    entries = memories()
    if not entries:
        return ""
    rule = "═" * 46
    return f"{rule}\nMEMORY (your personal notes)\n{rule}\n" + "\n§\n".join(entries)


def use_tool(name: str, arguments: dict[str, Any]) -> str:
    if name == "memory":
        if arguments.get("action") != "add" or not arguments.get("content"):
            return json.dumps({"success": False, "error": "only 'add' with content is supported"})
        MEMORY_FILE.parent.mkdir(parents=True, exist_ok=True)
        with LOCK:
            entries = [*memories(), str(arguments["content"])]
            MEMORY_FILE.write_text("\n§\n".join(entries))
        return json.dumps({"success": True, "message": "Entry added."})
    if name == "read_file":
        path = Path(str(arguments.get("path", ""))).resolve()
        readable = path.is_relative_to(WORKSPACE) or path.is_relative_to(CONFIGS)
        if not readable or not path.is_file():
            return json.dumps({"error": f"File not found: {path}"})
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(f"{n}|{line}" for n, line in enumerate(lines, start=1))
    if name == "list_peers":
        peers = http_json(f"{PLATFORM_URL}/registry/{WORKSPACE_ID}/peers")
        if not peers:
            return "No peers available (this workspace may be isolated)"
        return "\n".join(f"- {p['name']} (ID: {p['id']}, status: {p.get('status')}, "
                         f"role: {p.get('role', '')})" for p in peers)  # fmt: skip
    if name == "delegate_task":
        found = http_json(f"{PLATFORM_URL}/registry/discover/{arguments.get('workspace_id')}",
                          headers={"X-Workspace-ID": WORKSPACE_ID})  # fmt: skip
        part = {"kind": "text", "text": arguments.get("task")}
        sent = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": "message/send",
                "params": {"message": {"role": "user", "messageId": str(uuid.uuid4()),
                                       "parts": [part]}}}  # fmt: skip
        data = http_json(found["url"], sent)
        parts = (data.get("result") or {}).get("parts") or []
        return str(parts[0].get("text", "")) if parts else "(no response)"
    return json.dumps({"error": f"unknown tool {name}"})


def http_json(url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    """GET (or POST ``body``) as JSON; the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def complete(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
    """Run the model with its tools until it answers."""
    for _ in range(MAX_TOOL_ROUNDS):
        body = json.dumps({"model": "any", "messages": messages, "tools": tools}).encode()
        request = urllib.request.Request(f"{MODEL_URL}/chat/completions", data=body)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {os.environ.get('OPENAI_API_KEY', '')}")
        with urllib.request.urlopen(request, timeout=60) as response:
            message = json.load(response)["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        if not calls:
            return str(message.get("content") or "")
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        for call in calls:
            arguments = json.loads(call["function"]["arguments"] or "{}")
            result = use_tool(call["function"]["name"], arguments)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    return "(no response generated)"


def user_text(parts: list[dict[str, Any]]) -> str:
    """The text parts, and an "Attached files:" manifest of the file parts (paths only)."""
    texts = [str(p.get("text", "")) for p in parts if p.get("kind", p.get("type")) == "text"]
    files = [p.get("file") or {} for p in parts if p.get("kind", p.get("type")) == "file"]
    text = "\n".join(texts)
    if files and "drop_file" not in FAULTS:
        listed = "\n".join(
            f"- {f.get('name')} ({f.get('mimeType') or 'unknown type'}) at "
            f"{str(f.get('uri', '')).removeprefix('workspace:')}"
            for f in files
        )
        text = f"{text}\n\nAttached files:\n{listed}" if text else f"Attached files:\n{listed}"
    return text


def skills_block() -> str:
    """The skills provisioned in the workspace and configs, as a system prompt lists them."""
    if "ignore_skills" in FAULTS:
        return ""
    lines = []
    for root in (WORKSPACE / "skills", CONFIGS / "skills"):
        for path in sorted(root.glob("*/SKILL.md")):
            text = path.read_text(errors="replace")
            described = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                              if line.startswith("description:")), "")  # fmt: skip
            lines.append(f"- {path.parent.name}: {described} (read {path})")
    if not lines:
        return ""
    return "Skills (read a skill's SKILL.md when its description fits the request):\n" + (
        "\n".join(lines)
    )


def turn(context_id: str, parts: list[dict[str, Any]]) -> str:
    key = "all" if "shared_session" in FAULTS else context_id
    text = user_text(parts)
    with LOCK:
        history = HISTORY.setdefault(key, [])
        snapshot = SNAPSHOTS.setdefault(key, memory_block())  # frozen at session start
        earlier = list(history)
    prompt = text
    if earlier:
        transcript = "\n".join(f"{'User' if r == 'user' else 'Agent'}: {t}" for r, t in earlier)
        prompt = f"Conversation so far:\n{transcript}\n\nCurrent request: {text}"
    system = "\n\n".join(part for part in (SYSTEM, snapshot, skills_block()) if part)
    tools = [READ_FILE_TOOL] + ([] if "no_memory_tool" in FAULTS else [MEMORY_TOOL])
    tools += [] if "no_peer_tools" in FAULTS else PEER_TOOLS
    answer = complete([{"role": "system", "content": system},
                       {"role": "user", "content": prompt}], tools)  # fmt: skip
    with LOCK:
        history += [("user", text), ("agent", answer)]
    return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/.well-known/agent"):
            self._send(CARD)
        else:
            self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        rpc = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        rpc_id, method = rpc.get("id"), rpc.get("method")
        accepted = "SendMessage" if "method_not_found" in FAULTS else "message/send"
        if method != accepted:
            self._send(
                {
                    "jsonrpc": "2.0",
                    "id": rpc_id,
                    "error": {"code": -32601, "message": f"Method not found: {method}"},
                }
            )
            return  # fmt: skip
        if "internal_error" in FAULTS:
            detail = {"detail": "agent loop failed: session store unavailable"}
            error = {"code": -32603, "message": "Internal error", "data": detail}
            self._send({"jsonrpc": "2.0", "id": rpc_id, "error": error})
            return
        message = rpc["params"]["message"]
        context_id = str(message.get("contextId") or uuid.uuid4())
        answer = turn(context_id, list(message.get("parts") or []))
        result = {"kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
                  "contextId": context_id, "parts": [{"kind": "text", "text": answer}]}  # fmt: skip
        self._send({"jsonrpc": "2.0", "id": rpc_id, "result": result})


def main() -> None:
    if "boot_fail_hint" in FAULTS:
        print("shaped: checking the environment", flush=True)
        print("[FAIL] Required env: Missing SHAPED_OAUTH_TOKEN", flush=True)
        print("WARNING: prompt file system-prompt.md not found", flush=True)
        print("Fix: Add the file or remove it from prompt_files.", flush=True)
        sys.exit(1)
    claim(STATE)
    claim(MEMORY_FILE.parent.parent)
    if "boot_log_file" in FAULTS:
        (STATE / "boot.log").write_text(
            "info: loading config\n[ERROR] config rejected: models.providers.sim is not "
            "accepted by this version\n"
        )
        print("shaped: exiting (see the log)", flush=True)
        sys.exit(1)
    address = (os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000")))
    print(f"shaped-runtime on {address[0]}:{address[1]} faults={sorted(FAULTS)}", flush=True)
    ThreadingHTTPServer(address, Handler).serve_forever()


if __name__ == "__main__":
    main()
