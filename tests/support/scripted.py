"""A scripted runtime, in process: the canaries' real conversations recorded against it.

The check tests judge transcripts that the real ``converse`` (and ``follow_up``) of
each canary recorded, through the real :class:`~harness.cp_sim.Conversation` and
A2A client, against a runtime played by a function (httpx's ``MockTransport``). So a
check test cannot drift from what a conversation records. During a turn the
function can call the platform or the model the way a runtime does: the calls are
tied to the turns in flight by the real transcript.

    evidence = record(tmp_path, ["name_recall"], lambda turn: "Your name is Rabo.")
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from canary import registry
from canary.evidence import Evidence
from harness.cp_sim import A2AClient, Conversation, Transcript
from harness.cp_sim.transcript import FILE_NAME
from harness.events import Header, ModelCall, ModelMessage, PlatformCall
from harness.run.drive import run_step

WORKSPACE_ID = "ws-0001"
MEMORIES = f"/workspaces/{WORKSPACE_ID}/memories"
UPLOADS = "/workspace/.molecule/chat-uploads"
DROPPED_MARKERS = ("(empty prompt — nothing to do)", "No message provided")
HEADER = Header(
    template="scripted", gate="required", wave=0, selected=tuple(registry.specs()),
    conversations=(), session_scope="context", probe_store="{workspace}/.sessions",
    probe_key="{workspace_id}:{context_id}", dropped_markers=DROPPED_MARKERS,
    workspace_id=WORKSPACE_ID, turn_timeout=5.0,
)  # fmt: skip


@dataclass
class Got:
    """One request the scripted runtime got, read, and what it can do during the turn."""

    request: dict[str, Any]
    transcript: Transcript
    number: int
    """1 for the first request of the recording, and so on."""

    @property
    def method(self) -> str:
        return str(self.request.get("method", ""))

    @property
    def message(self) -> dict[str, Any]:
        return dict((self.request.get("params") or {}).get("message") or {})

    @property
    def context_id(self) -> str:
        return str(self.message.get("contextId", ""))

    @property
    def text(self) -> str:
        """The message's text parts, joined."""
        parts = self.message.get("parts") or []
        return " ".join(str(p.get("text", "")) for p in parts if p.get("kind") == "text")

    @property
    def files(self) -> list[dict[str, Any]]:
        return [p["file"] for p in self.message.get("parts") or [] if p.get("kind") == "file"]

    def platform(self, method: str, path: str, *, status: int = 200, **fields: Any) -> None:
        """Call the platform now (tied to the turns in flight), as a runtime would."""
        self.transcript.tied(
            PlatformCall(method=method, path=path, status=status, auth=fields.pop("auth", "ok"),
                         **fields)
        )  # fmt: skip

    def model(self, *messages: tuple[str, str], tools: Sequence[str] = ()) -> None:
        """Ask the scripted model now: the request holds these (role, text) messages."""
        self.transcript.tied(
            ModelCall(api="chat", messages=tuple(ModelMessage(r, t) for r, t in messages),
                      tools=tuple(tools), answer="…")
        )  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """A raw HTTP answer: status and body (``lost``: no answer at all)."""

    status: int = 200
    body: str = ""
    lost: str | None = None
    content_type: str = "application/json"


def events(*results: dict[str, Any], request_id: Any = "r") -> Answer:
    """A ``message/stream`` answer: one server-sent event per JSON-RPC result."""
    body = "".join(
        f"data: {json.dumps({'jsonrpc': '2.0', 'id': request_id, 'result': r})}\n\n"
        for r in results
    )
    return Answer(body=body, content_type="text/event-stream")


Reply = str | dict[str, Any] | Answer
"""Reply text (a Message), a JSON-RPC ``result`` object, or a raw :class:`Answer`."""
Runtime = Callable[[Got], Reply]


def message(text: str) -> dict[str, Any]:
    """A Message result: parts discriminated by ``kind`` (A2A 0.3)."""
    return {"kind": "message", "role": "agent", "parts": [{"kind": "text", "text": text}]}


