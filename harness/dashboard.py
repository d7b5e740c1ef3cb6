"""The HTML dashboard: one self-contained page, the grid, and the conversation behind each cell.

The page needs no network: its style, its script and every cell's evidence are inside it.
A cell's evidence is read from its template's transcript in the artifacts (masked as it was
written): the turns of the cell's conversation (a diagnostic's and the canary's it explains,
every sample and attempt), and the platform calls and model requests made during each turn.
Text reaches the page as JSON and is put on it as text, never as markup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from canary import registry
from harness.config import cascade_order
from harness.cp_sim.a2a import parse_reply
from harness.cp_sim.dialects import dialect
from harness.cp_sim.transcript import FILE_NAME, read
from harness.events import (
    A2ACall,
    Event,
    ModelCall,
    PlatformCall,
    StreamCall,
    TranscriptError,
    parse_key,
)
from harness.history import History
from harness.results import Result, Status

TEXT_LIMIT = 2000
"""Characters kept of one turn's text, or one model request's last user message."""
SYMBOLS = {Status.PASSED: "✓", Status.FAILED: "✗", Status.ERROR: "!", Status.SKIPPED: "–",
           Status.FLAKY: "≈", Status.INFRA: "i"}  # fmt: skip
_CITED_RE = re.compile(r"transcript line (\d+)")


def page(
    results: list[Result], history: History | None, sources: Mapping[str, Path], columns: list[str]
) -> str:
    """The page.

    Args:
        results: The results to show.
        history: Each cell's trend, when earlier runs were given.
        sources: Each result's file (its transcript is looked for beside it).
        columns: The canary and diagnostic columns, in order.
    """
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates_html"), autoescape=True
    )
    ordered = cascade_order(results)
    specs = registry.specs()
    rows, cells, notes = [], {}, []
    for number, result in enumerate(ordered):
        transcript = _transcript(result, sources.get(result.template))
        lines = _lines(transcript) if transcript else None
        row_cells: list[dict[str, Any] | None] = []
        for canary in columns:
            entry = result.canaries.get(canary)
            if entry is None:
                row_cells.append(None)
                continue
            cell_id = f"c{number}-{canary}"
            trend = history.of(result.template, canary) if history else None
            cells[cell_id] = {
                "template": result.template, "canary": canary, "outcome": str(entry.outcome),
                "message": entry.message, "layer": entry.layer, "observed": entry.observed,
                "cited": cited_line(entry.message),
                "quarantined_until": entry.quarantined_until,
                "samples": [str(s.outcome) for s in entry.samples],
                "trend": trend.cell() if trend else None,
                "transcript": str(transcript) if transcript else None,
                "turns": _conversation(lines, canary, result.dialect) if lines else None,
            }  # fmt: skip
            count = f" {entry.passes}/{entry.judged}" if entry.samples and entry.judged else ""
            title = (
                str(entry.outcome)
                + (
                    f", quarantined until {entry.quarantined_until}"
                    if entry.quarantined_until
                    else ""
                )
                + (f", history {trend.cell()}" if trend else "")
            )
            row_cells.append({"id": cell_id, "outcome": str(entry.outcome), "title": title,
                              "mark": SYMBOLS[entry.outcome] + count,
                              "quarantined": bool(entry.quarantined_until)})  # fmt: skip
        remarks = ([result.reason] if result.reason else []) + list(result.warnings)
        marks = []
        for remark in remarks:
            notes.append(f"{result.template}: {remark}")
            marks.append(len(notes))
        rows.append({"template": result.template, "dialect": result.dialect,
                     "gate": result.gate, "wave": result.wave, "status": str(result.status),
                     "cells": row_cells, "notes": marks})  # fmt: skip
    counts = Counter(str(r.status) for r in ordered)
    return environment.get_template("matrix.html.j2").render(
        rows=rows, columns=[(c, specs[c].short if c in specs else c) for c in columns],
        notes=notes, cells=cells, summary=", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        filters={
            "status": sorted({r["status"] for r in rows}),
            "gate": sorted({r["gate"] for r in rows}),
            "wave": sorted({str(r["wave"]) for r in rows}),
            "dialect": sorted({r["dialect"] for r in rows}),
        },
        symbols={str(k): v for k, v in SYMBOLS.items()},
    )  # fmt: skip


def _transcript(result: Result, source: Path | None) -> Path | None:
    """The result's transcript: its artifact path, from beside its results directory or
    from here, else the template's directory next to the results (a moved download)."""
    named = [a for a in result.artifacts if a.endswith(FILE_NAME)]
    bases = [source.parent.parent, source.parent] if source else []
    candidates = [Path(a) if Path(a).is_absolute() else base / a for a in named
                  for base in (*bases, Path())]  # fmt: skip
    candidates += [b / "artifacts" / result.template / FILE_NAME for b in bases]
    return next((c for c in candidates if c.is_file()), None)


