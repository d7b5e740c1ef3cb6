"""The scripted model's mind: honest, stateless, and as capable as a real model at the canaries.

Every answer is a pure function of one request (DESIGN §3.3): the conversation the
framework sent (already normalized from whichever API shape it used) and the tools
it offered. It reads all of the request, as a real model does: the system prompt
(where runtimes inject memories: "MEMORY.md", "[Prior context from memory]"), every
message, history a runtime embeds in the current message ("Conversation so far: …
Current request: …"), tool results. It knows a name, a colour or a file's code only
if the request holds it, so a runtime that drops history, tool results or files
gets an honest statement that it does not know, and the request log shows why.

It uses the tools it is offered as a capable model would: a memory tool (by name or
description, including one tool with an ``action`` argument) to remember and to
recall, a file-reading tool for a file whose path, but not whose text, is in the
request (or, with no such tool, ``cat`` on an offered shell, as a coding agent does), a
peer-listing and a delegation tool (the platform's ``list_peers`` and
``delegate_task``) when asked to ask its peer. It never asks a question: a question
would let a dropped file pass.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

NAME_RE = re.compile(r"\bmy name is ([A-Z][\w-]*)", re.IGNORECASE)
ASKS_NAME_RE = re.compile(r"\bwhat(?:'s| is) my name\b", re.IGNORECASE)
REMEMBER_RE = re.compile(r"\bremember\b.*?:\s*(.+)$", re.IGNORECASE | re.DOTALL)
# A fact the user states, and asks for again: "my favourite colour is misty saffron", "my
# favourite city is now Tosamagrad" (an update: "now").
FACT_RE = re.compile(
    r"\bfavou?rite (colou?r|city) is (now )?([A-Za-z]+(?: [a-z]+)?)", re.IGNORECASE
)
ASKS_FACT_RE = re.compile(r"\bwhat(?:'s| is) my favou?rite (colou?r|city)\b", re.IGNORECASE)
UPDATE_RE = re.compile(r"\bupdate your memory\b", re.IGNORECASE)
CODE_RE = re.compile(r"reference code:\s*([A-Za-z0-9]+)")
ASKS_CODE_RE = re.compile(r"\bwhat(?:'s| is) the (?:reference )?code\b", re.IGNORECASE)
# A file the request points at without its text: a workspace: URI, an uploads path, or a
# path under /workspace (an "Attached files:" manifest lists them so).
FILE_PATH_RE = re.compile(
    r"(?:workspace:)?(/[^\s'\"()<>\]]*/\.molecule/chat-uploads/[^\s'\"()<>\]]+"
    r"|/workspace/[^\s'\"()<>\]]+\.\w+)"
)
# A skill (skills/<name>/SKILL.md) the runtime lists, and the procedure it gives.
ASKS_ACCESS_WORD_RE = re.compile(r"\bcanary access word\b", re.IGNORECASE)
SKILL_PATH_RE = re.compile(r"(/[^\s'\"()<>\]]*/SKILL\.md)\b")
SKILL_STEP_RE = re.compile(r"\bRead the file (\S+?) and\b", re.IGNORECASE)
ACCESS_WORD_RE = re.compile(r"access word:\s*(\w+)", re.IGNORECASE)
SKILL_READS = 2  # its SKILL.md, then the file it names
# "Please ask your peer agent what the secret word for Rabo is, and tell me what it says."
ASKS_PEER_RE = re.compile(
    r"\bask your peer(?: agent)?\s+(.+?)(?:,?\s+and tell me\b.*)?[.?!]?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# A peer as a listing names it ("ID: <id>": production's list_peers; "id: `<id>`": its
# system prompt's peer section) or as JSON ("id": "<id>").
PEER_ID_RE = re.compile(r"\bid:\s*`?([\w-]{6,})|\"id\":\s*\"([\w-]{6,})\"", re.IGNORECASE)
# "Please take your time over this one: think it through slowly, then say done."
TAKE_YOUR_TIME_RE = re.compile(r"\btake your time\b.*\bsay done\b", re.IGNORECASE | re.DOTALL)
THINK_S = 4.0  # long enough for a client to cancel the task meanwhile
FINAL_ANSWER = "final_answer"
NOTHING_TO_ANSWER = "There is nothing in this message for me to answer."

_MEMORY_WORDS = ("memor", "remember", "recall")
_WRITE_WORDS = ("add", "store", "save", "commit", "remember", "write", "create", "insert",
                "append", "put", "set", "upsert", "record")  # fmt: skip
_READ_WORDS = ("search", "recall", "find", "query", "get", "retrieve", "lookup", "read",
               "list", "view", "fetch", "load")  # fmt: skip
_ACTION_ARGUMENTS = ("action", "operation", "op", "command", "mode", "method")
_CONTENT_ARGUMENTS = ("content", "text", "memory", "fact", "value", "note", "data", "input",
                      "information", "entry")  # fmt: skip
_QUERY_ARGUMENTS = ("query", "q", "search", "search_query", "keywords", "text", "content",
                    "input", "key", "topic")  # fmt: skip
_PATH_ARGUMENTS = ("path", "file_path", "filepath", "absolute_path", "target_file", "filename",
                   "file", "file_name", "uri", "location")  # fmt: skip
_TASK_ARGUMENTS = ("task", "message", "request", "prompt", "text", "query", "content", "input",
                   "instruction", "question")  # fmt: skip
_PEER_ARGUMENT_WORDS = ("workspace", "target", "peer", "agent", "id", "to", "recipient")
_FILE_TOOL_NAMES = ("read_file", "read", "file_read", "readfile", "view_file", "open_file",
                    "cat", "read_text_file", "view")  # fmt: skip
_SHELL_TOOL_NAMES = ("exec_command", "shell", "bash", "run_shell_command", "run_command")
_COMMAND_ARGUMENTS = ("cmd", "command")
# Where runtimes embed what came before the current request in one message.
_HISTORY_START = "Conversation so far:"
_HISTORY_END = "Current request:"
_SMOLAGENTS_TASK = "New task:"
# Context the platform's executors put before the prompt, up to the blank line after it.
_INJECTED_RE = re.compile(
    r"\s*\[(?:Prior context from memory|Delegation results[^\]]*)\].*?\n\n(?:\[New message\]\n)?",
    re.DOTALL,
)
# The environment a command-line agent describes inside the user's message (its
# directories, the files in them, the date): gemini-cli's <session_context>, codex's
# <environment_context>, claude code's <system-reminder>. Context, not the request.
_ENVELOPE_RE = re.compile(
    r"<(session_context|environment_context|system-reminder)>.*?</\1>", re.DOTALL
)
# A status line a runtime appends to the user's message: a label and its facts as
# ``key=value`` pairs joined by ``|`` (openclaw's "Runtime: agent=main | session=… | os=…"
# after a session's first message). Context too: a fact the user states ends before it.
_STAMP_RE = re.compile(r"\n\s*[A-Z][\w ]*:[ \t]*(?:[\w.-]+=[^|\n]*\|[ \t]*){2,}[\w.-]+=[^\n]*\s*$")


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
    """A tool the framework offered: its name, its parameters' JSON schema, its description."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    namespace: str = ""
    """The group a Responses request offered it in (codex: ``mcp__<server>``), if any."""


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
    think_s: float = 0.0
    """How long the model takes before it answers (a request that asks it to take its time)."""