def task(text: str, state: str = "completed") -> dict[str, Any]:
    """A Task result: the text in an artifact, parts discriminated by ``type``."""
    return {
        "kind": "task", "id": f"task-{secrets.token_hex(3)}", "contextId": "ctx",
        "status": {"state": state, "message": {"role": "agent", "parts": [
            {"type": "text", "text": "Task finished."}]}},
        "artifacts": [{"parts": [{"type": "text", "text": text}]}],
    }  # fmt: skip


def rpc_error(code: int, text: str, data: Any = None) -> Answer:
    error: dict[str, Any] = {"code": code, "message": text}
    if data is not None:
        error["data"] = data
    return Answer(body=json.dumps({"jsonrpc": "2.0", "id": "r", "error": error}))


# Ways a turn fails, by name, and where each sits (DESIGN §3.2, §4 wire).
FAILED_TURNS: dict[str, Answer] = {
    "http-500": Answer(500, "Internal Server Error"),
    "jsonrpc-error": rpc_error(-32603, "Internal error"),
    "transport-error": Answer(lost="refused"),
    "task-failed": Answer(body=json.dumps({"jsonrpc": "2.0", "id": "r",
                                           "result": task("boom", "failed")})),
    "empty-reply": Answer(body=json.dumps({"jsonrpc": "2.0", "id": "r", "result": message("")})),
    "http-404": Answer(404, "Not Found"),
    "not-json": Answer(body="<html>oops</html>"),
    "method-not-found": rpc_error(-32601, "Method not found"),
    "invalid-params": rpc_error(-32602, "Invalid params"),
    "ignored-blocking": Answer(body=json.dumps({"jsonrpc": "2.0", "id": "r",
                                                "result": task("later", "submitted")})),
    "unshown-text": Answer(body=json.dumps({"jsonrpc": "2.0", "id": "r", "result": {
        "kind": "message", "parts": [{"text": "no discriminator"}]}})),
}  # fmt: skip
FAILED_TURN_LAYERS = {
    "http-500": "runtime", "jsonrpc-error": "runtime", "transport-error": "runtime",
    "task-failed": "runtime", "empty-reply": "runtime", "http-404": "wire", "not-json": "wire",
    "method-not-found": "wire", "invalid-params": "wire", "ignored-blocking": "wire",
    "unshown-text": "wire",
}  # fmt: skip


class _Files:
    """Uploads into a directory standing for the runtime's /workspace; snapshots from it."""

    def __init__(self, root: Path, refuse: str | None, refuse_places: str | None = None) -> None:
        self.root = root
        self.refuse = refuse
        self.refuse_places = refuse_places

    def upload(self, name: str, content: bytes) -> str:
        if self.refuse:
            raise PermissionError(self.refuse)
        filename = f"{secrets.token_hex(16)}-{name}"
        target = self.root / "workspace" / ".molecule" / "chat-uploads" / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return f"workspace:{UPLOADS}/{filename}"

    def place(self, path: str, content: bytes) -> str:
        if self.refuse_places:
            raise PermissionError(self.refuse_places)
        runtime = path.replace("{workspace}", "/workspace")
        target = self.root / runtime.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return runtime

    def snapshot(self, path: str, destination: Path) -> Path | None:
        source = self.root / "workspace" / path.replace("{workspace}", "").lstrip("/")
        if not source.exists():
            return None
        destination.mkdir(parents=True, exist_ok=True)
        target = destination / source.name
        if source.is_dir():
            import shutil

            shutil.copytree(source, target)
        else:
            target.write_bytes(source.read_bytes())
        return target


def record(
    directory: Path,
    canaries: Sequence[str],
    runtime: Runtime,
    *,
    refuse_uploads: str | None = None,
    refuse_places: str | None = None,
    card: dict[str, Any] | None = None,
    peer: Runtime | None = None,
    **header: Any,
) -> Evidence:
    """Drive the canaries' real conversations against ``runtime``; the evidence they left.

    Args:
        directory: Where the transcript (and the stand-in workspace) go.
        canaries: Conversations to drive, in order, each with the follow-ups of the
            diagnostics that explain it.
        runtime: Answers each request (see :data:`Reply`).
        refuse_uploads: Uploads fail with this error.
        refuse_places: Provisioned files (skills) fail with this error.
        card: The agent card it serves (default: a 0.3 card without streaming).
        peer: Answers what the harness tells the template's peer (``peer_call``).
        header: Header fields to change (``session_scope``, ``probe_store``, …).
    """
    files = _Files(directory, refuse_uploads, refuse_places)
    served = card or {"name": "scripted", "protocolVersion": "0.3.0"}
    return asyncio.run(_record(directory, canaries=canaries, runtime=runtime, files=files,
                               card=served, peer=peer, changes=header))  # fmt: skip


