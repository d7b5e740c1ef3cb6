"""memory_deep: a memory updated in a second session is what the third one finds (DESIGN §4.1).

ctx 1: "Please remember for future conversations: my favourite city is {OLD}." → ctx 2: "I
changed my mind: my favourite city is now {NEW}. Please update your memory." → ctx 3: "What
is my favourite city?". Passes when the reply holds NEW and not OLD, and memory carried it
(:mod:`canary._memory`: a session shared across the contexts is no memory). The subject is a
city, not memory_recall's colour: both canaries share the workspace's memory.
"""

from __future__ import annotations

from canary._memory import SESSION, carrier
from canary.evidence import Evidence, fail
from canary.tokens import random_city
from harness.cp_sim import Conversation, trim

KIND = "canary"
ORDER = 5
SHORT = "deep"
USUAL = "platform"
DEFAULT = False
FIRST = "Please remember for future conversations: my favourite city is {city}."
UPDATE = "I changed my mind: my favourite city is now {city}. Please update your memory."
QUESTION = "What is my favourite city?"


async def converse(talk: Conversation) -> None:
    """State a city, change it in a second context, ask in a third."""
    old = talk.token("old", random_city())
    new = random_city()
    while new == old:
        new = random_city()
    talk.token("new", new)
    await talk.say(talk.new_context(), FIRST.format(city=old))
    await talk.say(talk.new_context(), UPDATE.format(city=new))
    await talk.say(talk.new_context(), QUESTION)


def check(evidence: Evidence) -> str:
    """The third context gets the updated city, through memory; observes what carried it."""
    stated, updated, asked = evidence.first_turns("memory_deep", 3)
    stated.answer()
    updated.answer()
    text = asked.answer().lower()
    old, new = evidence.token("memory_deep", "old"), evidence.token("memory_deep", "new")
    said = (
        f"said {stated.sent!r} in context {stated.context_id}, then {updated.sent!r} in "
        f"{updated.context_id}, then asked {asked.sent!r} in {asked.context_id}; got "
        f"{trim(asked.reply.text)!r}"
    )
    has_new, has_old = new.lower() in text, old.lower() in text
    if has_new and not has_old:
        carried = carrier(evidence, asked, new)
        if carried.how == SESSION:
            fail("session", f"{said}, but not through memory: {carried.where} ({asked.where})")
        return carried.how
    committed = [
        line for line in evidence.platform_calls
        if updated.turn in line.event.turns and line.event.method == "POST"
        and line.event.memories_endpoint and new.lower() in str(line.event.body).lower()
    ]  # fmt: skip
    uses_platform = any(
        line.event.memories_endpoint and line.event.method == "POST"
        for line in evidence.platform_calls
    )
    if has_old and not has_new:
        if uses_platform and not committed:
            fail("memory:update", f"{said}: the update to {new!r} never reached the platform's "
                 f"memory ({updated.where})")  # fmt: skip
        fail("memory:stale", f"{said}: the old memory {old!r} still wins over {new!r} "
             f"({asked.where})")  # fmt: skip
    if has_old and has_new:
        fail("memory:stale", f"{said}: both the old {old!r} and the new {new!r} "
             f"({asked.where})")  # fmt: skip
    searched = [
        line for line in evidence.platform_calls
        if asked.turn in line.event.turns and line.event.method == "GET"
        and line.event.memories_endpoint
    ]  # fmt: skip
    returned = [
        line
        for line in searched
        if any(new.lower() in str(m.get("content", "")).lower() for m in line.event.memories())
    ]
    if not uses_platform:
        fail("memory", f"{said}; expected {new!r} ({asked.where})")
    if not searched:
        fail("memory:search", f"{said}: the runtime never searched memories while answering "
             f"({asked.where})")  # fmt: skip
    if not returned:
        fail("memory:search", f"{said}: no search returned the memory holding {new!r} "
             f"({searched[0].where})")  # fmt: skip
    fail("memory:reply", f"{said}: the search returned {new!r}, but the reply does not hold it "
         f"({asked.where})")  # fmt: skip
