"""The reference runtime's rule-based agent: one turn in, one reply out.

Pure logic over a session (a dict persisted by the caller), the attached files
and a memory port; no I/O of its own, so its rules are easy to read and test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

EMPTY_PROMPT_REPLY = "(empty prompt — nothing to do)"

_NAME_RE = re.compile(r"\bmy name is\s+([^\s.,!?;]+)", re.IGNORECASE)
_ASK_NAME_RE = re.compile(r"\bwhat(?:'s| is)\s+my name\b", re.IGNORECASE)
_REMEMBER_RE = re.compile(
    r"\bremember(?:\s+(?:this|that|for future conversations|for later))?\s*[:,]?\s*(.+)$",
    re.IGNORECASE | re.DOTALL,
)
_FACT_RE = re.compile(
    r"\bmy\s+(favou?rite\s+\w+)\s+is\s+(?:now\s+)?(.+?)\s*[.!]?\s*$", re.IGNORECASE
)
_UPDATE_RE = re.compile(
    r"\bchanged my mind\b.*?\b(my\s+favou?rite\s+\w+\s+is\s+.+?)\.\s*please update your memory",
    re.IGNORECASE | re.DOTALL,
)
_ASK_FACT_RE = re.compile(r"\bwhat(?:'s| is)\s+my\s+(favou?rite\s+\w+)\b", re.IGNORECASE)
_CODE_RE = re.compile(r"reference code\s*[:=]\s*([A-Za-z0-9_-]+)", re.IGNORECASE)
_SECRET_RE = re.compile(r"\bthe secret word(?: for (\w+))? is\s+([^\s.,!?;]+)", re.IGNORECASE)
_ASK_SECRET_RE = re.compile(r"\bwhat(?:'s| is)? the secret word(?: for (\w+))?", re.IGNORECASE)
_ASK_PEER_RE = re.compile(
    r"\bask your peer(?: agent)?\s+(.+?)(?:,?\s+and tell me\b.*)?[.?!]?\s*$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Skill:
    """A skill the runtime found (``skills/<name>/SKILL.md``): its front matter and body."""

    name: str
    description: str
    body: str


class FilePort(Protocol):
    """Reads a file the runtime may read (in its workspace or configs); None if it may not."""

    def __call__(self, path: str) -> str | None: ...


_WORD_RE = re.compile(r"[a-z]{4,}")
_SKILL_FILE_RE = re.compile(r"\bRead the file (\S+?) and\b", re.IGNORECASE)
_ACCESS_WORD_RE = re.compile(r"access word:\s*(\S+)", re.IGNORECASE)


def _use_skill(text: str, skills: list[Skill], read: FilePort) -> str | None:
    """Follow the skill whose description matches the question, as an agent would."""
    asked = set(_WORD_RE.findall(text.lower()))
    for skill in skills:
        if len(asked & set(_WORD_RE.findall(skill.description.lower()))) < 2:
            continue
        path = _SKILL_FILE_RE.search(skill.body)
        content = read(path.group(1)) if path else None
        word = _ACCESS_WORD_RE.search(content or "")
        if word:
            return f"Following the skill {skill.name}: the canary access word is {word.group(1)}."
        return f"The skill {skill.name} points at a file I cannot read."
    return None


class MemoryPort(Protocol):
    """The platform's memory API as the agent sees it."""

    def commit(self, content: str) -> None:
        """Store a memory for future conversations."""

    def search(self, query: str) -> list[str]:
        """Contents of memories matching a query, best first."""


class PeerPort(Protocol):
    """Delegation to a peer workspace through the platform, as the agent sees it."""

    def ask(self, text: str) -> str | None:
        """Send ``text`` to the first peer the platform lists; its reply, or None if none."""


@dataclass(frozen=True)
class Attachment:
    """A file the user attached, as the runtime could read it.

    Attributes:
        name: The file name the message gave.
        content: Its text, or None when it could not be read.
        error: Why it could not be read.
    """

    name: str
    content: str | None
    error: str | None = None


def respond(
    text: str,
    attachments: list[Attachment],
    session: dict[str, Any],
    memory: MemoryPort,
    faults: frozenset[str] = frozenset(),
    *,
    skills: list[Skill] | None = None,
    read: FilePort | None = None,
    peer: PeerPort | None = None,
) -> str:
    """Answer one user turn.

    Args:
        text: The user's text parts, joined.
        attachments: The files attached to this turn.
        session: This conversation's state; updated in place.
        memory: Long-term memory through the platform.
        faults: Fault switches that each break one behaviour on purpose.
        skills: The skills provisioned in its workspace and configs.
        read: Reads a file a skill names.
        peer: Asks a peer workspace.

    Returns:
        The reply text.
    """
    if attachments and "ignore_caption" in faults:
        text = ""
    text = text.strip()
    if attachments:
        unreadable = [a for a in attachments if a.content is None]
        if unreadable:
            return f"I could not open {unreadable[0].name}: {unreadable[0].error}"
        if not text:
            if "empty_prompt" in faults:
                return EMPTY_PROMPT_REPLY
            return _acknowledge(attachments)
        return _answer_about_files(text, attachments)
    if not text:
        return EMPTY_PROMPT_REPLY
    ask_peer = _ASK_PEER_RE.search(text)
    if ask_peer and peer is not None:
        return _delegate(ask_peer.group(1), peer, faults)
    if skills and read is not None and "ignore_skills" not in faults:
        used = _use_skill(text, skills, read)
        if used:
            return used
    return _converse(text, session, memory, faults)


