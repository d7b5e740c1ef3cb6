"""The transcript: every event of one template's run, one JSON object per line.

The harness writes it while it talks to a runtime; the canary checks read it
back. It is the evidence every verdict is computed from (DESIGN §6), so it is
written as things happen, with secrets masked before a line reaches the disk.

Event types (``type`` member):

- ``header``: the template's facts the checks need (selected canaries, session
  scope, probe, dropped-turn markers, workspace id, …).
- ``canary_start`` / ``canary_end``: one canary's conversation began or ended
  (``error`` holds a harness failure, never a runtime's).
- ``token``: a randomized value a conversation chose (a name, a colour, a code).
- ``a2a``: one JSON-RPC exchange: request, HTTP status, body, timing, context id.
- ``http``: one plain HTTP request the harness made (the agent card).
- ``upload`` / ``snapshot``: a file placed in, or copied out of, the runtime.
- ``platform``: one call the runtime made to the platform simulator, with the
  ids of the A2A turns in flight when it arrived.
- ``footer``: how the run ended (timings, driver, image).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness.masking import mask_text

SCHEMA_VERSION = 1
FILE_NAME = "transcript.jsonl"
BODY_LIMIT_BYTES = 1 << 20  # a reply larger than this is kept truncated, and says so

Event = dict[str, Any]


def encode_body(body: bytes) -> dict[str, Any]:
    """A response body as transcript members: text when it is UTF-8, else base64."""
    truncated = len(body) > BODY_LIMIT_BYTES
    kept = body[:BODY_LIMIT_BYTES]
    try:
        fields: dict[str, Any] = {"body": kept.decode("utf-8")}
    except UnicodeDecodeError:
        fields = {"body_b64": base64.b64encode(kept).decode("ascii")}
    if truncated:
        fields["body_truncated"] = len(body)
    return fields


def decode_body(event: Event) -> bytes:
    """The response body an ``a2a`` or ``http`` event recorded."""
    if "body_b64" in event:
        return base64.b64decode(event["body_b64"])
    return str(event.get("body") or "").encode("utf-8")


class Transcript:
    """Appends events to ``transcript.jsonl``; safe to use from several threads.

    It also tracks which A2A turns are in flight, so that a platform call can be
    tied to the turn during which it arrived.

    Args:
        path: The file to write (created, with its parent directories).
        secrets: Values masked in every line before it is written.
    """

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._line = 0
        self._turn = 0
        self._in_flight: dict[int, str] = {}
        self._last_finished: int | None = None
        self.lost_connections = 0
        """A2A exchanges that got no HTTP response at all (the runtime may be gone)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("w", encoding="utf-8")

    def now(self) -> float:
        """Seconds since the transcript was opened."""
        return round(time.monotonic() - self._started, 4)

    def write(self, event: Event) -> int:
        """Append one event; returns its line number (1-based)."""
        event = {"t": self.now(), **event}
        line = mask_text(json.dumps(event, ensure_ascii=False, default=str), self._secrets)
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"{self.path} is closed")
            self._file.write(line + "\n")
            self._file.flush()
            self._line += 1
            return self._line

    def begin_turn(self, canary: str) -> int:
        """A new A2A turn id, in flight until :meth:`end_turn`."""
        with self._lock:
            self._turn += 1
            self._in_flight[self._turn] = canary
            return self._turn

    def end_turn(self, turn: int) -> None:
        """The turn's reply arrived (or it failed)."""
        with self._lock:
            self._in_flight.pop(turn, None)
            self._last_finished = turn

    def platform_call(self, call: Event) -> None:
        """Record a platform call, tied to the turns in flight as it arrived."""
        self._tied("platform", call)

    def model_call(self, call: Event) -> None:
        """Record a request to the scripted model, tied to the turns in flight."""
        self._tied("model", call)

    def model_unserved(self, call: Event) -> None:
        """Record a request to a route the scripted model does not serve."""
        self._tied("model_unserved", call)

    def _tied(self, kind: str, call: Event) -> None:
        with self._lock:
            during = sorted(self._in_flight)
            after = None if during else self._last_finished
        self.write({"type": kind, **call, "turns": during, "after_turn": after})

    def close(self) -> None:
        """Close the file; later writes raise."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@dataclass(frozen=True)
class Line:
    """One event read back, with its line number for failure messages."""

    number: int
    event: Event

    @property
    def type(self) -> str:
        """The event's type."""
        return str(self.event.get("type"))


def read(path: Path) -> list[Line]:
    """Every event of a transcript, in order.

    Raises:
        ValueError: A line is not a JSON object (the message names the line).
    """
    return list(_lines(path))


def _lines(path: Path) -> Iterator[Line]:
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                event = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(event, dict) or "type" not in event:
                raise ValueError(f"{path}:{number}: not a transcript event")
            yield Line(number, event)
