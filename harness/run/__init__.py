"""Orchestration: drive templates concurrently, then judge every transcript at once.

Each template runs in its own thread through :mod:`harness.run.lifecycle`
(prepare → boot → drive → stop); a template's drive never waits for another's
boot. When all have stopped, one pytest process (:mod:`harness.run.judge`) judges
every transcript, and each template's result file is written.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from harness import secrets
from harness.config import Config, Template, cascade_order
from harness.cp_sim.transcript import FILE_NAME, read
from harness.results import CanaryResult, Result, Status, template_status, write
from harness.run.judge import JudgeError, Verdicts, judge
from harness.run.lifecycle import Driven, run_template
from harness.run.options import Live, RunOptions, progress

__all__ = ["RunOptions", "judge_transcripts", "run"]


def run(config: Config, templates: list[Template], options: RunOptions) -> list[Result]:
    """Run templates concurrently, judge them, and write one result file per template.

    Args:
        config: The loaded templates file.
        templates: The templates to run.
        options: Command-line options.

    Returns:
        The results, in cascade order. On Ctrl-C every started runtime is
        stopped, the templates that finished driving are still judged and
        written, and KeyboardInterrupt propagates.
    """
    run_id = uuid.uuid4().hex[:12]
    live = Live()
    reaper = _start_reaper(run_id) if options.driver != "process" else None
    try:
        return _run(config, templates, options, run_id, live)
    finally:
        if reaper is not None:
            reaper.terminate()  # everything was stopped here: nothing left to reap
            reaper.wait()


def _start_reaper(run_id: str) -> subprocess.Popen[bytes] | None:
    """Sweep what killed harnesses left, and start this run's reaper, when Docker answers."""
    from harness.drivers import docker as docker_driver
    from harness.drivers import reaper

    client, _ = docker_driver.engine()
    if client is None:
        return None
    try:
        for name in docker_driver.remove_orphans(client):
            progress("cleanup", f"removed {name}, left by a harness that is gone")
    except Exception as exc:  # a sweep that fails must not stop the run itself
        progress("cleanup", f"could not look for leftover containers: {exc}")
    return reaper.start(run_id)


def _run(
    config: Config, templates: list[Template], options: RunOptions, run_id: str, live: Live
) -> list[Result]:
    finished: list[Driven] = []
    with ThreadPoolExecutor(max_workers=max(1, len(templates))) as pool:
        futures: dict[Future[Driven], Template] = {
            pool.submit(run_template, config, t, options, run_id, live): t for t in templates
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                finished.extend(f.result() for f in done)
        except KeyboardInterrupt:
            live.stop_all()
            for future in pending:
                future.cancel()
            wait(pending)
            finished.extend(f.result() for f in pending if f.done() and not f.cancelled())
            _judge_and_write(finished, options, live, interrupted=True)
            raise
    return _judge_and_write(finished, options, live, interrupted=False)


def _judge_and_write(
    finished: list[Driven], options: RunOptions, live: Live, *, interrupted: bool
) -> list[Result]:
    transcripts = [d.transcript for d in finished if d.transcript is not None]
    verdicts: Verdicts = {}
    problem = None
    if transcripts:
        progress("judge", f"judging {len(transcripts)} transcript(s)")
        try:
            verdicts = judge(
                transcripts, workers=options.workers,
                output_dir=options.artifacts_dir.resolve(), live=None if interrupted else live,
            )  # fmt: skip
        except JudgeError as exc:
            problem = str(exc)
    results = []
    for driven in finished:
        result = driven.result
        if driven.transcript is not None:
            _apply(result, verdicts.get(result.template), problem, driven.transcript)
        if interrupted and result.status != Status.PASSED:
            result.status, result.reason = Status.ERROR, "interrupted"
        result = _finish(result, driven.hidden, options)
        progress(result.template, str(result.status) + (f": {result.reason}" if result.reason
                                                        else ""))  # fmt: skip
        results.append(result)
    return cascade_order(results)


def _apply(
    result: Result, verdicts: dict[str, CanaryResult] | None, problem: str | None, transcript: Path
) -> None:
    """Fold a template's verdicts into its result."""
    selected = [str(cid) for cid in _header(transcript).get("selected") or []]
    verdicts = dict(verdicts or {})
    for cid in selected:
        verdicts.setdefault(
            cid, CanaryResult(Status.ERROR, message=problem or "the judge gave no verdict")
        )
    result.canaries = {cid: verdicts[cid] for cid in selected}
    result.status = template_status(result.canaries)
    if problem:
        result.status, result.reason = Status.ERROR, problem
    elif result.status == Status.SKIPPED:
        result.reason = "every selected canary was skipped"


def _header(transcript: Path) -> dict[str, Any]:
    with transcript.open(encoding="utf-8") as file:
        header: dict[str, Any] = json.loads(file.readline())
    return header


def _finish(result: Result, hidden: list[str], options: RunOptions) -> Result:
    secrets.redact_tree(options.artifacts_dir.resolve() / result.template, hidden)
    result = Result.from_json(secrets.redact_data(result.to_json(), hidden))
    write(result, options.results_dir)
    return result


def judge_transcripts(directories: list[Path], options: RunOptions) -> list[Result]:
    """Re-judge stored transcripts with no runtime and write their results.

    Args:
        directories: Directories searched (recursively) for ``transcript.jsonl``.
        options: Where results go (``results_dir``), judge workers.

    Returns:
        The results, in cascade order.
    """
    stored = [_stored_result(p) for p in sorted({p.resolve() for d in directories
                                                 for p in d.rglob(FILE_NAME)})]  # fmt: skip
    transcripts = [path for _, path, driven in stored if driven]
    verdicts: Verdicts = {}
    problem = None
    if transcripts:
        try:
            verdicts = judge(transcripts, workers=options.workers, output_dir=options.results_dir)
        except JudgeError as exc:
            problem = str(exc)
    for result, path, driven in stored:
        if driven:
            _apply(result, verdicts.get(result.template), problem, path)
        write(result, options.results_dir)
    return cascade_order(result for result, _, _ in stored)


def _stored_result(path: Path) -> tuple[Result, Path, bool]:
    """The result a transcript's footer recorded, and whether its conversations ran."""
    lines = read(path)
    footers = [line.event for line in lines if line.type == "footer"]
    if footers:
        return Result.from_json(footers[-1]["result"]), path, bool(footers[-1].get("driven"))
    header = lines[0].event if lines and lines[0].type == "header" else {}
    result = Result(
        template=str(header.get("template") or path.parent.name),
        gate=str(header.get("gate") or "advisory"),
        wave=int(header.get("wave") or 0),
    )
    result.reason = "the transcript has no footer: the run was stopped before it ended"
    return result, path, False
