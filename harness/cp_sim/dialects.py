"""How the platform speaks to a runtime: one request shape per dialect (DESIGN §3.4).

A canary's conversation says what a user says, in which conversation; the dialect
decides what goes on the wire for it. ``context`` is today's chat (a stable
``contextId``, no history); ``history`` is the April 2026 chat (no ``contextId``,
the earlier turns in ``params.metadata.history``), where conversations are the
harness's bookkeeping only; ``a2a-1.0`` is today's chat on the A2A 1.0 JSON-RPC
binding (``SendMessage``, the ``A2A-Version: 1.0`` header, parts without ``kind``).
Conversations and checks speak 0.3's method names; the dialect translates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.cp_sim.a2a import Part, message_envelope

Turn = dict[str, Any]

CONTEXT = "context"
HISTORY = "history"
A2A_1_0 = "a2a-1.0"

HISTORY_TURNS = 20
"""The April 2026 chat sent at most the last 20 turns."""

V1_METHODS = {
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask",
}
"""0.3's JSON-RPC methods and their A2A 1.0 names."""
_V03_METHODS = {v1: v03 for v03, v1 in V1_METHODS.items()}


@dataclass(frozen=True)
class Dialect:
    """One way of sending a user turn.

    Attributes:
        name: The dialect's name, as ``dialects`` and ``--dialect`` spell it.
        sends_context: Whether the request names the conversation (``contextId``).
        sends_history: Whether the request carries the earlier turns.
        version: The A2A protocol version of the wire (``0.3`` or ``1.0``).
    """

    name: str
    sends_context: bool
    sends_history: bool
    version: str = "0.3"

    @property
    def v1(self) -> bool:
        """The A2A 1.0 binding: 1.0 method names, header, parts and replies."""
        return self.version == "1.0"

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers of every JSON-RPC request (0.3 sends none: production sends none)."""
        return {"A2A-Version": "1.0"} if self.v1 else {}

    def method(self, name: str) -> str:
        """A 0.3 method's name on this dialect's wire."""
        return V1_METHODS.get(name, name) if self.v1 else name

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
        envelope["method"] = self.method(method)
        params = envelope["params"]
        if not self.sends_context:
            del params["message"]["contextId"]
        if self.sends_history:
            params["metadata"] = {"history": list(history)[-HISTORY_TURNS:]}
        if self.v1:
            message = params["message"]
            del message["kind"]
            message["role"] = "ROLE_USER"
            message["parts"] = [v1_part(p) for p in parts]
            # 1.0 waits for the answer unless told to return at once (0.3's "blocking").
            params["configuration"] = {"acceptedOutputModes": ["text/plain"],
                                       "returnImmediately": False}  # fmt: skip
        return envelope

    @property
    def recall_note(self) -> str:
        """What a failed recall adds: what this dialect did not give the runtime."""
        if self.sends_history:
            return ""
        return (
            f"the request carried no params.metadata.history (dialect {self.name} sends the "
            "conversation as contextId only; a runtime that rebuilds it from the history "
            "field finds it empty)"
        )


_KNOWN = {
    CONTEXT: Dialect(CONTEXT, sends_context=True, sends_history=False),
    HISTORY: Dialect(HISTORY, sends_context=False, sends_history=True),
    A2A_1_0: Dialect(A2A_1_0, sends_context=True, sends_history=False, version="1.0"),
}

AUTO = "auto"
"""Not a dialect: the one the runtime's card asks for (:func:`resolve`)."""
DIALECTS = (*_KNOWN, AUTO)
"""What ``dialects`` may name, the default first (``harness.config`` names the same)."""


def resolve(name: str, card_versions: Sequence[str]) -> str:
    """The dialect a cell speaks: ``auto`` is ``a2a-1.0`` for a card that advertises 1.0
    and not 0.3, and today's ``context`` otherwise (no card, or one the platform reads)."""
    if name != AUTO:
        return name
    only_1_0 = lists(card_versions, "1.0") and not lists(card_versions, "0.3")
    return A2A_1_0 if only_1_0 else CONTEXT


def lists(card_versions: Sequence[str], version: str) -> bool:
    """Whether a card's protocol versions include ``version`` (``1.0.2`` is ``1.0``)."""
    return any(v == version or v.startswith(f"{version}.") for v in card_versions)


def dialect(name: str) -> Dialect:
    """The dialect of that name (KeyError for one the harness does not speak)."""
    return _KNOWN[name]


def canonical_method(name: str) -> str:
    """A method's 0.3 name, whichever dialect's wire it was sent on."""
    return _V03_METHODS.get(name, name)


def v1_part(part: Part) -> Part:
    """A 0.3 part in the 1.0 shape: no ``kind``; a file is a ``url`` with its name and type."""
    if part.get("kind") == "text":
        return {"text": part["text"]}
    if part.get("kind") == "file":
        file = part.get("file") or {}
        return {"url": file.get("uri"), "filename": file.get("name"),
                "mediaType": file.get("mimeType")}  # fmt: skip
    return {k: v for k, v in part.items() if k != "kind"}


def history_turn(role: str, text: str) -> Turn:
    """One earlier turn as the April 2026 chat put it in the history (text only)."""
    return {"role": role, "parts": [{"kind": "text", "text": text}]}


def part_text(parts: list[Part]) -> str:
    """The text a user turn's parts hold (what the chat kept of it for the history)."""
    return "\n".join(p["text"] for p in parts if p.get("kind") == "text" and "text" in p)