@dataclass(frozen=True)
class _Turn:
    """The request, read: the task at hand and everything else it holds.

    Attributes:
        task: What the user asks now.
        context: Every other text of the request (system prompt, earlier messages,
            history and memories embedded around the task), newest last.
        results: Tool results that came after the task (this turn's tool calls).
    """

    task: str
    context: tuple[str, ...]
    results: tuple[str, ...]

    def everything(self) -> tuple[str, ...]:
        """All the text the request holds, the task last."""
        return (*self.context, *self.results, self.task)


def _split_task(text: str) -> tuple[str, list[str]]:
    """The request within a message, and what a runtime embedded around it."""
    if stamp := _STAMP_RE.search(text):
        task, embedded = _split_task(text[: stamp.start()])
        return task, [*embedded, stamp.group(0).strip()]
    envelopes = [m.group(0) for m in _ENVELOPE_RE.finditer(text)]
    if envelopes:
        task, embedded = _split_task(_ENVELOPE_RE.sub("", text).strip())
        return task, [*envelopes, *embedded]
    if _HISTORY_END in text:
        before, task = text.rsplit(_HISTORY_END, 1)
        return task.strip(), [before]
    injected = _INJECTED_RE.match(text)
    if injected:
        # "[Prior context from memory]\n- …\n\n{prompt}", "…\n\n[New message]\n{input}"
        return text[injected.end() :].strip(), [injected.group(0)]
    return text, []


