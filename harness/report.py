"""The compatibility matrix: a pure function of result files, in four formats."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from tabulate import tabulate

from canary import registry
from harness import dashboard
from harness.config import CANARY_IDS, DIAGNOSTIC_IDS, DIALECTS, cascade_order
from harness.history import SHOWN, History
from harness.results import CanaryResult, Result, Status

FORMATS = ("terminal", "markdown", "json", "html", "junit")
_SYMBOLS = {Status.PASSED: "pass", Status.FAILED: "FAIL", Status.ERROR: "ERROR",
            Status.SKIPPED: "skip", Status.FLAKY: "FLAKY", Status.INFRA: "INFRA"}  # fmt: skip
_LOUD = (Status.FAILED, Status.ERROR, Status.FLAKY, Status.INFRA)


def _count(entry: CanaryResult) -> str:
    """`` 3/5`` (samples that passed, of those with a verdict), `` i2`` (samples with no
    verdict for infrastructure reasons) and `` r4`` (retries), for a repeated or retried
    canary."""
    if not entry.samples:
        return ""
    infra = sum(s.outcome == Status.INFRA for s in entry.samples)
    counted = f" {entry.passes}/{entry.judged}" if entry.judged else ""
    retried = f" r{entry.retries}" if entry.retries else ""
    return counted + (f" i{infra}" if infra else "") + retried


def columns(results: list[Result]) -> list[str]:
    """Canary and diagnostic columns present in any result, in their canonical order."""
    present = {cid for r in results for cid in r.canaries}
    return [cid for cid in (*CANARY_IDS, *DIAGNOSTIC_IDS) if cid in present]


def _cell(result: Result, canary: str) -> str:
    entry = result.canaries.get(canary)
    if entry is None:
        return "-"
    cell = _SYMBOLS[entry.outcome] + _count(entry)
    if entry.observed:
        cell += f" ({entry.observed})"
    if entry.quarantined_until:
        cell += f" (quarantined until {entry.quarantined_until})"
    return cell


def gate_cell(result: Result, today: datetime.date | None = None) -> str:
    """``required``, or ``required 6d`` when the template says since when (how long it baked)."""
    if result.gate != "required" or not result.required_since:
        return result.gate
    try:
        since = datetime.date.fromisoformat(result.required_since)
    except ValueError:
        return result.gate
    return f"required {((today or datetime.date.today()) - since).days}d"


def rows(
    results: list[Result], today: datetime.date | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per template, in cascade order."""
    results = cascade_order(results)
    canaries = columns(results)
    spoken = list(by_dialect(results)) != ["context"]
    header = ["template", *(["dialect"] if spoken else []), "gate", "wave", "status",
              *canaries, "boot s", "driver", "reason"]  # fmt: skip
    body = []
    for r in results:
        boot = r.timings.get("boot_s") or 0.0
        body.append(
            [
                r.template,
                *([r.dialect] if spoken else []),
                gate_cell(r, today),
                str(r.wave),
                str(r.status).upper() if r.status in _LOUD else str(r.status),
                *(_cell(r, c) for c in canaries),
                f"{boot:.2f}" if boot else "-",
                r.driver or "-",
                _short(r.reason or ""),
            ]
        )
    return header, body


def _short(text: str, limit: int = 120) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def failures(results: list[Result]) -> list[str]:
    """One line per failed canary: template, canary, layer, message (and a quarantine)."""
    lines = []
    for r in cascade_order(results):
        for canary, entry in r.canaries.items():
            if entry.outcome in _LOUD:
                layer = f" [{entry.layer}]" if entry.layer else ""
                until = entry.quarantined_until
                parked = f" (quarantined until {until}: does not gate)" if until else ""
                lines.append(f"{r.template} {canary}{layer}{parked}: {entry.message}")
    return lines


