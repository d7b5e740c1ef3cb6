"""Reading a transcript back as evidence, and how checks give their verdicts.

A check is a pure function ``check(evidence) -> observed | None``: it returns
(optionally with what it observed) to pass, raises :class:`Failed` to fail with
a layer and a message, or :class:`NoEvidence` when it cannot decide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from harness.cp_sim import Reply, parse_reply, trim
from harness.cp_sim.a2a import RUNTIME, lost
from harness.cp_sim.dialects import canonical_method, dialect, resolve
from harness.cp_sim.transcript import Line, read
from harness.events import (
    A2ACall,
    A2APoll,
    CanaryEnd,
    CanaryStart,
    Card,
    Event,
    Header,
    Infra,
    ModelCall,
    PlatformCall,
    RuntimeExit,
    Token,
    parse_key,
)

E = TypeVar("E", bound=Event)


class Failed(Exception):
    """The runtime failed a check.

    Args:
        layer: Where the fault sits (``session``, ``files``, ``memory:search``, …).
        message: What was sent, what came back, what was expected, and where.
    """

    def __init__(self, layer: str, message: str) -> None:
        super().__init__(message)
        self.layer = layer
        self.message = message


class NoEvidence(Exception):
    """The transcript cannot decide this check (e.g. the canary it explains failed)."""


def fail(layer: str, message: str) -> NoReturn:
    """Raise :class:`Failed`."""
    raise Failed(layer, message)


@dataclass(frozen=True)
class Turn:
    """One A2A exchange as recorded.

    Attributes:
        line: Its transcript line.
        turn: The turn id platform calls refer to.
        canary: The conversation it belongs to.
        context_id: The context it was sent in (None for a bare JSON-RPC call).
        sent: What was sent, in words.
        reply: The reply, read as production reads it.
        request: The JSON-RPC envelope sent.
        started: Seconds into the run when it was sent.
    """

    line: int
    turn: int
    canary: str
    context_id: str | None
    sent: str
    reply: Reply
    request: dict[str, Any]
    started: float
    polled: Reply | None = None
    runtime_gone: str | None = None
    """Set when the runtime had exited before this turn ended: its code and last line."""

    @property
    def where(self) -> str:
        """``transcript line N``, for failure messages."""
        return f"transcript line {self.line}"

    @property
    def method(self) -> str:
        """The JSON-RPC method the turn called, by its 0.3 name (``SendMessage``: message/send)."""
        return canonical_method(str(self.request.get("method", "")))

    def rejected_send(self) -> bool:
        """The runtime answered the platform's own 0.3 ``message/send`` as a method it lacks."""
        return self._rejected(SEND_METHOD)

    def _rejected(self, method: str) -> bool:
        code = (self.reply.rpc_error or {}).get("code")
        return str(self.request.get("method", "")) == method and code in REJECTED_SEND_CODES

    def failure(self) -> tuple[str, str] | None:
        """The failed turn's layer and message (None when the turn got a reply).

        The layer is the reply's (``wire`` or ``runtime``, see :class:`Reply`), or
        ``runtime`` when the runtime had exited by then.
        """
        if self.reply.ok:
            return None
        polled = ""
        if self.polled is not None:
            answer = repr(trim(self.polled.text)) if self.polled.text else "no text"
            polled = f"; polled with tasks/get, it would have answered {answer}"
        hint = ""
        if self.rejected_send():
            hint = f"; {REJECTED_SEND_HINT}"
        elif self._rejected(V1_SEND_METHOD):
            hint = f"; {REJECTED_V1_SEND_HINT}"
        gone = f"; {self.runtime_gone}" if self.runtime_gone else ""
        layer = RUNTIME if self.runtime_gone else self.reply.layer or "wire"
        message = (
            f"sent {trim(self.sent)!r} in context {self.context_id}: "
            f"{self.reply.describe()}{hint}{polled} ({self.where}){gone}"
        )
        return layer, message

    def answer(self) -> str:
        """The reply's text; a failed turn fails the check at its layer (:meth:`failure`)."""
        failed = self.failure()
        if failed is not None:
            fail(*failed)
        return self.reply.text


