"""A command-line agent's turn as a child process, stopped whole when its task is cancelled.

The CLI runs in a process group of its own: it starts children (the MCP server, and
gemini-cli by default a relaunched copy of itself), and a kill of the CLI alone left them
working on a cancelled turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

import platform_api


async def run(command: list[str], env: dict[str, str], label: str) -> tuple[int | None, bytes]:
    """Run ``command`` in the workspace; its exit code and stdout.

    What it says on stderr goes to the runtime's log, each line marked ``[label]``. When the
    awaiting task is cancelled, its whole process group is killed and the cancel goes on.
    """
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=platform_api.WORKSPACE, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    for line in stderr.decode(errors="replace").splitlines():
        print(f"[{label}] {line}", file=sys.stderr, flush=True)
    return process.returncode, stdout
