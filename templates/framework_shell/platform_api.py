"""The platform's memory API (DESIGN §3), as each framework template's tools call it.

Plain functions with Google-style docstrings, so every framework can turn them
into tools its own way (LangChain ``@tool``, smolagents ``@tool``, AutoGen
``FunctionTool``, ADK ``FunctionTool``).
"""

from __future__ import annotations

import json
import os

import httpx

PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
TOKEN: dict[str, str] = {}
"""The bearer token the platform gave at registration."""


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN['value']}"} if TOKEN.get("value") else {}


def commit_memory(content: str) -> str:
    """Store a fact for future conversations in the platform's long-term memory.

    Args:
        content: The fact to store.
    """
    response = httpx.post(
        f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories",
        json={"content": content, "scope": "LOCAL"}, headers=_headers(), timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    return "stored"


def search_memory(query: str) -> str:
    """Search the platform's long-term memory; returns the matching memories.

    Args:
        query: What to look for.
    """
    response = httpx.get(
        f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories",
        params={"q": query, "scope": "LOCAL"}, headers=_headers(), timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    return json.dumps([m.get("content") for m in response.json()])  # the platform's bare list
