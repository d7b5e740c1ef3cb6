"""session_scope and session_store, judged on what name_recall's conversation and their
follow-ups recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from canary import session_scope, session_store
from canary.evidence import Evidence, NoEvidence
from harness.events import Snapshot
from tests.support.scripted import (
    ASKS_NAME,
    FAILED_TURNS,
    FRESH,
    MEMORIES,
    TOLD,
    Agent,
    Got,
    fails,
    record,
)
from tests.support.transcripts import Script


def _scope(tmp_path: Path, agent: Agent, **header: str) -> tuple[Evidence, int, str]:
    evidence = record(tmp_path, ["name_recall"], agent, **header)
    return evidence, evidence.turns("session_scope")[0].line, evidence.token("name_recall", "name")


@pytest.mark.parametrize("shape", ["message", "task"])
def test_session_scope_observes_context(tmp_path: Path, shape: str) -> None:
    evidence, *_ = _scope(tmp_path, Agent(tmp_path, shape=shape))
    assert session_scope.check(evidence) == "context"


def test_the_fresh_question_comes_in_a_fresh_context(tmp_path: Path) -> None:
    evidence, *_ = _scope(tmp_path, Agent(tmp_path))
    contexts = {t.context_id for t in evidence.turns("name_recall")}
    (fresh,) = evidence.turns("session_scope")
    assert fresh.context_id not in contexts
    assert fresh.sent == ASKS_NAME


def test_session_scope_fails_when_a_context_scoped_template_shares(tmp_path: Path) -> None:
    evidence, line, name = _scope(tmp_path, Agent(tmp_path, shared=True))
    told = evidence.turns("name_recall")[0]
    fails(session_scope.check, evidence, "session", line, repr(name), str(told.context_id))


@pytest.mark.parametrize("declared", ["workspace", "container"])
def test_session_scope_observes_shared_where_declared(tmp_path: Path, declared: str) -> None:
    evidence, *_ = _scope(tmp_path, Agent(tmp_path, shared=True), session_scope=declared)
    assert session_scope.check(evidence) == "shared"


@pytest.mark.parametrize("listed", [True, False], ids=["object", "bare-list"])
def test_session_scope_observes_memory_when_a_search_in_that_turn_returned_the_name(
    tmp_path: Path, listed: bool
) -> None:
    agent = Agent(tmp_path)

    def recalls(got: Got) -> str:
        name = next(iter(agent.names.values()))
        found = [{"id": "m", "content": f"The user's name is {name}."}]
        got.platform("GET", MEMORIES, query={"q": "name"},
                     response={"memories": found} if listed else found)  # fmt: skip
        return f"You are {name}."

    agent.answers[FRESH] = recalls
    evidence, *_ = _scope(tmp_path, agent)
    assert session_scope.check(evidence) == "memory"


def test_session_scope_counts_only_searches_that_returned_the_name(tmp_path: Path) -> None:
    agent = Agent(tmp_path, shared=True)

    def unrelated(got: Got) -> str:
        got.platform("GET", MEMORIES, response=[{"id": "m", "content": "The user likes tea."}])
        return f"You are {agent.names['all']}."

    agent.answers[FRESH] = unrelated
    evidence, line, name = _scope(tmp_path, agent)
    fails(session_scope.check, evidence, "session", line, repr(name))


@pytest.mark.parametrize("recall", ["forgot", "http-500"])
def test_session_scope_has_no_evidence_when_name_recall_failed(tmp_path: Path, recall: str) -> None:
    forgot = "Who are you?" if recall == "forgot" else FAILED_TURNS["http-500"]
    agent = Agent(tmp_path, shared=True, answers={ASKS_NAME: forgot})
    evidence, *_ = _scope(tmp_path, agent)  # even a fresh context that knows decides nothing
    with pytest.raises(NoEvidence, match="name_recall failed"):
        session_scope.check(evidence)


# --- session_store -----------------------------------------------------------------------

STORE = "{workspace}/.sessions"


def _store(tmp_path: Path, files: dict[str, str] | None, **header: str) -> tuple[Evidence, int]:
    """A runtime whose store holds ``files`` (by name, ``{ctx}`` the context id); None: none."""
    agent = Agent(tmp_path)

    def told(got: Got) -> str:
        store = tmp_path / "workspace" / ".sessions"
        if files is not None:
            store.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                text = content.replace("{ctx}", got.context_id)
                (store / name.replace("{ctx}", got.context_id)).write_text(text)
        return "Nice to meet you!"

    agent.answers[TOLD] = told
    evidence = record(tmp_path, ["name_recall"], agent, **header)
    (snapshot,) = evidence.events("session_store", Snapshot)
    return evidence, snapshot.number


def test_session_store_passes_when_a_file_holds_the_key(tmp_path: Path) -> None:
    evidence, _ = _store(tmp_path, {"a1.json": '{"key": "ws-0001:other"}',
                                    "b2.json": '{"key": "ws-0001:{ctx}"}'})  # fmt: skip
    assert session_store.check(evidence) is None


def test_session_store_passes_when_a_file_name_holds_the_key(tmp_path: Path) -> None:
    evidence, _ = _store(tmp_path, {"{ctx}.jsonl": "[]"}, probe_key="{context_id}")
    assert session_store.check(evidence) is None


@pytest.mark.parametrize(
    "files",
    [{}, {"a1.json": '{"key": "ws-0001:other"}'}, {"a1.json": '{"key": "{ctx}"}'}],
    ids=["empty", "other-context", "no-workspace"],
)
def test_session_store_fails_when_no_file_holds_the_key(
    tmp_path: Path, files: dict[str, str]
) -> None:
    evidence, line = _store(tmp_path, files)
    context = evidence.turns("name_recall")[1].context_id
    fails(session_store.check, evidence, "session", line, repr(f"ws-0001:{context}"))


def test_session_store_fails_when_the_store_is_missing(tmp_path: Path) -> None:
    evidence, line = _store(tmp_path, None)
    fails(session_store.check, evidence, "session", line, "does not exist")


def test_session_store_has_no_evidence_without_a_declared_store(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["name_recall"], Agent(tmp_path), probe_store=None, probe_key=None)
    with pytest.raises(NoEvidence):
        session_store.check(evidence)


def test_session_store_passes_when_the_store_is_one_file(tmp_path: Path) -> None:
    evidence, _ = _store(tmp_path, {"sessions.db": "\x00ws-0001:{ctx}\x00"},
                         probe_store="{workspace}/.sessions/sessions.db")  # fmt: skip
    assert session_store.check(evidence) is None


def test_session_store_fails_when_the_copy_failed(tmp_path: Path) -> None:
    script = _name_recalled()
    line = script.snapshot("session_store", STORE, None, error="OSError: disk full")
    fails(session_store.check, script.evidence(tmp_path), "session", line, "OSError: disk full")


def test_session_scope_has_no_evidence_without_the_fresh_question(tmp_path: Path) -> None:
    script = _name_recalled()
    with pytest.raises(NoEvidence, match="not asked"):
        session_scope.check(script.evidence(tmp_path))


def _name_recalled() -> Script:
    """A transcript by hand where name_recall passed and nothing after it was recorded."""
    script = Script()
    script.start("name_recall")
    script.token("name_recall", "name", "Mababim")
    script.turn("name_recall", "Hi! My name is Mababim.", "Hello", context_id="ctx-a")
    script.turn("name_recall", ASKS_NAME, "Mababim", context_id="ctx-a")
    script.end("name_recall")
    return script
