"""The four canaries of DESIGN §4: does the runtime still hold a conversation?"""

from __future__ import annotations

import secrets

import pytest

from canary.checks import dropped_marker, fail, file_error, require_reply, second_answer
from canary.conftest import Conversation
from canary.runtime import RuntimeInfo, context_id, document, random_code
from harness.cp_sim import A2AClient, PlatformClient, Reply, file_part, text_part, trim

CAPTION = "What is the reference code in this file? Answer with the code in uppercase."


@pytest.mark.canary("name_recall")
@pytest.mark.xdist_group("name")
def test_name_recall(request: pytest.FixtureRequest, name_conversation: Conversation) -> None:
    """A second turn in the same context remembers the first."""
    text = second_answer(request, name_conversation.turns)
    question = name_conversation.last
    name = name_conversation.token
    if name.lower() not in text.lower():
        fail(
            request,
            "session",
            f"told {name!r} in context {question.context_id}, then asked {question.sent!r}; "
            f"got {trim(text)!r}; expected the reply to contain {name!r}",
        )


def _upload(request: pytest.FixtureRequest, platform: PlatformClient, code: str) -> tuple[str, str]:
    name = f"notes-{secrets.token_hex(3)}.txt"
    try:
        return name, platform.upload(name, document(code).encode())
    except (RuntimeError, OSError) as exc:
        fail(request, "files", f"could not place {name} in the runtime's workspace: {exc}")


def _answer_about_file(
    request: pytest.FixtureRequest,
    runtime: RuntimeInfo,
    reply: Reply,
    sent: str,
    ctx: str,
    *,
    read_evidence: str | None = None,
) -> str:
    """The reply's text, unless the turn failed, was dropped, or the file could not be read.

    ``read_evidence`` is text only a runtime that read the file can produce; a reply
    holding it is not failed for an apologetic phrase next to it.
    """
    text = require_reply(request, reply, sent, ctx)
    marker = dropped_marker(text, runtime.dropped_markers)
    if marker:
        fail(
            request,
            "files",
            f"sent {trim(sent)!r} in context {ctx}; got {trim(text)!r}: the turn was dropped "
            f"(marker {marker!r}); expected an answer about the file",
        )
    unreadable = file_error(text)
    if unreadable and not (read_evidence and read_evidence in text):
        fail(
            request,
            "files",
            f"sent {trim(sent)!r} in context {ctx}; got {trim(text)!r}: the runtime could not read "
            f"the file ({unreadable!r}); expected an answer about the file",
        )
    return text


@pytest.mark.canary("file_only")
def test_file_only(
    request: pytest.FixtureRequest, runtime: RuntimeInfo, a2a: A2AClient, platform: PlatformClient
) -> None:
    """A message carrying only a file is answered, not dropped."""
    code = random_code()
    name, uri = _upload(request, platform, code)
    ctx = context_id()
    sent = f"[file {name}, no text]"
    text = _answer_about_file(request, runtime, a2a.send([file_part(name, uri)], ctx), sent, ctx)
    stem = name.rsplit(".", 1)[0]
    engaged = stem.lower() in text.lower() or "?" in text or code.lower() in text.lower()
    if not engaged:
        fail(
            request,
            "files",
            f"sent {trim(sent)!r} in context {ctx}; got {trim(text)!r}; expected the "
            f"reply to name the file, ask a question, or mention its code {code!r}",
        )


@pytest.mark.canary("file_caption")
def test_file_caption(
    request: pytest.FixtureRequest, runtime: RuntimeInfo, a2a: A2AClient, platform: PlatformClient
) -> None:
    """A caption next to a file is followed, using the file's content."""
    code = random_code()
    name, uri = _upload(request, platform, code)
    ctx = context_id()
    reply = a2a.send([text_part(CAPTION), file_part(name, uri)], ctx)
    sent = f"{CAPTION} [+ file {name}]"
    text = _answer_about_file(request, runtime, reply, sent, ctx, read_evidence=code.upper())
    if code.upper() not in text:
        hint = (
            "it knows the code but ignored the caption's 'uppercase'"
            if code.lower() in text.lower()
            else "the caption or the file did not reach the agent"
        )
        fail(
            request,
            "caption",
            f"sent {CAPTION!r} with the file {name} (code {code!r}) in context {ctx}; got "
            f"{trim(text)!r}; expected {code.upper()!r} ({hint})",
        )


@pytest.mark.canary("memory_recall")
@pytest.mark.xdist_group("memory")
def test_memory_recall(request: pytest.FixtureRequest, memory_conversation: Conversation) -> None:
    """A memory written in one session is found in the next."""
    stated, question = memory_conversation.turns
    text = second_answer(request, memory_conversation.turns)
    colour = memory_conversation.token
    if colour.lower() not in text.lower():
        fail(
            request,
            "memory",
            f"said {stated.sent!r} in context {stated.context_id}, then asked {question.sent!r} "
            f"in new context {question.context_id}; got {trim(text)!r}; expected {colour!r}",
        )
