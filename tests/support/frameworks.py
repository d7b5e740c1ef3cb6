"""The real-framework templates on the scripted model, and what each one's switch breaks.

Shared by the process-driver and Docker tests: the README's "Expected verdicts"
table, as data. A switch breaks exactly these canaries (with these layers),
nothing more, nothing less.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.runs import ROOT, run_cli

FRAMEWORKS = ("langgraph-sim", "smolagents-sim", "autogen-sim", "google-adk-sim", "hermes-sim")
SWITCHES = {
    "LANGGRAPH_FAULT": "no_checkpointer",
    "SMOLAGENTS_FAULT": "shared_agent",
    "AUTOGEN_FAULT": "small_buffer",
    "ADK_FAULT": "session_per_workspace",
    "HERMES_FAULT": "chat_api",
}
BROKEN_BY_SWITCH = {
    "langgraph-sim": {"name_recall": "session", "model_history": "model:history"},
    # One session for every context: the colour reaches the new context as an earlier turn.
    "smolagents-sim": {
        "session_scope": "session",
        "memory_recall": "session",
        "memory_layers": "session",
    },
    "autogen-sim": {
        "name_recall": "session",
        "model_history": "model:history",
        "memory_recall": "memory",
        "memory_layers": "memory:reply",
    },
    "google-adk-sim": {
        "session_scope": "session",
        "memory_recall": "session",
        "memory_layers": "session",
    },
    "hermes-sim": {"name_recall": "session", "model_history": "model:history"},
}


def run_frameworks(directory: Path, driver: str, env: dict[str, str]) -> dict[str, Any]:
    """Run every framework template in one harness run; their result files by name.

    Switches are off unless ``env`` turns them on (whatever the caller's shell says).
    """
    run_cli(
        "--config", str(ROOT / "templates.toml"), "run", *FRAMEWORKS, "--driver", driver,
        "--results", str(directory / "results"), "--artifacts", str(directory / "artifacts"),
        env={**dict.fromkeys(SWITCHES, ""), **env}, timeout=900,
    )  # fmt: skip
    return {
        name: json.loads((directory / "results" / f"{name}.json").read_text())
        for name in FRAMEWORKS
    }


def broken(results: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each template's failed canaries, with their layers."""
    return {
        name: {c: e["layer"] for c, e in result["canaries"].items() if e["outcome"] == "failed"}
        for name, result in results.items()
    }
