"""An AutoGen AgentChat agent as the platform's autogen adapter wires one.

An ``AssistantAgent`` over ``OpenAIChatCompletionClient`` (``OPENAI_BASE_URL``)
with the platform's memory, peer and file tools (its API) and a system prompt listing
the peers and skills. The agent's state
(``save_state``: its model context) is kept per A2A ``contextId`` and loaded
into a fresh agent for each turn, so contexts never share a history.
``AUTOGEN_FAULT=small_buffer`` gives the agent a ``BufferedChatCompletionContext``
of two messages: the production token-saving mistake that drops a
conversation's first turns before they reach the model.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import platform_api
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import TextMessage
from autogen_core.model_context import BufferedChatCompletionContext
from autogen_ext.models.openai import OpenAIChatCompletionClient

NAME = "autogen template"
DESCRIPTION = "AutoGen AgentChat AssistantAgent"


class Contexts:
    """Saved agent state per context, one turn at a time per context."""

    def __init__(self) -> None:
        self.model = OpenAIChatCompletionClient(
            model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            base_url=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY", ""),
            temperature=0,
        )
        self.small_buffer = os.environ.get("AUTOGEN_FAULT", "") == "small_buffer"
        self.states: dict[str, Mapping[str, Any]] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    def _agent(self) -> AssistantAgent:
        return AssistantAgent(
            name="assistant",
            model_client=self.model,
            tools=list(platform_api.TOOLS),
            system_message=platform_api.system_prompt(),
            # A skill takes two reads (its SKILL.md, then the file it names): AssistantAgent
            # makes one round of tool calls per run unless told otherwise.
            max_tool_iterations=4,
            reflect_on_tool_use=True,
            model_context=BufferedChatCompletionContext(buffer_size=2)
            if self.small_buffer
            else None,
        )

    async def answer(self, context_id: str, text: str) -> str:
        async with self.locks.setdefault(context_id, asyncio.Lock()):
            agent = self._agent()
            if context_id in self.states:
                await agent.load_state(self.states[context_id])
            result = await agent.run(task=text)
            self.states[context_id] = await agent.save_state()
        replies = [m for m in result.messages if isinstance(m, TextMessage) and m.source != "user"]
        return replies[-1].content if replies else "(no reply)"


def build() -> Contexts:
    """The server calls this once at start."""
    return Contexts()


async def answer(contexts: Contexts, context_id: str, text: str) -> str:
    """One turn in one context."""
    return await contexts.answer(context_id, text)
