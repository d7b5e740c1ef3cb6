"""The real-framework templates on the scripted model, and what each one's switch breaks.

Shared by the process-driver and Docker tests: the README's "Expected verdicts"
table, as data. A switch breaks exactly these canaries (with these layers),
nothing more, nothing less.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.config import CANARY_IDS
from tests.support.runs import ROOT, project_templates_text, run_cli

FRAMEWORKS = ("langgraph-sim", "smolagents-sim", "autogen-sim", "google-adk-sim", "hermes-sim",
              "deepagents-sim", "crewai-sim", "claude-code-sim", "gemini-cli-sim",
              "codex-sim", "openclaw-sim")  # fmt: skip
SWITCHES = {
    "LANGGRAPH_FAULT": "no_checkpointer",
    "SMOLAGENTS_FAULT": "shared_agent",
    "AUTOGEN_FAULT": "small_buffer",
    "ADK_FAULT": "session_per_workspace",
    "HERMES_FAULT": "chat_api",
    "DEEPAGENTS_FAULT": "text_parts_only",
    "CREWAI_FAULT": "text_parts_only",
    "CLAUDE_CODE_FAULT": "shared_session",
    "GEMINI_FAULT": "fresh_session",
    "CODEX_FAULT": "stale_events",
    "OPENCLAW_FAULT": "session_per_message",
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
    # Text parts only: the file never reaches the model, so neither file canary can pass.
    "deepagents-sim": {"file_only": "files", "file_caption": "files", "model_files": "model:files"},
    # The same mistake as the platform's crewai adapter makes it: a turn with no text is
    # answered "No message provided" without a model call, so model_files names the call.
    "crewai-sim": {"file_only": "files", "file_caption": "files", "model_files": "model:call"},
    # One CLI session resumed for every conversation (the platform's claude-code bug).
    "claude-code-sim": {
        "session_scope": "session",
        "memory_recall": "session",
        "memory_layers": "session",
    },
    # A new CLI session every turn (the session id is never passed back).
    "gemini-cli-sim": {"name_recall": "session", "model_history": "model:history"},
    # It waits for an event its CLI no longer sends: every turn fails once it gives up.
    "codex-sim": {
        "name_recall": "runtime",
        "file_only": "runtime",
        "file_caption": "runtime",
        "memory_recall": "runtime",
        "memory_layers": "runtime",
    },
    # The session keyed by the message (the task id), not the context: every turn is new.
    "openclaw-sim": {"name_recall": "session", "model_history": "model:history"},
}


def _skipped_by_switch(name: str) -> set[str]:
    """What cannot be judged under a template's switch, with the project's default canaries."""
    skipped = {"session_store"}  # the default config gives no store to probe
    if "name_recall" in BROKEN_BY_SWITCH[name]:
        skipped.add("session_scope")  # it needs a context that kept the name
    if name == "codex-sim":
        skipped |= {"model_history", "model_files"}  # no turn is answered to judge them by
    return skipped


SWITCH_VERDICTS = {
    name: {**dict.fromkeys(_skipped_by_switch(name), ("skipped", None)),
           **{c: ("failed", layer) for c, layer in broken_canaries.items()}}
    for name, broken_canaries in BROKEN_BY_SWITCH.items()
}  # fmt: skip
"""Every verdict but "passed" with every switch on: the same table for both drivers."""

# With every canary on: what each framework's adapter cannot do (the README's table).
EVERY_CANARY: dict[str, tuple[str, str | None]] = {}


def every_canary_config(directory: Path) -> Path:
    """The project's templates file with every canary on by default (the new ones too)."""
    text = project_templates_text()
    every = re.sub(r"^canaries = \[[^\]]*\]", f"canaries = {list(CANARY_IDS)}", text, count=1,
                   flags=re.MULTILINE)  # fmt: skip
    # The peer (the reference) is started from the config's directory, not the project's.
    every = every.replace(
        "env = { REFERENCE_FAULTS", f'env = {{ PYTHONPATH = "{ROOT}", REFERENCE_FAULTS'
    )
    assert f'PYTHONPATH = "{ROOT}"' in every, "the reference's env line moved"
    assert every != text, "the [defaults] canaries line moved"
    path = directory / "templates.toml"
    path.write_text(every, encoding="utf-8")
    return path


# The CLIs start a process per turn (openclaw: a gateway that prepares each session) and take
# most of the CPU while they run: run apart from the Python frameworks, so neither group's
# turns wait minutes for a core on a 2-core machine.
CLIS = ("claude-code-sim", "gemini-cli-sim", "codex-sim", "openclaw-sim")
GROUPS = (tuple(n for n in FRAMEWORKS if n not in CLIS), CLIS)


def run_frameworks(
    directory: Path, driver: str, env: dict[str, str], *, every_canary: bool = False
) -> dict[str, Any]:
    """Run every framework template, in two harness runs; their result files by name.

    Switches are off unless ``env`` turns them on (whatever the caller's shell says).
    ``every_canary`` runs the canaries that are off by default too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config = every_canary_config(directory) if every_canary else ROOT / "templates.toml"
    found: dict[str, Any] = {}
    for number, group in enumerate(GROUPS):
        results, artifacts = directory / f"results-{number}", directory / f"artifacts-{number}"
        run_cli(
            "--config", str(config), "run", *group, "--driver", driver,
            "--results", str(results), "--artifacts", str(artifacts),
            env={**dict.fromkeys(SWITCHES, ""), **env}, timeout=900,
        )  # fmt: skip
        found.update({name: json.loads((results / f"{name}.json").read_text()) for name in group})
    return found


def switch_verdicts(results: dict[str, Any]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Each template's verdicts but "passed": outcome and layer."""
    return {
        name: {c: (e["outcome"], e.get("layer")) for c, e in result["canaries"].items()
               if e["outcome"] != "passed"}
        for name, result in results.items()
    }  # fmt: skip


def every_canary_verdicts(result: dict[str, Any]) -> dict[str, tuple[str, str | None] | None]:
    """A result's outcome and layer for each canary (None: it did not run)."""
    found = {c: (e["outcome"], e.get("layer")) for c, e in result["canaries"].items()}
    return {c: found.get(c) for c in CANARY_IDS}


EVERY_CANARY_EXPECTED = {c: EVERY_CANARY.get(c, ("passed", None)) for c in CANARY_IDS}
"""What every framework's result holds with every canary on."""
