"""``supervise.py PARENT_PID WORKSPACE -- COMMAND…``: a runtime's watchdog.

The process driver starts runtimes through this small supervisor, and the
harness its pip runs. It runs the command, exits with the command's exit code,
and, if the harness that started it disappears (even by SIGKILL, when no cleanup
code can run), kills the command's process group and removes its temporary
workspace (for pip, the half-made venv or wheelhouse).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

POLL_S = 0.5


def main(argv: list[str]) -> int:
    """Run the command until it exits or the parent process is gone."""
    parent, workspace, separator, *command = argv
    if separator != "--" or not command or not parent.isdigit():
        print("usage: supervise.py PARENT_PID WORKSPACE -- COMMAND…", file=sys.stderr)
        return 2
    # The harness signals the whole group: the runtime gets SIGTERM itself, and the
    # supervisor stays until it has exited, so stopping waits for the runtime.
    # (A handler, unlike SIG_IGN, is not inherited by the command.)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    while True:
        try:
            code = child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            # The harness's pid comes as an argument: if it died before this line ran
            # the first time, os.getppid() would already name the new parent.
            if os.getppid() != int(parent):
                child.kill()  # first, so that it cannot write after the removal
                child.wait()
                shutil.rmtree(workspace, ignore_errors=True)
                os.killpg(0, signal.SIGKILL)  # whatever it started, and this supervisor
            continue
        return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
