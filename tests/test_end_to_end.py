"""End to end through the process driver: the reference runtime, healthy and with each fault."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.config import DEFAULT_CANARY_IDS
from tests.support.runs import ROOT, pids_with, run_cli, run_template

pytestmark = pytest.mark.slow

FAULT_BREAKS = {
    "forget_context": ("name_recall", "session"),
    "empty_prompt": ("file_only", "files"),
    "ignore_caption": ("file_caption", "caption"),
    "no_memory": ("memory_recall", "memory"),
}


def run_reference(
    config: Path, tmp_path: Path, faults: str = "", *extra: str
) -> tuple[int, dict[str, Any], str]:
    return run_template(config, "reference", tmp_path, *extra, env={"REFERENCE_FAULTS": faults})


def test_reference_passes_every_canary_and_diagnostic(
    reference_config: Path, tmp_path: Path
) -> None:
    code, result, stdout = run_reference(reference_config, tmp_path)
    outcomes = {cid: entry["outcome"] for cid, entry in result["canaries"].items()}
    assert outcomes == {
        "name_recall": "passed",
        "file_only": "passed",
        "file_caption": "passed",
        "memory_recall": "passed",
        # Off by default; templates.toml's reference row runs them (it is green on them).
        "memory_deep": "passed",
        "interleaved": "passed",
        "tool_use": "passed",
        "stream_cancel": "passed",
        "peer_call": "passed",
        "wire": "passed",
        "session_scope": "passed",
        "session_store": "passed",
        "memory_layers": "passed",
    }, result
    assert code == 0
    assert result["status"] == "passed"
    assert result["driver"] == "process"
    assert result["canaries"]["session_scope"]["observed"] == "context"
    assert result["canaries"]["memory_layers"]["observed"] == "platform"
    assert result["timings"]["boot_s"] > 0
    assert result["timings"]["canaries_s"] > 0
    # The runtime's own CPU (the benchmark's floor and the harness's share are told by it).
    assert 0 < result["timings"]["runtime_boot_cpu_s"] <= result["timings"]["runtime_cpu_s"]
    assert "artifacts/reference/runtime.log" in " ".join(result["artifacts"])
    assert "reference" in stdout
    assert "passed" in stdout


@pytest.mark.parametrize("fault", sorted(FAULT_BREAKS))
def test_each_fault_breaks_exactly_its_canary(
    reference_config: Path, tmp_path: Path, fault: str
) -> None:
    broken, layer = FAULT_BREAKS[fault]
    code, result, stdout = run_reference(reference_config, tmp_path, fault)
    canaries = {cid: result["canaries"][cid]["outcome"] for cid in DEFAULT_CANARY_IDS}
    assert canaries == {
        cid: "failed" if cid == broken else "passed" for cid in DEFAULT_CANARY_IDS
    }, result
    assert code == 1
    assert result["status"] == "failed"
    failure = result["canaries"][broken]
    assert failure["layer"] == layer
    # The message says what was sent, what came back and what was expected.
    assert "got" in failure["message"]
    assert "expected" in failure["message"]
    assert "transcript line" in failure["message"]  # where the evidence is
    assert broken in stdout


def test_no_memory_is_located_at_the_commit_layer(reference_config: Path, tmp_path: Path) -> None:
    _, result, _ = run_reference(reference_config, tmp_path, "no_memory")
    layers = result["canaries"]["memory_layers"]
    assert layers["outcome"] == "failed"
    assert layers["layer"] == "memory:commit"


def test_forget_context_leaves_scope_without_evidence(
    reference_config: Path, tmp_path: Path
) -> None:
    _, result, _ = run_reference(reference_config, tmp_path, "forget_context")
    assert result["canaries"]["session_scope"]["outcome"] == "skipped"


def test_canary_option_selects(reference_config: Path, tmp_path: Path) -> None:
    code, result, _ = run_reference(reference_config, tmp_path, "", "--canary", "file_only")
    assert code == 0
    assert list(result["canaries"]) == ["file_only"]


def test_missing_secret_skips_with_reason(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        'schema = 1\n[templates.needy]\nimage = "x/y:1"\nsecrets = ["CANARY_TEST_UNSET_KEY"]\n'
    )
    completed = run_cli(
        "--config",
        str(config),
        "matrix",
        "--results",
        str(tmp_path / "r"),
        "--artifacts",
        str(tmp_path / "a"),
    )
    result = json.loads((tmp_path / "r" / "needy.json").read_text())
    assert completed.returncode == 0
    assert result["status"] == "skipped"
    assert "CANARY_TEST_UNSET_KEY" in result["reason"]


def test_runtime_dying_on_boot_is_an_error_with_its_exit_code(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        "schema = 1\n[templates.crashy]\n"
        'command = ["python", "-c", "import sys; print(\'bad config\'); sys.exit(3)"]\n'
        'gate = "required"\n'
    )
    code, result, _ = run_template(config, "crashy", tmp_path)
    assert code == 1
    assert result["status"] == "error"
    assert "code 3" in result["reason"]
    assert "bad config" in result["reason"]
    assert (tmp_path / "artifacts" / "crashy" / "runtime.log").read_text().strip() == "bad config"


def test_crash_on_boot_shows_its_decisive_line_in_the_matrix(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        "schema = 1\n[templates.crashy]\n"
        'command = ["python", "-c", "print(\'starting\'); import agent_canary_missing"]\n'
    )
    _, result, stdout = run_template(config, "crashy", tmp_path)
    decisive = "ModuleNotFoundError: No module named 'agent_canary_missing'"
    assert result["reason"].splitlines()[0].endswith(decisive)
    assert decisive in stdout  # the matrix's reason column, not only the log


def test_secrets_never_reach_results_artifacts_or_output(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        "schema = 1\n[templates.leaky]\n"
        'command = ["python", "-c", "import os; '
        "print('key is', os.environ['CANARY_TEST_TOKEN']); raise SystemExit(3)\"]\n"
        'secrets = ["CANARY_TEST_TOKEN"]\n'
    )
    secret = "sk-canary-test-0123456789"
    completed = run_cli(
        "--config", str(config), "run", "leaky", "--results", str(tmp_path / "r"),
        "--artifacts", str(tmp_path / "a"), env={"CANARY_TEST_TOKEN": secret},
    )  # fmt: skip
    assert "key is" in (tmp_path / "r" / "leaky.json").read_text()
    assert secret not in completed.stdout + completed.stderr
    assert secret not in (tmp_path / "r" / "leaky.json").read_text()
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_undeclared_environment_does_not_reach_a_process_runtime(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        "schema = 1\n[templates.nosy]\n"
        'command = ["python", "-c", "import os; print(sorted(os.environ)); raise SystemExit(1)"]\n'
    )
    run_template(config, "nosy", tmp_path, env={"CANARY_UNDECLARED_KEY": "x"})
    log = (tmp_path / "artifacts" / "nosy" / "runtime.log").read_text()
    assert "WORKSPACE_ID" in log
    assert "CANARY_UNDECLARED_KEY" not in log


def test_requested_canary_the_template_lacks_is_skipped(tmp_path: Path) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        'schema = 1\n[templates.only]\ncommand = ["true"]\ncanaries = ["name_recall"]\n'
    )
    code, result, _ = run_template(config, "only", tmp_path, "--canary", "file_only")
    assert code == 0
    assert result["status"] == "skipped"
    assert "file_only" in result["reason"]


def test_results_path_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "r").write_text("not a directory")
    completed = run_cli("run", "reference", "--results", str(tmp_path / "r"))
    assert completed.returncode == 2
    assert "--results" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_killed_harness_leaves_no_runtime_process(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:12]
    name = f"stuck-{marker}"
    config = tmp_path / "templates.toml"
    config.write_text(
        f"schema = 1\n[templates.{name}]\n"
        f'command = ["python", "-c", "import time; time.sleep(300)", "{marker}"]\n'
        "boot_timeout = 300\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness", "--config", str(config), "run", name,
         "--results", str(tmp_path / "r"), "--artifacts", str(tmp_path / "a")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not pids_with(marker):
        assert time.monotonic() < deadline, "the runtime never started"
        time.sleep(0.1)
    harness.kill()  # SIGKILL: no cleanup code of the harness runs
    harness.wait()
    deadline = time.monotonic() + 10
    while pids_with(marker):
        assert time.monotonic() < deadline, "the runtime outlived the harness"
        time.sleep(0.1)
    assert not list(Path(tempfile.gettempdir()).glob(f"canary-{name}-*")), "workspace left behind"
