"""``results/<template>.json`` (DESIGN §6): typed results, writing and reading them.

Results written by parallel CI jobs merge into the same matrix as a local run's,
so everything here is a pure function of the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.config import GATES, Config, Gate, Template, cascade_order
from harness.errors import EXIT_FAILED, EXIT_OK

SCHEMA_VERSION = 1
TIMINGS = ("prepare_s", "boot_s", "canaries_s", "teardown_s")


class Status(StrEnum):
    """A template's status, or one canary's outcome (``flaky`` and ``infra``: a canary's)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    FLAKY = "flaky"
    """Some of its samples passed, some failed (``--repeat``)."""
    INFRA = "infra"
    """Every sample failed for the model provider's reason (429, 5xx), not the runtime's."""


VERDICTS = (Status.PASSED, Status.FAILED, Status.ERROR)
"""Sample outcomes that say something about the runtime (not skipped, not infra)."""


@dataclass(frozen=True)
class Sample:
    """One of a canary's repeated conversations, judged.

    Attributes:
        outcome: passed, failed, error, skipped or infra.
        message: Why it did not pass.
        layer: Where its failure sits.
        retries: How often its conversation was driven again for an infrastructure failure.
    """

    outcome: Status
    message: str | None = None
    layer: str | None = None
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"outcome": str(self.outcome), "message": self.message, "layer": self.layer,
                "retries": self.retries}  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> Sample:
        """Read the JSON form (raises ValueError on a foreign shape)."""
        if not isinstance(data, dict):
            raise ValueError(f"a sample is not an object: {data!r}")
        return cls(Status(str(data.get("outcome"))), data.get("message"), data.get("layer"),
                   int(data.get("retries") or 0))  # fmt: skip


