"""tool_use: a skill provisioned in the workspace is used to answer (DESIGN §4.1).

Before its turn the harness writes ``skills/<random>/SKILL.md`` into the workspace and into
``/configs/skills`` (the platform provisions skills both ways), each beside a ``word.txt``
holding a random access word; the skill says to read that file. The question asks for the
word, which only the skill can give. Passes when the reply holds it; on the scripted model
the transcript must also show the tool call that read it. Layers: ``skills:placed`` (the
harness could not provision it), ``skills:loaded`` (no model request ever mentions the
skill), ``skills:used`` (it did, but no tool read the word), ``skills:reply`` (a tool read
it, the reply does not say it); ``skills`` where no model evidence tells them apart.
"""

from __future__ import annotations

import secrets

from canary.evidence import Evidence, fail
from canary.tokens import random_code
from harness.cp_sim import Conversation, trim
from harness.events import Placed

KIND = "canary"
ORDER = 7
SHORT = "tool"
DEFAULT = False
QUESTION = "What is the canary access word? Your skills say how to find it."
ROOTS = ("{workspace}/skills", "/configs/skills")


def skill_text(name: str, word_file: str) -> str:
    """A SKILL.md in the common shape: front matter (name, description), then the procedure."""
    return (
        f"---\nname: {name}\ndescription: Gives the canary access word. Use it when asked for "
        "the canary access word.\n---\n\n# Canary access word\n\nThe access word is in the file "
        f"{word_file}. Read the file {word_file} and reply with the word it holds, exactly.\n"
    )


async def converse(talk: Conversation) -> None:
    """Provision the skill both ways, then ask what only it can answer."""
    word = talk.token("word", f"quill{random_code()}")
    name = talk.token("skill", f"canary-word-{secrets.token_hex(3)}")
    for root in ROOTS:
        placed = await talk.place(f"{root}/{name}/word.txt", f"access word: {word}\n".encode())
        if placed is not None:
            await talk.place(f"{root}/{name}/SKILL.md", skill_text(name, placed).encode())
    await talk.say(talk.new_context(), QUESTION)


def check(evidence: Evidence) -> str | None:
    """The reply holds the word; on the scripted model, a tool call read it."""
    placed = evidence.events("tool_use", Placed)
    if not any(line.event.placed for line in placed):
        where = f" ({placed[0].where})" if placed else ""
        errors = "; ".join(sorted({str(line.event.error) for line in placed}))
        fail("skills:placed", f"the harness could not provision the skill: {errors}{where}")
    (turn,) = evidence.first_turns("tool_use", 1)
    text = turn.answer()
    word, skill = evidence.token("tool_use", "word"), evidence.token("tool_use", "skill")
    asked = f"asked {turn.sent!r} in context {turn.context_id}; got {trim(text)!r}"
    requests = evidence.model_calls_during(turn)
    read = [line for line in requests if any(
        m.tool_result and word in m.text for m in line.event.messages)]  # fmt: skip
    if word in text:
        if requests and not read:
            fail("skills:used", f"{asked}: it holds the word {word!r}, but no tool call read it "
                 f"(the model got it without using the skill; {requests[0].where})")  # fmt: skip
        return "tool" if read else None
    if not requests:
        fail("skills", f"{asked}; expected the access word {word!r} from the skill {skill} "
             f"({turn.where})")  # fmt: skip
    if read:
        fail("skills:reply", f"{asked}: a tool read the word {word!r} ({read[0].where}), the "
             "reply does not say it")  # fmt: skip
    if any(skill in m.text for line in requests for m in line.event.messages):
        fail("skills:used", f"{asked}: the model was told of the skill {skill}, but no tool "
             f"read its word ({requests[0].where})")  # fmt: skip
    fail("skills:loaded", f"{asked}: no model request mentions the skill {skill}: the runtime "
         f"never loaded it ({requests[0].where})")  # fmt: skip
