"""The scripted model's mind: honest, stateless, and only as good as what it was sent.

Every answer is a pure function of one request: the conversation the framework
sent (already normalized from whichever API shape it used) and the tools it
offered. It knows a name only if an earlier turn in the request says it, a file's
code only if the file's text is in the request, a remembered colour only from a
tool result in the request. So a framework that drops history, tool results or
files gets an honest "I don't know", and the request log shows why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NAME_RE = re.compile(r"\bmy name is ([A-Z][\w-]*)", re.IGNORECASE)
ASKS_NAME_RE = re.compile(r"\bwhat(?:'s| is) my name\b", re.IGNORECASE)
REMEMBER_RE = re.compile(r"\bremember\b.*?:\s*(.+)$", re.IGNORECASE | re.DOTALL)
COLOUR_RE = re.compile(r"\bfavou?rite colou?r is ([a-z]+(?: [a-z]+)?)", re.IGNORECASE)
ASKS_COLOUR_RE = re.compile(r"\bwhat(?:'s| is) my favou?rite colou?r\b", re.IGNORECASE)
CODE_RE = re.compile(r"reference code:\s*([A-Za-z0-9]+)")
ASKS_CODE_RE = re.compile(r"\bwhat(?:'s| is) the (?:reference )?code\b", re.IGNORECASE)
FINAL_ANSWER = "final_answer"
_MEMORY_NAMES = ("memor", "remember", "recall")
_WRITE_WORDS = ("store", "save", "commit", "add", "remember", "write", "create")
_READ_WORDS = ("search", "recall", "find", "query", "get", "retrieve", "lookup", "read")
_ARGUMENT_NAMES = ("content", "text", "memory", "query", "q", "answer", "fact", "value")


@dataclass(frozen=True)
class Message:
    """One message of the conversation, whatever API shape carried it.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        text: Its text (tool results included), parts joined.
        tool_calls: Names of the tools an assistant message called.
    """

    role: str
    text: str
    tool_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tool:
    """A tool the framework offered: its name and its parameters' JSON schema."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    """One model request, normalized."""

    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: str = "auto"  # auto | none | required | <a tool's name>


@dataclass(frozen=True)
class Decision:
    """What the model answers: text, or one tool call with its arguments."""

    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


def _turn(conversation: Conversation) -> tuple[str, list[str], list[str]]:
    """The current task, the user texts before it, and the tool results after it."""
    messages = list(conversation.messages)
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    tool_results = [m.text for m in messages[users[-1] + 1 :] if m.role == "tool"] if users else []
    # smolagents sends tool results as user messages ("Observation: ...") and merges the
    # last observation of one task into the next task's message ("... New task: ...").
    observations: list[str] = []
    for position in range(len(users) - 1, -1, -1):
        index = users[position]
        text = messages[index].text
        earlier = [messages[i].text for i in users[:position]]
        if "New task:" in text:
            before, task = text.rsplit("New task:", 1)
            return task, [*earlier, before], tool_results + observations
        if not text.lstrip().lower().startswith("observation:") or position == 0:
            return text, earlier, tool_results + observations
        observations.append(text)
    return "", [], tool_results


def _find_tool(tools: tuple[Tool, ...], words: tuple[str, ...]) -> Tool | None:
    """A memory tool whose name says one of the words; never an ordinary tool.

    A coding agent offers ``Read``, ``CronCreate`` or ``write_stdin``: calling one
    of those to "remember" would fail, and the answer "Done: I'll remember that"
    would be a lie the memory canaries then judge.
    """
    for tool in tools:
        name = tool.name.lower()
        if not any(kind in name for kind in _MEMORY_NAMES) or tool.name == FINAL_ANSWER:
            continue
        if any(word in name for word in words):
            return tool
    return None


def _argument(tool: Tool) -> str:
    """The parameter a tool's text goes in: a well-known name, else its first string one."""
    properties: dict[str, Any] = dict(tool.parameters.get("properties") or {})
    for name in _ARGUMENT_NAMES:
        if name in properties:
            return name
    required = [n for n in tool.parameters.get("required") or [] if n in properties]
    strings = [
        n for n, s in properties.items() if isinstance(s, dict) and s.get("type") == "string"
    ]
    return (required or strings or list(properties) or ["input"])[0]


def _call(tool: Tool, text: str) -> Decision:
    return Decision(tool=tool.name, arguments={_argument(tool): text})


def decide(conversation: Conversation) -> Decision:
    """Answer one request from what it holds, and nothing else."""
    decision = _think(conversation)
    offered = {t.name: t for t in conversation.tools}
    if decision.text is not None and FINAL_ANSWER in offered:
        # Agents that must end with final_answer get the answer through it.
        return _call(offered[FINAL_ANSWER], decision.text)
    if decision.tool is not None and conversation.tool_choice == "none":
        return Decision(text="I cannot use my tools right now, so I cannot check my memory.")
    return decision


def _think(conversation: Conversation) -> Decision:
    task, earlier, results = _turn(conversation)
    tools = conversation.tools
    if results:
        return Decision(text=_from_results(task, results))
    if code := CODE_RE.search(task):  # the file's text reached the prompt
        if not ASKS_CODE_RE.search(task):
            return Decision(text="I received your file. What would you like me to do with it?")
        value = code.group(1).upper() if "uppercase" in task.lower() else code.group(1)
        return Decision(text=f"The reference code is {value}.")
    if ASKS_CODE_RE.search(task):
        return Decision(text="I cannot see the file's content, so I do not know the code.")
    if ASKS_NAME_RE.search(task):
        for text in reversed(earlier):
            if found := NAME_RE.search(text):
                return Decision(text=f"Your name is {found.group(1)}.")
        return Decision(text="I don't know your name: nobody has told me in this conversation.")
    if found := NAME_RE.search(task):
        return Decision(text=f"Nice to meet you, {found.group(1)}!")
    if (remember := REMEMBER_RE.search(task)) and len(remember.group(1).split()) > 1:
        tool = _find_tool(tools, _WRITE_WORDS)
        if tool is not None:
            return _call(tool, remember.group(1).strip())
        return Decision(text="I have no way to remember that beyond this conversation.")
    if ASKS_COLOUR_RE.search(task):
        for text in reversed(earlier):
            if found := COLOUR_RE.search(text):
                return Decision(text=f"Your favourite colour is {found.group(1)}.")
        tool = _find_tool(tools, _READ_WORDS)
        if tool is not None:
            return _call(tool, "favourite colour")
        return Decision(text="I don't know your favourite colour.")
    return Decision(text="How can I help?")


def _from_results(task: str, results: list[str]) -> str:
    if ASKS_COLOUR_RE.search(task):
        for text in results:
            if found := COLOUR_RE.search(text):
                return f"Your favourite colour is {found.group(1)}."
        return "I looked in my memory and found nothing about your favourite colour."
    if REMEMBER_RE.search(task):
        return "Done: I'll remember that for future conversations."
    return "Done."
