"""The shell's MCP server over stdio, as the CLIs' MCP clients speak to it (no platform:
its tools' calls to the platform are stood in for)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.support.runs import ROOT

SHELL = ROOT / "templates" / "framework_shell"


def exchange(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Send newline-delimited JSON-RPC messages to a fresh server; its replies."""
    stand_in = (
        "import json, platform_mcp\n"
        "platform_mcp.TOOLS['search_memory'] = lambda query: "
        "json.dumps(['my favourite colour is ' + query])\n"
        "platform_mcp.serve()\n"
    )
    lines = "".join(json.dumps(m) + "\n" for m in messages)
    completed = subprocess.run(
        [sys.executable, "-c", stand_in], input=lines, capture_output=True, text=True,
        cwd=SHELL, timeout=30, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in completed.stdout.splitlines()]


def test_initialize_list_and_call_as_an_mcp_client_does() -> None:
    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}}
    replies = exchange(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "search_memory", "arguments": {"query": "teal"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "resources/list"},
    )  # fmt: skip
    assert [r["id"] for r in replies] == [1, 2, 3, 4], "a notification gets no reply"
    assert replies[0]["result"]["protocolVersion"] == "2025-11-25"
    assert "tools" in replies[0]["result"]["capabilities"]
    tools = {t["name"]: t for t in replies[1]["result"]["tools"]}
    assert set(tools) == {"commit_memory", "search_memory", "list_peers", "delegate_task"}
    assert tools["commit_memory"]["inputSchema"]["required"] == ["content"]
    assert "memory" in tools["commit_memory"]["description"]
    called = replies[2]["result"]
    assert called["content"] == [{"type": "text", "text": '["my favourite colour is teal"]'}]
    # gemini-cli parses a JSON text into structuredContent unless it is given, and refuses
    # anything but an object there: the memory search's bare list made every search fail.
    assert called["structuredContent"] == {"result": '["my favourite colour is teal"]'}
    assert replies[3]["error"]["code"] == -32601
