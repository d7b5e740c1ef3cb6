"""file_only and file_caption, judged on what their real conversations recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from canary import file_caption, file_only
from canary.evidence import Evidence, Turn
from harness.events import Upload
from tests.support.scripted import CAPTION, FILE_ONLY, Agent, Got, fails, message, record, task

SHAPES = [message, task]


def _file_only(tmp_path: Path, answer: Any) -> tuple[Evidence, Turn]:
    agent = Agent(tmp_path)
    agent.answers[FILE_ONLY] = answer
    evidence = record(tmp_path, ["file_only"], agent)
    return evidence, evidence.turns("file_only")[0]


@pytest.mark.parametrize("shape", SHAPES, ids=["message", "task"])
@pytest.mark.parametrize(
    "say",
    [
        lambda got, code: f"I received {got.files[0]['name']} (6 lines).",
        lambda got, code: "Thanks for the attachment: what would you like me to do with it?",
        lambda got, code: "I read the document you uploaded.",
        lambda got, code: f"It says the reference code is {code.upper()}.",
    ],
    ids=["names-file", "refers-to-attachment", "refers-to-document", "mentions-code"],
)
def test_file_only_passes_when_the_reply_engages(tmp_path: Path, say: Any, shape: Any) -> None:
    agent = Agent(tmp_path)
    agent.answers[FILE_ONLY] = lambda got: shape(say(got, agent.code(got)))
    assert file_only.check(record(tmp_path, ["file_only"], agent)) is None


@pytest.mark.parametrize("answer", ["Thanks, noted.", "How can I help?", "Profiles? Filed."])
def test_file_only_fails_at_files_when_the_reply_ignores_the_file(
    tmp_path: Path, answer: str
) -> None:
    # A bare question is what a model says when the file never reached it.
    evidence, turn = _file_only(tmp_path, answer)
    code = evidence.token("file_only", "code")
    fails(file_only.check, evidence, "files", turn.line, repr(code), turn.context_id)


def test_file_only_fails_at_files_on_a_dropped_turn_marker(tmp_path: Path) -> None:
    # The marker wins over what would otherwise pass (a question, the file's name).
    agent = Agent(tmp_path)
    agent.answers[FILE_ONLY] = lambda got: f"no message provided for {got.files[0]['name']}."
    evidence = record(tmp_path, ["file_only"], agent)
    turn = evidence.turns("file_only")[0]
    fails(file_only.check, evidence, "files", turn.line, "'No message provided'")


def test_file_only_fails_at_files_when_the_file_could_not_be_read(tmp_path: Path) -> None:
    evidence, turn = _file_only(tmp_path, lambda got: f"I could not open {got.files[0]['name']}.")
    fails(file_only.check, evidence, "files", turn.line, "'could not open'")


def test_an_apology_next_to_the_code_is_not_an_unreadable_file(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.answers[FILE_ONLY] = lambda got: (
        f"I can't read all of it, but the code is {agent.code(got)}."
    )
    assert file_only.check(record(tmp_path, ["file_only"], agent)) is None


@pytest.mark.parametrize("canary", ["file_only", "file_caption"])
def test_a_refused_upload_fails_at_files(tmp_path: Path, canary: str) -> None:
    check = file_only.check if canary == "file_only" else file_caption.check
    evidence = record(tmp_path, [canary], Agent(tmp_path), refuse_uploads="read-only filesystem")
    upload = evidence.events(canary, Upload)[0]
    assert evidence.turns(canary) == []  # nothing was sent without the file
    fails(check, evidence, "files", upload.number, upload.event.name, "read-only filesystem")


def test_the_file_part_is_a_workspace_uri_under_the_uploads_directory(tmp_path: Path) -> None:
    seen: list[Got] = []
    runtime = _seeing(seen)
    record(tmp_path, ["file_only"], runtime)
    (file_part,) = seen[0].files
    assert seen[0].message["parts"] == [{"kind": "file", "file": file_part}]  # no text part
    assert file_part["uri"].startswith("workspace:/workspace/.molecule/chat-uploads/")
    assert file_part["mimeType"] == "text/plain"


def _seeing(seen: list[Got]) -> Callable[[Got], str]:
    """A runtime that keeps every request it gets and answers "ok"."""

    def runtime(got: Got) -> str:
        seen.append(got)
        return "ok"

    return runtime


# --- file_caption ------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=["message", "task"])
@pytest.mark.parametrize(
    "say",
    [lambda code: f"The reference code is {code.upper()}.",
     lambda code: f"Sorry, I could not read all of it: {code.upper()}"],
    ids=["plain", "apologetic-but-read"],
)  # fmt: skip
def test_file_caption_passes_with_the_code_in_uppercase(
    tmp_path: Path, say: Any, shape: Any
) -> None:
    agent = Agent(tmp_path)
    agent.answers[CAPTION] = lambda got: shape(say(agent.code(got)))
    assert file_caption.check(record(tmp_path, ["file_caption"], agent)) is None


def _caption(tmp_path: Path, say: Any) -> tuple[Evidence, Turn, str]:
    agent = Agent(tmp_path)
    agent.answers[CAPTION] = lambda got: say(agent.code(got))
    evidence = record(tmp_path, ["file_caption"], agent)
    return evidence, evidence.turns("file_caption")[0], evidence.token("file_caption", "code")


def test_file_caption_fails_at_caption_with_the_code_in_lowercase_only(tmp_path: Path) -> None:
    evidence, turn, code = _caption(tmp_path, lambda code: f"The reference code is {code}.")
    fails(file_caption.check, evidence, "caption", turn.line, repr(code.upper()),
          "ignored the caption")  # fmt: skip


def test_file_caption_fails_at_caption_without_the_code(tmp_path: Path) -> None:
    evidence, turn, code = _caption(tmp_path, lambda code: "There is no code in this file.")
    fails(file_caption.check, evidence, "caption", turn.line, repr(code.upper()),
          "did not reach the agent")  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "says"),
    [("(empty prompt — nothing to do)", "dropped"),
     ("I can't read notes.txt. Could you paste it?", "could not read the file"),
     ("I cannot see the file's content.", "could not read the file")],
    ids=["dropped", "unreadable", "unseen"],
)  # fmt: skip
def test_file_caption_fails_at_files_when_the_file_did_not_reach_it(
    tmp_path: Path, answer: str, says: str
) -> None:
    evidence = record(tmp_path, ["file_caption"], Agent(tmp_path, answers={CAPTION: answer}))
    turn = evidence.turns("file_caption")[0]
    fails(file_caption.check, evidence, "files", turn.line, says)


def test_the_caption_is_the_text_part_beside_the_file(tmp_path: Path) -> None:
    seen: list[Got] = []
    runtime = _seeing(seen)
    record(tmp_path, ["file_caption"], runtime)
    kinds = [part["kind"] for part in seen[0].message["parts"]]
    assert kinds == ["text", "file"]
    assert seen[0].text == file_caption.CAPTION