SEND_METHOD = "message/send"
REJECTED_SEND_CODES = frozenset({-32601, -32602})
V1_SEND_METHOD = "SendMessage"
REJECTED_V1_SEND_HINT = (
    "the runtime does not take A2A 1.0's `SendMessage` (dialect a2a-1.0): a 0.3-only server"
)
REJECTED_SEND_HINT = (
    "the runtime does not accept the platform's 0.3 `message/send` (a server on a2a-sdk "
    "1.x needs 0.3 compatibility: its JSON-RPC routes built with enable_v0_3_compat=True)"
)


def _reply(event: A2ACall | A2APoll, v1: bool) -> Reply:
    if event.status is None:
        return lost(event.error or "no response")
    body = event.body_bytes()
    reply = parse_reply(event.status, body, v1=v1)
    if event.body_truncated and not reply.ok:
        problem = f"{reply.problem} (body of {event.body_truncated} bytes, first {len(body)} kept)"
        return replace(reply, problem=problem)
    return reply


class Evidence:
    """One template's transcript, read back for the checks.

    Args:
        lines: The transcript's events.
        root: The directory holding the transcript (snapshots are relative to it).
    """

    def __init__(self, lines: list[Line[Event]], root: Path) -> None:
        self.root = root
        self.lines = lines
        headers = [line.event for line in lines if isinstance(line.event, Header)]
        if not headers:
            raise ValueError("the transcript has no header line")
        self.header: Header = headers[0]
        cards = [line.event for line in lines if isinstance(line.event, Card)]
        versions = cards[0].protocol_versions if cards else ()
        self.dialect = dialect(resolve(self.header.dialect, versions))
        """The dialect the conversations spoke (``auto``: the one the card asked for)."""
        self.v1 = self.dialect.v1
        """Replies are read by A2A 1.0's rules (dialect ``a2a-1.0``)."""
        self.platform_calls: list[Line[PlatformCall]] = self.of(PlatformCall)
        self._polls: dict[int, list[A2APoll]] = {}
        for poll in self.of(A2APoll):
            self._polls.setdefault(poll.event.turn, []).append(poll.event)
        self._exits = self.of(RuntimeExit)
        self._attempts: dict[str, int] = {}

    @classmethod
    def load(cls, path: Path) -> Evidence:
        """Read a ``transcript.jsonl``."""
        return cls(read(path), path.parent)

    # --- samples (``--repeat``) and their attempts -----------------------------------

    def sample(self, number: int) -> Evidence:
        """One sample's evidence, as if it were the only one: the last attempt of each of
        its conversations under its canary's id, no other sample's conversations, and
        every event that belongs to no conversation (model and platform calls, which
        checks tie to turns)."""
        final: dict[str, int] = {}
        for start in self.of(CanaryStart):
            canary, sample, attempt = parse_key(start.event.canary)
            if sample == number:
                final[canary] = max(final.get(canary, 0), attempt)
        kept: list[Line[Event]] = []
        for line in self.lines:
            key = getattr(line.event, "canary", None)
            if key is None:
                kept.append(line)
                continue
            canary, sample, attempt = parse_key(key)
            if sample == number and final.get(canary) == attempt:
                renamed = line.event if key == canary else replace(line.event, canary=canary)  # type: ignore[arg-type]
                kept.append(Line(line.number, renamed))
        view = Evidence(kept, self.root)
        view._attempts = {canary: attempt + 1 for canary, attempt in final.items()}
        return view

    def attempts(self, canary: str) -> int:
        """How many times this sample's conversation was driven (1 without a retry); on a
        :meth:`sample` view, from the original transcript's start marks."""
        return self._attempts.get(canary, 1)

    def infra(self, canary: str) -> str | None:
        """Why the conversation's last attempt failed for infrastructure, if it did."""
        found = [line.event.reason for line in self.events(canary, Infra)]
        return found[-1] if found else None

    def of(self, kind: type[E]) -> list[Line[E]]:
        """Every event of one type, in order."""
        return [line for line in self.lines if isinstance(line.event, kind)]  # type: ignore[misc]

    def events(self, canary: str, kind: type[E]) -> list[Line[E]]:
        """One conversation's events of one type (``Upload``, ``Snapshot``, ``HttpGet``)."""
        return [line for line in self.of(kind) if getattr(line.event, "canary", None) == canary]

    # --- one conversation ----------------------------------------------------

    def turns(self, canary: str) -> list[Turn]:
        """The conversation's A2A exchanges, in order (polls folded into their turn)."""
        return [self._turn(line) for line in self.events(canary, A2ACall)]

    def every_turn(self) -> list[Turn]:
        """Every conversation's A2A exchanges, in transcript order."""
        return [self._turn(line) for line in self.of(A2ACall)]

    def _turn(self, line: Line[A2ACall]) -> Turn:
        call = line.event
        polls = self._polls.get(call.turn, [])
        gone = self.gone_by(line.number, lost=call.status is None)
        return Turn(
            line=line.number, turn=call.turn, canary=call.canary, context_id=call.context_id,
            sent=call.sent, reply=_reply(call, self.v1), request=call.request,
            started=call.started,
            polled=_reply(polls[-1], self.v1) if polls else None,  # the last poll of a turn wins
            runtime_gone=gone,
        )  # fmt: skip

    def gone_by(self, number: int, *, lost: bool) -> str | None:
        """Why the runtime could not answer the exchange at line ``number``, if it exited:
        it was gone before, or the exchange lost its connection (``lost``) and the runtime
        was found gone right after."""
        if not self._exits or not (self._exits[0].number < number or lost):
            return None
        exit_ = self._exits[0]
        return (f"the runtime had exited with code {exit_.event.code} ({exit_.where}): "
                f"{exit_.event.last_line}")  # fmt: skip

    def first_turns(self, canary: str, count: int) -> list[Turn]:
        """The conversation's first ``count`` turns; no evidence when it recorded fewer."""
        turns = self.turns(canary)
        if len(turns) < count:
            raise NoEvidence(f"the {canary} conversation recorded fewer than {count} turns")
        return turns[:count]

    def token(self, canary: str, name: str) -> str:
        """A randomized value the conversation recorded."""
        for line in self.events(canary, Token):
            if line.event.name == name:
                return line.event.value
        raise NoEvidence(f"the {canary} conversation recorded no {name!r}")

    def conversation_problem(self, canary: str) -> str | None:
        """Why the conversation has no complete evidence (a harness problem), or None.

        A conversation may have several steps (a diagnostic's ``converse`` and
        ``follow_up``): each start needs its end, and no end may carry an error.
        """
        starts = self.events(canary, CanaryStart)
        ends = self.events(canary, CanaryEnd)
        if not starts:
            return f"the {canary} conversation never started (see the transcript)"
        if len(ends) < len(starts):
            return f"the {canary} conversation did not finish (the run was stopped)"
        for end in ends:
            if end.event.error:
                return f"the harness failed while driving {canary}: {end.event.error} ({end.where})"
        return None

    def duration(self, canary: str) -> float:
        """Seconds the conversation took."""
        starts = self.events(canary, CanaryStart)
        ends = self.events(canary, CanaryEnd)
        if not starts or not ends:
            return 0.0
        return round(ends[-1].event.t - starts[0].event.t, 3)

    def model_calls_during(self, turn: Turn) -> list[Line[ModelCall]]:
        """Requests to the scripted model made while this turn was in flight."""
        return [line for line in self.of(ModelCall) if turn.turn in line.event.turns]


