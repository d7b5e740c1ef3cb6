"""The compatibility matrix: a pure function of result files, in four formats."""

from __future__ import annotations

import html
import json
from typing import Any

from tabulate import tabulate

from harness.config import CANARY_IDS, DIAGNOSTIC_IDS, cascade_order
from harness.results import Result, Status

FORMATS = ("terminal", "markdown", "json", "html")
_SYMBOLS = {Status.PASSED: "pass", Status.FAILED: "FAIL", Status.ERROR: "ERROR",
            Status.SKIPPED: "skip"}  # fmt: skip
_LOUD = (Status.FAILED, Status.ERROR)


def columns(results: list[Result]) -> list[str]:
    """Canary and diagnostic columns present in any result, in their canonical order."""
    present = {cid for r in results for cid in r.canaries}
    return [cid for cid in (*CANARY_IDS, *DIAGNOSTIC_IDS) if cid in present]


def _cell(result: Result, canary: str) -> str:
    entry = result.canaries.get(canary)
    if entry is None:
        return "-"
    cell = _SYMBOLS[entry.outcome]
    if entry.observed:
        cell += f" ({entry.observed})"
    return cell


def rows(results: list[Result]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per template, in cascade order."""
    results = cascade_order(results)
    canaries = columns(results)
    header = ["template", "gate", "wave", "status", *canaries, "boot s", "driver", "reason"]
    body = []
    for r in results:
        boot = r.timings.get("boot_s") or 0.0
        body.append(
            [
                r.template,
                r.gate,
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


def findings(results: list[Result]) -> list[str]:
    """One line per failed canary (template, canary, layer, message), then per unserved call."""
    lines = []
    for r in cascade_order(results):
        for canary, entry in r.canaries.items():
            if entry.outcome in _LOUD:
                layer = f" [{entry.layer}]" if entry.layer else ""
                lines.append(f"{r.template} {canary}{layer}: {entry.message}")
    for r in cascade_order(results):
        lines += [
            f"{r.template}: runtime called {call}, which the simulator does not serve"
            for call in r.unserved_calls
        ]
        lines += [f"{r.template}: warning: {warning}" for warning in r.warnings]
    return lines


def render(results: list[Result], fmt: str = "terminal") -> str:
    """The matrix in one of :data:`FORMATS`."""
    header, body = rows(results)
    if fmt == "json":
        return json.dumps(_as_json(results), indent=2)
    if fmt == "markdown":
        text = tabulate(body, header, tablefmt="github")
        details = findings(results)
        if details:
            text += "\n\n**Findings**\n\n" + "\n".join(f"- `{d}`" for d in details)
        return text
    if fmt == "html":
        table = tabulate(body, header, tablefmt="html")
        items = "".join(f"<li><code>{html.escape(d)}</code></li>" for d in findings(results))
        return (
            "<!doctype html><meta charset='utf-8'><title>canary-matrix</title>"
            "<style>td,th{padding:2px 8px;font-family:monospace}</style>"
            f"<h1>canary-matrix</h1>{table}<ul>{items}</ul>\n"
        )
    text = tabulate(body, header, tablefmt="simple")
    details = findings(results)
    if details:
        text += "\n\nfindings:\n" + "\n".join(f"  {d}" for d in details)
    return text


def _as_json(results: list[Result]) -> dict[str, Any]:
    return {
        "templates": [
            {
                "template": r.template,
                "gate": r.gate,
                "wave": r.wave,
                "status": str(r.status),
                "reason": r.reason,
                "canaries": {c: str(e.outcome) for c, e in r.canaries.items()},
            }
            for r in cascade_order(results)
        ]
    }
