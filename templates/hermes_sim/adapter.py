"""Hermes (Nous Research's ``hermes-agent``) as a platform adapter would wire it.

One ``AIAgent`` per A2A ``contextId`` on the OpenAI-compatible endpoint at
``OPENAI_BASE_URL`` (``provider="custom"``), the conversation history kept per
context and passed back each turn (``run_conversation(conversation_history=…)``,
as hermes' own ACP adapter does), and only the platform's memory, peer and file tools
enabled (hermes' built-in terminal, browser, skills and file memory stay off); the
system prompt lists the peers and the skills provisioned in the workspace.
``HERMES_FAULT=chat_api`` answers through ``AIAgent.chat()``, which sends no
history: the easy mistake that forgets every turn.
"""

from __future__ import annotations

import inspect
import os
import threading
from pathlib import Path
from typing import Any

import platform_api
from cancelling import Turn, in_thread

# hermes keeps its state (SOUL.md, state.db, logs) under HERMES_HOME: here in the
# workspace, fresh per run; a context length set here spares a model-info probe.
_WORKSPACE = os.environ.get("WORKSPACE_DIR", "/workspace")
HOME = Path(os.environ.setdefault("HERMES_HOME", os.path.join(_WORKSPACE, ".hermes")))
HOME.mkdir(parents=True, exist_ok=True)
(HOME / "config.yaml").write_text("model:\n  context_length: 131072\n")

from run_agent import AIAgent  # noqa: E402  (reads HERMES_HOME at import)
from tools.registry import registry  # noqa: E402

NAME = "hermes template"
DESCRIPTION = "Hermes agent (hermes-agent) with the platform's memory and peer tools"
TOOLSET = "platform"


_RENAMED = {"delegate_task": "delegate_to_workspace", "read_file": "read_workspace_file"}


def _register_tools() -> None:
    for function in platform_api.TOOLS:
        # hermes-agent keeps ``delegate_task`` (its sub-agents) and ``read_file`` (its file
        # toolset) and refuses a tool that shadows another toolset's: these go by other names.
        name = _RENAMED.get(function.__name__, function.__name__)
        description = (function.__doc__ or "").split("\n\n")[0]
        arguments = list(inspect.signature(function).parameters)  # every one a string
        schema = {
            "name": name, "description": description,
            "parameters": {"type": "object", "required": arguments,
                           "properties": {a: {"type": "string"} for a in arguments}},
        }  # fmt: skip
        registry.register(
            name=name, toolset=TOOLSET, schema=schema,
            handler=lambda args, _f=function, _a=arguments, **_: _f(
                **{a: str(args.get(a, "")) for a in _a}
            ),
        )  # fmt: skip


class Contexts:
    """One agent and its history per context, one turn at a time per context."""

    def __init__(self) -> None:
        _register_tools()
        self.stateless = os.environ.get("HERMES_FAULT", "") == "chat_api"
        self.sessions: dict[str, tuple[Any, list[dict[str, Any]], threading.Lock]] = {}
        self.guard = threading.Lock()

    def _session(self, context_id: str) -> tuple[Any, list[dict[str, Any]], threading.Lock]:
        with self.guard:
            if context_id not in self.sessions:
                agent = AIAgent(
                    base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"],
                    model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), provider="custom",
                    enabled_toolsets=[TOOLSET], quiet_mode=True, skip_memory=True,
                    skip_context_files=True, session_id=context_id, max_iterations=8,
                    ephemeral_system_prompt=platform_api.system_prompt(),
                )  # fmt: skip
                self.sessions[context_id] = (agent, [], threading.Lock())
            return self.sessions[context_id]

    def answer(self, context_id: str, text: str, turn: Turn) -> str:
        agent, history, lock = self._session(context_id)
        with lock:
            # An interrupt outlives the run it stopped: clear the last turn's first.
            agent.clear_interrupt()
            if not turn.begin(agent.interrupt):
                return "(cancelled)"
            if self.stateless:
                return str(agent.chat(text))
            result = agent.run_conversation(
                text, conversation_history=list(history), task_id=context_id
            )
            history[:] = result["messages"]
        return str(result.get("final_response") or "(no reply)")


def build() -> Contexts:
    """The server calls this once at start."""
    return Contexts()


async def answer(contexts: Contexts, context_id: str, text: str) -> str:
    """One turn, off the event loop (hermes runs synchronously); a cancelled task interrupts
    its agent (``AIAgent.interrupt()``)."""
    return await in_thread(lambda turn: contexts.answer(context_id, text, turn))
