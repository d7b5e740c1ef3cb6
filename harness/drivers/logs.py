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
import threading
from collections.abc import Iterable
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
