"""The platform's memory and peer APIs (DESIGN §3), as each framework template's tools call them.

Plain functions with Google-style docstrings, so every framework can turn them
into tools its own way (LangChain ``@tool``, smolagents ``@tool``, AutoGen
``FunctionTool``, ADK ``FunctionTool``).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx

PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
TOKEN: dict[str, str] = {}
"""The bearer token the platform gave at registration."""


def _platform(method: str, path: str, **request: Any) -> httpx.Response:
    """One call to the platform, with the registration token."""
    token = TOKEN.get("value")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.request(
        method, f"{PLATFORM_URL}{path}", timeout=10,
        headers={**headers, **request.pop("headers", {})}, **request,
    )  # fmt: skip
    return response.raise_for_status()


def _memories(method: str, **request: Any) -> httpx.Response:
    return _platform(method, f"/workspaces/{WORKSPACE_ID}/memories", **request)


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


def list_peers() -> str:
    """List the peer workspaces this agent can delegate to: name, ID and status of each."""
    listed = _platform("GET", f"/registry/{WORKSPACE_ID}/peers").json()
    if not listed:
        return "No peers available."
    return "\n".join(f"- {p.get('name')} (ID: {p.get('id')}, status: {p.get('status')})"
                     for p in listed)  # fmt: skip


def peer_section() -> str:
    """The system prompt's peer section, as the platform's runtime renders it (no peers: "")."""
    try:
        listed = _platform("GET", f"/registry/{WORKSPACE_ID}/peers",
                           headers={"X-Workspace-ID": WORKSPACE_ID}).json()  # fmt: skip
    except httpx.HTTPError:
        return ""
    lines = [f"- **{p.get('name')}** (id: `{p.get('id')}`, status: {p.get('status')})"
             for p in listed if isinstance(p, dict)]  # fmt: skip
    if not lines:
        return ""
    return "\n".join(["## Your Peers (workspaces you can delegate to)", "", *lines, "",
                      "Use the `delegate_task` tool to send tasks to peers."])  # fmt: skip


def delegate_task(workspace_id: str, task: str) -> str:
    """Delegate a task to a peer workspace and wait for its answer (find it with list_peers).

    Args:
        workspace_id: The peer's workspace ID, from list_peers.
        task: The whole task: the peer knows nothing of this conversation.
    """
    # As the platform's own runtime does: discover the peer's URL, then send it the task.
    found = _platform("GET", f"/registry/discover/{workspace_id}",
                      headers={"X-Workspace-ID": WORKSPACE_ID}).json()  # fmt: skip
    request = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": "message/send",
               "params": {"message": {"role": "user", "messageId": str(uuid.uuid4()),
                                      "parts": [{"kind": "text", "text": task}]}}}  # fmt: skip
    answer = httpx.post(found["url"], json=request, timeout=120).json()
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict):
        return f"The peer failed: {json.dumps(answer)[:300]}"
    holders = [result, *(result.get("artifacts") or [])]
    texts = [part.get("text", "") for holder in holders for part in holder.get("parts") or []]
    return " ".join(t for t in texts if t) or "(the peer gave no text)"


TOOLS = (commit_memory, search_memory, list_peers, delegate_task)
"""Every tool a template offers its model, as the platform's runtime does."""
