"""A deep agent (LangChain's ``deepagents``) as the platform's deepagents adapter wires one.

``create_deep_agent`` over ``ChatOpenAI`` (``OPENAI_BASE_URL``, Chat Completions), with
its own file tools on the real filesystem (``FilesystemBackend``) and its own skills
middleware reading ``skills/`` in the workspace and the configs, the platform's memory
and peer tools, and a checkpointer keyed by the A2A ``contextId`` as the thread id.
``DEEPAGENTS_FAULT=text_parts_only`` forwards only a message's text parts: the
production mistake that answers a file-only turn as if it were empty.
"""

from __future__ import annotations

import json
import os
from typing import Any

import platform_api
from deepagents import create_deep_agent
from deepagents.backends import FilesystemBackend
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

NAME = "deepagents template"
DESCRIPTION = "LangChain deep agent (deepagents)"
TEXT_PARTS_ONLY = os.environ.get("DEEPAGENTS_FAULT", "") == "text_parts_only"
"""The shell forwards no file part to this adapter (its production mistake)."""


def build() -> Any:
    """The agent; sessions live in the checkpointer, keyed by thread id."""
    model = ChatOpenAI(
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0,
        use_responses_api=False,
    )  # fmt: skip
    # deepagents has its own read_file (on its backend): the shell's would shadow it.
    tools = [f for f in platform_api.TOOLS if f is not platform_api.read_file]
    return create_deep_agent(
        model=model, tools=tools, system_prompt="You are a helpful assistant.",
        backend=FilesystemBackend(root_dir="/", virtual_mode=False),
        skills=[f"{platform_api.WORKSPACE}/skills/", f"{platform_api.CONFIGS}/skills/"],
        checkpointer=InMemorySaver(),
    )  # fmt: skip


async def answer(agent: Any, context_id: str, text: str) -> str:
    """One turn in one thread."""
    state = await agent.ainvoke(
        {"messages": [HumanMessage(content=text)]},
        config={"configurable": {"thread_id": context_id}},
    )
    content = state["messages"][-1].content
    return content if isinstance(content, str) else json.dumps(content)
