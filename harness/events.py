"""The transcript's events: the evidence every verdict is computed from (DESIGN §6).

One frozen dataclass per event type, each with its ``type`` tag, joined in the union
:data:`Event`; :func:`to_json` and :func:`from_json` are the only way between an event
and its JSON line. Reading is strict: an unknown type, a missing or unknown member, or
a member of the wrong kind is a :class:`TranscriptError` naming it, so a renamed key
is a load error, never a silent default that a verdict then rests on. The header
carries :data:`SCHEMA_VERSION`; a transcript of another schema is refused as a whole.

Standard library only: the simulators, the drivers' callers and the canary checks
all speak it.
"""

from __future__ import annotations

import base64
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

SCHEMA_VERSION = 2
"""Version 2: events are typed (version 1 transcripts were plain dicts)."""
BODY_LIMIT_BYTES = 1 << 20  # a reply larger than this is kept truncated, and says so


class TranscriptError(ValueError):
    """A transcript line that is not an event of this schema."""


@dataclass(frozen=True, kw_only=True)
class _Event:
    """What every event has: seconds since the transcript was opened (set by the writer)."""

    type: ClassVar[str]
    t: float = 0.0


# --- what the harness knows before it starts, and how the run ended -----------------------


@dataclass(frozen=True, kw_only=True)
class Header(_Event):
    """The template's facts the checks need; always the first line."""

    type: ClassVar[str] = "header"
    schema: int = SCHEMA_VERSION
    template: str
    gate: str
    wave: int
    selected: tuple[str, ...]
    """The canaries and diagnostics to judge."""
    conversations: tuple[str, ...]
    session_scope: str
    probe_store: str | None = None
    """``probe.session_store``: where the template keeps its sessions."""
    probe_key: str | None = None
    """``probe.key``: how an entry's key derives from workspace and context ids."""
    dropped_markers: tuple[str, ...] = ()
    workspace_id: str
    ready_path: str = "/.well-known/agent-card.json"
    a2a_path: str = "/"
    turn_timeout: float = 120.0
    concurrent: bool = True
    """The conversations overlap (False where the template declares a shared session)."""
    dialect: str = "context"
    """How the harness spoke to the runtime (DESIGN §3.4)."""
    repeat: int = 1
    """How many samples of each conversation were driven (``--repeat``)."""
    retries: int = 0
    """How often a sample was driven again after an infrastructure failure, at most."""


@dataclass(frozen=True, kw_only=True)
class Footer(_Event):
    """How the run ended; ``result`` is the result file's content as it stood."""

    type: ClassVar[str] = "footer"
    driven: bool
    result: dict[str, Any]


# --- one conversation ---------------------------------------------------------------------


SAMPLE_MARK = "~"


def conversation_key(canary: str, sample: int = 1, attempt: int = 0) -> str:
    """What a conversation's events name it: the canary's id for its first sample's first
    attempt (the only one without ``--repeat``), ``<id>~<sample>~<attempt>`` otherwise."""
    if (sample, attempt) == (1, 0):
        return canary
    return f"{canary}{SAMPLE_MARK}{sample}{SAMPLE_MARK}{attempt}"


def parse_key(key: str) -> tuple[str, int, int]:
    """A conversation key's canary id, sample (from 1) and attempt (from 0)."""
    canary, _, rest = key.partition(SAMPLE_MARK)
    if not rest:
        return canary, 1, 0
    sample, _, attempt = rest.partition(SAMPLE_MARK)
    return canary, int(sample), int(attempt or 0)


@dataclass(frozen=True, kw_only=True)
class CanaryStart(_Event):
    """One step (``converse`` or ``follow_up``) of a conversation began."""

    type: ClassVar[str] = "canary_start"
    canary: str
    step: str


@dataclass(frozen=True, kw_only=True)
class CanaryEnd(_Event):
    """A step ended; ``error`` holds a harness failure, never a runtime's."""

    type: ClassVar[str] = "canary_end"
    canary: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Infra(_Event):
    """A conversation failed for an infrastructure reason (the model provider's 429 or
    5xx), not the runtime's: it is driven again while retries are left, else no verdict."""

    type: ClassVar[str] = "infra"
    canary: str
    reason: str
    retried: bool


@dataclass(frozen=True, kw_only=True)
class HarnessFault(_Event):
    """The harness itself failed while driving a conversation (its traceback)."""

    type: ClassVar[str] = "harness_error"
    canary: str
    traceback: str


