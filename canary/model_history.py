"""model_history: did the second turn reach the model with the first? (templates on model = "sim")

Reads name_recall's transcript and the scripted model's request log tied to its
turns. A runtime that keeps its session feeds the model the earlier turn; one that
drops it sends the question alone, and the model, which answers only from what it
is sent, cannot know the name. The verdict says which: the layer is
``model:history`` when the name never reached the model, ``model:call`` when the
runtime answered without asking the model at all.
"""

from __future__ import annotations

from canary.evidence import Evidence, NoEvidence, fail
from harness.cp_sim import trim

KIND = "diagnostic"
ORDER = 5
SHORT = "hist"
USUAL = "history"
EXPLAINS = "name_recall"
NEEDS = "model_sim"


def check(evidence: Evidence) -> str:
    """The model request for turn 2 carries turn 1's name, as the user said it."""
    told, asked = evidence.first_turns("name_recall", 2)
    if not (told.reply.ok and asked.reply.ok):
        raise NoEvidence("no evidence: name_recall's turns did not both get a reply")
    name = evidence.token("name_recall", "name")
    # Model requests for this turn: in flight with it, and carrying its question (other
    # conversations' requests may be in flight at the same time).
    calls = [
        line
        for line in evidence.model_calls_during(asked)
        if any(asked.sent in m.text for m in line.event.messages)
    ]
    if not calls:
        fail(
            "model:call",
            f"the runtime answered {asked.sent!r} without calling the model ({asked.where})",
        )
    sent = [m for line in calls for m in line.event.messages]
    # Turn 1 as the user said it: an assistant's echo of the name ("Nice to meet you,
    # X") is not the turn, and a model cut off from the turn cannot know the name.
    said = [m for m in sent if m.role == "user"]
    if any(name.lower() in m.text.lower() for m in said):
        return "history"
    seen = "; ".join(f"{m.role}: {trim(m.text, 80)}" for m in sent)
    fail(
        "model:history",
        f"turn 2 ({asked.sent!r}) reached the model without turn 1: it was sent only "
        f"[{seen}] ({calls[0].where}), so it could not know {name!r}",
    )
