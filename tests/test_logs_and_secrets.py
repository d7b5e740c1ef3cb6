"""Runtime output is masked as it is written and capped; secrets reach neither disk nor terminal."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from harness.drivers.isolation import kept_paths
from harness.drivers.logs import RuntimeLog, decisive_line
from harness.masking import secret_shaped
from tests.support.runs import ROOT, run_cli, write_config

SECRET = "sk-canary-test-value-0123456789"


def test_lines_are_masked_even_when_a_secret_spans_chunks(tmp_path: Path) -> None:
    log = RuntimeLog(tmp_path / "runtime.log", [SECRET])
    log.feed(b"starting\nkey is sk-canary-te")
    assert SECRET not in log.text()
    log.feed(b"st-value-0123456789 ok\n")
    log.close()
    written = (tmp_path / "runtime.log").read_bytes()
    assert SECRET.encode() not in written
    assert b"key is " + b"*" * len(SECRET) + b" ok\n" in written


def test_a_flood_keeps_head_and_tail_and_says_how_much_was_dropped(tmp_path: Path) -> None:
    log = RuntimeLog(tmp_path / "runtime.log", [], head=1000, tail=1000)
    for index in range(10_000):
        log.feed(f"line {index:05d}\n".encode())
    log.close()
    text = (tmp_path / "runtime.log").read_text()
    assert text.startswith("line 00000\n")
    assert text.endswith("line 09999\n")
    assert "bytes of output dropped here]" in text
    assert len(text) < 2200


@pytest.mark.parametrize(
    ("name", "shaped"),
    [("OPENAI_API_KEY", True), ("GITHUB_TOKEN", True), ("DB_PASSWORD", True),
     ("AWS_SECRET_ACCESS_KEY", True), ("PATH", False), ("KEYBOARD", False), ("PWD", False)],
)  # fmt: skip
def test_secret_shaped_names(name: str, shaped: bool) -> None:
    assert secret_shaped(name) is shaped


LEAKY = (
    'command = ["python", "-c", "import os, sys; print(dict(os.environ)); '
    "print('the key is', os.environ.get('OPENAI_API_KEY')); sys.stdout.flush(); "
    'raise SystemExit(3)"]\n'
)


@pytest.mark.parametrize("how", ["declared", "env-flag"])
def test_a_secret_passed_either_way_is_masked_everywhere(tmp_path: Path, how: str) -> None:
    declared = 'secrets = ["OPENAI_API_KEY"]\n' if how == "declared" else ""
    config = write_config(tmp_path, f"[templates.leaky]\n{LEAKY}{declared}")
    flags = ["--env", "OPENAI_API_KEY"] if how == "env-flag" else []
    completed = run_cli(
        "--config", str(config), "run", "leaky", "--driver", "process", *flags,
        "--results", str(tmp_path / "r"), "--artifacts", str(tmp_path / "a"),
        env={"OPENAI_API_KEY": SECRET},
    )  # fmt: skip
    log = (tmp_path / "a" / "leaky" / "runtime.log").read_text()
    assert "the key is" in log  # the runtime did print it
    assert SECRET not in completed.stdout + completed.stderr
    for path in [*(tmp_path / "a").rglob("*"), *(tmp_path / "r").rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_runtime_flooding_its_output_is_capped_and_memory_bounded(tmp_path: Path) -> None:
    flood = (
        'command = ["python", "-c", "import sys\\nfor i in range(400000): '
        "sys.stdout.write('x' * 120 + chr(10))\\nraise SystemExit(3)\"]\n"
    )  # about 48 MB
    config = write_config(tmp_path, f"[templates.flood]\n{flood}boot_timeout = 120\n")
    command = [sys.executable, "-m", "harness", "--config", str(config), "run", "flood",
               "--driver", "process", "--results", str(tmp_path / "r"),
               "--artifacts", str(tmp_path / "a")]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False, timeout=300)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    log = tmp_path / "a" / "flood" / "runtime.log"
    assert log.stat().st_size < 3 * 2**20
    assert "bytes of output dropped here]" in log.read_text()
    if peak_kib > before:  # the harness was the largest child so far
        assert peak_kib < 200 * 1024


@pytest.mark.parametrize(
    ("log", "decisive"),
    [
        (
            "starting\n[FAIL] Required env: Missing CLAUDE_CODE_OAUTH_TOKEN\n"
            "WARNING: prompt file missing\nFix: Add the file or remove it from prompt_files.\n",
            "[FAIL] Required env: Missing CLAUDE_CODE_OAUTH_TOKEN",
        ),
        (
            'Traceback (most recent call last):\n  File "a.py", line 1\n'
            "ModuleNotFoundError: No module named 'agent'\n"
            "ERROR:    Application startup failed. Exiting.\n",
            "ModuleNotFoundError: No module named 'agent'",
        ),
        (
            "ValueError: harmless, retried\nloading\nloading\nloading\nloading\n"
            "2026-12-01 10:00:00 CRITICAL app: cannot bind port 8000\nHint: set PORT\n",
            "2026-12-01 10:00:00 CRITICAL app: cannot bind port 8000",
        ),
        (
            '{"level":"fatal","msg":"config rejected"}\n',
            '{"level":"fatal","msg":"config rejected"}',
        ),
        ("time=1 level=error msg=boom\n", "time=1 level=error msg=boom"),
        ("Error: Cannot find module 'x'\n    at require\n", "Error: Cannot find module 'x'"),
        ("booting\nexiting now\nTip: run with --verbose\n", "exiting now"),
        ("", "(it printed nothing)"),
    ],
    ids=[
        "fail-before-hints",
        "exception-before-summary",
        "last-marked",
        "json",
        "logfmt",
        "node",
        "last-plain",
        "nothing",
    ],
)
def test_the_decisive_line_is_the_failure_not_the_advice(log: str, decisive: str) -> None:
    assert decisive_line(log) == decisive


def test_an_ordinary_error_word_is_not_a_failure_marker() -> None:
    log = "heartbeat error_rate=0.0 errors=0\nserving on 8000\n"
    assert decisive_line(log) == "serving on 8000"


def test_a_log_file_gives_the_line_when_the_output_says_nothing() -> None:
    files = {"/tmp/openclaw/openclaw.log": "info: start\n[ERROR] invalid config: models.sim\n"}
    assert decisive_line("exiting\n", files) == (
        "[ERROR] invalid config: models.sim (in /tmp/openclaw/openclaw.log)"
    )
    # What the runtime printed itself wins when it names the failure.
    assert decisive_line("[FAIL] no key\n", files) == "[FAIL] no key"


def test_kept_paths_are_the_outermost_directories_under_tmp(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "bin" / "python").write_text("")
    project = tmp_path / "project"
    (project / "nested").mkdir(parents=True)
    npm_bin = tmp_path / "npm" / "node_modules" / ".bin"  # its links point beside it
    npm_bin.mkdir(parents=True)
    run_root = tmp_path / "canary-run"
    run_root.mkdir()
    candidates = [
        str(venv / "bin" / "python"), str(project), str(project / "nested"), str(run_root),
        str(npm_bin), "relative/path", "/nonexistent/x", "http://127.0.0.1:8000",
    ]  # fmt: skip
    kept = [str(venv), str(project), str(npm_bin.parent)]
    assert kept_paths(candidates, run_root, tmp=tmp_path) == sorted(kept)
    assert kept_paths([str(tmp_path)], run_root, tmp=tmp_path) == []  # the private /tmp itself
