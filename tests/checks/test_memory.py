"""memory_recall and memory_layers, judged on what memory_recall's conversation recorded.

The two never disagree: both ask :mod:`canary._memory` what carried the colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from canary import memory_layers, memory_recall
from canary.evidence import Evidence, Turn
from tests.support.scripted import (
    ASKS_COLOUR,
    FRESH,
    MEMORIES,
    STATED,
    Agent,
    Got,
    fails,
    message,
    record,
    task,
)


def recorded(tmp_path: Path, agent: Agent, *more: str) -> tuple[Evidence, Turn, Turn, str]:
    evidence = record(tmp_path, [*more, "memory_recall"], agent)
    stated, asked = evidence.turns("memory_recall")
    return evidence, stated, asked, evidence.token("memory_recall", "colour")


@pytest.mark.parametrize("shape", ["message", "task"])
def test_passes_when_the_platform_carried_the_colour(tmp_path: Path, shape: str) -> None:
    evidence, *_ = recorded(tmp_path, Agent(tmp_path, shape=shape))
    assert memory_recall.check(evidence) is None
    assert memory_layers.check(evidence) == "platform"


@pytest.mark.parametrize("reply", [message, task], ids=["message", "task"])
def test_fails_at_memory_when_the_colour_is_forgotten(tmp_path: Path, reply: Any) -> None:
    agent = Agent(tmp_path, answers={ASKS_COLOUR: reply("I don't know your favourite colour.")})
    evidence, stated, asked, colour = recorded(tmp_path, agent)
    fails(memory_recall.check, evidence, "memory", asked.line, repr(colour),
          str(stated.context_id), str(asked.context_id))  # fmt: skip


def test_the_question_comes_in_a_new_context(tmp_path: Path) -> None:
    _, stated, asked, _ = recorded(tmp_path, Agent(tmp_path))
    assert stated.context_id != asked.context_id


# --- what carried it --------------------------------------------------------------------


STATEMENT = "Please remember for future conversations: my favourite colour is {C}."
LEAKS = {
    "earlier-user-message": [("user", STATEMENT), ("assistant", "Noted."), ("user", "{Q}")],
    "embedded-history": [
        (
            "user",
            f"Conversation so far:\nUser: {STATEMENT}\nAgent: Noted.\n\nCurrent request: {{Q}}",
        )
    ],
    "smolagents-new-task": [("user", f"New task:\n{STATEMENT}"), ("user", "New task:\n{Q}")],
}
CARRIED = {
    "system-prompt": [("system", "MEMORY.md\n§ my favourite colour is {C}."), ("user", "{Q}")],
    "tool-result": [("user", "{Q}"), ("assistant", ""),
                    ("tool", '{"success": true, "content": "favourite colour is {C}"}')],
    "injected-context": [
        ("user", f"[Prior context from memory]\n- [LOCAL] Conversation: {STATEMENT}\n\n{{Q}}")
    ],
    "memory-and-leak": [("system", "§ my favourite colour is {C}"), ("user", STATEMENT),
                        ("user", "{Q}")],
}  # fmt: skip


def _colour_runtime(tmp_path: Path, shape: list[tuple[str, str]]) -> Agent:
    agent = Agent(tmp_path, commits=False, search=False)
    colours: list[str] = []

    def stated(got: Got) -> str:
        colours.append(got.text.split("colour is ")[1].rstrip("."))
        return "Noted."

    def asked(got: Got) -> str:
        got.model(*((r, t.replace("{C}", colours[0]).replace("{Q}", got.text)) for r, t in shape))
        return f"Your favourite colour is {colours[0]}."

    agent.answers.update({STATED: stated, ASKS_COLOUR: asked})
    return agent  # its model requests hold the colour where ``shape`` puts it


@pytest.mark.parametrize("leak", LEAKS)
def test_a_colour_that_came_only_through_a_shared_session_is_no_memory(
    tmp_path: Path, leak: str
) -> None:
    evidence, _, asked, _ = recorded(tmp_path, _colour_runtime(tmp_path, LEAKS[leak]))
    (model,) = evidence.model_calls_during(asked)
    message = fails(memory_recall.check, evidence, "session", asked.line, "not through memory")
    assert model.where in message
    fails(memory_layers.check, evidence, "session", asked.line, "no memory carried it")


@pytest.mark.parametrize("carried", CARRIED)
def test_a_colour_memory_carried_passes_whatever_memory_it_was(
    tmp_path: Path, carried: str
) -> None:
    evidence, *_ = recorded(tmp_path, _colour_runtime(tmp_path, CARRIED[carried]))
    assert memory_recall.check(evidence) is None
    assert memory_layers.check(evidence) == "runtime"


@pytest.mark.parametrize(
    "other",
    [[("user", STATEMENT)], [("user", "{Q}"), ("assistant", "It is {C}."), ("user", "Hi!")]],
    ids=["without-the-question", "question-earlier-in-a-shared-session"],
)
def test_a_request_of_another_conversation_in_flight_decides_nothing(
    tmp_path: Path, other: list[tuple[str, str]]
) -> None:
    # Another conversation's request, in flight at the same time: not the question's own.
    evidence, *_ = recorded(tmp_path, _colour_runtime(tmp_path, other))
    assert memory_recall.check(evidence) is None


@pytest.mark.parametrize("searched", [False, True], ids=["no-search", "search-returned-it"])
def test_without_model_evidence_a_shared_scope_means_a_leak_unless_memory_carried_it(
    tmp_path: Path, searched: bool
) -> None:
    agent = Agent(tmp_path, shared=True, search=searched)
    if not searched:  # it answers from the one session it keeps
        agent.answers[ASKS_COLOUR] = lambda got: f"Your favourite colour is {agent.colour}."
        agent.answers[STATED] = lambda got: setattr(agent, "colour", got.text.split(
            "colour is ")[1].rstrip(".")) or "Noted."  # fmt: skip
    evidence, _, asked, _ = recorded(tmp_path, agent, "name_recall")
    assert evidence.token("name_recall", "name") in evidence.turns("session_scope")[0].reply.text
    if searched:
        assert memory_recall.check(evidence) is None
        assert memory_layers.check(evidence) == "platform"
    else:
        message = fails(memory_recall.check, evidence, "session", asked.line)
        assert "session_scope" in message


# --- memory_layers: the first missing step ------------------------------------------------


@pytest.mark.parametrize("commit_status", [None, 401], ids=["no-commit", "refused"])
def test_memory_layers_observes_runtime_when_the_runtime_kept_it(
    tmp_path: Path, commit_status: int | None
) -> None:
    agent = _colour_runtime(tmp_path, [])  # it answers from a store of its own
    # A commit, accepted or refused, happens while it states the colour; no search follows.
    agent.commits, agent.commit_status = commit_status is not None, commit_status or 201
    evidence, *_ = recorded(tmp_path, agent)
    assert memory_layers.check(evidence) == "runtime"


@pytest.mark.parametrize("stored", [None, "The user likes cats."], ids=["none", "other-content"])
def test_memory_layers_fails_at_commit_when_the_colour_was_never_stored(
    tmp_path: Path, stored: str | None
) -> None:
    agent = Agent(tmp_path, commits=False, answers={ASKS_COLOUR: "I have no idea."})
    if stored is not None:
        agent.answers[STATED] = lambda got: got.platform(
            "POST", MEMORIES, status=201, body={"content": stored}, response={"id": "m"}
        ) or "Noted."  # fmt: skip
    evidence, stated, _, colour = recorded(tmp_path, agent)
    fails(memory_layers.check, evidence, "memory:commit", stated.line, repr(colour),
          str(stated.context_id))  # fmt: skip


def test_memory_layers_fails_at_commit_when_the_platform_refused_it(tmp_path: Path) -> None:
    agent = Agent(tmp_path, commit_status=401, answers={ASKS_COLOUR: "I have no idea."})
    evidence, *_ = recorded(tmp_path, agent)
    (commit,) = [c for c in evidence.platform_calls if c.event.method == "POST"]
    fails(memory_layers.check, evidence, "memory:commit", commit.number, "HTTP 401")


def test_memory_layers_fails_at_search_without_a_search(tmp_path: Path) -> None:
    agent = Agent(tmp_path, search=False, answers={ASKS_COLOUR: "I have no idea."})
    evidence, _, asked, _ = recorded(tmp_path, agent)
    fails(memory_layers.check, evidence, "memory:search", asked.line, "never searched",
          str(asked.context_id))  # fmt: skip


def test_memory_layers_counts_only_searches_during_the_asking_turn(tmp_path: Path) -> None:
    # A search while the colour is stated (not asked) cannot carry it into the answer.
    agent = Agent(tmp_path, search=False, answers={ASKS_COLOUR: "I have no idea."})

    def stated(got: Got) -> str:
        got.platform("GET", MEMORIES, response=[{"id": "mem-1", "content": got.text}])
        return "Noted."

    agent.answers[STATED] = stated
    evidence, _, asked, _ = recorded(tmp_path, agent)
    fails(memory_layers.check, evidence, "memory:search", asked.line)


def test_memory_layers_fails_at_search_when_no_search_returned_the_memory(tmp_path: Path) -> None:
    agent = Agent(tmp_path, found=[], answers={ASKS_COLOUR: "I have no idea."})
    evidence, *_ = recorded(tmp_path, agent)
    (search,) = [c for c in evidence.platform_calls if c.event.method == "GET"]
    fails(memory_layers.check, evidence, "memory:search", search.number, "'favourite colour'")


def test_memory_layers_fails_at_reply_when_the_reply_ignored_the_memory(tmp_path: Path) -> None:
    agent = Agent(tmp_path, answers={ASKS_COLOUR: "I have no idea."})
    evidence, _, asked, colour = recorded(tmp_path, agent)
    fails(memory_layers.check, evidence, "memory:reply", asked.line, repr(colour),
          "I have no idea.")  # fmt: skip


def test_a_session_scope_observation_needs_no_memory_recall(tmp_path: Path) -> None:
    # memory_recall reads session_scope's evidence only where it ran.
    agent = Agent(tmp_path, answers={FRESH: "I don't know your name."})
    evidence, *_ = recorded(tmp_path, agent, "name_recall")
    assert memory_recall.check(evidence) is None


def test_a_failed_stating_turn_fails_memory_recall_at_its_layer(tmp_path: Path) -> None:
    from tests.support.scripted import Answer

    evidence, stated, _, _ = recorded(tmp_path, Agent(tmp_path, answers={STATED: Answer(503)}))
    fails(memory_recall.check, evidence, "runtime", stated.line, "HTTP 503")
