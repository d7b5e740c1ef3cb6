"""The verdict table: every fault switch of the reference runtime gets the right verdict.

One matrix per driver runs the healthy reference and every switch side by side (each
its own template), then every row's template status and every canary's and
diagnostic's outcome (and layer) is checked. The run prints "verdict accuracy: right/total".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.config import CANARY_IDS
from tests.support.runs import ROOT, run_cli
from tests.support.verdicts import Expected, differences

pytestmark = pytest.mark.slow

P, F, S = "passed", "failed", "skipped"
HEALTHY = {
    "name_recall": P, "file_only": P, "file_caption": P, "memory_recall": P, "memory_deep": P,
    "interleaved": P, "tool_use": P, "stream_cancel": P, "peer_call": P, "wire": P,
    "session_scope": P, "session_store": P, "memory_layers": P,
}  # fmt: skip


def turns_fail(layer: str) -> Expected:
    """Every turn fails at ``layer``; the wire diagnostic agrees (fails only for ``wire``)."""
    return {
        "name_recall": (F, layer), "file_only": (F, layer), "file_caption": (F, layer),
        "memory_recall": (F, layer), "memory_deep": (F, layer), "interleaved": (F, layer),
        "tool_use": (F, layer), "stream_cancel": (F, layer), "peer_call": (F, layer),
        "wire": (F, "wire") if layer == "wire" else P,
        "session_scope": S, "session_store": S, "memory_layers": (F, layer),
    }  # fmt: skip


SECRET = "sk-canary-test-value-9f8e7d6c"
HANG = "turn_timeout = 25\n"


@dataclass(frozen=True)
class Row:
    """One switch: how the template is declared, and what the verdict must be."""

    faults: str
    status: str
    canaries: Expected = field(default_factory=dict)
    reason: str | None = None
    observed: dict[str, str] = field(default_factory=dict)
    extra: str = ""

    @property
    def name(self) -> str:
        return self.faults.replace("=", "-").replace(",", "-and-").replace("_", "-") or "healthy"


def healthy(**changes: str | tuple[str, str]) -> Expected:
    return {**HEALTHY, **changes}


ROWS = [
    Row("", P, HEALTHY, observed={"session_scope": "context", "memory_layers": "platform"}),
    Row("forget_context", F,
        healthy(name_recall=(F, "session"), session_scope=S, interleaved=(F, "session"),
                stream_cancel=(F, "stream:next"))),
    Row("empty_prompt", F, healthy(file_only=(F, "files"))),
    Row("ignore_caption", F, healthy(file_caption=(F, "caption"))),
    Row("no_memory", F, healthy(memory_recall=(F, "memory"), memory_layers=(F, "memory:commit"),
                                memory_deep=(F, "memory"))),
    # One session for every context: the colour reaches the new context through it, not
    # through memory, whatever the template declares (DESIGN §4 memory_recall).
    Row("shared_sessions", F,
        healthy(session_scope=(F, "session"), session_store=(F, "session"),
                memory_recall=(F, "session"), memory_layers=(F, "session"),
                memory_deep=(F, "session"), interleaved=(F, "session"))),
    Row("shared_sessions", F,
        healthy(memory_recall=(F, "session"), memory_layers=(F, "session"),
                memory_deep=(F, "session"), interleaved=S),
        observed={"session_scope": "shared"},
        extra='session_scope = "workspace"\nprobe = { session_store = "{workspace}/.sessions", '
              'key = "{workspace_id}" }\n'),
    Row("task_reply", P, HEALTHY),
    Row("type_parts", P, HEALTHY),
    Row("task_reply,type_parts", P, HEALTHY),
    Row("slow_boot=1", P, HEALTHY),
    Row("slow_boot=60", "error", reason="not ready after 5s", extra="boot_timeout = 5\n"),
    Row("crash_on_boot", "error", reason="code 3 during boot: ReferenceBootError"),
    Row("no_card", "error", reason="not ready after 5s", extra="boot_timeout = 5\n"),
    # A turn with no reply in time is the runtime's: it took the turn and never answered.
    Row("hang_turn=name_recall", F,
        healthy(name_recall=(F, "runtime"), session_scope=S, session_store=S,
                interleaved=(F, "runtime")), extra=HANG),
    Row("hang_turn=file_caption", F, healthy(file_caption=(F, "runtime")), extra=HANG),
    Row("slow_turn=1", P, HEALTHY),
    Row("jsonrpc_error", F, turns_fail("runtime")),  # -32603: it took the turn and failed it
    Row("bad_json", F, turns_fail("wire")),
    Row("http_500", F, turns_fail("runtime")),
    Row("search_unused", F,
        healthy(memory_recall=(F, "memory"), memory_layers=(F, "memory:reply"),
                memory_deep=(F, "memory:reply"))),
    Row("stale_memory", F, healthy(memory_deep=(F, "memory:update"))),
    Row("global_session", F, healthy(interleaved=(F, "session"))),
    Row("ignore_skills", F, healthy(tool_use=(F, "skills"))),
    Row("cancel_on_disconnect", F, healthy(stream_cancel=(F, "stream:disconnect"))),
    Row("wedge_after_cancel", F, healthy(stream_cancel=(F, "stream:wedged")), extra=HANG),
    Row("drop_peer_context", F, healthy(peer_call=(F, "peer:context"))),
    Row("leak_env", P, HEALTHY, extra='secrets = ["CANARY_TABLE_API_KEY"]\n'),
    # Which turns are cut off depends on timing; every failure must blame the exit.
    Row("crash_mid_run", F, reason=None),
]  # fmt: skip
TEMPLATES = [f"{index:02d}-{row.name}" for index, row in enumerate(ROWS)]
ACCURACY: dict[str, list[bool]] = {}


def table_file(directory: Path) -> Path:
    # 27 runtimes start at once on 2 cores: a healthy turn may wait many seconds for a CPU
    # (a shared session serializes every turn), so only the hang_turn rows have a short
    # timeout, long enough for their healthy turns (15 s was not, once, for a peer_call
    # whose peer answered all 27 rows at once in containers).
    lines = ["schema = 1", "[defaults]", "boot_timeout = 90", "turn_timeout = 40",
             'probe = { session_store = "{workspace}/.sessions", '
             'key = "{workspace_id}:{context_id}" }',
             f"canaries = {list(CANARY_IDS)}",
             f'peer = "{TEMPLATES[0]}"']  # every row's peer is healthy  # fmt: skip
    for name, row in zip(TEMPLATES, ROWS, strict=True):
        lines += [
            f"[templates.{name}]",
            'command = ["python", "-m", "templates.reference"]',
            f'env = {{ PYTHONPATH = "{ROOT}", REFERENCE_FAULTS = "{row.faults}" }}',
            row.extra,
            f"[templates.{name}.build]",
            f'context = "{ROOT / "templates" / "reference"}"',
            'args = { BASE_IMAGE = "${CANARY_BASE_IMAGE:-python:3.11-slim}" }',
            'wheelhouse = { requirements = "requirements.txt", python = "3.11" }',
        ]
    path = directory / "verdicts.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_table(
    directory: Path, driver: str, env: dict[str, str]
) -> tuple[dict[str, dict[str, Any]], str]:
    completed = run_cli(
        "--config", str(table_file(directory)), "matrix", "--driver", driver,
        "--results", str(directory / "results"), "--artifacts", str(directory / "artifacts"),
        env={"CANARY_TABLE_API_KEY": SECRET, **env}, timeout=900,
    )  # fmt: skip
    found = {p.stem: json.loads(p.read_text()) for p in (directory / "results").glob("*.json")}
    assert len(found) == len(ROWS), completed.stdout[-3000:] + completed.stderr[-3000:]
    return found, completed.stdout + completed.stderr


def problems(row: Row, result: dict[str, Any]) -> list[str]:
    """Where a result differs from the row's verdict (empty: right)."""
    wrong = differences(result, row.status, row.canaries, row.observed, row.reason)
    canaries = result["canaries"]
    if row.faults == "crash_mid_run":
        failed = {c: e for c, e in canaries.items() if e["outcome"] == F}
        blamed = all(e["layer"] == "runtime" and "code 4" in e["message"] for e in failed.values())
        if not failed or not blamed:
            wrong.append(f"crash_mid_run failures not blamed on the exit: {failed}")
    return wrong


