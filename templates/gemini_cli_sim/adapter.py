"""Gemini CLI (``@google/gemini-cli``, headless) as a platform adapter wires it.

Each turn runs ``gemini -p TEXT -o json`` on the Gemini API at ``GOOGLE_GEMINI_BASE_URL``
with a fixed model (``auto`` would first ask the model to route the request). A context's
first turn starts a session with an id of its own (``--session-id``); its later turns
resume it (``--resume <id>``), so the CLI's own chat file is the history. The platform's
memory and peer tools come from an MCP server over stdio (``platform_mcp.py``); of the
CLI's own tools only ``read_file`` is on (attachments are passed as paths), with the
configs directory included for skills. The system prompt the platform renders per session
replaces the CLI's (``GEMINI_SYSTEM_MD``). The CLI keeps its state in the workspace.
``GEMINI_FAULT=fresh_session`` never resumes: every turn is a new session, the mistake
of an adapter that drops the CLI's session id.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import cli_process
import platform_api
import platform_mcp

NAME = "gemini-cli template"
DESCRIPTION = "Gemini CLI (headless) with the platform's memory and peer tools"
ATTACHMENTS_AS_PATHS = True
FRESH_SESSION = os.environ.get("GEMINI_FAULT", "") == "fresh_session"
MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
HOME = platform_api.WORKSPACE / ".gemini-cli"
BUILT_IN_TOOLS_OFF = (
    "list_directory", "glob", "grep_search", "replace", "write_file", "run_shell_command",
    "web_fetch", "google_web_search", "save_memory", "write_todos", "update_topic",
    "enter_plan_mode", "invoke_agent", "activate_skill", "list_background_processes",
    "read_background_output",
)  # fmt: skip
"""The CLI's own tools (0.61) but ``read_file``: the platform's memory, not the CLI's."""


class Sessions:
    """The CLI's session id per context, one turn at a time per context."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        (HOME / ".gemini").mkdir(parents=True, exist_ok=True)

    def settings(self) -> dict[str, object]:
        mcp = {"command": sys.executable, "args": [str(Path(platform_mcp.__file__).resolve())],
               "env": platform_mcp.child_env(), "trust": True}  # fmt: skip
        return {
            # Folder trust off: in an untrusted folder the CLI turns MCP servers off.
            "security": {
                "auth": {"selectedType": "gemini-api-key"},
                "folderTrust": {"enabled": False},
            },
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            # The current names: the CLI rewrites a file with deprecated ones in place.
            # No session cleanup at start: it deletes every session file it cannot read as
            # resumable yet, and so a concurrent turn's new session ("Invalid session
            # identifier" at its context's next turn).
            "general": {
                "enableAutoUpdate": False,
                "enableAutoUpdateNotification": False,
                "sessionRetention": {"enabled": False},
            },
            # Not "core": an allow-list of built-ins that hides the MCP servers' tools too.
            "tools": {"exclude": list(BUILT_IN_TOOLS_OFF)},
            "mcpServers": {"platform": mcp},
        }


def build() -> Sessions:
    """The server calls this once at start."""
    return Sessions()


async def answer(sessions: Sessions, context_id: str, text: str) -> str:
    """One turn: a CLI run that resumes the context's session, if it has one."""
    lock = sessions.locks.setdefault(context_id, asyncio.Lock())
    async with lock:
        known = None if FRESH_SESSION else sessions.ids.get(context_id)
        session = known or str(uuid.uuid4())
        # Rendered per turn: the peers and skills may have changed since the last.
        # Replaced whole, in current key names: the CLI migrates deprecated ones by rewriting
        # the file in place, and a concurrent turn then read it empty (exit 52). (As system
        # settings, which it never writes, 0.61 refuses the API key: "Invalid auth method".)
        settings_file = HOME / ".gemini" / "settings.json"
        platform_api.write_whole(settings_file, json.dumps(sessions.settings()))
        prompt_file = HOME / "system.md"
        platform_api.write_whole(prompt_file, platform_api.system_prompt())
        command = [
            "gemini", "-m", MODEL, "-p", text, "-o", "json", "--skip-trust",
            "--approval-mode", "yolo", "--include-directories", str(platform_api.CONFIGS),
            *(["--resume", session] if known else ["--session-id", session]),
        ]  # fmt: skip
        # No relaunch: by default the CLI starts itself again as a child process, which
        # doubles its start-up and outlived a kill of the parent.
        env = {**os.environ, "HOME": str(HOME), "GEMINI_SYSTEM_MD": str(prompt_file),
               # V8's code cache for the CLI's bundle: a third less CPU at each turn's start.
               "NODE_COMPILE_CACHE": str(HOME / "node-compile-cache"),
               "NO_COLOR": "1", "GEMINI_CLI_NO_RELAUNCH": "true"}  # fmt: skip
        out = await _run(command, env)
        sessions.ids[context_id] = str(out.get("session_id") or session)
        if out.get("error"):
            return f"(the CLI failed: {json.dumps(out['error'])[:300]})"
        return str(out.get("response") or "(no reply)")


async def _run(command: list[str], env: dict[str, str]) -> dict[str, object]:
    """The CLI's JSON answer."""
    code, stdout = await cli_process.run(command, env, "gemini")
    try:
        found = json.loads(stdout.decode(errors="replace"))
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return {"error": f"exit {code}, no JSON answer: {stdout[-300:]!r}"}
    return found
