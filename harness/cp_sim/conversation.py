"""What a canary's conversation script can do; every step lands in the transcript.

A :class:`Conversation` is handed to one canary's ``converse`` coroutine. It
sends turns through the platform's A2A client, places files through the
:class:`FileAccess` the harness gives it (the driver, which canaries never see),
and records everything, so the checks can judge later from the transcript alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.cp_sim.a2a import (
    PENDING_TASK_STATES,
    A2AClient,
    Exchange,
    Part,
    Reply,
    message_envelope,
    parse_reply,
    task_id,
    text_part,
    unwrap,
)
from harness.cp_sim.dialects import Turn, dialect, history_turn, part_text
from harness.cp_sim.transcript import Transcript
from harness.events import (
    A2ACall,
    A2APoll,
    Header,
    HttpGet,
    PeerTold,
    Placed,
    Snapshot,
    StreamCall,
    Token,
    Upload,
    body_fields,
)

if TYPE_CHECKING:
    from harness.model_sim.slow import Hold, SlowRequests


class FileAccess(Protocol):
    """Places files in, and copies paths out of, the runtime under test."""

    def upload(self, name: str, content: bytes) -> str:
        """Place a file in the chat uploads; returns its ``workspace:`` URI."""

    def place(self, path: str, content: bytes) -> str:
        """Write a file into the runtime's filesystem; returns the path as it sees it."""

    def snapshot(self, path: str, destination: Path) -> Path | None:
        """Copy a runtime path to ``destination``; None when it does not exist."""


def new_context_id() -> str:
    """A fresh conversation thread id."""
    return f"canary-{secrets.token_hex(8)}"


