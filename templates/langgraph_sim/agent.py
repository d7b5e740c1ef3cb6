"""A LangGraph agent as the platform's langgraph adapter wires one.

A ReAct graph (``create_react_agent``) over ``ChatOpenAI`` (``OPENAI_BASE_URL``),
with two memory tools that call the platform's memory API, and a checkpointer
keyed by the A2A ``contextId`` as the thread id. ``LANGGRAPH_FAULT=no_checkpointer``
builds the graph without one: the production mistake that forgets every turn.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent

PLATFORM_URL = os.environ.get("PLATFORM_URL", "").rstrip("/")
WORKSPACE_ID = os.environ.get("WORKSPACE_ID", "")
TOKEN: dict[str, str] = {}


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN['value']}"} if TOKEN.get("value") else {}


@tool
def commit_memory(content: str) -> str:
    """Store a fact for future conversations in the platform's long-term memory."""
    response = httpx.post(
        f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories",
        json={"content": content, "scope": "LOCAL"}, headers=_headers(), timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    return "stored"


@tool
def search_memory(query: str) -> str:
    """Search the platform's long-term memory; returns the matching memories."""
    response = httpx.get(
        f"{PLATFORM_URL}/workspaces/{WORKSPACE_ID}/memories",
        params={"q": query, "scope": "LOCAL"}, headers=_headers(), timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()  # the platform's bare list
    return json.dumps([m.get("content") for m in found])


def build_graph() -> Any:
    """The agent; sessions live in the checkpointer, keyed by thread id."""
    model = ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
    forget = os.environ.get("LANGGRAPH_FAULT", "") == "no_checkpointer"
    return create_react_agent(
        model, [commit_memory, search_memory], checkpointer=None if forget else InMemorySaver()
    )


def answer(graph: Any, context_id: str, text: str) -> str:
    """One turn in one thread."""
    state = graph.invoke(
        {"messages": [HumanMessage(content=text)]},
        config={"configurable": {"thread_id": context_id}},
    )
    content = state["messages"][-1].content
    return content if isinstance(content, str) else json.dumps(content)