def _transport(
    runtime: Runtime, transcript: Transcript, card: dict[str, Any]
) -> httpx.MockTransport:
    """An HTTP transport whose answers ``runtime`` gives (the card to a GET)."""
    seen = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal seen
        seen += 1
        envelope = json.loads(request.content) if request.content else {}
        if request.method == "GET":
            return httpx.Response(200, json=card)
        answer = runtime(Got(envelope, transcript, seen))
        if isinstance(answer, Answer):
            if answer.lost is not None:
                raise httpx.ConnectError(answer.lost, request=request)
            return httpx.Response(
                answer.status, text=answer.body, headers={"content-type": answer.content_type}
            )
        result = message(answer) if isinstance(answer, str) else answer
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": envelope.get("id"),
                                         "result": result})  # fmt: skip

    return httpx.MockTransport(handle)


async def _record(
    directory: Path,
    *,
    canaries: Sequence[str],
    runtime: Runtime,
    files: _Files,
    card: dict[str, Any],
    peer: Runtime | None,
    changes: dict[str, Any],
) -> Evidence:
    directory.mkdir(parents=True, exist_ok=True)
    header = replace(HEADER, conversations=tuple(canaries), **changes)
    transcript = Transcript(directory / FILE_NAME)
    transcript.write(header)
    transport = _transport(runtime, transcript, card)
    peer_client = (
        A2AClient("http://peer", "/", header.turn_timeout, _transport(peer, transcript, card))
        if peer is not None else None
    )  # fmt: skip
    specs = registry.specs()
    async with A2AClient("http://scripted", "/", header.turn_timeout, transport) as client:
        for canary in canaries:
            for cid, step in [(canary, "converse")] + [
                (s.id, "follow_up") for s in specs.values() if s.explains == canary
            ]:
                talk = Conversation(
                    cid, client=client, transcript=transcript, files=files,
                    artifacts=directory, settings=header, peer=peer_client,
                )  # fmt: skip
                await run_step(transcript, talk, step)
    if peer_client is not None:
        await peer_client.aclose()
    transcript.close()
    return Evidence.load(directory / FILE_NAME)


# --- a healthy runtime the check tests break one answer at a time ------------------------

_INTRO = re.compile(r"my name is (\w+)", re.IGNORECASE)
_COLOUR = re.compile(r"favourite colour is ([a-z ]+?)\.?$", re.IGNORECASE)
_CODE = re.compile(r"reference code: (\w+)")
ASKS_NAME = "What is my name?"
ASKS_COLOUR = "What is my favourite colour?"
FILE_ONLY = "[file only]"
"""The key of :attr:`Agent.answers` for a message with a file and no text."""
CAPTION = "[caption]"
"""The key of :attr:`Agent.answers` for a caption next to a file."""
STATED = "[stated colour]"
"""The key of :attr:`Agent.answers` for the turn that states the colour."""
TOLD = "[told name]"
"""The key of :attr:`Agent.answers` for the turn that gives the name."""
FRESH = "[fresh question]"
"""The key of :attr:`Agent.answers` for session_scope's question in a fresh context."""


