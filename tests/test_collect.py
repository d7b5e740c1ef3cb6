"""Folding pytest reports into per-canary outcomes: only a passing call is a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.collect import OutcomeCollector, canary_id


def report(when: str, outcome: str, nodeid: str = "canary/test_canaries.py::test_file_only",
           longrepr: object = None) -> pytest.TestReport:  # fmt: skip
    return pytest.TestReport(
        nodeid=nodeid, location=("f", 0, "d"), keywords={}, outcome=outcome,
        longrepr=longrepr, when=when, user_properties=[],
    )  # fmt: skip


def fold(tmp_path: Path, *reports: pytest.TestReport) -> dict[str, object]:
    collector = OutcomeCollector(tmp_path / "o.json")
    for item in reports:
        collector.pytest_runtest_logreport(item)
    return collector.outcomes["file_only"]


def test_canary_id_comes_from_the_test_name() -> None:
    assert canary_id("canary/test_canaries.py::test_name_recall") == "name_recall"
    assert canary_id("canary/test_layer_diagnostics.py::test_wire[x]") == "wire"


def test_passing_call_is_a_pass(tmp_path: Path) -> None:
    entry = fold(tmp_path, report("setup", "passed"), report("call", "passed"),
                 report("teardown", "passed"))  # fmt: skip
    assert entry["outcome"] == "passed"


def test_a_test_whose_worker_crashed_is_not_a_pass(tmp_path: Path) -> None:
    # xdist reports a crashed item once, outside any phase; before that only setup passed.
    entry = fold(tmp_path, report("setup", "passed"))
    assert entry["outcome"] == "error"
    crashed = fold(tmp_path, report("setup", "passed"), report("???", "failed", longrepr="crash"))
    assert crashed["outcome"] == "error"


def test_failure_in_call_is_a_failure_and_in_setup_an_error(tmp_path: Path) -> None:
    assert (
        fold(tmp_path, report("setup", "passed"), report("call", "failed", longrepr="x"))["outcome"]
        == "failed"
    )
    assert fold(tmp_path, report("setup", "failed", longrepr="boom"))["outcome"] == "error"
