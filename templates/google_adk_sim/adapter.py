"""A Google ADK agent as the platform's google-adk adapter wires one.

An ADK ``Agent`` on ADK's own Anthropic model class (``AnthropicLlm``, which
calls the Anthropic SDK at ``ANTHROPIC_BASE_URL``; no litellm), with the platform's
memory, peer and file tools and an instruction listing the peers and skills, run by a
``Runner`` whose in-memory session
service keeps one ADK session per A2A ``contextId``.
``ADK_FAULT=session_per_workspace`` keys the session by the workspace id
instead: the production mistake that pours every conversation into one session.
"""

from __future__ import annotations

import asyncio
import os

import platform_api
from google.adk.agents import Agent
from google.adk.models.anthropic_llm import AnthropicLlm
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

NAME = "google-adk template"
DESCRIPTION = "Google ADK agent on ADK's Anthropic model class"
APP = "canary"
USER = "platform"


class Sessions:
    """The runner, and how a context maps to an ADK session."""

    def __init__(self) -> None:
        agent = Agent(
            name="assistant",
            model=AnthropicLlm(model=os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5")),
            # A provider, so the peers and skills are read when each request is built.
            instruction=lambda _context: platform_api.system_prompt(),
            tools=list(platform_api.TOOLS),
        )
        self.runner = Runner(
            app_name=APP, agent=agent, session_service=InMemorySessionService(),
            auto_create_session=True,
        )  # fmt: skip
        self.per_workspace = os.environ.get("ADK_FAULT", "") == "session_per_workspace"
        self.locks: dict[str, asyncio.Lock] = {}

    async def answer(self, context_id: str, text: str) -> str:
        session_id = platform_api.WORKSPACE_ID if self.per_workspace else context_id
        message = types.Content(role="user", parts=[types.Part(text=text)])
        reply = ""
        async with self.locks.setdefault(session_id, asyncio.Lock()):  # a session's turns in order
            async for event in self.runner.run_async(
                user_id=USER, session_id=session_id, new_message=message
            ):
                if event.is_final_response() and event.content and event.content.parts:
                    reply = "".join(part.text or "" for part in event.content.parts)
        return reply or "(no reply)"


def build() -> Sessions:
    """The server calls this once at start."""
    return Sessions()


async def answer(sessions: Sessions, context_id: str, text: str) -> str:
    """One turn in one context's session."""
    return await sessions.answer(context_id, text)