# --- helpers the checks share ----------------------------------------------------

FILE_ERROR_MARKERS = (
    "could not open", "couldn't open", "cannot open", "can't open", "unable to open",
    "could not read", "couldn't read", "cannot read", "can't read", "unable to read",
    "cannot access", "can't access", "unable to access", "no such file", "file not found",
    "outside my workspace", "permission denied", "cannot see the file", "can't see the file",
    "don't see any file", "do not see any file",
)  # fmt: skip


def file_error(text: str) -> str | None:
    """The first phrase saying the runtime could not read the file, case-insensitively."""
    lowered = text.lower()
    return next((m for m in FILE_ERROR_MARKERS if m in lowered), None)


def dropped_marker(text: str, markers: tuple[str, ...]) -> str | None:
    """The first dropped-turn marker the reply contains, case-insensitively."""
    lowered = text.lower()
    return next((m for m in markers if m.lower() in lowered), None)


def request_texts(request: dict[str, Any]) -> list[str]:
    """The text parts of a JSON-RPC request's ``params.message`` (A2A's shape)."""
    params = request.get("params")
    message = params.get("message") if isinstance(params, dict) else None
    parts = message.get("parts") if isinstance(message, dict) else None
    return [str(p.get("text", "")) for p in parts or [] if isinstance(p, dict) and "text" in p]