def _read(conversation: Conversation) -> _Turn:
    """Find the current task, the context around it, and this turn's tool results."""
    messages = list(conversation.messages)
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        return _Turn("", tuple(m.text for m in messages), ())
    results = [m.text for m in messages[users[-1] + 1 :] if m.role == "tool"]
    # smolagents sends tool results as user messages ("Observation: ...") and merges the
    # last observation of one task into the next task's message ("... New task: ...").
    observations: list[str] = []
    for position in range(len(users) - 1, -1, -1):
        index = users[position]
        text = messages[index].text
        earlier = [m.text for m in messages[:index]]
        if _SMOLAGENTS_TASK in text:
            before, task = text.rsplit(_SMOLAGENTS_TASK, 1)
            return _Turn(task.strip(), (*earlier, before), tuple(results + observations))
        if not text.lstrip().lower().startswith("observation:") or position == 0:
            task, embedded = _split_task(text)
            return _Turn(task, (*earlier, *embedded), tuple(results + observations))
        observations.append(text)
    return _Turn("", (), tuple(results))


def without_memory_tools(conversation: Conversation) -> Conversation:
    """The request as if the memory tools had not been offered (a model that did not look)."""
    return replace(conversation, tools=tuple(t for t in conversation.tools if not _memory_tool(t)))


def _memory_tool(tool: Tool) -> bool:
    """A tool about memory, by its name or the first sentence of its description."""
    if tool.name == FINAL_ANSWER:
        return False
    name = tool.name.lower()
    summary = re.split(r"(?<=[.!?])\s", tool.description.strip(), maxsplit=1)[0].lower()
    return any(word in name or word in summary for word in _MEMORY_WORDS)


def _file_tool(tool: Tool) -> bool:
    """A tool that reads a file: ``read_file``, ``Read``, or one whose description says so."""
    name = tool.name.lower()
    summary = tool.description.strip().lower()
    return (
        name in _FILE_TOOL_NAMES
        or ("read" in name and "file" in name)
        or summary.startswith(("read a file", "reads a file", "read the contents of a file"))
    )


def _shell_tool(tool: Tool) -> bool:
    """A tool that runs a command line: codex's ``exec_command``, ``shell``, ``bash``."""
    return tool.name.lower() in _SHELL_TOOL_NAMES and bool(
        set(_properties(tool)) & set(_COMMAND_ARGUMENTS)
    )


def _reader(tools: tuple[Tool, ...]) -> Tool | None:
    """What to read a file with: a file-reading tool, else a shell, as a coding agent would."""
    readers = [t for t in tools if _file_tool(t)] or [t for t in tools if _shell_tool(t)]
    return readers[0] if readers else None


def _read_file(reader: Tool, path: str) -> Decision:
    """Read ``path`` with ``reader``: its path argument, or ``cat`` on a shell."""
    if not _shell_tool(reader):
        return _call(reader, path, _PATH_ARGUMENTS, None)
    argument = next(a for a in _COMMAND_ARGUMENTS if a in _properties(reader))
    schema = _properties(reader)[argument]
    as_list = isinstance(schema, dict) and schema.get("type") == "array"
    command: str | list[str] = ["cat", path] if as_list else f"cat {shlex.quote(path)}"
    return Decision(tool=reader.name, arguments={argument: command})


def _properties(tool: Tool) -> dict[str, Any]:
    return dict(tool.parameters.get("properties") or {})


