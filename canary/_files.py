"""What the two file canaries share: placing a document and judging a reply about it."""

from __future__ import annotations

import secrets

from canary.evidence import Evidence, NoEvidence, Turn, dropped_marker, fail, file_error
from canary.tokens import document, random_code
from harness.cp_sim import Conversation, trim
from harness.events import Upload


async def upload_document(talk: Conversation) -> tuple[str, str | None]:
    """Upload a document holding a fresh code; returns its name and URI (None: refused)."""
    code = talk.token("code", random_code())
    name = talk.token("file", f"notes-{secrets.token_hex(3)}.txt")
    return name, await talk.upload(name, document(code).encode())


def file_turn(evidence: Evidence, canary: str) -> Turn:
    """The turn that carried the file; fails at ``files`` when the upload itself failed."""
    for line in evidence.events(canary, Upload):
        if line.event.uri is None:
            fail(
                "files",
                f"could not place {line.event.name} in the runtime's workspace: "
                f"{line.event.error} ({line.where})",
            )
    turns = evidence.turns(canary)
    if not turns:
        raise NoEvidence(f"the {canary} conversation recorded no turn")
    return turns[0]


def answer_about_file(evidence: Evidence, turn: Turn, read_evidence: str | None = None) -> str:
    """The reply's text, unless the turn failed, was dropped, or the file could not be read.

    ``read_evidence`` is text only a runtime that read the file can produce (the
    code, in any case); a reply holding it is not failed for an apologetic phrase.
    """
    text = turn.answer()
    sent, context = trim(turn.sent), turn.context_id
    marker = dropped_marker(text, evidence.header.dropped_markers)
    if marker:
        fail(
            "files",
            f"sent {sent!r} in context {context}; got {trim(text)!r}: the turn was dropped "
            f"(marker {marker!r}); expected an answer about the file ({turn.where})",
        )
    unreadable = file_error(text)
    if unreadable and not (read_evidence and read_evidence.lower() in text.lower()):
        fail(
            "files",
            f"sent {sent!r} in context {context}; got {trim(text)!r}: the runtime could not "
            f"read the file ({unreadable!r}); expected an answer about the file ({turn.where})",
        )
    return text
