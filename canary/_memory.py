"""How a remembered colour reached the new context: what memory_recall and memory_layers share.

A colour that comes back in a new context proves memory only if memory carried it
(DESIGN §4). The evidence, in order:

1. ``platform``: a memory search during the question's turn returned it.
2. ``runtime``: on the scripted model, a request for the question held it where a
   runtime's memory puts it: a tool result of this turn (a memory tool of its own),
   the system prompt, or text the runtime injected around the question
   ("[Prior context from memory] …").
3. ``session``: a request held it only as an earlier turn of the conversation that
   stated it (a separate earlier message, or history embedded in the question's
   message: "Conversation so far: … Current request: …"), or, with no model evidence,
   ``session_scope`` saw a fresh context know the name from another one. A leaked
   session is not memory, and fixing the leak must not look like a memory regression.
4. Otherwise ``runtime``: the runtime kept it itself, by means the transcript cannot see.

Both checks call :func:`carrier`, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary import session_scope
from canary.evidence import Evidence, Turn
from harness.events import ModelMessage

PLATFORM, RUNTIME, SESSION = "platform", "runtime", "session"
_HISTORY_START = "Conversation so far:"
_HISTORY_END = "Current request:"
_SMOLAGENTS_TASK = "New task:"


@dataclass(frozen=True)
class Carrier:
    """What carried the colour into the new context.

    Attributes:
        how: ``platform``, ``runtime`` or ``session``.
        where: Where the evidence is, in words, naming its transcript line.
    """

    how: str
    where: str


def carrier(evidence: Evidence, asked: Turn, colour: str) -> Carrier:
    """How the colour the reply to ``asked`` holds reached that context."""
    wanted = colour.lower()
    for line in evidence.platform_calls:
        call = line.event
        searched = asked.turn in call.turns and call.method == "GET" and call.memories_endpoint
        if searched and any(wanted in str(m.get("content", "")).lower() for m in call.memories()):
            return Carrier(PLATFORM, f"a memory search returned it ({line.where})")
    leaked = None
    for request in evidence.model_calls_during(asked):
        found = _in_request(request.event.messages, asked.sent, wanted)
        if found is None:
            continue
        how, where = found
        if how == RUNTIME:
            return Carrier(RUNTIME, f"the model found it in {where} ({request.where})")
        leaked = leaked or Carrier(SESSION, f"the model got it only as {where} ({request.where})")
    if leaked is not None:
        return leaked
    if session_scope.observe(evidence) == "shared":
        fresh = evidence.turns("session_scope")[0]
        return Carrier(
            SESSION,
            f"no memory search returned it, and a fresh context knew the name from another "
            f"context (session_scope, {fresh.where}): one session is shared across contexts",
        )
    return Carrier(RUNTIME, "the runtime kept it itself (no platform search returned it)")


def _in_request(
    messages: tuple[ModelMessage, ...], question: str, colour: str
) -> tuple[str, str] | None:
    """Where one model request for the question holds the colour: (how, in words).

    The request must be the question's own: its current user message (the last one
    that is not a tool's observation) asks it. A request of another conversation that
    shares the session, with the question earlier in its history, decides nothing.
    """
    users = [i for i, m in enumerate(messages) if m.role == "user" and not m.tool_result]
    if not users or question not in messages[users[-1]].text:
        return None
    current = users[-1]
    leak = None
    for index, message in enumerate(messages):
        if colour not in message.text.lower():
            continue
        if index > current:  # this turn's tool results (smolagents: its observations)
            return RUNTIME, f"a tool result of this turn ({message.role})"
        if message.role == "system":
            return RUNTIME, "the system prompt"
        if index == current:
            history, injected = _split(message.text, question)
            if colour in injected.lower():
                return RUNTIME, "context injected into the question's message"
            if colour in history.lower():
                leak = leak or "history embedded in the question's message"
            continue
        leak = leak or f"an earlier {message.role} message of the conversation"
    return (SESSION, leak) if leak else None


def _split(text: str, question: str) -> tuple[str, str]:
    """A message's embedded history, and the rest of it (the question taken out)."""
    rest = text.replace(question, " ")
    if _HISTORY_START in rest:
        before, after = rest.split(_HISTORY_START, 1)
        history, _, tail = after.partition(_HISTORY_END)
        return history, before + tail
    if _SMOLAGENTS_TASK in rest:
        history, _, task = rest.rpartition(_SMOLAGENTS_TASK)
        return history, task
    return "", rest
