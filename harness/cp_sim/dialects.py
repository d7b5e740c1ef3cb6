"""How the platform speaks to a runtime: one request shape per dialect (DESIGN §3.4).

A canary's conversation says what a user says, in which conversation; the dialect
decides what goes on the wire for it. ``context`` is today's chat (a stable
``contextId``, no history); ``history`` is the April 2026 chat (no ``contextId``,
the earlier turns in ``params.metadata.history``), where conversations are the
harness's bookkeeping only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.cp_sim.a2a import Part, message_envelope

Turn = dict[str, Any]

CONTEXT = "context"
HISTORY = "history"

HISTORY_TURNS = 20
"""The April 2026 chat sent at most the last 20 turns."""

WITHOUT_HISTORY = (
    "the request carried no params.metadata.history (dialect context sends the conversation "
    "as contextId only; a runtime that rebuilds it from the history field finds it empty)"
)
"""What a failed recall adds under a dialect without history: what the runtime was not given."""


@dataclass(frozen=True)
class Dialect:
    """One way of sending a user turn.

    Attributes:
        name: The dialect's name, as ``dialects`` and ``--dialect`` spell it.
        sends_context: Whether the request names the conversation (``contextId``).
        sends_history: Whether the request carries the earlier turns.
    """

    name: str
    sends_context: bool
    sends_history: bool

    def envelope(
        self,
        parts: list[Part],
        context_id: str,
        history: Sequence[Turn] = (),
        *,
        method: str = "message/send",
    ) -> dict[str, Any]:
        """The JSON-RPC request for one user turn.

        Args:
            parts: The message parts (0.3 shapes, as production sends them).
            context_id: The conversation (sent only where the dialect names it).
            history: The conversation's earlier turns (sent only where the dialect does).
            method: ``message/send`` or ``message/stream``.
        """
        envelope = message_envelope(parts, context_id)
        envelope["method"] = method
        params = envelope["params"]
        if not self.sends_context:
            del params["message"]["contextId"]
        if self.sends_history:
            params["metadata"] = {"history": list(history)[-HISTORY_TURNS:]}
        return envelope

    @property
    def recall_note(self) -> str:
        """What a failed recall adds: what this dialect did not give the runtime."""
        return "" if self.sends_history else WITHOUT_HISTORY


_KNOWN = {
    CONTEXT: Dialect(CONTEXT, sends_context=True, sends_history=False),
    HISTORY: Dialect(HISTORY, sends_context=False, sends_history=True),
}


DIALECTS = tuple(_KNOWN)
"""Every dialect the harness speaks, the default first (``harness.config`` names the same)."""


def dialect(name: str) -> Dialect:
    """The dialect of that name (KeyError for one the harness does not speak)."""
    return _KNOWN[name]


def history_turn(role: str, text: str) -> Turn:
    """One earlier turn as the April 2026 chat put it in the history (text only)."""
    return {"role": role, "parts": [{"kind": "text", "text": text}]}


def part_text(parts: list[Part]) -> str:
    """The text a user turn's parts hold (what the chat kept of it for the history)."""
    return "\n".join(p["text"] for p in parts if p.get("kind") == "text" and "text" in p)
