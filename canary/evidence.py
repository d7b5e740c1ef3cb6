"""Reading a transcript back as evidence, and how checks give their verdicts.

A check is a pure function ``check(evidence) -> observed | None``: it returns
(optionally with what it observed) to pass, raises :class:`Failed` to fail with
a layer and a message, or :class:`NoEvidence` when it cannot decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from harness.cp_sim import Reply, parse_reply, trim
from harness.cp_sim.a2a import RUNTIME, lost
from harness.cp_sim.transcript import Line, decode_body, read


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
        """The JSON-RPC method the turn called."""
        return str(self.request.get("method", ""))

    def rejected_send(self) -> bool:
        """The runtime answered the platform's own ``message/send`` as a method it lacks."""
        code = (self.reply.rpc_error or {}).get("code")
        return self.method == SEND_METHOD and code in REJECTED_SEND_CODES

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
        hint = f"; {REJECTED_SEND_HINT}" if self.rejected_send() else ""
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


@dataclass(frozen=True)
class PlatformCall:
    """One call the runtime made to the platform simulator.

    Attributes:
        line: Its transcript line.
        method: HTTP method.
        path: Request path.
        query: Query parameters.
        body: Parsed JSON body (or None).
        status: The simulator's answer.
        auth: ``ok``, ``open``, ``missing`` or ``invalid``.
        response: The simulator's JSON answer.
        turns: Ids of the A2A turns in flight when it arrived.
        after_turn: When none was in flight, the last turn that had ended.
    """

    line: int
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    auth: str
    response: Any
    turns: tuple[int, ...]
    after_turn: int | None

    @property
    def memories_endpoint(self) -> bool:
        """A call to ``/workspaces/{id}/memories`` (with or without a trailing slash)."""
        return self.path.rstrip("/").endswith("/memories")

    def memories(self) -> list[dict[str, Any]]:
        """The memories a search answered with (the platform's list, or a wrapper's)."""
        listed = self.response.get("memories", []) if isinstance(self.response, dict) else []
        if isinstance(self.response, list):
            listed = self.response
        return [m for m in listed if isinstance(m, dict)]


SEND_METHOD = "message/send"
REJECTED_SEND_CODES = frozenset({-32601, -32602})
REJECTED_SEND_HINT = (
    "the runtime does not accept the platform's 0.3 `message/send` (a server on a2a-sdk "
    "1.x needs 0.3 compatibility: its JSON-RPC routes built with enable_v0_3_compat=True)"
)


def _reply(event: dict[str, Any]) -> Reply:
    if event.get("status") is None:
        return lost(str(event.get("error") or "no response"))
    reply = parse_reply(int(event["status"]), decode_body(event))
    if event.get("body_truncated") and not reply.ok:
        kept = len(decode_body(event))
        return Reply(
            ok=False,
            problem=f"{reply.problem} (body of {event['body_truncated']} bytes, first {kept} kept)",
            status_code=reply.status_code,
            body_excerpt=reply.body_excerpt,
            layer=reply.layer,
        )
    return reply


