"""Judge: one pytest process reads every transcript of a run and gives the verdicts.

The canary suite is a pytest plugin (:mod:`canary.plugin`) that collects one test
per template and canary from the transcripts named on its command line. Verdicts
are pure functions of those files, so xdist (``--workers``) may spread the tests
any way it likes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.drivers.base import signal_group
from harness.errors import HarnessError
from harness.results import CanaryResult
from harness.run.options import Live

JUDGE_TIMEOUT_S = 600.0

Verdicts = dict[str, dict[str, CanaryResult]]
"""Outcomes by template, then by canary or diagnostic id."""


class JudgeError(HarnessError):
    """The judge itself ended abnormally (not a verdict about any runtime)."""


def judge(
    transcripts: list[Path], *, workers: int, output_dir: Path, live: Live | None = None
) -> Verdicts:
    """Judge transcripts in one pytest process.

    Args:
        transcripts: ``transcript.jsonl`` files, one per template.
        workers: pytest-xdist workers (0: none).
        output_dir: Where ``junit.xml`` and ``judge.log`` go.
        live: The run's live state, so Ctrl-C stops the judge too.

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
        command = _command(transcripts, workers, outcomes, output_dir / "junit.xml")
        # Only the plugins the judge needs: autoloading every installed one costs ~0.3 s.
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            if live is not None:
                with live.lock:
                    live.processes.add(process)
            try:
                code = process.wait(timeout=JUDGE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
                raise JudgeError(f"the judge did not finish within {JUDGE_TIMEOUT_S:g}s") from None
            finally:
                if live is not None:
                    with live.lock:
                        live.processes.discard(process)
        raw = json.loads(outcomes.read_text()) if outcomes.exists() else None
    # 0: all passed, 1: some failed; anything else (collection errors, crash) is not a verdict.
    if raw is None or code not in (0, 1):
        lines = log_path.read_text(errors="replace").splitlines()[-12:]
        raise JudgeError(
            f"the canary judge ended abnormally (pytest exit {code}; see {log_path}): "
            + " | ".join(lines)
        )
    return {
        template: {cid: CanaryResult.from_json(entry) for cid, entry in per_template.items()}
        for template, per_template in raw.items()
    }


def _command(transcripts: list[Path], workers: int, outcomes: Path, junit: Path) -> list[str]:
    root = Path(os.path.commonpath([p.resolve().parent for p in transcripts]))
    command = [
        sys.executable, "-m", "pytest", *map(str, transcripts),
        "-p", "canary.plugin", f"--canary-outcomes={outcomes}", f"--junitxml={junit}",
        "-p", "no:cacheprovider", f"--rootdir={root.parent}", "-c", os.devnull, "-q", "-rN",
    ]  # fmt: skip
    if workers > 0:
        command += ["-p", "xdist.plugin", "-n", str(workers)]
    return command
