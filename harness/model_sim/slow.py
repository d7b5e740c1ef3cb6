"""Slow requests: where the scripted model and the conversation that cancels one meet.

``stream_cancel`` cancels a task while the model is on its request, and then judges every
model request that comes after the cancel. Arrival order alone cannot say which requests a
runtime started after it had the cancel: on a loaded machine a request sent just before the
cancel can reach the model after the cancel's answer. So the conversation waits until the
model has the slow request before it cancels, and the model holds its answer until the
conversation lets go, after the cancel was answered: whatever the runtime asks next, it
asked knowing of the cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

HOLD_CAP_S = 60.0  # a conversation that never lets go must not wedge the runtime for good
POLL_S = 0.05


class SlowRequests:
    """Counts the slow requests the model got; holds their answers while a conversation asks.

    The model server (its own thread) calls :meth:`think`; the conversation (the harness's
    event loop) calls :meth:`holding`, and waits on the :class:`Hold` it gets.
    """

    def __init__(self, cap_s: float = HOLD_CAP_S) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._held = False
        self._cap_s = cap_s

    async def think(self, seconds: float) -> None:
        """One slow request: take ``seconds``, and longer while a conversation holds answers."""
        with self._lock:
            self._count += 1
        await asyncio.sleep(seconds)
        deadline = time.monotonic() + self._cap_s
        while self._held and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)

    @contextlib.contextmanager
    def holding(self) -> Iterator[Hold]:
        """Slow requests are not answered until the block ends; the hold counts from its start."""
        self._held = True
        try:
            yield Hold(self, self.count)
        finally:
            self._held = False

    @property
    def count(self) -> int:
        """Slow requests the model got so far."""
        with self._lock:
            return self._count


class Hold:
    """One conversation's hold on slow answers, counting the slow requests since it began."""

    def __init__(self, requests: SlowRequests, seen: int) -> None:
        self._requests = requests
        self._seen = seen

    async def arrived(self, timeout: float) -> bool:
        """Wait until the model got a slow request since the hold began; False on the timeout."""
        deadline = time.monotonic() + timeout
        while self._requests.count <= self._seen:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True
