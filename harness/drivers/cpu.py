"""The CPU a runtime has used: its process tree's, read from ``/proc`` (Linux).

What the benchmark splits a run's CPU by: the runtimes' own (at ready, and in all) against
the harness's. A process is counted with what it used itself and what its children used
that it has waited for; the supervisor above the runtime is the harness's, not the
runtime's. Where ``/proc`` cannot say (another system, a kernel that lists no children, a
process already gone), None.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# The kernel lists each thread's children where it is built to (CONFIG_PROC_CHILDREN).
_CHILDREN_LISTED = (PROC / str(os.getpid()) / "task" / str(os.getpid()) / "children").exists()


def _ticks(pid: int) -> int:
    """A process's CPU ticks: its own and its waited-for children's (0 once it is gone)."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return 0
    # After the command name, which may hold spaces and parentheses: state, ppid, …
    fields = raw[raw.rindex(b")") + 2 :].split()
    return sum(int(f) for f in fields[11:15])  # utime stime cutime cstime


def _children(pid: int) -> list[int]:
    """A process's children, from each of its threads' ``children`` list."""
    found: list[int] = []
    try:
        tasks = os.listdir(PROC / str(pid) / "task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += map(int, (PROC / str(pid) / "task" / task / "children").read_bytes().split())
        except OSError:
            continue  # the thread ended meanwhile
    return found


def descendants_cpu_s(root: int) -> float | None:
    """CPU seconds the processes below ``root`` used (not ``root``'s own), or None.

    Only ``root``'s subtree is read, not every process of the machine: the harness calls this
    twice per template, and its own CPU is what the benchmark weighs.
    """
    if not _CHILDREN_LISTED or not (PROC / str(root)).is_dir():
        return None
    total, todo = 0, _children(root)
    while todo:
        pid = todo.pop()
        total += _ticks(pid)
        todo += _children(pid)
    return total / _TICKS
