"""Runtime output is masked as it is written and capped; secrets reach neither disk nor terminal."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from harness.drivers.logs import RuntimeLog
from harness.masking import secret_shaped
from tests.conftest import ROOT, run_cli, write_config

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