class Evidence:
    """One template's transcript, read back for the checks.

    Args:
        lines: The transcript's events.
        root: The directory holding the transcript (snapshots are relative to it).
    """

    def __init__(self, lines: list[Line], root: Path) -> None:
        self.root = root
        self.lines = lines
        headers = [line.event for line in lines if line.type == "header"]
        if not headers:
            raise ValueError("the transcript has no header line")
        self.header: dict[str, Any] = headers[0]
        self.platform_calls = [
            PlatformCall(
                line=line.number,
                method=str(line.event.get("method")),
                path=str(line.event.get("path")),
                query=dict(line.event.get("query") or {}),
                body=line.event.get("body"),
                status=int(line.event.get("status") or 0),
                auth=str(line.event.get("auth")),
                response=line.event.get("response"),
                turns=tuple(line.event.get("turns") or ()),
                after_turn=line.event.get("after_turn"),
            )
            for line in lines
            if line.type == "platform"
        ]
        self._polls: dict[int, list[Line]] = {}
        for line in lines:
            if line.type == "a2a_poll":
                self._polls.setdefault(int(line.event.get("turn") or 0), []).append(line)
        self._exits = [line for line in lines if line.type == "runtime_exit"]

    @classmethod
    def load(cls, path: Path) -> Evidence:
        """Read a ``transcript.jsonl``."""
        return cls(read(path), path.parent)

    # --- the template's facts (from the header) ------------------------------

    @property
    def template(self) -> str:
        """The template's name."""
        return str(self.header["template"])

    @property
    def selected(self) -> tuple[str, ...]:
        """The canaries and diagnostics to judge."""
        return tuple(self.header.get("selected") or ())

    @property
    def session_scope(self) -> str:
        """What the template declares: ``context``, ``workspace`` or ``container``."""
        return str(self.header.get("session_scope", "context"))

    @property
    def probe(self) -> dict[str, Any]:
        """The declared session store (``session_store``, ``key``), possibly empty."""
        return dict(self.header.get("probe") or {})

    @property
    def workspace_id(self) -> str:
        """The workspace id the runtime was given."""
        return str(self.header.get("workspace_id"))

    @property
    def dropped_markers(self) -> tuple[str, ...]:
        """Phrases that mean the runtime dropped a turn."""
        return tuple(self.header.get("dropped_markers") or ())

    # --- one conversation ----------------------------------------------------

    def _events(self, canary: str, kind: str) -> list[Line]:
        return [
            line for line in self.lines if line.type == kind and line.event.get("canary") == canary
        ]

    def turns(self, canary: str) -> list[Turn]:
        """The conversation's A2A exchanges, in order (polls folded into their turn)."""
        return [self._turn(line) for line in self._events(canary, "a2a")]

    def every_turn(self) -> list[Turn]:
        """Every conversation's A2A exchanges, in transcript order."""
        return [self._turn(line) for line in self.lines if line.type == "a2a"]

    def _turn(self, line: Line) -> Turn:
        turn_id = int(line.event.get("turn") or 0)
        polls = self._polls.get(turn_id, [])
        exits = self._exits
        gone = None
        # Gone before this turn ended, or the turn lost its connection and the runtime
        # was found gone right after.
        if exits and (exits[0].number < line.number or line.event.get("status") is None):
            gone = (
                f"the runtime had exited with code {exits[0].event.get('code')} "
                f"(transcript line {exits[0].number}): {exits[0].event.get('last_line')}"
            )
        return Turn(
            line=line.number,
            turn=turn_id,
            canary=str(line.event.get("canary")),
            context_id=line.event.get("context_id"),
            sent=str(line.event.get("sent", "")),
            reply=_reply(line.event),
            request=dict(line.event.get("request") or {}),
            started=float(line.event.get("started") or 0.0),
            polled=_reply(polls[-1].event) if polls else None,  # the last poll of a turn wins
            runtime_gone=gone,
        )

    def first_turns(self, canary: str, count: int) -> list[Turn]:
        """The conversation's first ``count`` turns; no evidence when it recorded fewer."""
        turns = self.turns(canary)
        if len(turns) < count:
            raise NoEvidence(f"the {canary} conversation recorded fewer than {count} turns")
        return turns[:count]

    def token(self, canary: str, name: str) -> str:
        """A randomized value the conversation recorded."""
        for line in self._events(canary, "token"):
            if line.event.get("name") == name:
                return str(line.event["value"])
        raise NoEvidence(f"the {canary} conversation recorded no {name!r}")

    def events(self, canary: str, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """The conversation's events of one type (``upload``, ``snapshot``, ``http``)."""
        return [(line.number, line.event) for line in self._events(canary, kind)]

    def conversation_problem(self, canary: str) -> str | None:
        """Why the conversation has no complete evidence (a harness problem), or None.

        A conversation may have several steps (a diagnostic's ``converse`` and
        ``follow_up``): each start needs its end, and no end may carry an error.
        """
        starts = self._events(canary, "canary_start")
        ends = self._events(canary, "canary_end")
        if not starts:
            return f"the {canary} conversation never started (see the transcript)"
        if len(ends) < len(starts):
            return f"the {canary} conversation did not finish (the run was stopped)"
        for end in ends:
            if end.event.get("error"):
                return (
                    f"the harness failed while driving {canary}: {end.event['error']} "
                    f"(transcript line {end.number})"
                )
        return None

    def duration(self, canary: str) -> float:
        """Seconds the conversation took."""
        starts = self._events(canary, "canary_start")
        ends = self._events(canary, "canary_end")
        if not starts or not ends:
            return 0.0
        return round(float(ends[-1].event["t"]) - float(starts[0].event["t"]), 3)

    def model_calls_during(self, turn: Turn) -> list[tuple[int, dict[str, Any]]]:
        """Requests to the scripted model made while this turn was in flight."""
        return [
            (line.number, line.event)
            for line in self.lines
            if line.type == "model" and turn.turn in (line.event.get("turns") or ())
        ]


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
