"""model_files: did the file reach the model? (templates on model = "sim")

Reads the file canaries' transcripts (file_only, and file_caption when it ran) and
the scripted model's requests tied to the turn that carried the file. The file
reached the model when a request for that turn held its text: in the prompt
(observed ``text``) or as the result of a tool the model called to read it
(observed ``tool``). A runtime that passes only the path gives the model a way to
read it only with a file-reading tool; one that drops the file leaves the model
nothing, and the request log says what it was sent instead. The layer is
``model:files``, or ``model:call`` when the runtime answered without the model.
"""

from __future__ import annotations

from canary._files import file_turn
from canary.evidence import Evidence, NoEvidence, fail, request_texts
from harness.cp_sim import trim
from harness.events import Upload

KIND = "diagnostic"
ORDER = 6
SHORT = "mfil"
USUAL = "text"
EXPLAINS = "file_only"
NEEDS = "model_sim"
FILE_CANARIES = ("file_only", "file_caption")


def _reached(evidence: Evidence, canary: str) -> str:
    """How the canary's file reached the model: ``text`` or ``tool``; fails otherwise."""
    turn = file_turn(evidence, canary)
    if not turn.reply.ok:
        raise NoEvidence(f"no evidence: the {canary} turn got no reply")
    code = evidence.token(canary, "code")
    uploads = [line.event.uri for line in evidence.events(canary, Upload) if line.event.uri]
    path = uploads[0].removeprefix("workspace:") if uploads else None
    calls = evidence.model_calls_during(turn)
    if not calls:
        fail(
            "model:call",
            f"the runtime answered the file turn of {canary} ({turn.sent!r}) without calling "
            f"the model, so the model never saw the file ({turn.where})",
        )
    line_of_file = f"reference code: {code}"
    for line in calls:
        messages = line.event.messages
        for index, message in enumerate(messages):
            if line_of_file in message.text:
                after_a_call = any(m.tool_result for m in messages[: index + 1])
                return "tool" if after_a_call else "text"
    sent = [m for line in calls for m in line.event.messages]
    # Other conversations' requests may be in flight too: one whose last user message
    # carries another turn's text is that turn's, not this one's.
    others = {text for t in evidence.every_turn() if t.turn != turn.turn
              for text in request_texts(t.request) if text.strip()}  # fmt: skip
    shown = [(line, line.event.last_user_text()) for line in calls]
    own = [(line, text) for line, text in shown if not any(o in text for o in others)]
    shown = own or shown
    last_users = list(dict.fromkeys(text for _, text in shown))
    seen = "; ".join(repr(trim(text, 80)) for text in last_users)
    first = shown[0][0].where
    if path and any(path in m.text for m in sent):
        offered = sorted({tool for line in calls for tool in line.event.tools})
        fail(
            "model:files",
            f"the file of {canary} reached the model only as its path {path}, and no request "
            f"of that turn got its text: the model read it with none of the tools it was "
            f"offered ({', '.join(offered) or 'no tools'}) ({first})",
        )
    fail(
        "model:files",
        f"the file of {canary} reached the model neither as its text nor as its path: the "
        f"user message{'s' if len(last_users) > 1 else ''} it got: {seen} ({first})",
    )


def check(evidence: Evidence) -> str:
    """Each file canary's file reached the model; observes ``text`` or ``tool``."""
    observed = [_reached(evidence, EXPLAINS)]
    for canary in FILE_CANARIES:
        if canary == EXPLAINS or not evidence.turns(canary):
            continue  # file_caption's evidence counts where it ran, and only then
        try:
            observed.append(_reached(evidence, canary))
        except NoEvidence:
            continue
    return "+".join(sorted(set(observed)))