def _remarks(result: Result) -> list[str]:
    """A template's unserved calls and warnings, in words."""
    unserved = [
        f"runtime called {call}, which the simulator does not serve"
        for call in result.unserved_calls
    ]
    return unserved + [f"warning: {warning}" for warning in result.warnings]


def findings(results: list[Result]) -> list[str]:
    """One line per failed canary, then per unserved call and warning."""
    return failures(results) + [
        f"{r.template}: {remark}" for r in cascade_order(results) for remark in _remarks(r)
    ]


# --- the compact terminal matrix: fits 120 columns ----------------------------------

NOTE_WIDTH = 118  # with its indent, a note fits 120 columns
_MARKS = {Status.PASSED: "ok", Status.FAILED: "FAIL", Status.ERROR: "ERR", Status.SKIPPED: "skip",
          Status.FLAKY: "flaky", Status.INFRA: "INFRA"}  # fmt: skip
_GATES = {"required": "req", "advisory": "adv", "off": "off"}
_DRIVERS = {"process": "proc", "docker": "dock"}


def _compact_cell(result: Result, canary: str) -> str:
    entry = result.canaries.get(canary)
    if entry is None:
        return "-"
    usual = registry.specs()[canary].usual if canary in registry.specs() else None
    bracket = f" ({entry.observed})" if entry.observed and entry.observed != usual else ""
    parked = "~q" if entry.quarantined_until else ""  # the finding below gives its end date
    return _MARKS[entry.outcome] + _count(entry) + parked + bracket


def compact(results: list[Result], today: datetime.date | None = None) -> str:
    """The matrix for a terminal: short heads, one mark per cell, numbered notes below.

    A cell shows what a diagnostic observed only where it is not what a healthy runtime
    shows; a template's reason, warnings and unserved calls become numbered notes. A run
    in other dialects than today's (or in several) gets one table per dialect.
    """
    notes: list[str] = []
    groups = by_dialect(results)
    lines: list[str] = []
    for dialect, group in groups.items():
        if list(groups) != ["context"]:
            lines += [*([""] if lines else []), f"dialect {dialect}:"]
        lines += _compact_table(group, notes, today)
    if notes:
        lines += ["", "notes:", *(f"  {note}" for note in notes)]
    failed = failures(results)
    if failed:
        lines += ["", "findings:", *(f"  {line}" for line in failed)]
    return "\n".join(lines)


def by_dialect(results: list[Result]) -> dict[str, list[Result]]:
    """Results per dialect, the dialects in DESIGN §3.4's order (others after)."""
    present = {r.dialect for r in results}
    order = [d for d in DIALECTS if d in present] + sorted(present - set(DIALECTS))
    return {d: [r for r in results if r.dialect == d] for d in order}


