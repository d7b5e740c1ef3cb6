"""The platform's memory and peer APIs (DESIGN §3) and its skills, as each framework template's
tools call them.

Plain functions with Google-style docstrings, so every framework can turn them
into tools its own way (LangChain ``@tool``, smolagents ``@tool``, AutoGen
``FunctionTool``, ADK ``FunctionTool``).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx

PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
TOKEN: dict[str, str] = {}
"""The bearer token the platform gave at registration."""
WORKSPACE = Path(os.environ.get("WORKSPACE_DIR", "/workspace")).resolve()
CONFIGS = Path(os.environ.get("CONFIGS_DIR", "/configs")).resolve()


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


def _peers() -> list[dict[str, Any]]:
    """The peer workspaces the platform lists for this one."""
    listed = _platform("GET", f"/registry/{WORKSPACE_ID}/peers",
                       headers={"X-Workspace-ID": WORKSPACE_ID}).json()  # fmt: skip
    return [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []


def list_peers() -> str:
    """List the peer workspaces this agent can delegate to: name, ID and status of each."""
    listed = _peers()
    if not listed:
        return "No peers available."
    return "\n".join(f"- {p.get('name')} (ID: {p.get('id')}, status: {p.get('status')})"
                     for p in listed)  # fmt: skip


def peer_section() -> str:
    """The system prompt's peer section, as the platform's runtime renders it (no peers: "")."""
    try:
        listed = _peers()
    except httpx.HTTPError:
        return ""
    lines = [f"- **{p.get('name')}** (id: `{p.get('id')}`, status: {p.get('status')})"
             for p in listed]  # fmt: skip
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


def _front_matter(text: str) -> dict[str, str]:
    """A SKILL.md's ``---`` header as plain ``key: value`` pairs (no YAML library needed)."""
    if not text.startswith("---"):
        return {}
    header = text[3:].split("\n---", 1)[0]
    pairs = (line.split(":", 1) for line in header.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def skills_section() -> str:
    """The skills provisioned in the workspace and the configs (no skills: ""), each by name,
    description and the path of its SKILL.md, for the model to read when one applies."""
    lines = []
    for root in (WORKSPACE / "skills", CONFIGS / "skills"):
        for path in sorted(root.glob("*/SKILL.md")):
            try:
                front = _front_matter(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
            name = front.get("name") or path.parent.name
            lines.append(f"- **{name}**: {front.get('description', '')} (read {path})")
    if not lines:
        return ""
    return "\n".join(["## Skills", "", "Before answering, read the SKILL.md of a skill that "
                      "applies and follow it.", "", *lines])  # fmt: skip


def system_prompt() -> str:
    """The system prompt the platform's runtime builds at the start of a session: a role,
    then the peers and the skills it finds (render it per session: both change)."""
    return "\n\n".join(filter(None, ["You are a helpful assistant.", peer_section(),
                                      skills_section()]))  # fmt: skip


def read_file(path: str) -> str:
    """Read a file in the workspace or the configs directory; returns its text.

    Args:
        path: The file's absolute path.
    """
    resolved = Path(path).resolve()
    if not any(resolved.is_relative_to(root) for root in (WORKSPACE, CONFIGS)):
        return f"Refused: {path} is outside the workspace and the configs."
    try:
        return resolved.read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError as exc:
        return f"Cannot read {path}: {exc.strerror}"


def write_whole(path: Path, text: str) -> None:
    """Replace a file whole, never in place: a CLI turn of another context may be reading it
    (gemini-cli read its settings half-written by a concurrent turn)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


TOOLS = (commit_memory, search_memory, list_peers, delegate_task, read_file)
"""Every tool a template offers its model, as the platform's runtime does."""