def session_from_history(history: list[dict[str, Any]]) -> dict[str, Any]:
    """A conversation's state rebuilt from the earlier turns a request carries.

    The platform's April 2026 chat sent no ``contextId`` but the conversation so far in
    ``params.metadata.history``; what the user said there counts as said in this session.
    """
    session: dict[str, Any] = {}
    for turn in history:
        if not isinstance(turn, dict) or turn.get("role") != "user":
            continue
        parts = turn.get("parts")
        for part in parts if isinstance(parts, list) else []:
            text = part.get("text") if isinstance(part, dict) else None
            if not isinstance(text, str):
                continue
            name = _NAME_RE.search(text)
            if name:
                session["name"] = name.group(1)
            fact = _FACT_RE.search(text)
            if fact:
                session.setdefault("facts", {})[_normalize(fact.group(1))] = fact.group(2)
    return session


def _delegate(request: str, peer: PeerPort, faults: frozenset[str]) -> str:
    # The peer knows nothing of this conversation: the request must travel whole.
    sent = f"Please tell me {request}."
    if "drop_peer_context" in faults:
        sent = "Hello, can you help me?"
    answer = peer.ask(sent)
    if answer is None:
        return "I have no peer to ask: the platform lists none."
    return f"I asked my peer; it says: {answer}"


def _acknowledge(attachments: list[Attachment]) -> str:
    described = ", ".join(
        f"{a.name} ({len((a.content or '').splitlines())} lines)" for a in attachments
    )
    return f"I received {described}. What would you like me to do with it?"


def _answer_about_files(caption: str, attachments: list[Attachment]) -> str:
    if "reference code" in caption.lower():
        for attachment in attachments:
            match = _CODE_RE.search(attachment.content or "")
            if match:
                code = match.group(1)
                if "uppercase" in caption.lower() or "upper case" in caption.lower():
                    code = code.upper()
                return f"The reference code in {attachment.name} is {code}."
        return f"I read {attachments[0].name} but found no reference code in it."
    first = attachments[0]
    lines = (first.content or "").splitlines()
    opening = lines[0] if lines else "(empty)"
    return (
        f"I read {first.name} ({len(lines)} lines) for your request {caption!r}; "
        f"it starts: {opening}"
    )


def _converse(
    text: str, session: dict[str, Any], memory: MemoryPort, faults: frozenset[str]
) -> str:
    name = _NAME_RE.search(text)
    if name:
        session["name"] = name.group(1)
        return f"Nice to meet you, {session['name']}! I'll remember your name."

    remember = _REMEMBER_RE.search(text)
    # "Please remember it" refers back to something; only a statement is worth storing.
    if remember and len(remember.group(1).split()) > 1:
        statement = remember.group(1).strip()
        fact = _FACT_RE.search(statement)
        if fact:
            session.setdefault("facts", {})[_normalize(fact.group(1))] = fact.group(2)
        if "no_memory" not in faults:
            memory.commit(f"The user said: {statement}")
        return f"I'll remember that for future conversations: {statement}"

    update = _UPDATE_RE.search(text)
    if update:
        fact = _FACT_RE.search(update.group(1))
        if fact:
            session.setdefault("facts", {})[_normalize(fact.group(1))] = fact.group(2)
        if "stale_memory" in faults:  # it says so, and keeps the old memory
            return "Noted, but I will keep what I already remember."
        if "no_memory" not in faults and fact:
            memory.commit(f"The user said: my {_normalize(fact.group(1))} is {fact.group(2)}")
        return f"Updated my memory: {update.group(1)}"

    ask_secret = _ASK_SECRET_RE.search(text)
    if ask_secret:
        whose = ask_secret.group(1) or ""
        query = f"secret word for {whose}" if whose else "secret word"
        for content in memory.search(query):
            found = _SECRET_RE.search(content)
            if found and (found.group(1) or "").lower() == whose.lower():
                return f"The {query} is {found.group(2)}."
        return f"I don't know the {query}: nothing in my memory says."

    if _ASK_NAME_RE.search(text):
        if session.get("name"):
            return f"Your name is {session['name']}."
        return "I don't know your name yet: you haven't told me in this conversation."

    ask_fact = _ASK_FACT_RE.search(text)
    if ask_fact:
        subject = _normalize(ask_fact.group(1))
        known = session.get("facts", {}).get(subject)
        if known:
            return f"Your {subject} is {known}."
        for content in memory.search(subject):
            found = _FACT_RE.search(content)
            if found and _normalize(found.group(1)) == subject and "search_unused" not in faults:
                return f"Your {subject} is {found.group(2)}."
        return f"I don't know your {subject}: nothing in my memory says."

    return (
        "I'm the canary-matrix reference runtime. Tell me your name, attach a file, "
        "or ask me to remember something for future conversations."
    )


def _normalize(subject: str) -> str:
    words = subject.lower().split()
    return " ".join("favourite" if w == "favorite" else w for w in words)
