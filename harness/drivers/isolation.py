"""A private mount and PID namespace for runtimes the process driver starts.

Production gives a runtime ``/workspace`` (a fresh volume) and ``/configs``, and a
container has its own ``/tmp``; a real runtime refuses attachment paths outside
``/workspace``, and real images keep state and their only useful error log under
``/tmp``. Under util-linux ``unshare`` (as root) the runtime sees its own temporary
directories at ``/workspace``, ``/configs`` and ``/tmp``, and its own ``/proc``, so
it can neither write the host's ``/workspace``, share ``/tmp`` with another runtime
of the matrix, nor read the harness's environment. Where that is not possible the
driver falls back to temporary directories and says so in the result.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

WORKSPACE = "/workspace"
CONFIGS = "/configs"
TMP = "/tmp"
HOME = "/tmp/home"
"""The runtime's ``HOME`` in its namespace: fresh per run, gone with the run's ``/tmp``."""
DISABLE_ENV = "CANARY_PROCESS_ISOLATION"
_UNSHARE_ARGS = ("--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private")
# Binds the run's directories over the mount points; the paths under the host's /tmp the
# command needs (its venv, its working directory) are bound into the private /tmp first,
# so they stay where they were once it covers /tmp. Then it runs the command as a child
# (not exec): the shell is the namespace's init, so the runtime keeps default signal
# handling and a SIGTERM to the process group stops it.
_SCRIPT = (
    'mount --bind "$1" /workspace && mount --bind "$2" /configs && tmp=$3 && shift 3 && '
    'while [ "$1" != -- ]; do kept=$tmp${1#/tmp} && mkdir -p "$kept" && '
    'mount --bind "$1" "$kept" || exit 125; shift; done && shift && '
    'mount --rbind "$tmp" /tmp && "$@"'
)


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


def wrap(
    command: list[str], workspace: Path, configs: Path, tmp: Path, keep: Iterable[str] = ()
) -> list[str]:
    """The command run in a private namespace with the run's directories mounted.

    Args:
        command: What to run.
        workspace: Seen at ``/workspace``.
        configs: Seen at ``/configs``.
        tmp: Seen at ``/tmp``.
        keep: Host paths under ``/tmp`` the command needs, kept at their paths.
    """
    unshare = shutil.which("unshare") or "unshare"
    return [unshare, *_UNSHARE_ARGS, "--", "/bin/sh", "-c", _SCRIPT, "canary-isolate",
            str(workspace), str(configs), str(tmp), *keep, "--", *command]  # fmt: skip


def kept_paths(candidates: Iterable[str], run_root: Path, tmp: Path = Path(TMP)) -> list[str]:
    """The host directories under ``/tmp`` among ``candidates`` that must stay visible.

    A candidate is any string the command may use as a path (its arguments, its
    working directory, entries of its ``PATH`` or ``PYTHONPATH``); a file counts by
    its directory, a venv's ``bin/`` by the venv and npm's ``node_modules/.bin`` by
    its ``node_modules``. The run's own directory never
    counts, nor ``tmp`` itself; a directory inside another kept one goes with it.
    """
    found: set[Path] = set()
    root = run_root.resolve()
    for candidate in candidates:
        if not candidate.startswith("/"):
            continue
        path = Path(candidate)
        for form in (path, path.resolve()):  # a symlink's target may be under /tmp too
            directory = form if form.is_dir() else form.parent
            if (directory.parent / "pyvenv.cfg").is_file():
                directory = directory.parent  # a venv's bin/ works only with the rest of it
            elif directory.name == ".bin" and directory.parent.name == "node_modules":
                directory = directory.parent  # npm's .bin/ links into the packages beside it
            if not directory.exists() or directory == tmp or not directory.is_relative_to(tmp):
                continue
            if directory.is_relative_to(root) or root.is_relative_to(directory):
                continue
            found.add(directory)
    outermost = [p for p in found if not any(p != q and p.is_relative_to(q) for q in found)]
    return sorted(str(p) for p in outermost)
