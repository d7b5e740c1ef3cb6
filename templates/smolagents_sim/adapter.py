"""A smolagents ToolCallingAgent as the platform's smolagents adapter wires one.

``OpenAIServerModel`` on ``OPENAI_BASE_URL``, the platform's memory, peer and file tools,
instructions listing the peers and skills, and
one agent (one agent memory) per A2A ``contextId``, run with
``reset=False`` so a context's earlier tasks stay in its memory; a cancelled task
interrupts its agent (``agent.interrupt()``) between steps.
``SMOLAGENTS_FAULT=shared_agent`` uses one agent for every context: the
production mistake that leaks one conversation into the next.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import platform_api
from cancelling import Turn, in_thread
from smolagents import OpenAIServerModel, ToolCallingAgent, tool
from smolagents.memory import FinalAnswerStep
from smolagents.utils import AgentError

NAME = "smolagents template"
DESCRIPTION = "smolagents ToolCallingAgent"


class Agents:
    """One agent per context (or one for all, with the fault switch)."""

    def __init__(self) -> None:
        self.model = OpenAIServerModel(
            model_id=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            api_base=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY"),
        )
        self.tools = [tool(function) for function in platform_api.TOOLS]
        self.shared = os.environ.get("SMOLAGENTS_FAULT", "") == "shared_agent"
        self.agents: dict[str, tuple[ToolCallingAgent, threading.Lock]] = {}
        self.guard = threading.Lock()

    def _agent(self, context_id: str) -> tuple[ToolCallingAgent, threading.Lock]:
        key = "shared" if self.shared else context_id
        with self.guard:
            if key not in self.agents:
                agent = ToolCallingAgent(
                    tools=self.tools, model=self.model, max_steps=4, verbosity_level=0,
                    instructions=platform_api.system_prompt(),
                )  # fmt: skip
                self.agents[key] = (agent, threading.Lock())
            return self.agents[key]

    def answer(self, context_id: str, text: str, turn: Turn) -> str:
        """One task in one context's agent memory (smolagents runs synchronously)."""
        agent, lock = self._agent(context_id)
        with lock:
            # Streamed, so the run has reset its interrupt switch before the first step.
            steps = agent.run(text, reset=False, stream=True)
            if not turn.begin(agent.interrupt):
                return "(cancelled)"
            result: Any = "(no reply)"
            try:
                for step in steps:
                    if isinstance(step, FinalAnswerStep):
                        result = step.output
            except AgentError:
                if not turn.cancelled:
                    raise
                return "(cancelled)"
        return str(result)


def build() -> Agents:
    """The server calls this once at start."""
    return Agents()


async def answer(agents: Agents, context_id: str, text: str) -> str:
    """One turn, off the event loop."""
    return await in_thread(lambda turn: agents.answer(context_id, text, turn))
