"""A private mount and PID namespace for runtimes the process driver starts.

Production gives a runtime ``/workspace`` (a fresh volume) and ``/configs``; a
real runtime refuses attachment paths outside ``/workspace``. Under util-linux
``unshare`` (as root) the runtime sees its own temporary directories at those
paths, and its own ``/proc``, so it can neither write the host's ``/workspace``
nor read the harness's environment. Where that is not possible the driver falls
back to temporary directories and says so in the result.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

WORKSPACE = "/workspace"
CONFIGS = "/configs"
DISABLE_ENV = "CANARY_PROCESS_ISOLATION"
_UNSHARE_ARGS = ("--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private")
# Binds the run's directories over the mount points, then runs the command as a child
# (not exec): the shell is the namespace's init, so the runtime keeps default signal
# handling and a SIGTERM to the process group stops it.
_SCRIPT = 'mount --bind "$1" /workspace && mount --bind "$2" /configs && shift 2 && "$@"'


@functools.cache
def unavailable() -> str | None:
    """Why runtimes cannot be isolated on this machine, or None when they can."""
    if os.environ.get(DISABLE_ENV, "").lower() in ("0", "off", "no", "false"):
        return f"disabled by {DISABLE_ENV}"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "util-linux's unshare is not installed"
    try:
        probe = subprocess.run(
            [unshare, *_UNSHARE_ARGS, "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare could not run ({exc})"
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        return f"unshare failed ({reason[-1]})"
    for mount_point in (WORKSPACE, CONFIGS):
        # An empty directory to mount over, as production's volume has; nothing is written in it.
        try:
            Path(mount_point).mkdir(exist_ok=True)
        except OSError as exc:
            return f"no mount point {mount_point} ({exc.strerror})"
    return None


def wrap(command: list[str], workspace: Path, configs: Path) -> list[str]:
    """The command run in a private namespace with the two directories mounted."""
    unshare = shutil.which("unshare") or "unshare"
    return [unshare, *_UNSHARE_ARGS, "--", "/bin/sh", "-c", _SCRIPT, "canary-isolate",
            str(workspace), str(configs), *command]  # fmt: skip
