"""file_only: a message carrying only a file is answered, not dropped (DESIGN §4).

Upload a document with a random code; ctx B: one file part, no text. Passes when
the reply is non-empty, has no dropped-turn marker, and names the file, mentions
its code, or refers to the attachment (file, attachment, document, upload). A bare
question ("How can I help?") does not count: it is what a model answers when the
file never reached it.
"""

from __future__ import annotations

import re

from canary._files import answer_about_file, file_turn, upload_document
from canary.evidence import Evidence, fail
from harness.cp_sim import Conversation, file_part, trim

KIND = "canary"
ORDER = 2
SHORT = "file"
# Words by which a reply refers to the attachment it got: "your file", "the attached
# document", "the upload".
ATTACHMENT_RE = re.compile(r"\b(?:files?|attach\w*|documents?|uploads?|uploaded)\b", re.I)


async def converse(talk: Conversation) -> None:
    """Send the file alone."""
    name, uri = await upload_document(talk)
    if uri is not None:
        await talk.send(talk.new_context(), [file_part(name, uri)], sent=f"[file {name}, no text]")


def check(evidence: Evidence) -> None:
    """The reply engages with the file."""
    turn = file_turn(evidence, "file_only")
    code = evidence.token("file_only", "code")
    text = answer_about_file(evidence, turn, read_evidence=code)
    name = evidence.token("file_only", "file")
    stem = name.rsplit(".", 1)[0]
    lowered = text.lower()
    if not (stem.lower() in lowered or code.lower() in lowered or ATTACHMENT_RE.search(text)):
        fail(
            "files",
            f"sent {turn.sent!r} in context {turn.context_id}; got {trim(text)!r}; expected the "
            f"reply to name the file, mention its code {code!r} or refer to the attachment "
            f"(a bare question is what a model says when the file never reached it) "
            f"({turn.where})",
        )
