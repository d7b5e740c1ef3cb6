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
from typing import Protocol

from canary import registry
from harness.cp_sim import A2AClient, Conversation, FileAccess, Transcript, trim
from harness.cp_sim.dialects import dialect
from harness.cp_sim.platform import Peer
from harness.drivers.base import TemplateError
from harness.events import (
    CanaryEnd,
    CanaryStart,
    HarnessFault,
    Header,
    Infra,
    RuntimeExit,
    conversation_key,
    parse_key,
)
from harness.model_sim.slow import SlowRequests
from harness.run import infra

EXIT_POLL_S = 0.5
EXIT_GRACE_S = 2.0


async def drive(
    runtime: Runtime,
    header: Header,
    transcript: Transcript,
    peer: Peer | None = None,
    slow: SlowRequests | None = None,
) -> None:
    """Run the conversations the header names; every step goes to the transcript.

    Args:
        runtime: The running runtime: where it answers, its files, whether it exited
            (watched meanwhile, so a failed turn can say the runtime was gone).
        header: The template's facts: what is judged and conversed, the turn timeout,
            whether conversations overlap.
        transcript: The template's transcript (artifacts go next to it).
        peer: The template's peer (``peer_call``), if it has one.
        slow: The scripted model's slow requests, if the runtime has a scripted model.
    """
    specs = registry.specs()
    v1 = dialect(header.dialect).v1  # the header names the dialect spoken (auto resolved)
    artifacts = transcript.path.parent
    peer_client = A2AClient(peer.a2a_url, "", peer.turn_timeout) if peer else None
    async with A2AClient(runtime.base_url, header.a2a_path, header.turn_timeout) as client:

        def talk(key: str) -> Conversation:
            return Conversation(
                key, client=client, transcript=transcript, files=runtime,
                artifacts=artifacts, settings=header, peer=peer_client, slow=slow,
            )  # fmt: skip

        async def attempt(canary: str, sample: int, number: int) -> set[str]:
            key = conversation_key(canary, sample, number)
            await run_step(transcript, talk(key), "converse")
            keys = {key}
            for spec in specs.values():
                if spec.explains == canary and spec.id in header.selected:
                    follow_up = conversation_key(spec.id, sample, number)
                    keys.add(follow_up)
                    await run_step(transcript, talk(follow_up), "follow_up")
            return keys

        async def one(canary: str, sample: int) -> None:
            # A conversation that failed for the model provider's reason is driven again
            # (fresh contexts and tokens), while retries are left.
            for number in range(header.retries + 1):
                since = transcript.lines
                keys = await attempt(canary, sample, number)
                why = infra.reason(
                    transcript.written(since), keys, v1=v1, scripted=slow is not None
                )
                if why is None:
                    return
                retried = number < header.retries
                transcript.write(Infra(canary=conversation_key(canary, sample, number),
                                       reason=why, retried=retried))  # fmt: skip
                if retried:
                    await asyncio.sleep(infra.backoff(number))

        async def all_conversations() -> None:
            # Sample after sample: each is a whole run of the conversations, and what a
            # sample commits to memory is not there for the next (PlatformState.sample).
            together = [c for c in header.conversations if not specs[c].alone]
            for sample in range(1, header.repeat + 1):
                if header.concurrent:
                    await asyncio.gather(*(one(c, sample) for c in together))
                else:
                    for canary in together:
                        await one(canary, sample)
                for canary in header.conversations:  # those that time their own turns
                    if specs[canary].alone:
                        await one(canary, sample)

        watcher = asyncio.create_task(_watch(runtime, transcript))
        try:
            await all_conversations()
        finally:
            if peer_client is not None:
                await peer_client.aclose()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        # A lost connection may be the runtime dying: give its exit a moment to show.
        patience = EXIT_GRACE_S if transcript.lost_connections else 0.0
        deadline = asyncio.get_running_loop().time() + patience
        while not await _check_exit(runtime, transcript):
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.05)


class Runtime(FileAccess, Protocol):
    """What the drive needs of a running runtime: where it answers, its files, its end."""

    @property
    def base_url(self) -> str:
        """Where the harness reaches its HTTP port."""

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
    transcript.write(RuntimeExit(code=code, last_line=last))
    return True


async def _watch(runtime: Runtime, transcript: Transcript) -> None:
    while not await _check_exit(runtime, transcript):
        await asyncio.sleep(EXIT_POLL_S)


async def run_step(transcript: Transcript, talk: Conversation, step: str) -> None:
    """Run one module's script (``converse`` or ``follow_up``) between start and end marks."""
    transcript.write(CanaryStart(canary=talk.canary, step=step))
    canary, _, _ = parse_key(talk.canary)
    script = getattr(registry.specs()[canary].module(), step, None)
    error = None
    try:
        if script is not None:
            await script(talk)
    except Exception as exc:  # a harness bug in one conversation must not stop the others
        error = f"{type(exc).__name__}: {trim(str(exc))}"
        transcript.write(HarnessFault(canary=talk.canary, traceback=traceback.format_exc()))
    transcript.write(CanaryEnd(canary=talk.canary, error=error))
