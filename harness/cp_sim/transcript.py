"""The transcript: every event of one template's run, one JSON object per line.

The harness writes it while it talks to a runtime; the canary checks read it
back. It is the evidence every verdict is computed from (DESIGN §6), so it is
written as things happen, with secrets masked before a line reaches the disk.
Its events are the types of :mod:`harness.events`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, TypeVar

from harness import events
from harness.events import Event, ModelCall, ModelUnserved, PlatformCall, TranscriptError
from harness.masking import mask_text

FILE_NAME = "transcript.jsonl"


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
        self._in_flight: dict[int, tuple[str, int]] = {}
        self._turns_of: dict[str, int] = {}
        self._sample = 1
        self._last_finished: int | None = None
        self._written: list[Event] = []
        self.lost_connections = 0
        """A2A exchanges that got no HTTP response at all (the runtime may be gone)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("w", encoding="utf-8")

    def now(self) -> float:
        """Seconds since the transcript was opened."""
        return round(time.monotonic() - self._started, 4)

    def write(self, event: Event) -> int:
        """Append one event, stamped with the time; returns its line number (1-based)."""
        stamped = dataclasses.replace(event, t=self.now())
        text = json.dumps(events.to_json(stamped), ensure_ascii=False, default=str)
        line = mask_text(text, self._secrets)
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"{self.path} is closed")
            self._file.write(line + "\n")
            self._file.flush()
            self._written.append(stamped)
            self._line += 1
            return self._line

    @property
    def lines(self) -> int:
        """How many lines have been written."""
        with self._lock:
            return self._line

    def written(self, since: int = 0) -> list[Event]:
        """The events written so far (from line ``since + 1``), as written (unmasked)."""
        with self._lock:
            return self._written[since:]

    def begin_turn(self, canary: str) -> int:
        """A new A2A turn id, in flight until :meth:`end_turn`."""
        with self._lock:
            self._turn += 1
            index = self._turns_of[canary] = self._turns_of.get(canary, 0) + 1
            self._in_flight[self._turn] = (canary, index)
            self._sample = events.parse_key(canary)[1]
            return self._turn

    def sample(self) -> int:
        """The sample of the turn begun last: samples are driven one after another."""
        with self._lock:
            return self._sample

    def in_flight(self) -> list[tuple[str, int]]:
        """The turns in flight, each as its conversation's key and its place in it (from 1)."""
        with self._lock:
            return [self._in_flight[turn] for turn in sorted(self._in_flight)]

    def end_turn(self, turn: int) -> None:
        """The turn's reply arrived (or it failed)."""
        with self._lock:
            self._in_flight.pop(turn, None)
            self._last_finished = turn

    def tied(self, call: PlatformCall | ModelCall | ModelUnserved) -> None:
        """Record a call the runtime made, tied to the A2A turns in flight as it arrived."""
        with self._lock:
            during = tuple(sorted(self._in_flight))
            after = None if during else self._last_finished
        self.write(dataclasses.replace(call, turns=during, after_turn=after))

    def close(self) -> None:
        """Close the file; later writes raise."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


EventT_co = TypeVar("EventT_co", bound=Event, covariant=True)


@dataclass(frozen=True)
class Line(Generic[EventT_co]):
    """One event read back, with its line number for failure messages."""

    number: int
    event: EventT_co

    @property
    def where(self) -> str:
        """``transcript line N``, for failure messages."""
        return f"transcript line {self.number}"


def read(path: Path) -> list[Line[Event]]:
    """Every event of a transcript, in order.

    Raises:
        TranscriptError: A line is not an event of this schema (the message names the
            file and line); the header names another schema (the whole file is refused).
    """
    lines: list[Line[Event]] = []
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise TranscriptError(f"{path}:{number}: not JSON ({exc})") from None
            if number == 1 and isinstance(data, dict) and data.get("type") == "header":
                schema = data.get("schema")
                if schema != events.SCHEMA_VERSION:
                    raise TranscriptError(
                        f"{path}: a schema-{schema} transcript; this canary-matrix reads "
                        f"schema {events.SCHEMA_VERSION} (judge it with the version that wrote it)"
                    )
            try:
                lines.append(Line(number, events.from_json(data)))
            except TranscriptError as exc:
                raise TranscriptError(f"{path}:{number}: {exc}") from None
    return lines
