"""Drive: every selected conversation of one template, concurrently, in one event loop.

Conversations are I/O-bound (a real runtime takes seconds per turn), so they
overlap in one asyncio loop instead of queueing behind a worker pool. A
diagnostic's follow-up (``follow_up``) runs right after the conversation of the
canary it explains, in the same task, so its evidence sits next to that canary's.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canary import registry
from harness.cp_sim import A2AClient, Conversation, FileAccess, Transcript, trim


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

        if concurrent:
            await asyncio.gather(*(one(c) for c in conversations))
        else:
            for canary in conversations:
                await one(canary)


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
