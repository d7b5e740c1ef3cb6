"""The platform's memory and peer tools as an MCP server over stdio, for the command-line
agents (claude-code, codex, gemini-cli, openclaw), which take tools only that way.

The agent starts it as a child (``python platform_mcp.py``) with ``PLATFORM_URL``,
``WORKSPACE_ID`` and the registration token in ``PLATFORM_TOKEN``.
"""

from __future__ import annotations

import os

import platform_api
from mcp.server.mcpserver import MCPServer

TOOLS = (
    platform_api.commit_memory,
    platform_api.search_memory,
    platform_api.list_peers,
    platform_api.delegate_task,
)


def server() -> MCPServer:
    mcp = MCPServer("platform")
    for function in TOOLS:
        mcp.add_tool(function, description=(function.__doc__ or "").split("\n\n")[0])
    return mcp


def child_env() -> dict[str, str]:
    """What the agent passes this server: the platform's address and the token."""
    return {
        "PLATFORM_URL": platform_api.PLATFORM_URL,
        "WORKSPACE_ID": platform_api.WORKSPACE_ID,
        "PLATFORM_TOKEN": platform_api.TOKEN.get("value", ""),
    }


if __name__ == "__main__":
    if os.environ.get("PLATFORM_TOKEN"):
        platform_api.TOKEN["value"] = os.environ["PLATFORM_TOKEN"]
    server().run("stdio")
