"""Drive: every selected conversation of one template, concurrently, in one event loop.

Conversations are I/O-bound (a real runtime takes seconds per turn), so they
overlap in one asyncio loop instead of queueing behind a worker pool. A
diagnostic's follow-up (``follow_up``) runs right after the conversation of the
canary it explains, in the same task, so its evidence sits next to that canary's.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from canary import registry
from harness.cp_sim import A2AClient, Conversation, FileAccess, Transcript, trim
from harness.drivers.base import TemplateError

EXIT_POLL_S = 0.5
EXIT_GRACE_S = 2.0


async def drive(
    *,
    base_url: str,
    a2a_path: str,
    turn_timeout: float,
    transcript: Transcript,
    files: FileAccess,
    artifacts: Path,
    settings: Mapping[str, Any],
    conversations: tuple[str, ...],
    judged: tuple[str, ...],
    concurrent: bool,
    runtime: Runtime | None = None,
) -> None:
    """Run the conversations; every step goes to the transcript.

    Args:
        base_url: Where the runtime answers.
        a2a_path: Its JSON-RPC endpoint.
        turn_timeout: Seconds one turn may take.
        transcript: The template's transcript.
        files: Uploads and snapshots (the driver).
        artifacts: The template's artifacts directory.
        settings: The template's facts (the transcript header).
        conversations: Canaries (and self-standing diagnostics) whose conversations run.
        judged: Everything that will be judged (selects the follow-ups).
        concurrent: Overlap the conversations (False: one after another).
        runtime: Watched while the conversations run: if it exits, the transcript says
            when and with which code, so a failed turn can say the runtime was gone.
    """
    specs = registry.specs()
    async with A2AClient(base_url, a2a_path, turn_timeout) as client:

        def talk(canary: str) -> Conversation:
            return Conversation(
                canary, client=client, transcript=transcript, files=files,
                artifacts=artifacts, settings=settings,
            )  # fmt: skip

        async def one(canary: str) -> None:
            await _converse(transcript, talk(canary), "converse")
            for spec in specs.values():
                if spec.explains == canary and spec.id in judged:
                    await _converse(transcript, talk(spec.id), "follow_up")

        async def all_conversations() -> None:
            if concurrent:
                await asyncio.gather(*(one(c) for c in conversations))
            else:
                for canary in conversations:
                    await one(canary)

        watcher = asyncio.create_task(_watch(runtime, transcript)) if runtime else None
        try:
            await all_conversations()
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        if runtime is not None:
            # A lost connection may be the runtime dying: give its exit a moment to show.
            patience = EXIT_GRACE_S if transcript.lost_connections else 0.0
            deadline = asyncio.get_running_loop().time() + patience
            while not await _check_exit(runtime, transcript):
                if asyncio.get_running_loop().time() >= deadline:
                    break
                await asyncio.sleep(0.05)


class Runtime(Protocol):
    """What the drive needs of the runtime's driver: whether, and how, it ended."""

    def exit_status(self) -> int | None:
        """The exit code once it has stopped."""

    def decisive_line(self) -> str:
        """Why it failed, from what it printed and the log files it wrote."""


async def _check_exit(runtime: Runtime, transcript: Transcript) -> bool:
    """Record the runtime's exit if it has exited; True when there is nothing left to watch."""
    try:
        code = await asyncio.to_thread(runtime.exit_status)
    except TemplateError:  # the harness is stopping it (Ctrl-C): not the runtime's doing
        return True
    if code is None:
        return False
    last = await asyncio.to_thread(runtime.decisive_line)
    transcript.write({"type": "runtime_exit", "code": code, "last_line": last})
    return True


async def _watch(runtime: Runtime, transcript: Transcript) -> None:
    while not await _check_exit(runtime, transcript):
        await asyncio.sleep(EXIT_POLL_S)


async def _converse(transcript: Transcript, talk: Conversation, step: str) -> None:
    """Run one module's script (``converse`` or ``follow_up``) between start and end marks."""
    transcript.write({"type": "canary_start", "canary": talk.canary, "step": step})
    script = getattr(registry.specs()[talk.canary].module(), step, None)
    error = None
    try:
        if script is not None:
            await script(talk)
    except Exception as exc:  # a harness bug in one conversation must not stop the others
        error = f"{type(exc).__name__}: {trim(str(exc))}"
        transcript.write(
            {"type": "harness_error", "canary": talk.canary, "traceback": traceback.format_exc()}
        )
    transcript.write({"type": "canary_end", "canary": talk.canary, "error": error})
