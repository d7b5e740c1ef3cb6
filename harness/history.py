"""Each cell's trend over earlier runs: its last outcomes and how often it flips.

Earlier runs are result directories (downloaded CI artifacts, say), given oldest first; the
run being reported comes last. A pure function of the files, like the matrix itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.results import Problem, Result, Status, read_all

SHOWN = 5
"""Outcomes a cell's trend shows in the matrix (its rate counts every run given)."""

_MARKS = {Status.PASSED: ".", Status.FAILED: "F", Status.ERROR: "E", Status.SKIPPED: "s",
          Status.FLAKY: "~", Status.INFRA: "i"}  # fmt: skip
ABSENT = "-"


@dataclass(frozen=True)
class Trend:
    """One cell's outcomes, oldest first (None: the run had no such cell).

    Attributes:
        outcomes: One per run, the reported run last.
    """

    outcomes: tuple[Status | None, ...]

    @property
    def verdicts(self) -> list[Status]:
        """The runs that gave it a verdict (passed, failed or error)."""
        return [o for o in self.outcomes if o not in (None, Status.SKIPPED, Status.INFRA)]

    @property
    def flips(self) -> int:
        """How often the verdict changed from one run with a verdict to the next."""
        passed = [v == Status.PASSED for v in self.verdicts]
        return sum(a != b for a, b in itertools.pairwise(passed))

    @property
    def flake_rate(self) -> float | None:
        """Flips per chance to flip (0: steady, passing or failing; 1: every run differs);
        None with fewer than two verdicts."""
        chances = len(self.verdicts) - 1
        return self.flips / chances if chances > 0 else None

    @property
    def failures(self) -> int:
        """Runs in which it failed or errored."""
        return sum(v != Status.PASSED for v in self.verdicts)

    def marks(self, last: int = SHOWN) -> str:
        """The last outcomes as marks, oldest first: ``.`` passed, ``F`` failed, ``E`` error,
        ``~`` flaky, ``i`` infra, ``s`` skipped, ``-`` absent."""
        return "".join(ABSENT if o is None else _MARKS[o] for o in self.outcomes[-last:])

    def cell(self, last: int = SHOWN) -> str:
        """``..F.F 50%``: the marks and, when it ever flipped, its flake rate."""
        rate = self.flake_rate
        return self.marks(last) + (f" {rate:.0%}" if rate else "")


@dataclass(frozen=True)
class History:
    """The trends of the reported run's cells.

    Attributes:
        runs: How many runs the trends span (the reported one included).
        trends: By template (cell name), then canary.
        problems: Result files of earlier runs that could not be read.
    """

    runs: int
    trends: dict[str, dict[str, Trend]]
    problems: list[Problem]

    def of(self, template: str, canary: str) -> Trend | None:
        """The trend of one cell, if the reported run has it."""
        return self.trends.get(template, {}).get(canary)


def load(directories: Sequence[Path], current: list[Result]) -> History:
    """Trends of ``current``'s cells over the runs in ``directories`` (oldest first).

    Args:
        directories: One earlier run per directory (nested result files too).
        current: The reported run's results.
    """
    problems: list[Problem] = []
    runs: list[dict[str, Result]] = []
    for directory in directories:
        merged = read_all(directory)
        problems += merged.problems
        runs.append({r.template: r for r in merged.results})
    runs.append({r.template: r for r in current})
    trends = {
        result.template: {
            canary: Trend(tuple(_outcome(run, result.template, canary) for run in runs))
            for canary in result.canaries
        }
        for result in current
    }
    return History(len(runs), trends, problems)


def _outcome(run: dict[str, Result], template: str, canary: str) -> Status | None:
    result = run.get(template)
    entry = result.canaries.get(canary) if result else None
    return entry.outcome if entry else None
