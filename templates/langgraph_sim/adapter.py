"""A LangGraph agent as the platform's langgraph adapter wires one.

A ReAct graph (``create_react_agent``) over ``ChatOpenAI`` (``OPENAI_BASE_URL``),
with the platform's memory, peer and file tools (its API), a system prompt listing the
peers and skills, and a checkpointer keyed by the
A2A ``contextId`` as the thread id. ``LANGGRAPH_FAULT=no_checkpointer``
builds the graph without one: the production mistake that forgets every turn.
"""

from __future__ import annotations

import json
import os
from typing import Any

import platform_api
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent

NAME = "langgraph template"
DESCRIPTION = "LangGraph ReAct agent"


def build() -> Any:
    """The agent; sessions live in the checkpointer, keyed by thread id."""
    model = ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
    tools = [tool(function) for function in platform_api.TOOLS]
    forget = os.environ.get("LANGGRAPH_FAULT", "") == "no_checkpointer"
    return create_react_agent(
        model, tools, prompt=_with_system_prompt, checkpointer=None if forget else InMemorySaver()
    )


def _with_system_prompt(state: dict[str, Any]) -> list[AnyMessage]:
    """Each model call leads with the system prompt as it is now (peers, skills)."""
    return [SystemMessage(content=platform_api.system_prompt()), *state["messages"]]


async def answer(graph: Any, context_id: str, text: str) -> str:
    """One turn in one thread."""
    state = await graph.ainvoke(
        {"messages": [HumanMessage(content=text)]},
        config={"configurable": {"thread_id": context_id}},
    )
    content = state["messages"][-1].content
    return content if isinstance(content, str) else json.dumps(content)
