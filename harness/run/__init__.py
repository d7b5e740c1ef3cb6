"""Orchestration: drive templates concurrently, judge each transcript as it comes.

Each template runs in its own thread through :mod:`harness.run.lifecycle`
(prepare → boot → drive → stop); a template's drive never waits for another's
boot. As templates finish, :class:`Judging` judges their transcripts in batches
(templates that finish together cost one pytest start) and writes each result the
moment it has its verdicts, so a slow template delays no other's verdict, and a
harness killed later keeps the results of the templates that had finished.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from harness import rerun, secrets
from harness.config import GATES, Config, Template, cascade_order, cells
from harness.cp_sim.transcript import FILE_NAME, read
from harness.errors import UsageError
from harness.events import Footer, Header, TranscriptError
from harness.results import Result, as_gate, write
from harness.run.judge import JudgeError, conclude, judge
from harness.run.lifecycle import Driven, Shared, run_template
from harness.run.options import Live, RunOptions, progress
from harness.run.peers import Peers

__all__ = ["Judging", "RunOptions", "judge_transcripts", "run"]

BATCH_LINGER_S = 0.3
"""How long a batch waits for templates finishing at nearly the same moment."""


def run(config: Config, templates: list[Template], options: RunOptions) -> list[Result]:
    """Run templates concurrently; judge and write each one's result as soon as it can.

    Args:
        config: The loaded templates file.
        templates: The templates to run (each once per dialect, :func:`cells`).
        options: Command-line options.

    Returns:
        The results, in cascade order. On Ctrl-C every started runtime is stopped,
        the templates that finished driving are still judged and written, and
        KeyboardInterrupt propagates.
    """
    templates = cells(templates, options.dialects)
    if options.rerun is not None:
        templates = rerun.restrict(templates, options.rerun)
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
    judging = Judging(options)
    peers = Peers(config, options, live, run_id)
    shared = Shared(config, options, live, peers)
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(max(1, len(templates))) as pool:
        stack.callback(peers.stop_all)  # after the pool: no template talks to a peer any more
        futures: dict[Future[Driven], Template] = {
            pool.submit(run_template, shared, t, run_id): t for t in templates
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    judging.add(future.result())
        except KeyboardInterrupt:
            judging.interrupt()
            live.stop_all()
            for future in pending:
                future.cancel()
            wait(pending)
            for future in pending:
                if future.done() and not future.cancelled():
                    judging.add(future.result())
            judging.finish()
            raise
    return judging.finish()


class Judging:
    """Judges transcripts as they come, in batches, and writes each result when it is final.

    A template that was not driven (skipped, or an error before its conversations)
    has its result written at once; driven ones queue for the next batch. One thread
    runs the batches, so at most one judge runs at a time.

    Args:
        options: Where results go, how many judge workers.
    """

    def __init__(self, options: RunOptions) -> None:
        self._options = options
        self._queue: list[Driven] = []
        self._results: list[Result] = []
        self._wake = threading.Condition()
        self._closed = False
        self._interrupted = False
        self._thread = threading.Thread(target=self._batches, name="judge", daemon=True)
        self._thread.start()

    def add(self, driven: Driven) -> None:
        """A template finished: judge it (soon) and write its result."""
        if driven.transcript is None:
            self._write(driven, conclude(driven, None, interrupted=self._interrupted))
            return
        with self._wake:
            self._queue.append(driven)
            self._wake.notify()

    def interrupt(self) -> None:
        """The run was stopped: results concluded from now on that did not pass say so."""
        with self._wake:
            self._interrupted = True

    def finish(self) -> list[Result]:
        """Judge what is queued, wait for it, and return every result in cascade order."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        return cascade_order(self._results)

    def _batches(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return
            if not self._closed:
                threading.Event().wait(BATCH_LINGER_S)  # let near-simultaneous finishes join
            with self._wake:
                batch, self._queue = self._queue, []
                interrupted = self._interrupted
            self._judge(batch, interrupted=interrupted)

    def _judge(self, batch: list[Driven], *, interrupted: bool) -> None:
        transcripts = [d.transcript for d in batch if d.transcript is not None]
        progress("judge", f"judging {len(transcripts)} transcript(s)")
        problem = None
        try:
            output = self._options.artifacts_dir.resolve()
            verdicts = judge(transcripts, workers=self._options.workers, output_dir=output)
        except JudgeError as exc:
            verdicts, problem = {}, str(exc)
        for driven in batch:
            found = verdicts.get(driven.result.template)
            self._write(driven, conclude(driven, found, problem, interrupted=interrupted))

    def _write(self, driven: Driven, result: Result) -> None:
        if self._options.rerun is not None:
            result = rerun.carry_over(result, self._options.rerun.earlier.get(result.template))
        hidden = list(driven.hidden)
        secrets.redact_tree(self._options.artifacts_dir.resolve() / result.template, hidden)
        result = Result.from_json(secrets.redact_data(result.to_json(), hidden))
        write(result, self._options.results_dir)
        reason = f": {result.reason.splitlines()[0]}" if result.reason else ""
        progress(result.template, f"{result.status}{reason}")
        with self._wake:
            self._results.append(result)


def judge_transcripts(directories: list[Path], options: RunOptions) -> list[Result]:
    """Re-judge stored transcripts with no runtime and write their results.

    Args:
        directories: Directories searched (recursively) for ``transcript.jsonl``.
        options: Where results go (``results_dir``), judge workers.

    Returns:
        The results, in cascade order.

    Raises:
        UsageError: A transcript is not one this version reads (another schema, say).
    """
    paths = sorted({p.resolve() for d in directories for p in d.rglob(FILE_NAME)})
    stored = [_stored(path) for path in paths]
    transcripts = [d.transcript for d in stored if d.transcript is not None]
    verdicts, problem = {}, None
    if transcripts:
        try:
            verdicts = judge(transcripts, workers=options.workers, output_dir=options.results_dir)
        except JudgeError as exc:
            problem = str(exc)
    results = [conclude(d, verdicts.get(d.result.template), problem) for d in stored]
    for result in results:
        write(result, options.results_dir)
    return cascade_order(results)


def _stored(path: Path) -> Driven:
    """What a stored transcript says happened: its footer's result, its header's selection."""
    try:
        lines = read(path)
    except TranscriptError as exc:
        raise UsageError(f"judge: {exc}") from None
    headers = [line.event for line in lines if isinstance(line.event, Header)]
    footers = [line.event for line in lines if isinstance(line.event, Footer)]
    if not headers:
        raise UsageError(f"judge: {path}: the transcript has no header line")
    header = headers[0]
    if footers:
        result = Result.from_json(footers[-1].result)
        driven = footers[-1].driven
    else:
        reason = "the transcript has no footer: the run was stopped before it ended"
        gate = as_gate(header.gate) if header.gate in GATES else "advisory"
        result = Result(
            template=header.template,
            dialect=header.dialect,
            gate=gate,
            wave=header.wave,
            reason=reason,
        )
        driven = False
    return Driven(result, path if driven else None, header.selected)