def _lines(path: Path) -> list[tuple[int, Event]] | None:
    try:
        return [(line.number, line.event) for line in read(path)]
    except (OSError, TranscriptError):
        return None


def _conversation(lines: list[tuple[int, Event]], canary: str, spoken: str) -> list[dict[str, Any]]:
    """The cell's turns, each with what the runtime called while it was in flight."""
    spec = registry.specs().get(canary)
    wanted = {canary, spec.explains} if spec and spec.explains else {canary}
    v1 = dialect(spoken).v1 if spoken in ("context", "history", "a2a-1.0") else False
    turns: dict[int, dict[str, Any]] = {}
    for number, event in lines:
        if isinstance(event, A2ACall | StreamCall) and parse_key(event.canary)[0] in wanted:
            turns[event.turn] = {
                "line": number, "conversation": event.canary, "context": event.context_id,
                "sent": _trim(event.sent), "started": round(event.started, 2),
                "reply": _reply_text(event, v1), "calls": [],
            }  # fmt: skip
    for number, event in lines:  # a turn's calls come before its reply is written
        if isinstance(event, PlatformCall | ModelCall):
            for turn in event.turns:
                if turn in turns:
                    turns[turn]["calls"].append(_call(number, event))
    return [turns[t] for t in sorted(turns)]


def _reply_text(event: A2ACall | StreamCall, v1: bool) -> dict[str, Any]:
    if isinstance(event, StreamCall):
        return {"ok": event.status == 200, "text": _trim(" ".join(event.events)[-TEXT_LIMIT:]),
                "elapsed_s": None}  # fmt: skip
    if event.status is None:
        return {"ok": False, "text": event.error or "no response", "elapsed_s": event.elapsed_s}
    reply = parse_reply(event.status, event.body_bytes(), v1=v1)
    text = reply.text if reply.ok else (reply.problem or "")
    return {"ok": reply.ok, "text": _trim(text), "elapsed_s": round(event.elapsed_s, 2)}


def _call(number: int, event: PlatformCall | ModelCall) -> dict[str, Any]:
    """One call as a line; ``shared`` when other conversations' turns were in flight too
    (it may be theirs)."""
    shared = len(event.turns) > 1
    if isinstance(event, PlatformCall):
        return {"line": number, "kind": "platform", "shared": shared,
                "text": f"{event.method} {event.path} → {event.status}"}  # fmt: skip
    said = event.answer or (f"calls {event.tool_call.name}({event.tool_call.arguments})"
                            if event.tool_call else "")  # fmt: skip
    status = "" if event.status == 200 else f" → HTTP {event.status}"
    if event.stalled:
        status, said = " → nothing (a timeout before the first token)", ""
    return {"line": number, "kind": "model", "shared": shared,
            "text": _trim(f"{event.api}{status}: {event.last_user_text()!r} ⇒ {said}")}  # fmt: skip


def _trim(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def cited_line(message: str | None) -> int | None:
    """The transcript line a finding cites."""
    found = _CITED_RE.findall(message or "")
    return int(found[-1]) if found else None