def _compact_table(
    results: list[Result], notes: list[str], today: datetime.date | None
) -> list[str]:
    ordered = cascade_order(results)
    canaries = columns(ordered)
    specs = registry.specs()
    header = ["template", "gate", "status", *(specs[c].short if c in specs else c
              for c in canaries), "boot", "drv", "notes"]  # fmt: skip
    body: list[list[str]] = []
    for r in ordered:
        numbers = []
        for remark in ([r.reason.splitlines()[0]] if r.reason else []) + _remarks(r):
            # Whole in the result file and under --wide; here, one line of the terminal.
            notes.append(_short(f"[{len(notes) + 1}] {r.template}: {remark}", NOTE_WIDTH))
            numbers.append(str(len(notes)))
        boot = r.timings.get("boot_s") or 0.0
        gate = gate_cell(r, today).replace("required", "req")
        body.append([
            r.template, f"{_GATES.get(gate, gate)}:{r.wave}",
            str(r.status).upper() if r.status in _LOUD else str(r.status),
            *(_compact_cell(r, c) for c in canaries),
            (f"{boot:.1f}" if boot < 10 else f"{boot:.0f}") if boot else "-",
            _DRIVERS.get(r.driver or "", r.driver or "-"), ",".join(numbers),
        ])  # fmt: skip
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    return [" ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in (header, ["-" * w for w in widths], *body)]  # fmt: skip


def render(
    results: list[Result],
    fmt: str = "terminal",
    *,
    wide: bool = False,
    history: History | None = None,
    sources: Mapping[str, Path] | None = None,
) -> str:
    """The matrix in one of :data:`FORMATS`.

    Args:
        results: The run's results.
        fmt: One of :data:`FORMATS`.
        wide: The full-width terminal table instead of the compact one.
        history: Each cell's trend over earlier runs, shown beside the matrix.
        sources: Each result's file, where the HTML page finds its transcript.
    """
    if fmt == "junit":
        return junit(results)
    if fmt == "json":
        return json.dumps(_as_json(results, history), indent=2)
    if fmt == "html":
        return page(results, history, sources)
    if fmt == "terminal" and not wide:
        return compact(results) + _trends(results, history, "simple")
    header, body = rows(results)
    details = findings(results)
    if fmt == "markdown":
        text = tabulate(body, header, tablefmt="github")
        if details:
            text += "\n\n**Findings**\n\n" + "\n".join(f"- `{d}`" for d in details)
        return text + _trends(results, history, "github")
    text = tabulate(body, header, tablefmt="simple")
    if details:
        text += "\n\nfindings:\n" + "\n".join(f"  {d}" for d in details)
    return text + _trends(results, history, "simple")


def _trends(results: list[Result], history: History | None, tablefmt: str) -> str:
    """The history table: a row per template, each cell its last outcomes and flake rate."""
    if history is None:
        return ""
    ordered = cascade_order(results)
    canaries = columns(ordered)
    specs = registry.specs()
    header = ["template", *(specs[c].short if c in specs else c for c in canaries)]
    body = [
        [r.template, *(trend.cell() if (trend := history.of(r.template, c)) else "-"
                       for c in canaries)]
        for r in ordered
    ]  # fmt: skip
    title = (
        f"history over {history.runs} runs (last {min(SHOWN, history.runs)} shown, oldest "
        "first, this run last; . passed, F failed, E error, s skipped, - absent; "
        "% = flake rate, how often the verdict flipped between runs):"
    )
    if tablefmt == "github":
        title = f"**History** {title.removeprefix('history ')}"
    return f"\n\n{title}\n" + tabulate(body, header, tablefmt=tablefmt)


def page(
    results: list[Result],
    history: History | None = None,
    sources: Mapping[str, Path] | None = None,
) -> str:
    """The self-contained HTML dashboard (:mod:`harness.dashboard`)."""
    return dashboard.page(results, history, sources or {}, columns(results))


def _as_json(results: list[Result], history: History | None) -> dict[str, Any]:
    templates = []
    for r in cascade_order(results):
        entry: dict[str, Any] = {
            "template": r.template,
            "dialect": r.dialect,
            "gate": r.gate,
            "wave": r.wave,
            "status": str(r.status),
            "reason": r.reason,
            "canaries": {c: str(e.outcome) for c, e in r.canaries.items()},
        }
        if history is not None:
            entry["history"] = {
                c: {"outcomes": [None if o is None else str(o) for o in t.outcomes],
                    "flake_rate": t.flake_rate}
                for c in r.canaries if (t := history.of(r.template, c))
            }  # fmt: skip
        templates.append(entry)
    return {"templates": templates, **({"runs": history.runs} if history else {})}


_JUNIT = {
    Status.FAILED: ("failure", "failures"),
    Status.ERROR: ("error", "errors"),
    Status.SKIPPED: ("skipped", "skipped"),
}


def _transcript(result: Result) -> str | None:
    return next((a for a in result.artifacts if a.endswith("transcript.jsonl")), None)


def _junit_outcome(result: Result, entry: CanaryResult) -> tuple[Status, str | None]:
    """A failure that does not gate (quarantined, or flaky under a lenient policy) is a
    skipped case: JUnit's readers gate on failures. Flaky is a failure, infra an error."""
    if entry.outcome in _LOUD and not entry.gates(result.flaky):
        held = f"quarantined until {entry.quarantined_until}" if entry.quarantined_until else (
            f"flaky = {result.flaky}")  # fmt: skip
        return Status.SKIPPED, f"{held}, {entry.outcome}: {entry.message}"
    junit_kind = {Status.FLAKY: Status.FAILED, Status.INFRA: Status.ERROR}
    return junit_kind.get(entry.outcome, entry.outcome), entry.message


def junit(results: list[Result]) -> str:
    """JUnit XML: a test suite per template, a test case per canary and diagnostic.

    A failed canary is a ``failure`` (its message, and where its transcript is), an
    errored one an ``error``; a template that never ran its canaries is one errored
    (or skipped) case of its own, so CI counts it.
    """
    suites = ElementTree.Element("testsuites", name="canary-matrix")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for result in cascade_order(results):
        suite = ElementTree.SubElement(suites, "testsuite", name=result.template)
        counts = dict.fromkeys(totals, 0)
        cases = [(cid, *_junit_outcome(result, e), e.duration_s)
                 for cid, e in result.canaries.items()]  # fmt: skip
        if not cases:
            cases = [("template", result.status, result.reason, 0.0)]
        for name, outcome, message, seconds in cases:
            case = ElementTree.SubElement(
                suite, "testcase", classname=result.template, name=name, time=f"{seconds:.3f}"
            )
            counts["tests"] += 1
            if outcome not in _JUNIT:
                continue
            tag, counter = _JUNIT[outcome]
            counts[counter] += 1
            detail = ElementTree.SubElement(case, tag, message=message or "")
            transcript = _transcript(result)
            if transcript and outcome != Status.SKIPPED:
                detail.text = f"{message}\ntranscript: {transcript}"
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)


