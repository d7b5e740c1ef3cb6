"""The platform's memory and peer tools as an MCP server over stdio, for the command-line
agents (claude-code, gemini-cli), which take tools only that way.

The agent starts it as a child (``python platform_mcp.py``) with ``PLATFORM_URL``,
``WORKSPACE_ID`` and the registration token in ``PLATFORM_TOKEN``, once per turn (or per
session), or in the file ``PLATFORM_TOKEN_FILE`` names: an agent whose configuration is
written before the runtime registers (openclaw's gateway starts first) cannot be given the
token itself. It
speaks the few MCP messages a tool server needs (``initialize``, ``tools/list``,
``tools/call``, ``ping``; newline-delimited JSON-RPC, as MCP's stdio transport frames
them) with nothing but the standard library: the ``mcp`` package took 2 s of CPU to
import, and under load the CLI gave up waiting and ran the turn without the tools.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platform_api

TOOLS: dict[str, Callable[..., str]] = {
    f.__name__: f
    for f in (
        platform_api.commit_memory,
        platform_api.search_memory,
        platform_api.list_peers,
        platform_api.delegate_task,
    )
}
PROTOCOL = "2025-06-18"


def child_env() -> dict[str, str]:
    """What the agent passes this server: the platform's address and the token."""
    return {
        "PLATFORM_URL": platform_api.PLATFORM_URL,
        "WORKSPACE_ID": platform_api.WORKSPACE_ID,
        "PLATFORM_TOKEN": platform_api.TOKEN.get("value", ""),
    }


def _listed(name: str, function: Callable[..., str]) -> dict[str, Any]:
    doc = inspect.getdoc(function) or ""
    arguments = list(inspect.signature(function).parameters)  # every one a string
    args_section = doc.split("Args:", 1)[1] if "Args:" in doc else ""
    described = dict(
        line.strip().split(": ", 1) for line in args_section.splitlines() if ": " in line
    )
    return {
        "name": name,
        "description": doc.split("\n\n")[0],
        "inputSchema": {
            "type": "object", "required": arguments,
            "properties": {a: {"type": "string", "description": described.get(a, a)}
                           for a in arguments},
        },
    }  # fmt: skip


def answer(request: dict[str, Any]) -> dict[str, Any] | None:
    """The reply to one JSON-RPC message (None for a notification)."""
    method, params = request.get("method"), request.get("params") or {}
    if "id" not in request:
        return None
    if method == "initialize":
        result: dict[str, Any] = {
            "protocolVersion": params.get("protocolVersion", PROTOCOL),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "platform", "version": "1.0.0"},
        }
    elif method == "tools/list":
        result = {"tools": [_listed(n, f) for n, f in TOOLS.items()]}
    elif method == "tools/call" and params.get("name") in TOOLS:
        function = TOOLS[params["name"]]
        given = params.get("arguments") or {}
        arguments = {a: str(given.get(a, "")) for a in inspect.signature(function).parameters}
        try:
            text = function(**arguments)
            # Also structured, as MCP servers wrap a plain result: gemini-cli otherwise parses
            # a text that is JSON (the memory search's bare list) as structured content,
            # and refuses it for not being an object.
            result = {"content": [{"type": "text", "text": text}],
                      "structuredContent": {"result": text}, "isError": False}  # fmt: skip
        except Exception as exc:  # the model sees the failure, as with any tool
            result = {"content": [{"type": "text", "text": f"failed: {exc}"}], "isError": True}
    elif method == "ping":
        result = {}
    else:
        error = {"code": -32601, "message": f"method not found: {method}"}
        return {"jsonrpc": "2.0", "id": request["id"], "error": error}
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


def serve() -> None:
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        reply = answer(request) if isinstance(request, dict) else None
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


def _token() -> str:
    """The registration token: given itself, or in a file the runtime writes once it has it."""
    if os.environ.get("PLATFORM_TOKEN"):
        return os.environ["PLATFORM_TOKEN"]
    try:
        return Path(os.environ.get("PLATFORM_TOKEN_FILE", "")).read_text().strip()
    except OSError:  # not registered (yet), or no file named
        return ""


if __name__ == "__main__":
    if token := _token():
        platform_api.TOKEN["value"] = token
    serve()