@dataclass(frozen=True)
class CanaryResult:
    """One canary's or diagnostic's verdict.

    Attributes:
        outcome: passed, failed, error or skipped.
        duration_s: Seconds its conversation took.
        message: Why it did not pass (what was sent, what came back, what was expected).
        layer: Where a failure sits (``session``, ``files``, ``memory:search``, …).
        observed: What a diagnostic observed (``context``, ``shared``, ``platform``, …).
        quarantined_until: The end date of the template's quarantine of it, while one
            holds: its outcome is shown, and does not gate.
        samples: Every sample's verdict, when it was driven more than once (``--repeat``,
            or retried for an infrastructure failure); ``outcome`` sums them up.
    """

    outcome: Status
    duration_s: float = 0.0
    message: str | None = None
    layer: str | None = None
    observed: str | None = None
    quarantined_until: str | None = None
    samples: tuple[Sample, ...] = ()

    def gates(self, flaky: str = "fail") -> bool:
        """It failed, errored, gave no verdict for infrastructure reasons, or (under the
        ``flaky = "fail"`` policy) was flaky; and no quarantine holds it."""
        bad = self.outcome in (Status.FAILED, Status.ERROR, Status.INFRA) or (
            self.outcome == Status.FLAKY and flaky == "fail"
        )
        return bad and self.quarantined_until is None

    @property
    def passes(self) -> int:
        """Samples that passed."""
        return sum(s.outcome == Status.PASSED for s in self.samples)

    @property
    def judged(self) -> int:
        """Samples with a verdict about the runtime."""
        return sum(s.outcome in VERDICTS for s in self.samples)

    @property
    def retries(self) -> int:
        """Conversations driven again for an infrastructure failure, over every sample."""
        return sum(s.retries for s in self.samples)

    def to_json(self) -> dict[str, Any]:
        """The JSON form; ``observed``, ``quarantined_until`` and ``samples`` only when set."""
        data = asdict(self)
        data["samples"] = [s.to_json() for s in self.samples]
        for optional in ("observed", "quarantined_until", "samples"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanaryResult:
        """Read the JSON form (raises ValueError on a foreign shape)."""
        if not isinstance(data, dict):
            raise ValueError(f"a canary entry is not an object: {data!r}")
        return cls(
            outcome=Status(str(data.get("outcome"))),
            duration_s=float(data.get("duration_s") or 0.0),
            message=data.get("message"),
            layer=data.get("layer"),
            observed=data.get("observed"),
            quarantined_until=data.get("quarantined_until"),
            samples=tuple(Sample.from_json(s) for s in data.get("samples") or ()),
        )


@dataclass(frozen=True)
class Result:
    """One template's run, as its result file holds it."""

    template: str
    """The cell's name: the template's, or ``<template>@<dialect>`` (``Template.label``)."""
    gate: Gate
    wave: int
    status: Status = Status.ERROR
    reason: str | None = None
    driver: str | None = None
    image: str | None = None
    image_id: str | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    timings: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(TIMINGS, 0.0))
    canaries: Mapping[str, CanaryResult] = field(default_factory=dict)
    unserved_calls: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    required_since: str | None = None
    artifacts: tuple[str, ...] = ()
    dialect: str = "context"
    """How the harness spoke to the runtime (DESIGN §3.4)."""
    quarantine: Mapping[str, str] = field(default_factory=dict)
    """The template's quarantine table (canary: ISO end date), expired entries included."""
    pass_rate: float = 0.0
    """Under it, a canary some of whose samples passed is failed, not flaky."""
    flaky: str = "fail"
    """What a flaky canary does to the gate (``fail``, ``pass``, ``advisory``)."""

    @classmethod
    def new(cls, template: Template) -> Result:
        """A result for a template that has not run yet."""
        since = template.required_since.isoformat() if template.required_since else None
        quarantine = {c: end.isoformat() for c, end in template.quarantine.items()}
        return cls(template=template.label, dialect=template.dialect, gate=template.gate,
                   wave=template.wave, image=template.image, required_since=since,
                   quarantine=quarantine, pass_rate=template.pass_rate,
                   flaky=template.flaky)  # fmt: skip

    @property
    def name(self) -> str:
        """The template's name (for the cascade order)."""
        return self.template

    @property
    def blocking(self) -> bool:
        """A required template that failed or errored: the run fails."""
        return self.gate == "required" and self.status in (Status.FAILED, Status.ERROR)

    def to_json(self) -> dict[str, Any]:
        """The file's content (DESIGN §6)."""
        return {
            "schema": SCHEMA_VERSION,
            "template": self.template,
            "dialect": self.dialect,
            "status": str(self.status),
            "reason": self.reason,
            "gate": self.gate,
            "wave": self.wave,
            "driver": self.driver,
            "image": self.image,
            "image_id": self.image_id,
            "started_at": self.started_at,
            "timings": dict(self.timings),
            "canaries": {cid: entry.to_json() for cid, entry in self.canaries.items()},
            "unserved_calls": list(self.unserved_calls),
            "warnings": list(self.warnings),
            "required_since": self.required_since,
            "artifacts": list(self.artifacts),
            "quarantine": dict(self.quarantine),
            "pass_rate": self.pass_rate,
            "flaky": self.flaky,
        }

    @classmethod
    def from_json(cls, data: Any) -> Result:
        """Read a result file's content.

        Raises:
            ValueError: It is not a result of this schema (the message says why).
        """
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"not a schema-{SCHEMA_VERSION} canary-matrix result")
        canaries = data.get("canaries", {})
        if not isinstance(canaries, dict):
            raise ValueError("'canaries' is not an object")
        gate = as_gate(str(data.get("gate")))
        try:
            return cls(
                template=str(data["template"]),
                dialect=str(data.get("dialect") or "context"),
                gate=gate,
                wave=int(data.get("wave") or 0),
                status=Status(data["status"]),
                reason=data.get("reason"),
                driver=data.get("driver"),
                image=data.get("image"),
                image_id=data.get("image_id"),
                started_at=str(data.get("started_at", "")),
                timings={k: float(v) for k, v in (data.get("timings") or {}).items()},
                canaries={cid: CanaryResult.from_json(e) for cid, e in canaries.items()},
                unserved_calls=tuple(_strings(data, "unserved_calls")),
                warnings=tuple(_strings(data, "warnings")),
                required_since=data.get("required_since"),
                artifacts=tuple(_strings(data, "artifacts")),
                quarantine=_quarantine(data),
                pass_rate=float(data.get("pass_rate") or 0.0),
                flaky=str(data.get("flaky") or "fail"),
            )
        except KeyError as exc:
            raise ValueError(f"missing {exc.args[0]!r}") from None
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} is not a list of strings")
    return value