@dataclass
class Agent:
    """A scripted runtime that behaves well unless told otherwise.

    It keeps names per context, reads uploaded files, and remembers through the
    platform (a commit while the colour is stated, a search while it is asked). Each
    behaviour can be replaced: ``answers`` maps a turn (its text, or one of the keys
    :data:`TOLD`, :data:`ASKS_NAME`, :data:`FILE_ONLY`, :data:`CAPTION`, :data:`STATED`,
    :data:`ASKS_COLOUR`, :data:`FRESH`) to a reply, or to a function of the request.

    Attributes:
        directory: The recording's directory (where uploads are).
        answers: Replies that replace the healthy ones.
        shape: ``message`` or ``task``: how the healthy replies come.
        commits: Commit the stated colour to the platform.
        commit_status: The platform's answer to the commit.
        search: Search the platform when the colour is asked (and answer from it).
        found: What the search returns (default: the committed memory).
        shared: One session for every context (a fresh context knows the name).
    """

    directory: Path
    answers: dict[str, Reply | Callable[[Got], Reply]] = field(default_factory=dict)
    shape: str = "message"
    commits: bool = True
    commit_status: int = 201
    search: bool = True
    found: list[dict[str, Any]] | None = None
    shared: bool = False
    names: dict[str, str] = field(default_factory=dict)
    asked_names: int = 0

    def __call__(self, got: Got) -> Reply:
        if got.method != "message/send":
            body = {"jsonrpc": "2.0", "id": got.request.get("id"),
                    "error": {"code": -32601, "message": "Method not found"}}  # fmt: skip
            return Answer(body=json.dumps(body))
        key = self._key(got)
        override = self.answers.get(key, self.answers.get(got.text))
        if override is not None:
            answer = override(got) if callable(override) else override
            self._healthy(got, key)  # what it did meanwhile (commit, search) still happens
            return answer
        text = self._healthy(got, key)
        return message(text) if self.shape == "message" else task(text)

    def code(self, got: Got) -> str:
        """The reference code of the file this request carries."""
        found = _CODE.search(read_upload(self.directory, str(got.files[0].get("uri", ""))))
        return found.group(1) if found else ""

    def _key(self, got: Got) -> str:
        if got.files:
            return CAPTION if got.text else FILE_ONLY
        if _INTRO.search(got.text):
            return TOLD
        if "remember" in got.text.lower():
            return STATED
        if got.text == ASKS_NAME:
            self.asked_names += 1
            return ASKS_NAME if self.asked_names == 1 else FRESH
        return got.text

    def _healthy(self, got: Got, key: str) -> str:
        context = "all" if self.shared else got.context_id
        if key in (FILE_ONLY, CAPTION):
            if key == CAPTION:
                return f"The reference code is {self.code(got).upper()}."
            return f"I received {got.files[0].get('name')}."
        if key == TOLD:
            self.names[context] = _INTRO.search(got.text).group(1)  # type: ignore[union-attr]
            return "Nice to meet you!"
        if key in (ASKS_NAME, FRESH):
            name = self.names.get(context)
            return f"Your name is {name}." if name else "I don't know your name."
        if key == STATED:
            colour = _COLOUR.search(got.text)
            if self.commits and colour:
                content = f"The user's favourite colour is {colour.group(1)}."
                accepted = self.commit_status == 201
                self.memory = {"id": "mem-1", "content": content, "scope": "LOCAL"}
                got.platform(
                    "POST", MEMORIES, status=self.commit_status,
                    auth="ok" if accepted else "invalid", body={"content": content},
                    response={"id": "mem-1", "scope": "LOCAL"} if accepted else {"error": "no"},
                )  # fmt: skip
            return "I'll remember that."
        if key == ASKS_COLOUR:
            found = self.found if self.found is not None else [getattr(self, "memory", None)]
            found = [m for m in found if m]
            if self.search:
                got.platform("GET", MEMORIES, query={"q": "favourite colour"}, response=found)
            colour = _COLOUR.search(str(found[0]["content"])) if found and self.search else None
            return f"Your favourite colour is {colour.group(1)}." if colour else "No idea."
        return "I can't help with that."


def read_upload(directory: Path, uri: str) -> str:
    """The text of a file the conversation uploaded (as the runtime would read it)."""
    relative = uri.removeprefix(f"workspace:{UPLOADS}/")
    return (directory / "workspace" / ".molecule" / "chat-uploads" / relative).read_text()


def fails(check: Callable[[Evidence], Any], evidence: Evidence, layer: str, line: int,
          *expected: str) -> str:  # fmt: skip
    """Assert the check fails at ``layer``, naming transcript ``line`` and every text.

    Returns:
        The failure's message.
    """
    import pytest

    from canary.evidence import Failed

    with pytest.raises(Failed) as caught:
        check(evidence)
    failure = caught.value
    assert failure.layer == layer, failure.message
    assert re.search(rf"\btranscript line {line}\b", failure.message), failure.message
    for text in expected:
        assert text in failure.message, failure.message
    return failure.message
