"""A CrewAI crew as the platform's crewai adapter wires one.

Per turn, as the platform's adapter does: an ``Agent`` (its backstory the platform's system
prompt, listing the peers and skills), a ``Task`` whose description is the request and a
``Crew`` of the two, kicked off in a thread. The ``LLM`` is crewai's native OpenAI provider
on ``OPENAI_BASE_URL`` (Chat Completions; no litellm). The platform's memory, peer and file
tools are crewai tools. A crew keeps nothing between kickoffs, so the adapter keeps each A2A
``contextId``'s earlier turns and puts them in the task description ("Conversation so far"),
as the platform's adapter does with the history it is sent. A cancelled task blocks its
crew's next model call (a ``before_llm_call`` hook).
``CREWAI_FAULT=text_parts_only`` forwards only a message's text parts, as the platform's
crewai adapter reads a message (``extract_message_text``): a file-only turn is answered
"No message provided" and a caption is answered without its file.
"""

from __future__ import annotations

import contextvars
import os
import threading
from typing import Any

import platform_api
from cancelling import Turn, in_thread
from crewai import LLM, Agent, Crew, Task
from crewai.hooks import register_before_llm_call_hook
from crewai.tools import tool

NAME = "crewai template"
DESCRIPTION = "CrewAI crew (Agent, Task, Crew)"
TEXT_PARTS_ONLY = os.environ.get("CREWAI_FAULT", "") == "text_parts_only"
"""The shell forwards no file part to this adapter (its production mistake)."""
EMPTY = "(no text)"
"""What the shell passes when a message had no part it forwards."""

_turn: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("turn", default=None)
"""The turn a crew is running, for the hook that stops a cancelled one (a context variable:
crewai runs an agent's steps in threads of its own, with a copy of the caller's context)."""


def _stop_cancelled(context: Any) -> bool | None:
    """Before each model call: False (crewai blocks the call) once the turn is cancelled."""
    turn = _turn.get()
    return False if turn is not None and turn.cancelled else None


def _transcript(turns: list[tuple[str, str]], text: str) -> str:
    """The task description: the conversation's earlier turns, then the request."""
    if not turns:
        return text
    lines = [f"{'User' if who == 'user' else 'Assistant'}: {said}" for who, said in turns]
    return "\n".join(["Conversation so far:", *lines, "", "Current request:", text])


class Contexts:
    """The LLM and tools, and each context's earlier turns (one turn at a time per context)."""

    def __init__(self) -> None:
        self.llm = LLM(
            model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            base_url=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY"),
            temperature=0,
        )
        self.tools = [tool(function) for function in platform_api.TOOLS]
        self.turns: dict[str, list[tuple[str, str]]] = {}
        self.prompts: dict[str, str] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()
        register_before_llm_call_hook(_stop_cancelled)

    def _crew(self, backstory: str, description: str) -> Crew:
        agent = Agent(
            role="Assistant", backstory=backstory, llm=self.llm,
            goal="Help the user and coordinate with peer agents when needed",
            tools=self.tools, allow_delegation=False, max_iter=6, verbose=False,
        )  # fmt: skip
        task = Task(description=description, expected_output="A helpful response", agent=agent)
        return Crew(agents=[agent], tasks=[task], verbose=False, tracing=False)

    def answer(self, context_id: str, text: str, turn: Turn) -> str:
        """One turn: a crew for it, the context's history in its task."""
        if text == EMPTY:
            return "No message provided"  # the platform's adapter, on a message with no text
        with self.guard:
            lock = self.locks.setdefault(context_id, threading.Lock())
        with lock:
            turns = self.turns.setdefault(context_id, [])
            if context_id not in self.prompts:  # rendered once per session, as the platform's
                self.prompts[context_id] = platform_api.system_prompt()
            crew = self._crew(self.prompts[context_id], _transcript(turns, text))
            if not turn.begin(lambda: None):  # the hook sees the cancel: nothing to interrupt
                return "(cancelled)"
            token = _turn.set(turn)
            try:
                reply = str(crew.kickoff())
            except Exception:
                if not turn.cancelled:
                    raise
                return "(cancelled)"
            finally:
                _turn.reset(token)
            turns += [("user", text), ("assistant", reply)]
        return reply


def build() -> Contexts:
    """The server calls this once at start."""
    return Contexts()


async def answer(contexts: Contexts, context_id: str, text: str) -> str:
    """One turn, off the event loop (crewai's kickoff is synchronous)."""
    return await in_thread(lambda turn: contexts.answer(context_id, text, turn))
