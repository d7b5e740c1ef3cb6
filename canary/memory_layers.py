"""memory_layers: commit in ctx D, search in ctx E, use in the reply (DESIGN §4).

Reads memory_recall's transcript and the platform calls tied to its turns; the
first missing step is the verdict: ``memory:commit``, ``memory:search`` or
``memory:reply``. When the colour was recalled, it records whether the
platform's memory carried it (``platform``) or the runtime kept it (``runtime``).
"""

from __future__ import annotations

from typing import Any

from canary.evidence import Evidence, NoEvidence, PlatformCall, fail

KIND = "diagnostic"
ORDER = 4
EXPLAINS = "memory_recall"


def _memories(response: Any) -> list[dict[str, Any]]:
    listed = response.get("memories", []) if isinstance(response, dict) else response
    return [m for m in listed or [] if isinstance(m, dict)]


def _memory_calls(calls: list[PlatformCall], method: str) -> list[PlatformCall]:
    return [c for c in calls if c.method == method and c.path.endswith("/memories")]


def check(evidence: Evidence) -> str:
    """The first missing layer fails; a recall records which layer carried it."""
    turns = evidence.turns("memory_recall")
    if len(turns) < 2:
        raise NoEvidence("the memory_recall conversation recorded fewer than two turns")
    stated, asked = turns[:2]
    colour = evidence.token("memory_recall", "colour").lower()
    calls = evidence.platform_calls
    commits = [
        c
        for c in _memory_calls(calls, "POST")
        if isinstance(c.body, dict) and colour in str(c.body.get("content", "")).lower()
    ]
    accepted = [c for c in commits if c.status == 201]
    if asked.reply.ok and colour in asked.reply.text.lower():
        return "platform" if accepted else "runtime"
    if not commits:
        seen = [f"{c.method} {c.path} -> {c.status}" for c in calls[-8:]]
        fail(
            "memory:commit",
            f"the runtime never stored {colour!r} through the platform in context "
            f"{stated.context_id} (last platform calls: {seen or 'none'}; {stated.where})",
        )
    if not accepted:
        fail(
            "memory:commit",
            f"the platform refused the commit: HTTP {commits[0].status} (auth "
            f"{commits[0].auth}; transcript line {commits[0].line})",
        )
    searches = [c for c in _memory_calls(calls, "GET") if asked.turn in c.turns]
    if not searches:
        fail(
            "memory:search",
            f"the runtime stored the memory but never searched memories while answering "
            f"{asked.sent!r} in context {asked.context_id} ({asked.where})",
        )
    stored = {c.response.get("id") for c in accepted if isinstance(c.response, dict)}
    if not any(m.get("id") in stored for c in searches for m in _memories(c.response)):
        queries = ", ".join(repr(c.query.get("q", "")) for c in searches)
        fail(
            "memory:search",
            f"the runtime searched ({queries}) but no search returned the stored memory "
            f"(transcript line {searches[0].line})",
        )
    fail(
        "memory:reply",
        f"the search returned the memory, but the reply {asked.reply.describe()} does not "
        f"contain {colour!r} ({asked.where})",
    )
