"""``results/<template>.json`` (DESIGN §6): building, writing and reading them.

Pure functions over plain dicts, so results written by parallel CI jobs merge
into the same matrix as a local run's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.config import Template
from harness.errors import EXIT_FAILED, EXIT_OK

SCHEMA_VERSION = 1
STATUSES = ("passed", "failed", "error", "skipped")
TIMINGS = ("prepare_s", "boot_s", "canaries_s", "teardown_s")

Result = dict[str, Any]


def new_result(template: Template, driver: str | None = None) -> Result:
    """A result for a template that has not run yet."""
    return {
        "schema": SCHEMA_VERSION,
        "template": template.name,
        "status": "error",
        "reason": None,
        "gate": template.gate,
        "wave": template.wave,
        "driver": driver,
        "image": template.image,
        "image_id": None,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "timings": dict.fromkeys(TIMINGS, 0.0),
        "canaries": {},
        "artifacts": [],
    }


def template_status(canaries: dict[str, dict[str, Any]]) -> str:
    """``failed`` when any canary or diagnostic failed or errored; ``skipped`` when all skipped."""
    outcomes = {entry["outcome"] for entry in canaries.values()}
    if outcomes & {"failed", "error"}:
        return "failed"
    return "skipped" if outcomes == {"skipped"} else "passed"


def write(result: Result, results_dir: Path) -> Path:
    """Write one template's result file (atomically, so a reader never sees half)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result['template']}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def read_all(results_dir: Path) -> list[Result]:
    """Every result file in a directory, sorted in cascade order (wave, name)."""
    results = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("schema") == SCHEMA_VERSION and "template" in data:
            results.append(data)
    return sort(results)


def sort(results: Iterable[Result]) -> list[Result]:
    """Cascade order: wave first, then name."""
    return sorted(results, key=lambda r: (r.get("wave", 0), r["template"]))


def exit_code(results: Iterable[Result]) -> int:
    """1 when a ``required`` template failed or errored, else 0."""
    blocking = [
        r for r in results if r.get("gate") == "required" and r["status"] in ("failed", "error")
    ]
    return EXIT_FAILED if blocking else EXIT_OK
