"""pytest plugin the harness loads into the canary run: per-canary outcomes as JSON.

Runs on the xdist controller (or a plain session), where every worker's reports
arrive through ``pytest_runtest_logreport``; writes ``{canary id: outcome}``
at the end, the raw material of ``results/<template>.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

OUTCOMES_OPTION = "--canary-outcomes"
NOT_FINISHED = "did not finish (its worker crashed or the run was stopped)"


def canary_id(nodeid: str) -> str:
    """``canary/test_canaries.py::test_name_recall[x]`` → ``name_recall`` (tests are named so)."""
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0].removeprefix("test_")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OUTCOMES_OPTION, default=None, help="write per-canary outcomes to this JSON file"
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(OUTCOMES_OPTION)
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(OutcomeCollector(Path(path)), "canary-outcomes")


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).removeprefix("Failed: ")
    return str(longrepr or "").strip()


class OutcomeCollector:
    """Folds setup/call/teardown reports into one outcome per canary id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        canary = str(properties.get("canary") or canary_id(report.nodeid))
        entry = self.outcomes.setdefault(
            canary,
            # Only a passing call phase makes a pass: a crashed worker's test stays an error.
            {"outcome": "error", "duration_s": 0.0, "message": NOT_FINISHED, "layer": None},
        )
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 3)
        for key in ("layer", "observed"):
            if key in properties:
                entry[key] = properties[key]
        if report.skipped:
            entry.update(outcome="skipped", message=_message(report))
        elif report.when == "call" and report.passed:
            entry.update(outcome="passed", message=None)
        elif report.failed and entry["outcome"] != "failed":
            # A failure outside the test body is the harness's or runtime's error, not a verdict.
            outcome = "failed" if report.when == "call" else "error"
            entry.update(outcome=outcome, message=_message(report))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.outcomes, indent=2), encoding="utf-8")
