"""Infrastructure failures: a conversation that failed for the model provider's reason.

On the scripted model its record decides: a turn failed for infrastructure when the model
refused the runtime's last request of that turn (429, 5xx) or sent nothing to it until the
client gave up (a timeout before the first token), and never otherwise — nothing else there
could have rate-limited the runtime, so a reply that says so is the runtime's own doing.
On a real model, where the harness sees no request, the runtime's reply tells (a JSON-RPC
error, a failed task, or a reply that is little more than the error): ``Error code: 429``,
"rate limit", "overloaded", "Request timed out."…, as clients and runtimes word them. A
runtime's own non-200 answer is never infrastructure. A runtime that retried and got its
answer is fine: only the last request of a turn counts, and a reply that is ``ok`` and does
not say so is the runtime's own. Such a conversation is driven again while retries are
left; otherwise it is no verdict about the runtime (``infra``), never its failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from harness.cp_sim.a2a import parse_reply
from harness.events import A2ACall, Event, ModelCall

PROVIDER_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
# How model clients word a provider's refusal (openai's and anthropic's "Error code: 429",
# httpx's "status code 503", the APIs' own error types). Generic HTTP reason phrases are left
# out: a runtime's own server says "Service Unavailable" too. Timeouts as the model clients
# word theirs (openai's and anthropic's APITimeoutError "Request timed out.", Google's
# DEADLINE_EXCEEDED), not a bare "timed out", which a runtime's own tools say too.
PROVIDER_ERROR_RE = re.compile(
    r"\b(?:error code|status code)[\s:=]*(?:429|50[0234]|529)\b"
    r"|\btoo many requests\b|\brate[ _-]?limit(?:ed|_error|_exceeded)?\b"
    r"|\boverloaded(?:_error)?\b|\bresource[ _]exhausted\b"
    r"|\brequest timed out\b|\bAPITimeoutError\b|\bdeadline[ _]exceeded\b",
    re.IGNORECASE,
)
BACKOFF_S = 1.0
BACKOFF_CAP_S = 30.0


def backoff(attempt: int) -> float:
    """Seconds to wait before driving a conversation again (after attempt ``attempt``)."""
    return min(BACKOFF_CAP_S, BACKOFF_S * float(2**attempt))


def reason(
    events: Iterable[Event], keys: set[str], *, v1: bool = False, scripted: bool = False
) -> str | None:
    """Why these conversations (a canary's and its diagnostics') failed for infrastructure.

    Args:
        events: The transcript's events since they started.
        keys: Their conversation keys.
        v1: Replies are read by A2A 1.0's rules.
        scripted: The runtime's model is the harness's: its record alone decides.

    Returns:
        One line naming the turn and what the provider said, or None.
    """
    seen = list(events)
    turns = {e.turn: e for e in seen if isinstance(e, A2ACall) and e.canary in keys}
    last_model_call: dict[int, ModelCall] = {}
    for event in seen:
        if isinstance(event, ModelCall):
            for turn in event.turns:
                if turn in turns:
                    last_model_call[turn] = event
    for turn, call in sorted(turns.items()):
        model = last_model_call.get(turn)
        if model is not None and model.stalled:
            return (f"the model sent nothing to the runtime's last request of turn {turn} "
                    f"({call.canary}): a timeout before the first token")  # fmt: skip
        if model is not None and model.status in PROVIDER_STATUSES:
            return (f"the model answered HTTP {model.status} to the runtime's last request of "
                    f"turn {turn} ({call.canary})")  # fmt: skip
        if scripted or call.status != 200:
            continue  # the runtime's own HTTP failure (or none at all): its own, not infra
        reply = parse_reply(call.status, call.body_bytes(), v1=v1)
        said = reply.text if reply.ok else f"{reply.body_excerpt} {reply.text}"
        found = PROVIDER_ERROR_RE.search(said)
        if found and (not reply.ok or _only_the_error(reply.text, found.group(0))):
            return f"turn {turn} ({call.canary}) answered {found.group(0)!r}: the model provider's"
    return None


def _only_the_error(text: str, marker: str) -> bool:
    """A reply that is little more than the provider's error (some runtimes answer their
    exceptions as text): short, and the marker in its first line."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return len(text) < 400 and marker in first