def _words(name: str) -> set[str]:
    """A tool's or an action's name as words: ``commitMemory``, ``memory_get`` → two each."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word}


def _action_argument(tool: Tool) -> str | None:
    """The argument that picks what a single multi-purpose tool does: ``action``, …"""
    for name, schema in _properties(tool).items():
        if name.lower() in _ACTION_ARGUMENTS and isinstance(schema, dict) and schema.get("enum"):
            return name
    return None


def _action(tool: Tool, words: tuple[str, ...]) -> tuple[str, str] | None:
    """The action argument and the value of it that does what ``words`` say, if any."""
    argument = _action_argument(tool)
    if argument is None:
        return None
    for value in _properties(tool)[argument]["enum"]:
        if isinstance(value, str) and _words(value) & set(words):
            return argument, value
    return None


def _argument(tool: Tool, preferred: tuple[str, ...], taken: set[str]) -> str:
    """The parameter a text goes in: a well-known name, else the first string one."""
    properties = _properties(tool)
    for name in preferred:
        if name in properties and name not in taken:
            return name
    required = [str(n) for n in tool.parameters.get("required") or [] if n in properties]
    strings = [n for n, s in properties.items() if isinstance(s, dict) and _is_string(s)
               and not s.get("enum")]  # fmt: skip
    free = [n for n in (*required, *strings, *properties) if n not in taken]
    return str((free or ["input"])[0])


def _is_string(schema: dict[str, Any]) -> bool:
    # Gemini's OpenAPI-style schemas say "STRING".
    return str(schema.get("type", "")).lower() == "string"


def _call(
    tool: Tool, text: str, preferred: tuple[str, ...], action: tuple[str, str] | None
) -> Decision:
    """A call of ``tool`` with ``text`` in its main argument and its other required ones filled."""
    arguments: dict[str, Any] = {}
    if action is not None:
        arguments[action[0]] = action[1]
    arguments[_argument(tool, preferred, set(arguments))] = text
    properties = _properties(tool)
    for name in tool.parameters.get("required") or []:
        schema = properties.get(name)
        if name in arguments or not isinstance(schema, dict):
            continue
        if schema.get("enum"):
            arguments[name] = schema["enum"][0]  # hermes' target: "memory"
        elif _is_string(schema):
            arguments[name] = text
    return Decision(tool=tool.name, arguments=arguments)


def _use_memory(tools: tuple[Tool, ...], words: tuple[str, ...], text: str) -> Decision | None:
    """Call the memory tool that does what ``words`` say (write or read), if one is offered."""
    preferred = _CONTENT_ARGUMENTS if words is _WRITE_WORDS else _QUERY_ARGUMENTS
    candidates = [t for t in tools if _memory_tool(t)]
    for tool in candidates:  # a tool whose name says it, first
        if _words(tool.name) & set(words) and _action_argument(tool) is None:
            return _call(tool, text, preferred, None)
    for tool in candidates:  # then one tool with an action argument: memory(action="add")
        action = _action(tool, words)
        if action is not None:
            return _call(tool, text, preferred, action)
    return None


def decide(conversation: Conversation) -> Decision:
    """Answer one request from what it holds, and nothing else."""
    decision = _think(conversation)
    offered = {t.name: t for t in conversation.tools}
    if decision.text is not None and FINAL_ANSWER in offered:
        # Agents that must end with final_answer get the answer through it.
        call = _call(offered[FINAL_ANSWER], decision.text, ("answer",), None)
        return replace(call, think_s=decision.think_s)
    if decision.tool is not None and conversation.tool_choice == "none":
        return Decision(text="I cannot use my tools right now, so I cannot look that up.",
                        think_s=decision.think_s)  # fmt: skip
    return decision


def _subject(word: str) -> str:
    return "city" if word.lower() == "city" else "colour"


def _fact(subject: str, texts: tuple[str, ...]) -> str | None:
    """What the texts say the user's favourite ``subject`` is: an update ("now") wins, then
    the newest statement (a memory search may list its results newest first)."""
    found = [(bool(now), value) for text in texts for word, now, value in FACT_RE.findall(text)
             if _subject(word) == subject]  # fmt: skip
    updated = [value for now, value in found if now]
    latest: list[str | None] = [*(updated or [value for _, value in found])] or [None]
    return latest[-1]


def _find(pattern: re.Pattern[str], texts: tuple[str, ...]) -> str | None:
    """The last match of ``pattern`` among ``texts``: the newest statement wins."""
    for text in reversed(texts):
        found = pattern.findall(text)
        if found:
            return str(found[-1])
    return None


def _think(conversation: Conversation) -> Decision:
    turn = _read(conversation)
    task, tools = turn.task, conversation.tools
    if TAKE_YOUR_TIME_RE.search(task):
        return _take_time(turn, tools)
    if ASKS_ACCESS_WORD_RE.search(task):
        return _use_skill(turn, tools)
    if asked_peer := ASKS_PEER_RE.search(task):
        return _ask_peer(asked_peer.group(1), turn, tools)
    if turn.results:
        return Decision(text=_from_results(turn))
    if file := _about_file(turn, tools):
        return file
    if ASKS_NAME_RE.search(task):
        name = _find(NAME_RE, turn.context)
        if name:
            return Decision(text=f"Your name is {name}.")
        return Decision(text="I don't know your name: nobody has told me in this conversation.")
    if found := NAME_RE.search(task):
        return Decision(text=f"Nice to meet you, {found.group(1)}!")
    if (remember := REMEMBER_RE.search(task)) and len(remember.group(1).split()) > 1:
        call = _use_memory(tools, _WRITE_WORDS, remember.group(1).strip())
        return call or Decision(text="I have no way to remember that beyond this conversation.")
    if UPDATE_RE.search(task) and (stated := FACT_RE.search(task)):
        word, _, value = stated.groups()
        call = _use_memory(tools, _WRITE_WORDS, f"my favourite {_subject(word)} is now {value}.")
        return call or Decision(text="I have no way to update a memory beyond this conversation.")
    if asked := ASKS_FACT_RE.search(task):
        subject = _subject(asked.group(1))
        known = _fact(subject, turn.context)
        if known:
            return Decision(text=f"Your favourite {subject} is {known}.")
        call = _use_memory(tools, _READ_WORDS, f"favourite {subject}")
        return call or Decision(text=f"I don't know your favourite {subject}.")
    return Decision(text=NOTHING_TO_ANSWER)


def _use_skill(turn: _Turn, tools: tuple[Tool, ...]) -> Decision:
    """Follow a skill the request lists, as a capable agent does: read its SKILL.md, then
    the file it names, then answer with the word it holds."""
    if word := _find(ACCESS_WORD_RE, turn.results):
        return Decision(text=f"The canary access word is {word}.")
    if len(turn.results) >= SKILL_READS:
        return Decision(text="I could not find the access word where the skill says it is.")
    reader = _reader(tools)
    everything = turn.everything()
    step = _find(SKILL_STEP_RE, everything)
    listed = _relevant_skill(everything)
    if reader is not None and (step or listed):
        return _read_file(reader, step or listed or "")
    if step or listed:
        return Decision(text="A skill says where the access word is, but I cannot read files.")
    return Decision(text="I don't know the canary access word: no skill I have mentions it.")


def _relevant_skill(texts: tuple[str, ...]) -> str | None:
    """The SKILL.md a request lists for the access word (its line says so), else the last one
    listed: a CLI lists skills of its own too (codex: skill-creator, imagegen, …)."""
    lines = [line for text in texts for line in text.splitlines() if SKILL_PATH_RE.search(line)]
    relevant = [line for line in lines if ASKS_ACCESS_WORD_RE.search(line)] or lines
    return _find(SKILL_PATH_RE, tuple(relevant))


def _delegation_tool(tool: Tool) -> bool:
    """A tool that hands a task to another agent and waits: ``delegate_task``, ``ask_peer``."""
    words = _words(tool.name)
    if words & {"async", "status", "check"}:
        return False  # fire-and-forget, or a poll: no answer to relay now
    return bool(
        words & {"delegate", "delegation"}
        or (words & {"send", "ask", "message"} and words & {"peer", "agent", "workspace"})
    )


def _peer_list_tool(tool: Tool) -> bool:
    """A tool that lists the peers: ``list_peers``, ``get_peers``, ``discover_agents``."""
    words = _words(tool.name)
    return bool(words & {"peer", "peers", "agents", "workspaces"}
                and words & {"list", "get", "discover", "find"})  # fmt: skip


def _peer_argument(tool: Tool, taken: set[str]) -> str | None:
    """The argument that names the peer to delegate to (``workspace_id``, ``target``), if any."""
    for name in _properties(tool):
        if name not in taken and _words(name) & set(_PEER_ARGUMENT_WORDS):
            return name
    return None


def _take_time(turn: _Turn, tools: tuple[Tool, ...]) -> Decision:
    """Think slowly, and look the peers up before saying done: a second step, which a turn
    cancelled while the model thinks must never take (``stream_cancel``)."""
    if turn.results:
        return Decision(text="Done.")
    lister = next((t for t in tools if _peer_list_tool(t)), None)
    if lister is None:
        return Decision(text="Done.", think_s=THINK_S)
    return Decision(tool=lister.name, arguments={}, think_s=THINK_S)


def _ask_peer(request: str, turn: _Turn, tools: tuple[Tool, ...]) -> Decision:
    """Ask a peer as a capable agent does: find it (its ID in the prompt, or list the peers),
    delegate the request whole (the peer knows nothing of this conversation), relay."""
    answers = [r for r in turn.results if not PEER_ID_RE.search(r) and "no peers" not in r.lower()]
    if answers:
        return Decision(text=f"I asked my peer agent. It says: {answers[-1].strip()[:500]}")
    delegate = next((t for t in tools if _delegation_tool(t)), None)
    if delegate is None:
        return Decision(text="I cannot ask a peer agent: none of my tools reaches one.")
    task_argument = _argument(delegate, _TASK_ARGUMENTS, set())
    peer_argument = _peer_argument(delegate, {task_argument})
    arguments = {task_argument: f"Please tell me {request.strip()}."}
    if peer_argument is not None:
        listed = [m for text in turn.everything() for m in PEER_ID_RE.findall(text)]
        if not listed:
            lister = next((t for t in tools if _peer_list_tool(t)), None)
            if lister is None or turn.results:
                return Decision(text="I have no peer agent to ask: none is listed.")
            return Decision(tool=lister.name, arguments={})
        arguments[peer_argument] = next(a or b for a, b in listed[-1:])
    return Decision(tool=delegate.name, arguments=arguments)


def _about_file(turn: _Turn, tools: tuple[Tool, ...]) -> Decision | None:
    """An answer about the file the task carries: its text, or a path to read it from."""
    task = turn.task
    if code := CODE_RE.search(task):  # the file's text reached the prompt
        return Decision(text=_file_answer(task, code.group(1)))
    path = FILE_PATH_RE.search(task)
    if path is not None:
        reader = _reader(tools)
        if reader is not None:
            return _read_file(reader, path.group(1))
        return Decision(text=f"I cannot read the attached file at {path.group(1)}: "
                             "none of my tools reads files.")  # fmt: skip
    if ASKS_CODE_RE.search(task):
        return Decision(text="I cannot see the file's content, so I do not know the code.")
    return None


def _file_answer(task: str, code: str) -> str:
    """What a model says about a file it has read: the code asked for, else a summary."""
    if ASKS_CODE_RE.search(task):
        value = code.upper() if "uppercase" in task.lower() else code
        return f"The reference code is {value}."
    return f"I read the attached file; it holds the reference code {code}."


def _from_results(turn: _Turn) -> str:
    task, results = turn.task, turn.results
    if code := _find(CODE_RE, results):
        return _file_answer(task, code)
    if asked := ASKS_FACT_RE.search(task):
        subject = _subject(asked.group(1))
        known = _fact(subject, results) or _fact(subject, turn.context)
        if known:
            return f"Your favourite {subject} is {known}."
        return f"I looked in my memory and found nothing about your favourite {subject}."
    if REMEMBER_RE.search(task) or UPDATE_RE.search(task):
        return "Done: I'll remember that for future conversations."
    if FILE_PATH_RE.search(task) or ASKS_CODE_RE.search(task):
        first = next((line for r in results for line in r.splitlines() if line.strip()), "")
        return f"I could not read the attached file: {first[:200]}"
    return "Done."
