"""session_scope: a fresh context must not know the name when sessions are per context.

After name_recall's conversation, a fresh context asks "What is my name?". The
observed scope is recorded either way: ``context`` (it did not know), ``shared``
(it knew without the platform's memories) or ``memory`` (a memory search that
ran during that turn returned the name, a legitimate way across sessions). The
check fails only when the template declares ``session_scope = "context"`` and
the scope observed is ``shared``; without a passing name_recall there is no
evidence (DESIGN §4).
"""

from __future__ import annotations

from canary.evidence import Evidence, Failed, NoEvidence, Turn, fail
from canary.name_recall import QUESTION
from harness.cp_sim import Conversation, trim

KIND = "diagnostic"
ORDER = 2
SHORT = "scop"
USUAL = "context"
EXPLAINS = "name_recall"


async def follow_up(talk: Conversation) -> None:
    """Ask for the name in a fresh context, after name_recall's conversation."""
    await talk.say(talk.new_context(), QUESTION)


def _memories_returned(evidence: Evidence, turn_id: int) -> list[str]:
    return [
        str(memory.get("content", ""))
        for call in (line.event for line in evidence.platform_calls)
        if turn_id in call.turns and call.method == "GET" and call.memories_endpoint
        for memory in call.memories()
    ]


def observe(evidence: Evidence) -> str | None:
    """The scope the fresh question observed: ``context``, ``shared`` or ``memory``.

    None when there is no evidence: name_recall failed, or the question was not asked
    (or got no reply).
    """
    try:
        return _observe(evidence)[0]
    except (NoEvidence, Failed):
        return None


def _observe(evidence: Evidence) -> tuple[str, Turn, str]:
    """The observed scope, the fresh turn, and the name; raises as the check does."""
    recalled = evidence.turns("name_recall")
    name = evidence.token("name_recall", "name")
    if len(recalled) < 2 or not (
        recalled[1].reply.ok and name.lower() in recalled[1].reply.text.lower()
    ):
        raise NoEvidence("no evidence: name_recall failed, so scope cannot be observed")
    fresh_turns = evidence.turns("session_scope")
    if not fresh_turns:
        raise NoEvidence("the fresh-context question was not asked")
    fresh = fresh_turns[0]
    text = fresh.answer()
    observed = "context"
    if name.lower() in text.lower():
        returned = _memories_returned(evidence, fresh.turn)
        observed = "memory" if any(name.lower() in m.lower() for m in returned) else "shared"
    return observed, fresh, name


def check(evidence: Evidence) -> str:
    """Observe the scope; fail when a context-scoped template shares sessions."""
    observed, fresh, name = _observe(evidence)
    if evidence.header.session_scope == "context" and observed == "shared":
        recalled = evidence.turns("name_recall")
        fail(
            "session",
            f"a fresh context {fresh.context_id} asked {fresh.sent!r} and got "
            f"{trim(fresh.reply.text)!r}: it knows {name!r} from context {recalled[1].context_id} "
            f"without the platform's memories, but the template declares session_scope = "
            f"'context' ({fresh.where})",
        )
    return observed