@pytest.fixture(scope="module", params=["process", "docker"])
def table(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, dict[str, Any]], str, Path]:
    driver = str(request.param)
    env = {}
    if driver == "docker":
        env["CANARY_BASE_IMAGE"] = request.getfixturevalue("base_image")
    directory = tmp_path_factory.mktemp(f"verdicts-{driver}")
    found, output = run_table(directory, driver, env)
    return driver, found, output, directory


@pytest.mark.parametrize("index", range(len(ROWS)), ids=TEMPLATES)
def test_verdict(table: tuple[str, dict[str, dict[str, Any]], str, Path], index: int) -> None:
    driver, found, _, _ = table
    row, result = ROWS[index], found[TEMPLATES[index]]
    assert result["driver"] == driver
    wrong = problems(row, result)
    ACCURACY.setdefault(driver, []).append(not wrong)
    assert wrong == [], result


def test_no_secret_leaks_from_the_table(
    table: tuple[str, dict[str, dict[str, Any]], str, Path],
) -> None:
    _, _, output, directory = table
    assert SECRET not in output
    for path in directory.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_judge_gives_the_table_again_from_its_transcripts(
    table: tuple[str, dict[str, dict[str, Any]], str, Path], tmp_path: Path
) -> None:
    # Every canary, the ones off by default too, re-judged from the stored evidence alone.
    _, found, _, directory = table
    completed = run_cli(
        "judge", str(directory / "artifacts"), "--results", str(tmp_path), timeout=600
    )
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    again = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}

    def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {name: {c: (e["outcome"], e.get("layer"), e.get("observed"))
                       for c, e in result["canaries"].items()}
                for name, result in results.items()}  # fmt: skip

    assert verdicts(again) == verdicts(found)
