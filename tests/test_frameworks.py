"""Real agent frameworks on the scripted model, run as local processes (no Docker).

Each template's command runs in a copy of its build context with a venv made
from the image's own wheelhouse, so the verdicts must be those of the images
(tests/test_docker.py runs the same table in containers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.frameworks import (
    EVERY_CANARY_EXPECTED,
    SWITCH_VERDICTS,
    SWITCHES,
    every_canary_verdicts,
    run_frameworks,
    switch_verdicts,
)

pytestmark = pytest.mark.slow


def test_each_framework_switch_breaks_what_it_should_as_a_process(tmp_path: Path) -> None:
    results = run_frameworks(tmp_path, "process", SWITCHES)
    # The same table as through Docker (tests/test_docker.py): identical verdicts, twice.
    assert switch_verdicts(results) == SWITCH_VERDICTS
    lost = results["hermes-sim"]["canaries"]["model_history"]["message"]
    assert "reached the model without turn 1" in lost


def test_real_frameworks_as_processes_pass_every_canary(tmp_path: Path) -> None:
    # The default canaries and those still off by default (peer_call with the reference as
    # the peer), in one run: each framework passes all but what its adapter cannot do.
    results = run_frameworks(tmp_path, "process", {}, every_canary=True)
    for name, result in results.items():
        assert every_canary_verdicts(result) == EVERY_CANARY_EXPECTED, (name, result)
        assert (result["status"], result["driver"]) == ("passed", "process"), (name, result)
        assert result["canaries"]["model_history"]["observed"] == "history"