@dataclass(frozen=True)
class Change:
    """One cell that differs from the baseline."""

    kind: str  # regression | fix | new | removed | changed
    template: str
    canary: str | None
    before: str | None
    after: str | None

    def line(self) -> str:
        """``REGRESSION reference / file_only: passed -> failed``."""
        where = f"{self.template} / {self.canary}" if self.canary else self.template
        return f"{self.kind.upper()} {where}: {self.before or '-'} -> {self.after or '-'}"


_ORDER = ("regression", "fix", "new", "removed", "changed")
_BAD = (Status.FAILED, Status.ERROR, Status.FLAKY)


def compare(baseline: list[Result], current: list[Result]) -> list[Change]:
    """Every cell that changed against the baseline, regressions first."""
    before = {r.template: r for r in baseline}
    after = {r.template: r for r in current}
    changes = [Change("new", n, None, None, str(after[n].status)) for n in after if n not in before]
    changes += [
        Change("removed", n, None, str(before[n].status), None) for n in before if n not in after
    ]
    for name in sorted(set(before) & set(after)):
        old, new = before[name].canaries, after[name].canaries
        for canary in dict.fromkeys([*old, *new]):
            was = old[canary].outcome if canary in old else None
            now = new[canary].outcome if canary in new else None
            if was == now:
                continue
            if was == Status.PASSED and now in _BAD:
                kind = "regression"
            elif was in _BAD and now == Status.PASSED:
                kind = "fix"
            else:
                kind = "changed"
            changes.append(Change(kind, name, canary, was and str(was), now and str(now)))
        if not old and not new and before[name].status != after[name].status:
            was_s, now_s = before[name].status, after[name].status
            kind = "regression" if was_s == Status.PASSED and now_s in _BAD else "changed"
            changes.append(Change(kind, name, None, str(was_s), str(now_s)))
    return sorted(changes, key=lambda c: (_ORDER.index(c.kind), c.template, c.canary or ""))
