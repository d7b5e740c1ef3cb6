"""Claude Code (the ``claude`` CLI, driven by ``claude-agent-sdk``) as the platform's
claude-code adapter wires it.

Each turn is a ``ClaudeSDKClient``: the SDK starts the CLI bundled in its wheel on the
Anthropic Messages endpoint at ``ANTHROPIC_BASE_URL``, and interrupts it when the turn's task
is cancelled. A context's first turn starts a session; its
later turns resume it (``resume=<session id>``), so the CLI's own transcript is the history.
The platform's memory and peer tools come from an MCP server over stdio
(``platform_mcp.py``); of the CLI's own tools only ``Read`` is on, for attachments (passed
as paths) and skills. The CLI keeps its state under ``CLAUDE_CONFIG_DIR`` in the workspace.
``CLAUDE_CODE_FAULT=shared_session`` resumes one session for every conversation: the
production mistake that lets a fresh context know what another was told.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import platform_api
import platform_mcp
from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage

NAME = "claude-code template"
DESCRIPTION = "Claude Code (claude-agent-sdk) with the platform's memory and peer tools"
ATTACHMENTS_AS_PATHS = True
SHARED_SESSION = os.environ.get("CLAUDE_CODE_FAULT", "") == "shared_session"
TOOLS = ["Read"]
MAX_TURNS = 8
MCP_START_TIMEOUT_MS = 120_000
INTERRUPT_TIMEOUT_S = 10.0


class Sessions:
    """The CLI's session id per context, one turn at a time per context."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        home = platform_api.WORKSPACE / ".claude"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "CLAUDE_CONFIG_DIR": str(home), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # The MCP server's start, waited for: on a loaded machine the default ran out and
            # the turn went on without the platform's tools.
            "MCP_TIMEOUT": str(MCP_START_TIMEOUT_MS),
        }  # fmt: skip

    def key(self, context_id: str) -> str:
        return "shared" if SHARED_SESSION else context_id

    def options(self, session: str | None) -> ClaudeAgentOptions:
        mcp = {"command": sys.executable, "args": [str(Path(platform_mcp.__file__).resolve())],
               "env": platform_mcp.child_env()}  # fmt: skip
        return ClaudeAgentOptions(
            system_prompt=platform_api.system_prompt(), tools=TOOLS,
            allowed_tools=[*TOOLS, "mcp__platform"], mcp_servers={"platform": mcp},
            strict_mcp_config=True, setting_sources=[],  # allowed_tools: asked for nothing
            cwd=str(platform_api.WORKSPACE), env=self.env, max_turns=MAX_TURNS, resume=session,
            model=os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5"),
            stderr=_log,  # the CLI's reasons belong in the runtime's log, not only its own
        )  # fmt: skip


def _log(line: str) -> None:
    print(f"[claude] {line}", file=sys.stderr, flush=True)


def build() -> Sessions:
    """The server calls this once at start."""
    return Sessions()


async def answer(sessions: Sessions, context_id: str, text: str) -> str:
    """One turn: the CLI resumes the context's session, if it has one."""
    key = sessions.key(context_id)
    lock = sessions.locks.setdefault(key, asyncio.Lock())
    async with lock, ClaudeSDKClient(sessions.options(sessions.ids.get(key))) as client:
        await client.query(text)
        reply = "(no reply)"
        try:
            async for message in client.receive_response():
                if isinstance(message, ResultMessage):
                    sessions.ids[key] = message.session_id
                    reply = message.result or f"(the CLI ended: {message.subtype})"
        except asyncio.CancelledError:
            # The task was cancelled: stop the CLI's turn now. Closing alone gives it five
            # seconds of grace, in which a cancelled turn went on calling tools and the model.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.interrupt(), INTERRUPT_TIMEOUT_S)
            raise
        return reply
