"""``python -m harness.drivers.reaper HARNESS_PID RUN_ID``: removes a killed harness's containers.

In the spirit of testcontainers' Ryuk: started once per run that may use Docker,
in its own session (so a terminal's Ctrl-C does not reach it), it waits. If the
harness that started it disappears without stopping it (a SIGKILL, an OOM kill),
it removes the run's containers and workspace volumes within seconds, then exits.
A harness that ends normally stops it first.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

POLL_S = 0.5


def sweep(run_id: str) -> int:
    """Remove the containers, then the volumes, of one run; returns how many things went."""
    import docker
    import docker.errors

    from harness.drivers.docker import LABEL_RUN

    client = docker.from_env()
    wanted: dict[str, str | list[str] | bool] = {"label": f"{LABEL_RUN}={run_id}"}
    removed = 0
    for container in client.containers.list(all=True, filters=wanted):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
            removed += 1
    for volume in client.volumes.list(filters=wanted):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            volume.remove(force=True)
            removed += 1
    return removed


def start(run_id: str) -> subprocess.Popen[bytes]:
    """Start the reaper for this harness process and run."""
    return subprocess.Popen(
        [sys.executable, "-m", __name__, str(os.getpid()), run_id],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def main(argv: list[str]) -> int:
    """Wait for the harness to go; sweep if it went without stopping this reaper."""
    harness_pid, run_id = int(argv[0]), argv[1]
    while os.getppid() == harness_pid:
        time.sleep(POLL_S)
    sweep(run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
