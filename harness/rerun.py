"""Rerun what failed: an earlier run's failed (or flaky) cells, only their failed canaries.

A cell's rerun result carries the earlier verdicts of the canaries that were not rerun,
and says so, so that the matrix after a rerun is whole and nothing in it passes unseen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from canary import registry
from harness.config import CANARY_IDS, Config, Template
from harness.errors import UsageError
from harness.results import Result, Status, read_all, template_status


@dataclass(frozen=True)
class Rerun:
    """An earlier run's failed cells, to run again.

    Attributes:
        canaries: The canaries to rerun, by cell name (``Template.label``).
        earlier: Those cells' earlier results (their other verdicts are carried over).
    """

    canaries: Mapping[str, tuple[str, ...]]
    earlier: Mapping[str, Result]


_RERUN = (Status.FAILED, Status.ERROR, Status.FLAKY, Status.INFRA)


def plan(directory: Path, config: Config) -> tuple[list[Template], Rerun]:
    """What to rerun from the results in ``directory``.

    Args:
        directory: An earlier run's results.
        config: The templates file the cells must still be in.

    Returns:
        The templates to run (none when nothing failed), and what to rerun of each cell.

    Raises:
        UsageError: The directory is missing, holds a damaged result, or names a template
            the file no longer has.
    """
    if not directory.is_dir():
        raise UsageError(f"--rerun-failed: no results directory {directory}")
    merged = read_all(directory)
    if merged.problems:
        raise UsageError(f"--rerun-failed: unreadable result file {merged.problems[0].line()}")
    chosen: dict[str, Template] = {}
    canaries: dict[str, tuple[str, ...]] = {}
    earlier: dict[str, Result] = {}
    for result in merged.results:
        # A cell that passed its gate may still hold a flaky canary (flaky = "pass").
        some_failed = any(e.outcome in _RERUN for e in result.canaries.values())
        if result.status not in _RERUN and not some_failed:
            continue
        name = result.template.split("@", 1)[0]
        if name not in config.templates:
            raise UsageError(
                f"--rerun-failed: {directory / (result.template + '.json')}: template "
                f"{name!r} is not in {config.path}"
            )
        template = config.templates[name]
        chosen[name] = template
        canaries[result.template] = _failed_canaries(result, template)
        earlier[result.template] = result
    return list(chosen.values()), Rerun(canaries, earlier)


def _failed_canaries(result: Result, template: Template) -> tuple[str, ...]:
    """The canaries whose conversations give the failed verdicts their evidence again.

    A failed diagnostic reruns the canary it explains; a cell with no verdict at all (it
    never booted, say) reruns every canary of its template.
    """
    specs = registry.specs()
    failed = {cid for cid, entry in result.canaries.items() if entry.outcome in _RERUN}
    again = {specs[c].explains or c for c in failed if c in specs}
    again = {c for c in again if c in CANARY_IDS}
    if not again:
        return template.canaries
    return tuple(c for c in CANARY_IDS if c in again)


def restrict(cells: list[Template], rerun: Rerun) -> list[Template]:
    """The cells of the plan, each with only the canaries it reruns."""
    return [
        dataclasses.replace(cell, canaries=rerun.canaries[cell.label])
        for cell in cells
        if cell.label in rerun.canaries
    ]


def carry_over(rerun: Result, earlier: Result | None) -> Result:
    """The rerun's verdicts with the earlier run's for the canaries it did not rerun.

    The status is the rerun's when it has no verdicts (it failed to boot again), else it is
    the status of every verdict together; a warning names what was carried over.
    """
    if earlier is None:
        return rerun
    kept = {cid: entry for cid, entry in earlier.canaries.items() if cid not in rerun.canaries}
    if not kept or not rerun.canaries:
        return rerun
    canaries = {cid: (rerun.canaries.get(cid) or kept[cid]) for cid in (*earlier.canaries,
                *rerun.canaries)}  # fmt: skip
    note = (
        f"rerun of its failed canaries; {', '.join(kept)} carried over from the run of "
        f"{earlier.started_at}"
    )
    return dataclasses.replace(
        rerun, canaries=canaries, status=template_status(canaries, rerun.flaky),
        warnings=(*rerun.warnings, note),
    )  # fmt: skip
