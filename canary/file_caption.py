"""file_caption: a caption next to a file is followed, using the file (DESIGN §4).

Upload a document with a new code; ctx C: the caption below plus the file part.
Passes when the reply holds the code in uppercase (case-sensitive) and no
dropped-turn marker: only a runtime that read the file *and* followed the
caption gets there.
"""

from __future__ import annotations

from canary._files import answer_about_file, file_turn, upload_document
from canary.evidence import Evidence, fail
from harness.cp_sim import Conversation, file_part, text_part, trim

KIND = "canary"
ORDER = 3
SHORT = "capt"
CAPTION = "What is the reference code in this file? Answer with the code in uppercase."


async def converse(talk: Conversation) -> None:
    """Send the caption with the file."""
    name, uri = await upload_document(talk)
    if uri is not None:
        parts = [text_part(CAPTION), file_part(name, uri)]
        await talk.send(talk.new_context(), parts, sent=f"{CAPTION} [+ file {name}]")


def check(evidence: Evidence) -> None:
    """The reply holds the code in uppercase."""
    turn = file_turn(evidence, "file_caption")
    code = evidence.token("file_caption", "code")
    text = answer_about_file(evidence, turn, read_evidence=code)
    if code.upper() not in text:
        hint = (
            "it knows the code but ignored the caption's 'uppercase'"
            if code.lower() in text.lower()
            else "the caption or the file did not reach the agent"
        )
        fail(
            "caption",
            f"sent {CAPTION!r} with the file {evidence.token('file_caption', 'file')} "
            f"(code {code!r}) in context {turn.context_id}; got {trim(text)!r}; expected "
            f"{code.upper()!r} ({hint}) ({turn.where})",
        )
