"""memory_layers: commit in ctx D, search in ctx E, use in the reply (DESIGN §4).

Reads memory_recall's transcript and the platform calls tied to its turns; the
first missing step is the verdict: ``memory:commit``, ``memory:search`` or
``memory:reply``. When the colour was recalled, it records what carried it
(:mod:`canary._memory`): the platform's memory (``platform``: a search during the
question returned it) or the runtime's own (``runtime``); a colour that came only
through a session shared across contexts fails at ``session``, as memory_recall does.
"""

from __future__ import annotations

from canary._memory import SESSION, carrier
from canary.evidence import Evidence, fail
from harness.cp_sim import trim
from harness.cp_sim.transcript import Line
from harness.events import PlatformCall

KIND = "diagnostic"
ORDER = 4
SHORT = "lay"
USUAL = "platform"
EXPLAINS = "memory_recall"


Calls = list[Line[PlatformCall]]


def _memory_calls(calls: Calls, method: str) -> Calls:
    return [c for c in calls if c.event.method == method and c.event.memories_endpoint]


def check(evidence: Evidence) -> str:
    """The first missing layer fails; a recall records which layer carried it."""
    stated, asked = evidence.first_turns("memory_recall", 2)
    stated.answer()
    text = asked.answer()
    colour = evidence.token("memory_recall", "colour")
    calls = evidence.platform_calls
    commits = [
        c
        for c in _memory_calls(calls, "POST")
        if isinstance(c.event.body, dict)
        and colour.lower() in str(c.event.body.get("content", "")).lower()
    ]
    accepted = [c for c in commits if c.event.status == 201]
    stored = {
        c.event.response.get("id") for c in accepted if isinstance(c.event.response, dict)
    } - {None}
    searches = [c for c in _memory_calls(calls, "GET") if asked.turn in c.event.turns]
    returned = [c for c in searches if any(m.get("id") in stored for m in c.event.memories())]
    if colour.lower() in text.lower():
        carried = carrier(evidence, asked, colour)
        if carried.how == SESSION:
            fail(
                "session",
                f"the reply in context {asked.context_id} holds {colour!r}, but no memory "
                f"carried it: {carried.where} ({asked.where})",
            )
        return carried.how
    if not commits:
        seen = [f"{c.event.method} {c.event.path} -> {c.event.status}" for c in calls[-8:]]
        fail(
            "memory:commit",
            f"the runtime never stored {colour!r} through the platform in context "
            f"{stated.context_id} (last platform calls: {seen or 'none'}; {stated.where})",
        )
    if not accepted:
        first = commits[0]
        fail(
            "memory:commit",
            f"the platform refused the commit of {colour!r}: HTTP {first.event.status} (auth "
            f"{first.event.auth}; {first.where})",
        )
    late = [c for c in _memory_calls(calls, "GET") if c.number > asked.line and not c.event.turns]
    if not searches and late:
        fail(
            "memory:search",
            f"the runtime searched memories only after the reply to {asked.sent!r} in context "
            f"{asked.context_id} ({asked.where}; the search is at {late[0].where}): the answer "
            "could not use it",
        )
    if not searches:
        fail(
            "memory:search",
            f"the runtime stored {colour!r} but never searched memories while answering "
            f"{asked.sent!r} in context {asked.context_id} ({asked.where})",
        )
    if not returned:
        queries = ", ".join(repr(c.event.query.get("q", "")) for c in searches)
        fail(
            "memory:search",
            f"the runtime searched ({queries}) but no search returned the memory holding "
            f"{colour!r} ({searches[0].where})",
        )
    fail(
        "memory:reply",
        f"the search returned the memory, but the reply {trim(text)!r} does not contain "
        f"{colour!r} ({asked.where})",
    )
