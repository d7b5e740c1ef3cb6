"""A synchronous framework's turn, run in a thread and stopped when its task is cancelled.

The A2A server cancels a task by cancelling the coroutine that awaits its answer; a thread
cannot be cancelled, so without this a cancelled turn runs on and keeps calling the model.
The adapter says how to interrupt its framework (smolagents' ``agent.interrupt()``,
hermes' ``AIAgent.interrupt()``); a turn cancelled before its framework starts never starts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


class Turn:
    """One turn's cancellation, shared by the event loop and the turn's thread.

    The thread calls :meth:`begin` with its framework's interrupt just before the framework
    runs; the loop calls :meth:`cancel`. Whichever comes second sees the other, so a cancel
    either stops the turn before it starts or interrupts the running framework.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._interrupt: Callable[[], None] | None = None

    def begin(self, interrupt: Callable[[], None]) -> bool:
        """Arm the interrupt; False when the turn was cancelled already (do not run it)."""
        with self._lock:
            self._interrupt = interrupt
            return not self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            interrupt = self._interrupt
        if interrupt is not None:
            interrupt()

    @property
    def cancelled(self) -> bool:
        return self._cancelled


async def in_thread(work: Callable[[Turn], str]) -> str:
    """Run ``work`` in a thread; when the awaiting task is cancelled, cancel its turn."""
    turn = Turn()
    try:
        return await asyncio.to_thread(work, turn)
    except asyncio.CancelledError:
        turn.cancel()
        raise
