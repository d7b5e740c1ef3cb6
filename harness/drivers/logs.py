"""A runtime's output, kept as it streams: secrets masked before a byte is written, size capped.

Runtimes may print anything, as much as they like, secrets included. The
harness reads their output as it comes and writes ``runtime.log`` itself: each
line is masked first (so nothing unmasked reaches the disk, even if the harness
is killed), the first ``head`` bytes are written as they come, and after that
only a rolling tail is kept in memory and written at the end, after a line
saying how much was dropped.
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from harness.masking import mask_bytes

HEAD_BYTES = 1 << 20
TAIL_BYTES = 1 << 20
LINE_LIMIT = 1 << 16  # a longer "line" is cut: a runtime that never prints a newline is capped too


class RuntimeLog:
    """The log of one runtime: fed chunks of output, writes a masked, capped file.

    Args:
        path: ``runtime.log``.
        secrets: Values to mask.
        head: Bytes written as they come.
        tail: Bytes of the end kept and written when the log closes.
    """

    def __init__(
        self, path: Path, secrets: Iterable[str], head: int = HEAD_BYTES, tail: int = TAIL_BYTES
    ) -> None:
        self.path = path
        self._secrets = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
        self._head_left = head
        self._tail_limit = tail
        self._head = bytearray()
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._dropped = 0
        self._partial = b""
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = path.open("wb")

    def feed(self, chunk: bytes) -> None:
        """Take more output; complete lines are masked and kept."""
        with self._lock:
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()
            if len(self._partial) > LINE_LIMIT:
                lines.append(self._partial)
                self._partial = b""
            for line in lines:
                self._keep(mask_bytes(line, self._secrets) + b"\n")

    def _keep(self, line: bytes) -> None:
        if self._head_left > 0 and self._file is not None:
            kept = line[: self._head_left]
            self._file.write(kept)
            self._file.flush()
            self._head += kept
            self._head_left -= len(kept)
            line = line[len(kept) :]
            if not line:
                return
        self._tail.append(line)
        self._tail_size += len(line)
        while self._tail_size > self._tail_limit and len(self._tail) > 1:
            dropped = self._tail.popleft()
            self._tail_size -= len(dropped)
            self._dropped += len(dropped)

    def _marker(self) -> bytes:
        if not self._dropped:
            return b""
        return f"[canary-matrix: {self._dropped} bytes of output dropped here]\n".encode()

    def text(self) -> str:
        """Everything kept so far (head, marker, tail), masked."""
        with self._lock:
            partial = mask_bytes(self._partial, self._secrets)
            data = bytes(self._head) + self._marker() + b"".join(self._tail) + partial
        return data.decode("utf-8", errors="replace")

    def close(self) -> None:
        """Write the rest (marker and tail) and close the file; safe to call twice."""
        with self._lock:
            if self._file is None:
                return
            if self._partial:
                self._tail.append(mask_bytes(self._partial, self._secrets))
                self._partial = b""
            self._file.write(self._marker() + b"".join(self._tail))
            self._file.close()
            self._file = None

    def pump(self, stream: Iterable[bytes]) -> threading.Thread:
        """Feed from a stream of chunks in a daemon thread (ends with the stream)."""

        def run() -> None:
            try:
                for chunk in stream:
                    self.feed(chunk)
            except Exception:
                return

        thread = threading.Thread(target=run, name=f"log-{self.path.parent.name}", daemon=True)
        thread.start()
        return thread


# --- the decisive line: why a runtime died, as its own output says -----------------------

# "ModuleNotFoundError: No module named 'agent'", "pkg.errors.ConfigError: …", "SystemExit: 3"
_EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(:|$)")
# "[FAIL] Required env…", "ERROR: …", "2026-… CRITICAL app: …", "level=error msg=…",
# {"level":"fatal",…}, "Error: Cannot find module …" (Node), "panic: …" (Go).
_MARKED_RE = re.compile(
    r"\[(?:fail(?:ed)?|error|fatal|critical|panic)\]"
    r"|(?-i:\b(?:FAIL(?:ED)?|ERROR|FATAL|CRITICAL|PANIC)\b)"
    r"|\blevel=\"?(?:error|fatal|critical)\b"
    r"|\"level\"\s*:\s*\"(?:error|fatal|critical)\""
    r"|^(?:error|fatal|panic):",
    re.IGNORECASE,
)
# Advice and warnings printed after the failure: "Fix: …", "Hint: …", "WARNING: …".
_HINT_RE = re.compile(
    r"^\W*(?:fix|hint|tip|note|suggestion|try|help|see|warn(?:ing)?)\b\s*[:\]-]"
    r"|(?-i:\bWARN(?:ING)?\b)|\blevel=\"?warn",
    re.IGNORECASE,
)
SUMMARY_LINES = 3
"""A marked line this close after an exception is a framework's summary of it
("ERROR: Application startup failed. Exiting."): the exception says more."""
NOTHING = "(it printed nothing)"


def marked_line(log: str) -> str | None:
    """The last exception, or the last line marked FAIL/ERROR/FATAL/CRITICAL, in a log.

    Hint and warning lines are never it, however they are marked.
    """
    found: tuple[int, str, bool] | None = None  # (index, line, is an exception)
    for index, line in enumerate(_lines(log)):
        if _EXCEPTION_RE.match(line):
            found = (index, line, True)
        elif _MARKED_RE.search(line) and not _HINT_RE.search(line):
            if found and found[2] and index - found[0] <= SUMMARY_LINES:
                continue
            found = (index, line, False)
    return found[1] if found else None


def decisive_line(log: str, files: Mapping[str, str] | None = None) -> str:
    """The line that says why a runtime failed.

    Its output's last exception or marked line; else the same from the log files it
    wrote (``logs`` of the template), naming the file; else its output's last line
    that is not a hint or a warning.

    Args:
        log: What the runtime printed.
        files: Log files from the runtime's filesystem, by path, masked.
    """
    line = marked_line(log)
    if line is not None:
        return line
    for path, text in reversed(list((files or {}).items())):
        line = marked_line(text)
        if line is not None:
            return f"{line} (in {path})"
    lines = _lines(log)
    plain = [line for line in lines if not _HINT_RE.search(line)]
    return (plain or lines or [NOTHING])[-1]


def _lines(log: str) -> list[str]:
    return [line.strip() for line in log.splitlines() if line.strip()]
