"""Stopping: a CI cancel (SIGTERM to nox) stops the harness and its runtimes, results kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, pids_with

pytestmark = pytest.mark.slow


def test_sigterm_to_nox_stops_the_harness_within_its_grace(tmp_path: Path) -> None:
    marker = f"canary-signal-test-{os.getpid()}"
    nox = subprocess.Popen(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "canary-reference",
         "--", "--driver", "process", "--results", str(tmp_path / "r"),
         "--artifacts", str(tmp_path / "a")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "REFERENCE_LATENCY": "5", "CANARY_SIGNAL_TEST": marker},
    )  # fmt: skip
    assert nox.stdout is not None
    for line in nox.stdout:  # the first run may create the session's venv
        if "driving the canaries" in line:
            break
    assert pids_with(marker, "environ"), "the harness is not running"
    nox.send_signal(signal.SIGTERM)  # to nox alone, as a CI runner's cancel does
    started = time.monotonic()
    assert nox.wait(timeout=60) != 0
    deadline = time.monotonic() + 10
    while [p for p in pids_with(marker, "environ") if p != os.getpid()]:
        assert time.monotonic() < deadline, "processes outlived nox"
        time.sleep(0.1)
    assert time.monotonic() - started < 20
    result = json.loads((tmp_path / "r" / "reference.json").read_text())
    assert (result["status"], result["reason"]) == ("error", "interrupted")