def _quarantine(data: dict[str, Any]) -> dict[str, str]:
    value = data.get("quarantine") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("'quarantine' is not an object of dates")
    return {str(k): v for k, v in value.items()}


def template_status(canaries: Mapping[str, CanaryResult], flaky: str = "fail") -> Status:
    """``failed`` when a canary or diagnostic gates (:meth:`CanaryResult.gates`); ``error``
    when what gates is only infrastructure failures (no verdict about the runtime);
    ``skipped`` when all skipped."""
    gating = [entry for entry in canaries.values() if entry.gates(flaky)]
    if gating:
        infra_only = all(entry.outcome == Status.INFRA for entry in gating)
        return Status.ERROR if infra_only else Status.FAILED
    outcomes = {entry.outcome for entry in canaries.values()}
    return Status.SKIPPED if outcomes == {Status.SKIPPED} else Status.PASSED


def summed_up(samples: list[Sample], pass_rate: float = 0.0) -> tuple[Status, Sample | None]:
    """One canary's outcome from its samples, and the sample its message comes from.

    ``passed`` when every sample with a verdict passed; ``failed`` when none did, or (with
    a ``pass_rate``) when fewer than that share did; ``flaky`` otherwise. Skipped and infra
    samples are not counted: with none left, it is ``skipped`` if any was, else ``infra``.
    """
    judged = [s for s in samples if s.outcome in VERDICTS]
    if not judged:
        # A check that does not apply (skipped) says so whatever the provider did.
        skipped = [s for s in samples if s.outcome == Status.SKIPPED]
        return (Status.SKIPPED, skipped[0]) if skipped else (Status.INFRA, samples[0])
    bad = [s for s in judged if s.outcome != Status.PASSED]
    if not bad:
        return Status.PASSED, None
    first = next((s for s in bad if s.outcome == Status.FAILED), bad[0])
    if len(bad) == len(judged):
        return (Status.FAILED if first.outcome == Status.FAILED else Status.ERROR), first
    passed = (len(judged) - len(bad)) / len(judged)
    return (Status.FAILED if passed < pass_rate else Status.FLAKY), first


def quarantined(
    canaries: Mapping[str, CanaryResult], quarantine: Mapping[str, str], today: date
) -> tuple[dict[str, CanaryResult], list[str]]:
    """The verdicts with the quarantines that still hold marked, and a warning per one ended.

    A quarantine holds through the end of its date; from the next day its canary gates
    again, and the warning says so, so that nobody mistakes it for still parked.
    """
    marked = dict(canaries)
    ended = []
    for canary, until in quarantine.items():
        if canary not in marked:
            continue
        if date.fromisoformat(until) >= today:
            marked[canary] = replace(marked[canary], quarantined_until=until)
        else:
            ended.append(f"the quarantine of {canary} ended on {until}: it gates again")
    return marked, ended


