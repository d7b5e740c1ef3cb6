"""name_recall: a second turn in the same context remembers the first (DESIGN §4).

ctx A: "Hi! My name is {NAME}. Please remember it." → ctx A: "What is my name?";
passes when the second reply contains NAME (case-insensitive).
"""

from __future__ import annotations

from canary.evidence import Evidence, fail
from canary.tokens import random_name
from harness.cp_sim import Conversation, trim

KIND = "canary"
ORDER = 1
SHORT = "name"
QUESTION = "What is my name?"


async def converse(talk: Conversation) -> None:
    """Introduce a random name, then ask for it in the same context."""
    name = talk.token("name", random_name())
    context = talk.new_context()
    await talk.say(context, f"Hi! My name is {name}. Please remember it.")
    await talk.say(context, QUESTION)


def check(evidence: Evidence) -> None:
    """The second reply contains the name."""
    told, asked = evidence.first_turns("name_recall", 2)
    told.answer()
    text = asked.answer()
    name = evidence.token("name_recall", "name")
    if name.lower() not in text.lower():
        note = evidence.dialect.recall_note
        fail(
            "session",
            f"told {name!r} in context {asked.context_id}, then asked {asked.sent!r}; "
            f"got {trim(text)!r}; expected the reply to contain {name!r} ({asked.where})"
            + (f"; {note}" if note else ""),
        )
