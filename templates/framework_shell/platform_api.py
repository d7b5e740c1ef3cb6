"""The platform's memory API (DESIGN §3), as each framework template's tools call it.

Plain functions with Google-style docstrings, so every framework can turn them
into tools its own way (LangChain ``@tool``, smolagents ``@tool``, AutoGen
``FunctionTool``, ADK ``FunctionTool``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
TOKEN: dict[str, str] = {}
"""The bearer token the platform gave at registration."""


def _memories(method: str, **request: Any) -> httpx.Response:
    """One call to the workspace's memory endpoint, with the registration token."""
    token = TOKEN.get("value")
    response = httpx.request(
        method, f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories", timeout=10,
        headers={"Authorization": f"Bearer {token}"} if token else {}, **request,
    )  # fmt: skip
    return response.raise_for_status()


def commit_memory(content: str) -> str:
    """Store a fact for future conversations in the platform's long-term memory.

    Args:
        content: The fact to store.
    """
    _memories("POST", json={"content": content, "scope": "LOCAL"})
    return "stored"


def search_memory(query: str) -> str:
    """Search the platform's long-term memory; returns the matching memories.

    Args:
        query: What to look for.
    """
    found = _memories("GET", params={"q": query, "scope": "LOCAL"}).json()
    return json.dumps([m.get("content") for m in found])  # the platform's bare list