def write(result: Result, results_dir: Path) -> Path:
    """Write one template's result file (atomically, so a reader never sees half)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.template}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


@dataclass(frozen=True)
class Problem:
    """A result file that cannot be read, or is not a result of this schema."""

    path: Path
    why: str

    def line(self) -> str:
        """``path: why``."""
        return f"{self.path}: {self.why}"


@dataclass(frozen=True)
class Merged:
    """Results gathered from several directories (CI jobs' artifacts, say).

    Attributes:
        results: One per template, the newest where several were found, in cascade order.
        problems: Every unreadable or foreign result file.
        notes: One line per template found more than once, saying which result was kept.
        paths: The file each kept result was read from, by template.
    """

    results: list[Result]
    problems: list[Problem]
    notes: list[str]
    paths: dict[str, Path] = field(default_factory=dict)


def read_all(*directories: Path) -> Merged:
    """Every result file below the directories, merged: the newest result per template wins.

    Files directly in a given directory, or in any directory named ``results`` below it,
    are expected to be results: one that is not is reported. Other JSON below (a session
    store's files in ``artifacts/``, say) is ignored unless it is a result.
    """
    by_template: dict[str, list[tuple[Result, Path]]] = {}
    problems: list[Problem] = []
    for directory in directories:
        for path in sorted(directory.rglob("*.json")):
            expected = path.parent == directory or "results" in path.relative_to(directory).parts
            try:
                result = Result.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                if expected:
                    problems.append(Problem(path, str(exc)))
                continue
            by_template.setdefault(result.template, []).append((result, path))
    kept, notes, paths = [], [], {}
    for name, found in by_template.items():
        found.sort(key=lambda item: (item[0].started_at, str(item[1])))
        newest, path = found[-1]
        kept.append(newest)
        paths[name] = path
        if len(found) > 1:
            others = ", ".join(str(p) for _, p in found[:-1])
            notes.append(
                f"{name}: {len(found)} results; kept the newest ({newest.started_at}, {path}) "
                f"over {others}"
            )
    return Merged(cascade_order(kept), problems, notes, paths)


def reconcile(merged: Merged, config: Config | None, where: str) -> list[Result]:
    """The results a report judges by: the merged ones, and an error for each gap.

    A damaged result file of a template the config knows stands for it as an error
    (it has no verdict); a required template of the config with no result at all is an
    error too. Damaged files are also :attr:`Merged.problems`, which fail a report
    whatever the config says.

    Args:
        merged: What was read.
        config: The templates file, when there is one (which templates are required).
        where: The directories read, for the reasons.
    """
    found = list(merged.results)
    known = dict(config.templates) if config else {}
    have = {r.template for r in found}
    for problem in merged.problems:
        name = problem.path.stem
        if name in known and name not in have:
            template = known[name]
            reason = f"unreadable result file {problem.path}: {problem.why}"
            found.append(missing_result(name, template.gate, template.wave, reason))
            have.add(name)
    for template in config.matrix_templates() if config else []:
        ran = template.name in have or any(h.startswith(f"{template.name}@") for h in have)
        if template.gate == "required" and not ran:
            reason = f"no result in {where} (required by {config.path.name if config else ''})"
            found.append(missing_result(template.name, template.gate, template.wave, reason))
    return cascade_order(found)


def not_run(results: Iterable[Result]) -> list[Result]:
    """Required templates that were skipped: no test ran for them."""
    return [r for r in results if r.gate == "required" and r.status == Status.SKIPPED]


def summary(results: Iterable[Result]) -> str | None:
    """One loud line naming the required templates that were not run, and why."""
    skipped = not_run(results)
    if not skipped:
        return None
    named = "; ".join(f"{r.template} ({r.reason})" for r in skipped)
    return f"NOT TESTED: {len(skipped)} required template(s) did not run: {named}"


def exit_code(results: Iterable[Result], *, strict: bool = False) -> int:
    """1 when a ``required`` template failed or errored (or, when strict, was skipped)."""
    results = list(results)
    if any(r.blocking for r in results) or (strict and not_run(results)):
        return EXIT_FAILED
    return EXIT_OK


def as_gate(value: str) -> Gate:
    """A gate's name as the :data:`Gate` it names; ValueError for anything else."""
    for gate in GATES:
        if value == gate:
            return gate
    raise ValueError(f"'gate' is {value!r}")


def missing_result(name: str, gate: Gate, wave: int, reason: str) -> Result:
    """An ``error`` result for a template whose result file is absent or unreadable."""
    return Result(template=name, gate=gate, wave=wave, status=Status.ERROR, reason=reason)