class Conversation:
    """One canary's side of the talk with a runtime.

    Args:
        canary: The canary or diagnostic id this conversation belongs to.
        client: The A2A client for the runtime.
        transcript: Where every step is recorded.
        files: Uploads and snapshots (the driver, behind a narrow interface).
        artifacts: The template's artifacts directory (snapshots go below it).
        settings: The template's facts (the transcript's header).
        peer: A client for the template's peer, when one was started.
        slow: The scripted model's slow requests, when the runtime has a scripted model.
    """

    def __init__(
        self,
        canary: str,
        *,
        client: A2AClient,
        transcript: Transcript,
        files: FileAccess,
        artifacts: Path,
        settings: Header,
        peer: A2AClient | None = None,
        slow: SlowRequests | None = None,
    ) -> None:
        self.canary = canary
        self.settings = settings
        self._client = client
        self._transcript = transcript
        self._files = files
        self._artifacts = artifacts
        self._peer = peer
        self._slow = slow
        self.last_state: str | None = None
        """The task state the last JSON-RPC reply named (``tasks/get`` polling reads it)."""
        self.dialect = dialect(settings.dialect)
        self._histories: dict[str, list[Turn]] = {}

    def token(self, name: str, value: str) -> str:
        """Record a randomized value the checks will look for; returns it."""
        self._transcript.write(Token(canary=self.canary, name=name, value=value))
        return value

    def new_context(self) -> str:
        """A fresh context id (a new conversation thread)."""
        return new_context_id()

    async def say(self, context_id: str, text: str) -> None:
        """Send one text-only user turn in a context and record the reply."""
        await self.send(context_id, [text_part(text)], sent=text)

    async def send(self, context_id: str, parts: list[Part], sent: str) -> None:
        """Send one user turn in a context and record the reply.

        Args:
            context_id: The conversation thread.
            parts: The message parts, as production sends them.
            sent: What was sent, in words, for failure messages.
        """
        history = self._histories.setdefault(context_id, [])
        envelope = self.dialect.envelope(parts, context_id, history)
        reply = await self.rpc(envelope, sent=sent, context_id=context_id)
        self._remember(history, parts, reply.text if reply is not None and reply.ok else None)

    def _remember(self, history: list[Turn], parts: list[Part], reply: str | None) -> None:
        """Keep a turn for the history later turns carry, as the chat kept it (its text)."""
        if not self.dialect.sends_history:
            return
        said = part_text(parts)
        if said:
            history.append(history_turn("user", said))
        if reply:
            history.append(history_turn("agent", reply))

    async def stream(
        self, context_id: str, text: str, *, events: int | None = None
    ) -> tuple[str, ...]:
        """Send one user turn with ``message/stream``; returns the events' data as read.

        Args:
            context_id: The conversation thread.
            text: What the user says.
            events: Disconnect after this many events (None: read to the stream's end).
        """
        history = self._histories.setdefault(context_id, [])
        parts = [text_part(text)]
        envelope = self.dialect.envelope(parts, context_id, history, method="message/stream")
        turn = self._transcript.begin_turn(self.canary)
        started = self._transcript.now()
        try:
            streamed = await self._client.stream(
                envelope, events=events, headers=self.dialect.headers
            )
        finally:
            self._transcript.end_turn(turn)
        body = streamed.body.decode("utf-8", errors="replace") if streamed.body else None
        self._transcript.write(
            StreamCall(canary=self.canary, turn=turn, context_id=context_id, sent=text,
                       request=envelope, started=started, status=streamed.status,
                       events=streamed.events, body=body, error=streamed.error,
                       elapsed_s=streamed.elapsed_s, disconnected=streamed.disconnected)
        )  # fmt: skip
        self._remember(history, parts, None)
        return streamed.events

    def holding_slow_answers(self) -> contextlib.AbstractContextManager[Hold | None]:
        """The scripted model answers no slow request until the block ends (see
        :mod:`harness.model_sim.slow`); the hold is None when there is no scripted model."""
        if self._slow is None:
            return contextlib.nullcontext()
        return self._slow.holding()

    @property
    def has_peer(self) -> bool:
        """A peer runtime was started for this template (``peer_call``)."""
        return self._peer is not None

    async def tell_peer(self, text: str) -> None:
        """Say something to the peer directly, in a fresh context of its own (recorded)."""
        if self._peer is None:
            raise RuntimeError("this template has no peer")
        exchange = await self._peer.post(message_envelope([text_part(text)], new_context_id()))
        self._transcript.write(PeerTold(canary=self.canary, sent=text, **_response(exchange)))

    async def call(self, method: str, params: dict[str, Any], *, sent: str) -> None:
        """One JSON-RPC call that is no user turn (``tasks/get``, ``tasks/cancel``), recorded."""
        envelope = {"jsonrpc": "2.0", "id": str(uuid.uuid4()),
                    "method": self.dialect.method(method), "params": params}  # fmt: skip
        await self.rpc(envelope, sent=sent, poll=False)

    async def rpc(
        self,
        envelope: dict[str, Any],
        *,
        sent: str,
        context_id: str | None = None,
        poll: bool = True,
    ) -> Reply | None:
        """POST any JSON-RPC envelope to the runtime, record the exchange, return its reply.

        Args:
            envelope: The JSON-RPC request.
            sent: What was sent, in words, for failure messages.
            context_id: The conversation thread it belongs to, if any.
            poll: Record what ``tasks/get`` says of a task the reply left pending.
        """
        turn = self._transcript.begin_turn(self.canary)
        started = self._transcript.now()
        deadline = time.monotonic() + self._client.timeout
        try:
            exchange = await self._client.post(envelope, self.dialect.headers)
        finally:
            self._transcript.end_turn(turn)
        if exchange.status is None:
            self._transcript.lost_connections += 1
        self._transcript.write(
            A2ACall(canary=self.canary, turn=turn, context_id=context_id, sent=sent,
                    request=envelope, started=started, **_response(exchange))
        )  # fmt: skip
        reply = self._read(exchange)
        self.last_state = reply.task_state if reply is not None else None
        pending = self._pending_task(exchange, self.last_state) if poll else None
        if pending is not None:
            await self._poll(turn, pending, deadline)
        return reply

    async def _poll(self, turn: int, task: str, deadline: float) -> None:
        """Record what a runtime that ignored ``blocking`` would have answered.

        Production's chat never polls, so the turn stays failed; polling
        ``tasks/get`` within the turn's timeout only keeps the evidence.
        """
        delay = 0.1
        while time.monotonic() + delay < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            method = self.dialect.method("tasks/get")
            envelope = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method,
                        "params": {"id": task}}  # fmt: skip
            exchange = await self._client.post(envelope, self.dialect.headers)
            self._transcript.write(
                A2APoll(canary=self.canary, turn=turn, request=envelope, **_response(exchange))
            )
            reply = self._read(exchange)
            if self._pending_task(exchange, reply.task_state if reply else None) is None:
                return

    def _read(self, exchange: Exchange) -> Reply | None:
        """The reply as the dialect's client reads it (None: no HTTP 200 to read)."""
        if exchange.status != 200:
            return None
        return parse_reply(exchange.status, exchange.body, v1=self.dialect.v1)

    def _pending_task(self, exchange: Exchange, state: str | None) -> str | None:
        """The task id when the exchange (in ``state``) answered with a submitted or working
        task."""
        if state not in PENDING_TASK_STATES:
            return None
        try:
            result = json.loads(exchange.body).get("result")
        except (ValueError, AttributeError):
            return None
        v1 = self.dialect.v1 and isinstance(result, dict)
        return task_id(unwrap(result)[0] if v1 else result)

    async def get(self, path: str) -> Exchange:
        """GET a path of the runtime (not a turn), record the answer, return it."""
        exchange = await self._client.get(path)
        self._transcript.write(HttpGet(canary=self.canary, path=path, **_response(exchange)))
        return exchange

    async def upload(self, name: str, content: bytes) -> str | None:
        """Place a file in the runtime's chat uploads; returns its URI, None on failure."""
        try:
            uri = await asyncio.to_thread(self._files.upload, name, content)
        except Exception as exc:  # the runtime's filesystem refused: a finding, not a crash
            self._transcript.write(
                Upload(canary=self.canary, name=name, size=len(content), uri=None,
                       error=f"{type(exc).__name__}: {exc}")
            )  # fmt: skip
            return None
        self._transcript.write(Upload(canary=self.canary, name=name, size=len(content), uri=uri))
        return uri

    async def place(self, path: str, content: bytes) -> str | None:
        """Provision a file in the runtime (a skill, say); its path there, None on failure."""
        try:
            placed = await asyncio.to_thread(self._files.place, path, content)
        except Exception as exc:  # the runtime's filesystem refused: a finding, not a crash
            self._transcript.write(
                Placed(canary=self.canary, path=path, size=len(content), placed=None,
                       error=f"{type(exc).__name__}: {exc}")
            )  # fmt: skip
            return None
        self._transcript.write(
            Placed(canary=self.canary, path=path, size=len(content), placed=placed)
        )
        return placed

    async def snapshot(self, path: str) -> None:
        """Copy a path out of the runtime into the artifacts and record where it went."""
        destination = self._artifacts / "snapshots" / f"{self.canary}-{uuid.uuid4().hex[:6]}"
        try:
            copied = await asyncio.to_thread(self._files.snapshot, path, destination)
        except Exception as exc:
            self._transcript.write(
                Snapshot(canary=self.canary, path=path, copy=None,
                         error=f"{type(exc).__name__}: {exc}")
            )  # fmt: skip
            return
        relative = None if copied is None else str(copied.relative_to(self._artifacts))
        self._transcript.write(Snapshot(canary=self.canary, path=path, copy=relative))


def _response(exchange: Exchange) -> dict[str, Any]:
    """An exchange as the members of a recorded response."""
    fields: dict[str, Any] = {"status": exchange.status, "elapsed_s": exchange.elapsed_s}
    if exchange.error is not None:
        fields["error"] = exchange.error
    else:
        fields.update(body_fields(exchange.body))
    return fields
