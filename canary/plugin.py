"""pytest plugin: one test per template and canary, collected from the transcripts given.

``pytest -p canary.plugin artifacts/*/transcript.jsonl`` judges every transcript
named on the command line; each test reads only its own template's transcript,
so outcomes never depend on order, co-location or xdist's scheduling. With
``--canary-outcomes FILE`` the controller (or a plain session) writes
``{template: {canary: outcome}}``, the raw material of ``results/<template>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canary import registry
from canary.evidence import Evidence, Failed, NoEvidence
from harness.cp_sim.transcript import FILE_NAME

OUTCOMES_OPTION = "--canary-outcomes"
NOT_FINISHED = "did not finish (its worker crashed or the run was stopped)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OUTCOMES_OPTION, default=None, help="write outcomes to this JSON file")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(OUTCOMES_OPTION)
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(OutcomeCollector(Path(path)), "canary-outcomes")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == FILE_NAME:
        return TranscriptFile.from_parent(parent, path=file_path)
    return None


class TranscriptFile(pytest.File):
    """One template's transcript: a test per canary and diagnostic it selected."""

    def collect(self) -> Iterator[pytest.Item]:
        whole = Evidence.load(self.path)
        specs = registry.specs()
        repeat = whole.header.repeat
        for number in range(1, repeat + 1):
            evidence = whole.sample(number)
            for canary in whole.header.selected:
                if canary not in specs:
                    raise ValueError(f"{self.path}: unknown canary {canary!r} in the header")
                name = canary if repeat == 1 else f"{canary}[{number}]"
                yield CheckItem.from_parent(
                    self, name=name, canary=canary, sample=number, evidence=evidence
                )


class CheckItem(pytest.Item):
    """Judges one canary or diagnostic, in one sample, from its template's transcript."""

    def __init__(self, *, canary: str, sample: int, evidence: Evidence, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.evidence = evidence
        self.canary = canary
        explains = registry.specs()[canary].explains
        self.conversations = [c for c in (canary, explains) if c is not None]
        self.user_properties += [
            ("template", evidence.header.template),
            ("canary", self.canary),
            ("sample", sample),
            ("retries", max(evidence.attempts(c) for c in self.conversations) - 1),
            ("duration_s", evidence.duration(self.canary)),
        ]

    def setup(self) -> None:
        # Incomplete evidence is the harness's problem, not a verdict: an error.
        for conversation in self.conversations:
            problem = self.evidence.conversation_problem(conversation)
            if problem:
                pytest.fail(problem, pytrace=False)
        # The model provider failed it, retries or not: no verdict about the runtime.
        for conversation in self.conversations:
            why = self.evidence.infra(conversation)
            if why:
                self.user_properties.append(("infra", True))
                pytest.skip(f"infrastructure: {why}")

    def runtest(self) -> None:
        check = registry.specs()[self.canary].module().check
        try:
            observed = check(self.evidence)
        except Failed as failure:
            self.user_properties.append(("layer", failure.layer))
            pytest.fail(failure.message, pytrace=False)
        except NoEvidence as reason:
            pytest.skip(str(reason))
        except Exception:
            self.user_properties.append(("harness_error", True))
            raise
        if observed is not None:
            self.user_properties.append(("observed", observed))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.evidence.header.template} {self.canary}"


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).removeprefix("Failed: ")
    return str(longrepr or "").strip()


class OutcomeCollector:
    """Folds setup/call/teardown reports into one outcome per template, canary and sample:
    ``{template: {canary: [sample 1's, sample 2's, …]}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if "template" not in properties:
            return
        per_template = self.outcomes.setdefault(str(properties["template"]), {})
        per_canary = per_template.setdefault(str(properties["canary"]), {})
        entry = per_canary.setdefault(
            int(str(properties.get("sample", 1))),
            # Only a passing call phase makes a pass: a crashed worker's test stays an error.
            {"outcome": "error", "duration_s": properties.get("duration_s", 0.0),
             "message": NOT_FINISHED, "layer": None, "retries": properties.get("retries", 0)},
        )  # fmt: skip
        for key in ("layer", "observed"):
            if key in properties:
                entry[key] = properties[key]
        if report.skipped:
            outcome = "infra" if properties.get("infra") else "skipped"
            entry.update(outcome=outcome, message=_message(report))
        elif report.when == "call" and report.passed:
            entry.update(outcome="passed", message=None)
        elif report.failed and entry["outcome"] != "failed":
            # A failure outside the check itself is the harness's error, not a verdict.
            verdict = report.when == "call" and not properties.get("harness_error")
            entry.update(outcome="failed" if verdict else "error", message=_message(report))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ordered = {
            template: {canary: [samples[n] for n in sorted(samples)]
                       for canary, samples in per_template.items()}
            for template, per_template in self.outcomes.items()
        }  # fmt: skip
        self.path.write_text(json.dumps(ordered, indent=2), encoding="utf-8")
