"""memory_recall: a memory written in one session is found in the next (DESIGN §4).

ctx D: "Please remember for future conversations: my favourite colour is {COLOUR}."
→ new ctx E: "What is my favourite colour?"; passes when the reply in E has COLOUR
and memory carried it there (:mod:`canary._memory`): a colour that reached E only
through a session shared with D fails at layer ``session``.
"""

from __future__ import annotations

from canary._memory import SESSION, carrier
from canary.evidence import Evidence, fail
from canary.tokens import random_colour
from harness.cp_sim import Conversation, trim

KIND = "canary"
ORDER = 4
SHORT = "mem"
QUESTION = "What is my favourite colour?"


async def converse(talk: Conversation) -> None:
    """State a random favourite colour, then ask for it in a new context."""
    colour = talk.token("colour", random_colour())
    await talk.say(
        talk.new_context(),
        f"Please remember for future conversations: my favourite colour is {colour}.",
    )
    await talk.say(talk.new_context(), QUESTION)


def check(evidence: Evidence) -> None:
    """The reply in the new context holds the colour, and memory carried it there."""
    stated, asked = evidence.first_turns("memory_recall", 2)
    stated.answer()
    text = asked.answer()
    colour = evidence.token("memory_recall", "colour")
    if colour.lower() not in text.lower():
        fail(
            "memory",
            f"said {stated.sent!r} in context {stated.context_id}, then asked {asked.sent!r} "
            f"in new context {asked.context_id}; got {trim(text)!r}; expected {colour!r} "
            f"({asked.where})",
        )
    carried = carrier(evidence, asked, colour)
    if carried.how == SESSION:
        fail(
            "session",
            f"said {stated.sent!r} in context {stated.context_id}, then asked {asked.sent!r} in "
            f"new context {asked.context_id}; got {trim(text)!r}, but not through memory: "
            f"{carried.where}; a session shared across contexts is not memory ({asked.where})",
        )
