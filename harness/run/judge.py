"""Judge: one pytest process reads every transcript of a run and gives the verdicts.

The canary suite is a pytest plugin (:mod:`canary.plugin`) that collects one test
per template and canary from the transcripts named on its command line. Verdicts
are pure functions of those files, so xdist (``--workers``) may spread the tests
any way it likes.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from harness.drivers.base import signal_group
from harness.errors import HarnessError
from harness.results import (
    CanaryResult,
    Result,
    Sample,
    Status,
    quarantined,
    summed_up,
    template_status,
)
from harness.run.lifecycle import Driven

JUDGE_TIMEOUT_S = 600.0
JUDGE_NICENESS = 10

Judged = tuple[CanaryResult, int]
"""One sample's verdict, and how often its conversation was retried for infrastructure."""
Verdicts = dict[str, dict[str, list[Judged]]]
"""Outcomes by template, then by canary or diagnostic id: one per sample."""


class JudgeError(HarnessError):
    """The judge itself ended abnormally (not a verdict about any runtime)."""


def judge(transcripts: list[Path], *, workers: int, output_dir: Path) -> Verdicts:
    """Judge transcripts in one pytest process.

    Args:
        transcripts: ``transcript.jsonl`` files, one per template.
        workers: pytest-xdist workers (0: none).
        output_dir: Where ``judge.log`` goes (each judge appends to it).

    Returns:
        The verdicts of every template whose transcript could be judged.

    Raises:
        JudgeError: pytest ended abnormally; the message holds its last lines.
    """
    if not transcripts:
        return {}
    output_dir.mkdir(parents=True, exist_ok=True)
    log_path = output_dir / "judge.log"
    with tempfile.TemporaryDirectory(prefix="canary-judge-") as scratch:
        outcomes = Path(scratch) / "outcomes.json"
        command = _command(transcripts, workers, outcomes, Path(scratch) / "junit.xml")
        # Only the plugins the judge needs: autoloading every installed one costs ~0.3 s.
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        with log_path.open("ab") as log:
            start = log.tell()
            process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            try:
                code = process.wait(timeout=JUDGE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
                raise JudgeError(f"the judge did not finish within {JUDGE_TIMEOUT_S:g}s") from None
        raw = json.loads(outcomes.read_text()) if outcomes.exists() else None
    # 0: all passed, 1: some failed; anything else (collection errors, crash) is not a verdict.
    if raw is None or code not in (0, 1):
        lines = log_path.read_bytes()[start:].decode(errors="replace").splitlines()[-12:]
        raise JudgeError(
            f"the canary judge ended abnormally (pytest exit {code}; see {log_path}): "
            + " | ".join(lines)
        )
    return {
        template: {
            cid: [(CanaryResult.from_json(e), int(e.get("retries") or 0)) for e in entries]
            for cid, entries in per_template.items()
        }
        for template, per_template in raw.items()
    }


def combine(samples: list[Judged], pass_rate: float = 0.0) -> CanaryResult:
    """One canary's verdict from its samples' (:func:`summed_up`); a single sample that
    was never retried is its own verdict."""
    if len(samples) == 1 and samples[0][1] == 0:
        return samples[0][0]
    kept = tuple(Sample(v.outcome, v.message, v.layer, retries) for v, retries in samples)
    outcome, source = summed_up(list(kept), pass_rate)
    whole = replace(samples[0][0], outcome=outcome, message=None, layer=None, samples=kept)
    if source is None:
        return whole
    number = kept.index(source) + 1
    if len(kept) == 1:  # one sample, retried: its own words, no count of one
        return replace(whole, message=source.message, layer=source.layer,
                       observed=samples[0][0].observed)  # fmt: skip
    infra = sum(s.outcome == Status.INFRA for s in kept)
    count = f"{whole.passes} of {whole.judged} samples passed" + (
        f" ({infra} infra)" if infra else ""
    )
    return replace(
        whole, message=f"{count}; sample {number}: {source.message}", layer=source.layer,
        observed=samples[number - 1][0].observed,
    )  # fmt: skip


def _command(transcripts: list[Path], workers: int, outcomes: Path, junit: Path) -> list[str]:
    root = Path(os.path.commonpath([p.resolve().parent for p in transcripts]))
    # Below the runtimes' priority: judging while other templates still run must not slow
    # their turns (a turn has a timeout; a verdict only waits).
    nice = [found, "-n", str(JUDGE_NICENESS)] if (found := shutil.which("nice")) else []
    command = [
        *nice, sys.executable, "-m", "pytest", *map(str, transcripts),
        "-p", "canary.plugin", f"--canary-outcomes={outcomes}", f"--junitxml={junit}",
        "-p", "no:cacheprovider", f"--rootdir={root.parent}", "-c", os.devnull, "-q", "-rN",
    ]  # fmt: skip
    if workers > 0:
        command += ["-p", "xdist.plugin", "-n", str(workers)]
    return command


def conclude(
    driven: Driven,
    verdicts: Mapping[str, list[Judged]] | None,
    problem: str | None = None,
    *,
    interrupted: bool = False,
) -> Result:
    """A template's result: what happened to it, with the judge's verdicts folded in.

    Args:
        driven: What its run found out (and its transcript, when it was driven).
        verdicts: The judge's verdicts for it, by canary (None: it was not judged).
        problem: Why the judge gave no verdicts, when it failed.
        interrupted: The run was stopped: anything short of a pass is ``interrupted``.
    """
    result = driven.result
    if driven.transcript is not None:
        found = {cid: combine(v, result.pass_rate) for cid, v in (verdicts or {}).items()}
        missing = CanaryResult(Status.ERROR, message=problem or "the judge gave no verdict")
        canaries, warnings = quarantined(
            {cid: found.get(cid, missing) for cid in driven.selected},
            result.quarantine,
            datetime.date.today(),
        )
        status = template_status(canaries, result.flaky)
        if result.flaky == "advisory":
            warnings += [f"{cid} is flaky ({e.message}): it does not gate (flaky = advisory)"
                      for cid, e in canaries.items() if e.outcome == Status.FLAKY]  # fmt: skip
        reason = result.reason
        if problem:
            status, reason = Status.ERROR, problem
        elif status == Status.SKIPPED:
            reason = "every selected canary was skipped"
        result = replace(
            result, canaries=canaries, status=status, reason=reason,
            warnings=(*result.warnings, *warnings),
        )  # fmt: skip
    if interrupted and result.status != Status.PASSED:
        result = replace(result, status=Status.ERROR, reason="interrupted")
    return result