@dataclass(frozen=True, kw_only=True)
class Token(_Event):
    """A randomized value a conversation chose (a name, a colour, a code, a file name)."""

    type: ClassVar[str] = "token"
    canary: str
    name: str
    value: str


@dataclass(frozen=True, kw_only=True)
class _Response(_Event):
    """An HTTP answer as recorded: status (None when none came) and body, or the error."""

    status: int | None
    elapsed_s: float = 0.0
    error: str | None = None
    body: str | None = None
    """The body as text, when it is UTF-8."""
    body_b64: str | None = None
    """The body in base64, when it is not."""
    body_truncated: int | None = None
    """The body's full size, when only its first :data:`BODY_LIMIT_BYTES` are kept."""

    def body_bytes(self) -> bytes:
        """The recorded body."""
        if self.body_b64 is not None:
            return base64.b64decode(self.body_b64)
        return (self.body or "").encode("utf-8")


def body_fields(body: bytes) -> dict[str, Any]:
    """A response body as the members of a :class:`_Response`: text if UTF-8, else base64."""
    kept = body[:BODY_LIMIT_BYTES]
    fields: dict[str, Any] = {"body_truncated": len(body) if len(body) > len(kept) else None}
    try:
        fields["body"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        fields["body_b64"] = base64.b64encode(kept).decode("ascii")
    return fields


@dataclass(frozen=True, kw_only=True)
class A2ACall(_Response):
    """One JSON-RPC exchange of a conversation."""

    type: ClassVar[str] = "a2a"
    canary: str
    turn: int
    """The turn id platform and model calls are tied to."""
    context_id: str | None
    sent: str
    """What was sent, in words, for failure messages."""
    request: dict[str, Any]
    """The JSON-RPC envelope, as sent."""
    started: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StreamCall(_Event):
    """One ``message/stream`` exchange of a conversation: the server-sent events it read."""

    type: ClassVar[str] = "a2a_stream"
    canary: str
    turn: int
    context_id: str | None
    sent: str
    request: dict[str, Any]
    started: float = 0.0
    status: int | None
    events: tuple[str, ...] = ()
    """Each event's ``data`` (a JSON-RPC response), in order."""
    body: str | None = None
    """The body, when the answer was not an event stream."""
    error: str | None = None
    elapsed_s: float = 0.0
    disconnected: bool = False
    """The harness stopped reading after the events it wanted (as a closed chat tab does)."""


@dataclass(frozen=True, kw_only=True)
class A2APoll(_Response):
    """A ``tasks/get`` the harness made only to keep evidence of a turn that ignored blocking."""

    type: ClassVar[str] = "a2a_poll"
    canary: str
    turn: int
    request: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PeerTold(_Response):
    """What the harness told a template's peer directly (a word only the peer is to know)."""

    type: ClassVar[str] = "peer_told"
    canary: str
    sent: str


@dataclass(frozen=True, kw_only=True)
class HttpGet(_Response):
    """A plain GET the harness made (the agent card)."""

    type: ClassVar[str] = "http"
    canary: str
    method: str = "GET"
    path: str


@dataclass(frozen=True, kw_only=True)
class Upload(_Event):
    """A file placed in the runtime's chat uploads (``uri`` None: it was refused)."""

    type: ClassVar[str] = "upload"
    canary: str
    name: str
    size: int
    uri: str | None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Placed(_Event):
    """A file the harness provisioned in the runtime (a skill): ``placed`` None if refused."""

    type: ClassVar[str] = "placed"
    canary: str
    path: str
    """As the conversation named it (``{workspace}`` unexpanded)."""
    size: int
    placed: str | None
    """The path as the runtime sees it."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Snapshot(_Event):
    """A runtime path copied into the artifacts (``copy`` None: it does not exist)."""

    type: ClassVar[str] = "snapshot"
    canary: str
    path: str
    copy: str | None
    error: str | None = None


# --- what the runtime did meanwhile -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Tied(_Event):
    """A call the runtime made, tied to the A2A turns in flight as it arrived."""

    turns: tuple[int, ...] = ()
    after_turn: int | None = None
    """When no turn was in flight: the last one that had ended."""


@dataclass(frozen=True, kw_only=True)
class PlatformCall(_Tied):
    """One call the runtime made to the platform simulator (tokens never recorded).

    ``served`` is false for a path the simulator does not serve (production might).
    """

    type: ClassVar[str] = "platform"
    seq: int = 0
    at: float = 0.0
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    status: int
    auth: str
    """``ok``, ``open`` (not registered), ``missing`` or ``invalid``."""
    response: Any = None
    served: bool = True

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


@dataclass(frozen=True)
class ModelMessage:
    """One message of a model request, whatever API shape carried it."""

    role: str
    text: str

    @property
    def tool_result(self) -> bool:
        """A tool's result: a tool message, or a user message ``Observation: …`` (how
        smolagents hands its tools' results back)."""
        if self.role == "tool":
            return True
        return self.role == "user" and self.text.lstrip().lower().startswith("observation:")


@dataclass(frozen=True)
class ToolCall:
    """A tool call the scripted model answered with."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ModelCall(_Tied):
    """One request to the scripted model, and what it answered."""

    type: ClassVar[str] = "model"
    api: str
    stream: bool = False
    messages: tuple[ModelMessage, ...] = ()
    tools: tuple[str, ...] = ()
    answer: str | None = None
    tool_call: ToolCall | None = None
    status: int = 200
    """The HTTP status it was answered with (429: ``CANARY_MODEL_FLAKE``'s rate limit)."""
    stalled: bool = False
    """The model sent nothing until the client gave up (``CANARY_MODEL_FLAKE``'s stall): to
    the runtime, a provider's timeout before the first token."""

    def last_user_text(self) -> str:
        """The text of the request's last user message ('' when there is none)."""
        users = [m for m in self.messages if m.role == "user"]
        return users[-1].text if users else ""


@dataclass(frozen=True, kw_only=True)
class ModelUnserved(_Tied):
    """A request to a route the scripted model does not serve (answered 404)."""

    type: ClassVar[str] = "model_unserved"
    method: str
    path: str
    status: int = 404


@dataclass(frozen=True, kw_only=True)
class Card(_Event):
    """The agent card the runtime served, and the protocol versions it advertises."""

    type: ClassVar[str] = "card"
    path: str
    protocol_versions: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RuntimeExit(_Event):
    """The runtime exited while its conversations ran: its code and decisive line."""

    type: ClassVar[str] = "runtime_exit"
    code: int
    last_line: str


Event: TypeAlias = (
    Header | Footer | CanaryStart | CanaryEnd | Infra | HarnessFault | Token | A2ACall | StreamCall
    | A2APoll | PeerTold | HttpGet | Upload | Placed | Snapshot | PlatformCall | ModelCall
    | ModelUnserved | Card | RuntimeExit
)  # fmt: skip
EVENT_TYPES: dict[str, type[Event]] = {cls.type: cls for cls in typing.get_args(Event)}


def to_json(event: Event) -> dict[str, Any]:
    """The event as a JSON object, its ``type`` first."""
    return {"type": event.type, **dataclasses.asdict(event)}


def from_json(data: Any) -> Event:
    """The event a JSON object holds.

    Raises:
        TranscriptError: It is not an event of this schema (the message says why).
    """
    if not isinstance(data, dict):
        raise TranscriptError("not a JSON object")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TranscriptError(f"unknown event type {kind!r}")
    event: Event = _build(cls, {k: v for k, v in data.items() if k != "type"}, str(kind))
    return event


def _build(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TranscriptError(f"{where}: unknown member {unknown[0]!r}")
    values = {}
    for member in dataclasses.fields(cls):
        if member.name not in data:
            if (
                member.default is dataclasses.MISSING
                and member.default_factory is dataclasses.MISSING
            ):
                raise TranscriptError(f"{where}: missing member {member.name!r}")
            continue
        values[member.name] = _convert(
            hints[member.name], data[member.name], f"{where}.{member.name}"
        )
    return cls(**values)


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(hint: Any, value: Any, where: str) -> Any:
    """``value`` as ``hint`` says, or a TranscriptError naming the member."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(option, value, where)
            except TranscriptError:
                continue
        raise TranscriptError(f"{where}: unexpected {type(value).__name__} {value!r:.80}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TranscriptError(f"{where}: expected a list, got {value!r:.80}")
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise TranscriptError(f"{where}: expected an object, got {value!r:.80}")
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise TranscriptError(f"{where}: expected an object, got {value!r:.80}")
        return _build(hint, value, where)  # type: ignore[arg-type]
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise TranscriptError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r:.80}")
