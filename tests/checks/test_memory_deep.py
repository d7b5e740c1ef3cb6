"""memory_deep and interleaved, judged on what their real conversations recorded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canary import interleaved, memory_deep
from canary.evidence import NoEvidence
from tests.support.scripted import MEMORIES, Answer, Got, fails, record

CITY = re.compile(r"favourite city is (?:now )?(\w+)")


class Cities:
    """A runtime that keeps the favourite city in the platform's memory, or fails to."""

    def __init__(self, *, update: bool = True, search: bool = True, answer: str = "new") -> None:
        self.update, self.search, self.answer = update, search, answer
        self.stored: list[str] = []

    def __call__(self, got: Got) -> str | Answer:
        if got.method != "message/send":
            return Answer(body='{"jsonrpc": "2.0", "id": null, "error": {"code": -32601}}')
        found = CITY.search(got.text)
        if found and ("remember" in got.text or self.update):
            self.stored.append(found.group(1))
            got.platform("POST", MEMORIES, status=201, body={"content": got.text},
                         response={"id": f"m{len(self.stored)}"})  # fmt: skip
            return "Noted."
        if found:
            return "Noted."  # says nothing of it, and commits nothing
        if "favourite city" in got.text:
            if self.search:
                listed = [{"id": "m", "content": f"favourite city is {c}"} for c in self.stored]
                got.platform("GET", MEMORIES, query={"q": "favourite city"}, response=listed)
            pick = {"new": self.stored[-1:], "old": self.stored[:1], "both": self.stored,
                    "none": []}[self.answer]  # fmt: skip
            return f"Your favourite city is {' and '.join(pick) or 'unknown'}."
        return "ok"


def test_memory_deep_passes_with_the_updated_city_through_the_platform(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["memory_deep"], Cities())
    assert memory_deep.check(evidence) == "platform"
    stated, updated, asked = evidence.turns("memory_deep")
    assert len({stated.context_id, updated.context_id, asked.context_id}) == 3
    assert evidence.token("memory_deep", "old") != evidence.token("memory_deep", "new")


def test_memory_deep_fails_at_update_when_the_update_never_reached_the_platform(
    tmp_path: Path,
) -> None:
    evidence = record(tmp_path, ["memory_deep"], Cities(update=False, answer="old"))
    _, updated, _ = evidence.turns("memory_deep")
    fails(memory_deep.check, evidence, "memory:update", updated.line, "never reached")


@pytest.mark.parametrize("answer", ["old", "both"])
def test_memory_deep_fails_at_stale_when_the_old_memory_wins(tmp_path: Path, answer: str) -> None:
    evidence = record(tmp_path, ["memory_deep"], Cities(answer=answer))
    _, _, asked = evidence.turns("memory_deep")
    fails(memory_deep.check, evidence, "memory:stale", asked.line,
          evidence.token("memory_deep", "old"))  # fmt: skip


def test_memory_deep_fails_at_search_without_a_search(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["memory_deep"], Cities(search=False, answer="none"))
    _, _, asked = evidence.turns("memory_deep")
    fails(memory_deep.check, evidence, "memory:search", asked.line)


# --- interleaved -------------------------------------------------------------------------

NAME = re.compile(r"my name is (\w+)", re.IGNORECASE)


class Names:
    """Names per context, or one 'current' name per process (the global-session bug)."""

    def __init__(self, *, current: bool = False) -> None:
        self.current = current
        self.names: dict[str, str] = {}
        self.last = ""

    def __call__(self, got: Got) -> str:
        if found := NAME.search(got.text):
            self.names[got.context_id] = self.last = found.group(1)
            return "Hello."
        name = self.last if self.current else self.names.get(got.context_id, "")
        return f"You are {name}." if name else "No idea."


def test_interleaved_passes_when_each_context_keeps_its_name(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["interleaved"], Names())
    assert interleaved.check(evidence) is None
    a1, b1, *asked = evidence.turns("interleaved")
    assert a1.context_id != b1.context_id
    assert {t.context_id for t in asked} == {a1.context_id, b1.context_id}


def test_interleaved_fails_at_session_on_a_current_conversation_global(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["interleaved"], Names(current=True))
    a2 = next(t for t in evidence.turns("interleaved")[2:]
              if t.context_id == evidence.turns("interleaved")[0].context_id)  # fmt: skip
    fails(interleaved.check, evidence, "session", a2.line, "the other conversation's name",
          evidence.token("interleaved", "second"))  # fmt: skip


def test_interleaved_asks_both_questions_at_once(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["interleaved"], Names())
    asked = evidence.turns("interleaved")[2:]
    assert all(t.sent == "What is my name?" for t in asked)


def test_interleaved_has_no_evidence_where_one_session_is_declared(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["interleaved"], Names(current=True), session_scope="container")
    with pytest.raises(NoEvidence, match="session_scope = 'container'"):
        interleaved.check(evidence)
