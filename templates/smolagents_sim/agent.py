"""A smolagents ToolCallingAgent as the platform's smolagents adapter wires one.

``OpenAIServerModel`` on ``OPENAI_BASE_URL``, two memory tools on the platform's
memory API, and one agent (one agent memory) per A2A ``contextId``, run with
``reset=False`` so a context's earlier tasks stay in its memory.
``SMOLAGENTS_FAULT=shared_agent`` uses one agent for every context: the
production mistake that leaks one conversation into the next.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import httpx
from smolagents import OpenAIServerModel, ToolCallingAgent, tool

PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
TOKEN: dict[str, str] = {}


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN['value']}"} if TOKEN.get("value") else {}


@tool
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


@tool
def search_memory(query: str) -> str:
    """Search the platform's long-term memory.

    Args:
        query: What to look for.
    """
    response = httpx.get(
        f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories",
        params={"q": query, "scope": "LOCAL"}, headers=_headers(), timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    return json.dumps([m.get("content") for m in response.json()])  # the platform's bare list


class Agents:
    """One agent per context (or one for all, with the fault switch)."""

    def __init__(self) -> None:
        self.model = OpenAIServerModel(
            model_id=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            api_base=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY"),
        )
        self.shared = os.environ.get("SMOLAGENTS_FAULT", "") == "shared_agent"
        self.agents: dict[str, ToolCallingAgent] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()

    def _agent(self, context_id: str) -> tuple[ToolCallingAgent, threading.Lock]:
        key = "shared" if self.shared else context_id
        with self.guard:
            if key not in self.agents:
                self.agents[key] = ToolCallingAgent(
                    tools=[commit_memory, search_memory], model=self.model, max_steps=4,
                    verbosity_level=0,
                )  # fmt: skip
                self.locks[key] = threading.Lock()
            return self.agents[key], self.locks[key]

    def answer(self, context_id: str, text: str) -> str:
        """One task in one context's agent memory."""
        agent, lock = self._agent(context_id)
        with lock:
            result: Any = agent.run(text, reset=False)
        return str(result)


def build_graph() -> Agents:
    """The server calls this once at start."""
    return Agents()


def answer(agents: Agents, context_id: str, text: str) -> str:
    """One turn."""
    return agents.answer(context_id, text)
