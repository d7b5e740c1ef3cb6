"""model_history and model_files: what the runtime sent the scripted model, turn by turn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from canary import model_files, model_history
from canary.evidence import Evidence, NoEvidence
from tests.support.scripted import (
    ASKS_NAME,
    CAPTION,
    FILE_ONLY,
    TOLD,
    UPLOADS,
    Agent,
    Answer,
    Got,
    fails,
    record,
)


def _history(tmp_path: Path, *earlier: tuple[str, str], asked: str | None = None) -> Evidence:
    """A runtime whose model request for turn 2 holds ``earlier`` and the question."""
    agent = Agent(tmp_path)

    def told(got: Got) -> str:
        got.model(("user", got.text))
        return "Nice to meet you!"

    def question(got: Got) -> str:
        name = agent.names.get(got.context_id, "")
        texts = [(role, text.replace("{NAME}", name)) for role, text in earlier]
        got.model(*texts, ("user", asked or got.text))
        return f"Your name is {name}." if texts else "I don't know your name."

    agent.answers.update({TOLD: told, ASKS_NAME: question})
    return record(tmp_path, ["name_recall"], agent)


def test_model_history_passes_when_turn_two_carried_turn_one(tmp_path: Path) -> None:
    evidence = _history(tmp_path, ("user", "Hi! My name is {NAME}."), ("assistant", "Hello."))
    assert model_history.check(evidence) == "history"


def test_model_history_names_the_turn_that_lost_its_history(tmp_path: Path) -> None:
    evidence = _history(tmp_path)
    (request,) = evidence.model_calls_during(evidence.turns("name_recall")[1])
    message = fails(model_history.check, evidence, "model:history", request.number)
    assert "reached the model without turn 1" in message


def test_model_history_does_not_take_the_models_echo_for_turn_one(tmp_path: Path) -> None:
    # A context window cut to the last messages keeps "Nice to meet you, X" but not the
    # user's turn: the model cannot know the name, and the diagnostic must say so.
    evidence = _history(tmp_path, ("assistant", "Nice to meet you, {NAME}!"))
    (request,) = evidence.model_calls_during(evidence.turns("name_recall")[1])
    fails(model_history.check, evidence, "model:history", request.number)


def test_model_history_fails_when_the_model_was_never_asked(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path))
    fails(model_history.check, evidence, "model:call", evidence.turns("name_recall")[1].line)


def test_model_history_has_no_evidence_without_replies(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path, answers={ASKS_NAME: Answer(500)}))
    with pytest.raises(NoEvidence):
        model_history.check(evidence)


# --- model_files ---------------------------------------------------------------------------


def _files(tmp_path: Path, ask: Callable[[Got, Agent], object], key: str = FILE_ONLY) -> Evidence:
    """A runtime that asks the model about the file as ``ask(got, agent)`` says."""
    agent = Agent(tmp_path)

    def answer(got: Got) -> str:
        ask(got, agent)
        return f"It holds {agent.code(got)}."

    agent.answers[key] = answer
    canaries = ["file_only"] + (["file_caption"] if key == CAPTION else [])
    return record(tmp_path, canaries, agent)


def _path(got: Got) -> str:
    return str(got.files[0]["uri"]).removeprefix("workspace:")


def test_model_files_observes_the_text_in_the_prompt(tmp_path: Path) -> None:
    evidence = _files(tmp_path, lambda got, agent: got.model(
        ("user", f"[attachment]\nreference code: {agent.code(got)}\n")))  # fmt: skip
    assert model_files.check(evidence) == "text"


def test_model_files_observes_a_tool_that_read_the_path(tmp_path: Path) -> None:
    def ask(got: Got, agent: Agent) -> None:
        manifest = f"Attached files:\n- notes.txt (text/plain) at {_path(got)}"
        got.model(("user", manifest), tools=("read_file",))
        got.model(("user", manifest), ("assistant", ""),
                  ("tool", f"reference code: {agent.code(got)}"), tools=("read_file",))  # fmt: skip

    assert model_files.check(_files(tmp_path, ask)) == "tool"


def test_model_files_names_a_path_no_offered_tool_could_read(tmp_path: Path) -> None:
    evidence = _files(tmp_path, lambda got, agent: got.model(
        ("user", f"see {_path(got)}"), tools=("web_search",)))  # fmt: skip
    (request,) = evidence.model_calls_during(evidence.turns("file_only")[0])
    fails(model_files.check, evidence, "model:files", request.number, "only as its path",
          "web_search")  # fmt: skip


def test_model_files_names_a_dropped_file(tmp_path: Path) -> None:
    # The runtime dropped the file and still called the model: it got an empty prompt.
    evidence = _files(tmp_path, lambda got, agent: got.model(("user", "(no text)")))
    (request,) = evidence.model_calls_during(evidence.turns("file_only")[0])
    fails(model_files.check, evidence, "model:files", request.number,
          "neither as its text nor as its path", "'(no text)'")  # fmt: skip


def test_model_files_fails_when_the_model_was_never_asked(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["file_only"], Agent(tmp_path))
    fails(model_files.check, evidence, "model:call", evidence.turns("file_only")[0].line)


def test_model_files_reads_file_caption_too(tmp_path: Path) -> None:
    agent = Agent(tmp_path)

    def only(got: Got) -> str:
        got.model(("user", f"reference code: {agent.code(got)}"))
        return f"It holds {agent.code(got)}."

    def caption(got: Got) -> str:
        got.model(("user", got.text))
        return "I cannot see it."

    agent.answers.update({FILE_ONLY: only, CAPTION: caption})
    evidence = record(tmp_path, ["file_only", "file_caption"], agent)
    (request,) = evidence.model_calls_during(evidence.turns("file_caption")[0])
    fails(model_files.check, evidence, "model:files", request.number, "file_caption")


def test_uploads_are_where_the_platform_puts_them(tmp_path: Path) -> None:
    seen: list[str] = []
    _files(tmp_path, lambda got, agent: seen.append(_path(got)))
    assert seen[0].startswith(f"{UPLOADS}/")
