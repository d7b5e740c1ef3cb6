"""tool_use, judged on what its real conversation (skills provisioned, then asked) recorded."""

from __future__ import annotations

import re
from pathlib import Path

from canary import tool_use
from harness.events import Placed
from tests.support.scripted import Got, fails, record

WORD_FILE = re.compile(r"Read the file (\S+) and")


class SkilledAgent:
    """A runtime that lists the skills it finds to its model and answers from a tool's read."""

    def __init__(self, directory: Path, *, lists: bool = True, reads: bool = True,
                 relays: bool = True, model: bool = True,
                 result_role: str = "tool") -> None:  # fmt: skip
        self.directory = directory
        self.lists, self.reads, self.relays, self.model = lists, reads, relays, model
        self.result_role = result_role

    @property
    def prefix(self) -> str:
        return "Observation:\n" if self.result_role == "user" else ""

    def __call__(self, got: Got) -> str:
        skills = sorted((self.directory / "workspace" / "skills").glob("*/SKILL.md"))
        listing = "\n".join(f"- {p.parent.name} (read /workspace/skills/{p.parent.name}"
                            "/SKILL.md)" for p in skills) if self.lists else ""  # fmt: skip
        word = ""
        if self.model:
            got.model(("system", f"Skills:\n{listing}"), ("user", got.text), tools=("read_file",))
        if self.reads and skills:
            body = skills[0].read_text()
            found = WORD_FILE.search(body)
            assert found is not None
            word_file = found.group(1)
            word = (self.directory / word_file.lstrip("/")).read_text().split(": ")[1].strip()
            if self.model:
                got.model(("system", listing), ("user", got.text), ("assistant", ""),
                          (self.result_role, f"{self.prefix}access word: {word}"),
                          tools=("read_file",))  # fmt: skip
        return f"The canary access word is {word}." if word and self.relays else "No idea."


def test_passes_when_a_tool_read_the_word_and_the_reply_says_it(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path))
    assert tool_use.check(evidence) == "tool"


def test_a_tool_result_handed_back_as_an_observation_counts_as_the_read(tmp_path: Path) -> None:
    # smolagents returns each tool's result as a user message "Observation: ...".
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path, result_role="user"))
    assert tool_use.check(evidence) == "tool"


def test_the_skill_is_provisioned_in_the_workspace_and_the_configs(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path))
    placed = [line.event.placed for line in evidence.events("tool_use", Placed)]
    skill = evidence.token("tool_use", "skill")
    expected = [f"{root}/{skill}/{name}" for root in ("/workspace/skills", "/configs/skills")
                for name in ("word.txt", "SKILL.md")]  # fmt: skip
    assert placed == expected
    body = (tmp_path / "configs" / "skills" / skill / "SKILL.md").read_text()
    assert body.startswith(f"---\nname: {skill}\n")
    assert f"/configs/skills/{skill}/word.txt" in body  # each copy names its own word file


def test_passes_without_model_evidence_when_the_reply_holds_the_word(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path, model=False))
    assert tool_use.check(evidence) is None


def test_fails_at_used_when_the_word_came_without_a_tool(tmp_path: Path) -> None:
    agent = SkilledAgent(tmp_path)
    agent.model = False  # it read the file itself and pasted the word; the model got no tool
    evidence = record(tmp_path, ["tool_use"], lambda got: (
        got.model(("user", got.text)), agent(got))[1])  # fmt: skip
    (request,) = evidence.model_calls_during(evidence.turns("tool_use")[0])
    fails(tool_use.check, evidence, "skills:used", request.number, "no tool call read it")


def test_fails_at_loaded_when_no_request_mentions_the_skill(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path, lists=False, reads=False))
    (request,) = evidence.model_calls_during(evidence.turns("tool_use")[0])
    fails(tool_use.check, evidence, "skills:loaded", request.number, "never loaded it")


def test_fails_at_used_when_the_skill_was_listed_but_not_read(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path, reads=False))
    (request,) = evidence.model_calls_during(evidence.turns("tool_use")[0])
    fails(tool_use.check, evidence, "skills:used", request.number, "no tool read its word")


def test_fails_at_reply_when_the_read_word_was_not_relayed(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path, relays=False))
    requests = evidence.model_calls_during(evidence.turns("tool_use")[0])
    fails(tool_use.check, evidence, "skills:reply", requests[1].number, "does not say it")


def test_fails_at_placed_when_the_skill_could_not_be_provisioned(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["tool_use"], SkilledAgent(tmp_path), refuse_places="read-only")
    first = evidence.events("tool_use", Placed)[0]
    fails(tool_use.check, evidence, "skills:placed", first.number, "read-only")
