"""Runtimes shaped like the platform's real templates get their right verdicts, both drivers.

``tests/support/shaped_runtime/`` never imports the harness and does what the real templates
do, not what the harness's adapters do: one ``memory`` tool with an ``action``
argument and the memory injected into the next session's system prompt, attachments
listed as paths with a ``read_file`` tool, history embedded in the user message, and
its state under ``/tmp``. Each row of one matrix is a copy of it, healthy or broken the
way a real template broke; they run side by side, so a ``/tmp`` shared between them
would make them refuse to start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.config import CANARY_IDS
from tests.support.runs import ROOT, SUPPORT, run_cli
from tests.support.verdicts import Expected, differences

pytestmark = pytest.mark.slow

SHAPED = SUPPORT / "shaped_runtime"
P, F, S = "passed", "failed", "skipped"
HEALTHY = {
    "name_recall": P, "file_only": P, "file_caption": P, "memory_recall": P, "memory_deep": P,
    "interleaved": P, "tool_use": P, "stream_cancel": S, "peer_call": P, "wire": P,
    "session_scope": P, "session_store": S,
    "memory_layers": P, "model_history": P, "model_files": P,
}  # fmt: skip


def healthy(**changes: str | tuple[str, str]) -> Expected:
    return {**HEALTHY, **changes}


def every_turn_fails(layer: str) -> Expected:
    return {
        "name_recall": (F, layer), "file_only": (F, layer), "file_caption": (F, layer),
        "memory_recall": (F, layer), "memory_deep": (F, layer), "interleaved": (F, layer),
        "tool_use": (F, layer), "stream_cancel": S, "peer_call": (F, layer),
        "wire": (F, "wire") if layer == "wire" else P,
        "session_scope": S, "session_store": S, "memory_layers": (F, layer),
        "model_history": S, "model_files": S,
    }  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """One copy of the shaped runtime: its faults, and its verdict."""

    name: str
    faults: str
    status: str
    canaries: Expected = field(default_factory=dict)
    observed: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    extra: str = ""


SHAPES = [
    # Memory by an action tool + injection, files by path + read_file, history embedded.
    Shape("platform-shaped", "", P, HEALTHY,
          observed={"memory_layers": "runtime", "model_files": "tool", "model_history": "history",
                    "session_scope": "context", "memory_deep": "runtime", "tool_use": "tool"}),
    # claude-code's real bug: one session resumed for every conversation.
    Shape("shared-session", "shared_session,no_memory_tool", F,
          healthy(session_scope=(F, "session"), memory_recall=(F, "session"),
                  memory_layers=(F, "session"), memory_deep=(F, "session"),
                  interleaved=(F, "session"))),
    # Text parts only: the model still gets called, with nothing about the file.
    Shape("drops-file", "drop_file", F,
          healthy(file_only=(F, "files"), file_caption=(F, "files"),
                  model_files=(F, "model:files"))),
    # Skills provisioned, never listed to the model.
    Shape("ignore-skills", "ignore_skills", F, healthy(tool_use=(F, "skills:loaded"))),
    # No way to reach a peer: the model says so, and no call reaches the peer.
    Shape("no-peer-tools", "no_peer_tools", F, healthy(peer_call=(F, "peer:call"))),
    # a2a-sdk 1.x without 0.3 compatibility: the platform's message/send is unknown.
    Shape("method-not-found", "method_not_found", F, every_turn_fails("wire")),
    Shape("internal-error", "internal_error", F, every_turn_fails("runtime")),
    Shape("boot-fail-hint", "boot_fail_hint", "error",
          reason="[FAIL] Required env: Missing SHAPED_OAUTH_TOKEN"),
    Shape("boot-log-file", "boot_log_file", "error",
          reason="[ERROR] config rejected: models.providers.sim is not accepted by this "
                 "version (in /tmp/shaped/boot.log)",
          extra='logs = ["/tmp/shaped/*.log"]\n'),
]  # fmt: skip


# The shapes' peer for peer_call: the reference runtime, not itself in the matrix.
PEER = f"""
[templates.peer]
command = ["python", "-m", "templates.reference"]
env = {{ PYTHONPATH = "{ROOT}" }}
gate = "off"
[templates.peer.build]
context = "{ROOT / "templates" / "reference"}"
args = {{ BASE_IMAGE = "${{CANARY_BASE_IMAGE:-python:3.11-slim}}" }}
wheelhouse = {{ requirements = "requirements.txt", python = "3.11" }}
"""


def shapes_file(directory: Path) -> Path:
    lines = ["schema = 1", "[defaults]", "boot_timeout = 60", "turn_timeout = 30",
             f"canaries = {list(CANARY_IDS)}", 'peer = "peer"', PEER]  # fmt: skip
    for shape in SHAPES:
        lines += [
            f"[templates.{shape.name}]",
            f'command = ["python", "{SHAPED / "runtime.py"}"]',
            f'env = {{ SHAPED_FAULTS = "{shape.faults}" }}',
            'model = "sim"',
            'secrets = ["OPENAI_API_KEY"]',
            shape.extra,
            f"[templates.{shape.name}.build]",
            f'context = "{SHAPED}"',
            'args = { BASE_IMAGE = "${CANARY_BASE_IMAGE:-python:3.11-slim}" }',
        ]
    path = directory / "shapes.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["process", "docker"])
def shaped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, dict[str, Any]], Path]:
    driver = str(request.param)
    env = {"OPENAI_API_KEY": ""}
    if driver == "docker":
        env["CANARY_BASE_IMAGE"] = request.getfixturevalue("base_image")
    directory = tmp_path_factory.mktemp(f"shaped-{driver}")
    completed = run_cli(
        "--config", str(shapes_file(directory)), "matrix", "--driver", driver,
        "--results", str(directory / "results"), "--artifacts", str(directory / "artifacts"),
        env=env, timeout=900,
    )  # fmt: skip
    found = {p.stem: json.loads(p.read_text()) for p in (directory / "results").glob("*.json")}
    assert len(found) == len(SHAPES), completed.stdout[-3000:] + completed.stderr[-3000:]
    return driver, found, directory


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=[s.name for s in SHAPES])
def test_a_shaped_runtime_gets_its_verdict(
    shaped: tuple[str, dict[str, dict[str, Any]], Path], index: int
) -> None:
    driver, found, _ = shaped
    shape = SHAPES[index]
    result = found[shape.name]
    assert result["driver"] == driver
    assert differences(result, shape.status, shape.canaries, shape.observed, shape.reason) == []


def test_the_rejected_send_and_the_internal_error_say_why(
    shaped: tuple[str, dict[str, dict[str, Any]], Path],
) -> None:
    _, found, _ = shaped
    rejected = found["method-not-found"]["canaries"]["wire"]["message"]
    assert "does not accept the platform's 0.3 `message/send`" in rejected
    assert "enable_v0_3_compat=True" in rejected
    internal = found["internal-error"]["canaries"]["name_recall"]["message"]
    assert "JSON-RPC error -32603: Internal error" in internal
    assert "session store unavailable" in internal  # the error's data


def test_a_runtime_log_file_is_kept_masked_in_the_artifacts(
    shaped: tuple[str, dict[str, dict[str, Any]], Path],
) -> None:
    _, found, directory = shaped
    kept = directory / "artifacts" / "boot-log-file" / "logs" / "tmp_shaped_boot.log"
    assert "config rejected" in kept.read_text()
    assert str(kept.relative_to(directory)) in found["boot-log-file"]["artifacts"]
