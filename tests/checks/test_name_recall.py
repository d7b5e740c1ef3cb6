"""name_recall, judged on what its real conversation recorded against a scripted runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from canary import name_recall
from tests.support.scripted import ASKS_NAME, TOLD, Agent, Answer, fails, message, record, task


@pytest.mark.parametrize("shape", ["message", "task"])
def test_passes_when_the_reply_holds_the_name(tmp_path: Path, shape: str) -> None:
    agent = Agent(tmp_path, shape=shape)
    agent.answers[ASKS_NAME] = lambda got: (
        f"You told me your name is {agent.names[got.context_id].upper()}."
    )
    assert name_recall.check(record(tmp_path, ["name_recall"], agent)) is None


@pytest.mark.parametrize("reply", [message, task], ids=["message", "task"])
def test_fails_at_session_when_the_name_is_forgotten(tmp_path: Path, reply: Any) -> None:
    answers = {ASKS_NAME: reply("I don't know your name.")}
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path, answers=answers))
    asked = evidence.turns("name_recall")[1]
    name = evidence.token("name_recall", "name")
    fails(name_recall.check, evidence, "session", asked.line, repr(name), asked.context_id or "")


def test_both_turns_share_one_fresh_context(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path))
    told, asked = evidence.turns("name_recall")
    assert told.context_id == asked.context_id
    assert str(told.context_id).startswith("canary-")


def test_a_failed_first_turn_fails_at_its_layer(tmp_path: Path) -> None:
    agent = Agent(tmp_path, answers={TOLD: Answer(503, "busy")})
    evidence = record(tmp_path, ["name_recall"], agent)
    told = evidence.turns("name_recall")[0]
    fails(name_recall.check, evidence, "runtime", told.line, "HTTP 503")
