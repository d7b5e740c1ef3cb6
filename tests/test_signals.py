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

from tests.support.runs import ROOT, pids_with

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


@pytest.mark.parametrize("driver", ["process", "docker"])
def test_a_sigkill_after_a_template_finished_keeps_its_result(
    tmp_path: Path, driver: str, request: pytest.FixtureRequest
) -> None:
    # A slow template still boots; the fast one's verdict must already be on disk.
    env = {**os.environ}
    if driver == "docker":
        env["CANARY_BASE_IMAGE"] = request.getfixturevalue("base_image")
    config = tmp_path / "templates.toml"
    build = (f'[templates.{{name}}.build]\ncontext = "{ROOT / "templates" / "reference"}"\n'
             'args = { BASE_IMAGE = "${CANARY_BASE_IMAGE:-python:3.11-slim}" }\n'
             'wheelhouse = { requirements = "requirements.txt", python = "3.11" }\n')  # fmt: skip
    text = "schema = 1\n"
    for name, faults in (("fast", ""), ("slow", "slow_boot=120")):
        text += (f'[templates.{name}]\ncommand = ["python", "-m", "templates.reference"]\n'
                 f'env = {{ PYTHONPATH = "{ROOT}", REFERENCE_FAULTS = "{faults}" }}\n'
                 'boot_timeout = 300\n' + build.replace("{name}", name))  # fmt: skip
    config.write_text(text)
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness", "--config", str(config), "matrix", "--driver", driver,
         "--results", str(tmp_path / "r"), "--artifacts", str(tmp_path / "a")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    fast = tmp_path / "r" / "fast.json"
    deadline = time.monotonic() + 240
    while not fast.exists():
        assert harness.poll() is None, "the harness ended before the fast template's verdict"
        assert time.monotonic() < deadline, "no result for the fast template"
        time.sleep(0.1)
    assert harness.poll() is None, "the slow template should still be booting"
    harness.kill()  # SIGKILL: no cleanup code of the harness runs
    harness.wait()
    result = json.loads(fast.read_text())
    assert (result["status"], result["driver"]) == ("passed", driver)
    assert not (tmp_path / "r" / "slow.json").exists()
    if driver == "docker":  # and the reaper still removes the slow one's container
        client = request.getfixturevalue("client")
        label = {"label": "io.canary-matrix.tool=canary-matrix"}
        deadline = time.monotonic() + 15
        while client.containers.list(all=True, filters=label):
            assert time.monotonic() < deadline, "the reaper left a container"
            time.sleep(0.2)
