"""interleaved: two conversations at once each keep their own name (DESIGN §4.1).

ctx A: "Hi! My name is {N1}.", ctx B: "Hi! My name is {N2}.", then "What is my name?" in A
and in B at the same time. Passes when A's answer holds N1 and not N2, and B's holds N2 and
not N1: a per-process "current session", or a session key that is not the context, mixes
them. It runs when no other conversation does, so only its own turns overlap.
"""

from __future__ import annotations

import asyncio

from canary.evidence import Evidence, NoEvidence, fail
from canary.name_recall import QUESTION
from canary.tokens import random_name
from harness.cp_sim import Conversation, trim

KIND = "canary"
ORDER = 6
SHORT = "intr"
DEFAULT = False
ALONE = True


async def converse(talk: Conversation) -> None:
    """Introduce two names in two contexts, then ask both at once."""
    first = talk.token("first", random_name())
    second = random_name()
    while second == first:
        second = random_name()
    talk.token("second", second)
    a, b = talk.new_context(), talk.new_context()
    await talk.say(a, f"Hi! My name is {first}.")
    await talk.say(b, f"Hi! My name is {second}.")
    await asyncio.gather(talk.say(a, QUESTION), talk.say(b, QUESTION))


def check(evidence: Evidence) -> None:
    """Each context's answer holds its own name and not the other's."""
    if evidence.header.session_scope != "context":
        raise NoEvidence(
            f"the template declares session_scope = {evidence.header.session_scope!r}: "
            "one session for every context, so conversations are expected to mix"
        )
    told_a, told_b, *asked = evidence.first_turns("interleaved", 4)
    told_a.answer()
    told_b.answer()
    names = {told_a.context_id: evidence.token("interleaved", "first"),
             told_b.context_id: evidence.token("interleaved", "second")}  # fmt: skip
    for turn in asked:
        text = turn.answer().lower()
        own = names[turn.context_id]
        other = next(n for c, n in names.items() if c != turn.context_id)
        if own.lower() in text and other.lower() not in text:
            continue
        got = f"asked {turn.sent!r} in context {turn.context_id} at the same time as the other"
        if other.lower() in text:
            fail("session", f"{got}; got {trim(turn.reply.text)!r}: the other conversation's "
                 f"name {other!r}, not {own!r} ({turn.where})")  # fmt: skip
        fail("session", f"{got}; got {trim(turn.reply.text)!r}; expected {own!r} ({turn.where})")
