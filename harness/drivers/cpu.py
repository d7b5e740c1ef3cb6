"""The CPU a runtime has used: its process tree's, read from ``/proc`` (Linux).

What the benchmark splits a run's CPU by: the runtimes' own (at ready, and in all) against
the harness's. A process is counted with what it used itself and what its children used
that it has waited for; the supervisor above the runtime is the harness's, not the
runtime's. Where ``/proc`` cannot say (another system, a process already gone), None.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: str) -> tuple[int, int] | None:
    """A process's parent and its CPU ticks (its own and its waited-for children's)."""
    try:
        raw = (PROC / pid / "stat").read_bytes()
    except OSError:
        return None
    # After the command name, which may hold spaces and parentheses: state, ppid, …
    fields = raw[raw.rindex(b")") + 2 :].split()
    try:
        return int(fields[1]), sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    except (IndexError, ValueError):
        return None


def descendants_cpu_s(root: int) -> float | None:
    """CPU seconds the processes below ``root`` used (not ``root``'s own), or None."""
    if not (PROC / str(root)).is_dir():
        return None
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit() and (found := _stat(entry)) is not None:
            parent, used = found
            children.setdefault(parent, []).append(int(entry))
            ticks[int(entry)] = used
    total, todo = 0, list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        total += ticks[pid]
        todo += children.get(pid, ())
    return total / _TICKS
