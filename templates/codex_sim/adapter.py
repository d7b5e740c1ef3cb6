"""Codex (``@openai/codex``, ``codex exec``) as a platform adapter wires it.

Each turn runs ``codex exec --json`` on a ``model_providers`` entry for the Responses API at
``OPENAI_BASE_URL`` (the built-in OpenAI provider would not go there). A context's first
turn starts a thread; its later turns resume it (``codex exec resume <thread id>``), so the
CLI's own rollout is the history. The platform's memory and peer tools come from an MCP
server over stdio (``platform_mcp.py``); attachments are passed as paths, which the agent
reads with its shell. The system prompt the platform renders per session goes in as the
CLI's developer instructions. Each context has its own home (``CODEX_HOME``) in the
workspace, analytics off: the CLI keeps a state database, thread locks and its config there,
and concurrent turns of different contexts sharing one home hung before reaching the model.
``CODEX_FAULT=stale_events`` listens for the event an older CLI ended a turn with
(``task_complete``), which this one never sends: every turn waits until the adapter gives up
and fails it, the production mistake of an executor left behind by its CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

import cli_process
import platform_api
import platform_mcp

NAME = "codex template"
DESCRIPTION = "Codex CLI (codex exec) with the platform's memory and peer tools"
ATTACHMENTS_AS_PATHS = True
STALE_EVENTS = os.environ.get("CODEX_FAULT", "") == "stale_events"
MODEL = os.environ.get("CODEX_MODEL", "gpt-5-codex")
HOMES = platform_api.WORKSPACE / ".codex-homes"
EVENT_TIMEOUT_S = float(os.environ.get("CODEX_EVENT_TIMEOUT_S", "5"))
MCP_START_TIMEOUT_S = 120  # on a loaded machine the default (10 s) ran out for others


def _toml(value: object) -> str:
    """A TOML value: JSON's strings, numbers, booleans and arrays are TOML's too."""
    return json.dumps(value)


class Sessions:
    """The CLI's thread id per context, one turn at a time per context."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    def home(self, context_id: str) -> Path:
        """The context's own CLI home, its name safe whatever the context id holds."""
        home = HOMES / hashlib.sha256(context_id.encode()).hexdigest()[:16]
        home.mkdir(parents=True, exist_ok=True)
        return home

    def config(self) -> str:
        """The CLI's config.toml: the scripted model's provider, the platform's MCP server."""
        mcp_env = "".join(f"{k} = {_toml(v)}\n" for k, v in platform_mcp.child_env().items())
        return (
            f"model = {_toml(MODEL)}\n"
            'model_provider = "sim"\n'
            "[model_providers.sim]\n"
            'name = "sim"\n'
            f"base_url = {_toml(os.environ.get('OPENAI_BASE_URL', ''))}\n"
            'wire_api = "responses"\n'
            'env_key = "OPENAI_API_KEY"\n'
            "[analytics]\n"
            "enabled = false\n"
            # Off: plugins and apps look up their sources online first (git ls-remote).
            "[features]\n"
            "plugins = false\n"
            "remote_plugin = false\n"
            "apps = false\n"
            "[mcp_servers.platform]\n"
            f"command = {_toml(sys.executable)}\n"
            f"args = {_toml([str(Path(platform_mcp.__file__).resolve())])}\n"
            # Required: else a turn whose server is still starting goes on without its tools.
            "required = true\n"
            f"startup_timeout_sec = {MCP_START_TIMEOUT_S}\n"
            "[mcp_servers.platform.env]\n" + mcp_env
        )


def build() -> Sessions:
    """The server calls this once at start."""
    return Sessions()


async def answer(sessions: Sessions, context_id: str, text: str) -> str:
    """One turn: a CLI run that resumes the context's thread, if it has one."""
    lock = sessions.locks.setdefault(context_id, asyncio.Lock())
    async with lock:
        known = sessions.ids.get(context_id)
        # Rendered per turn: the token comes with the registration, the peers and skills
        # may have changed since the last turn.
        home = sessions.home(context_id)
        platform_api.write_whole(home / "config.toml", sessions.config())
        instructions = f"developer_instructions={_toml(platform_api.system_prompt())}"
        command = [
            "codex", "exec", *(["resume", known] if known else []), "--json",
            "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
            "-c", instructions, "--", text,
        ]  # fmt: skip
        env = {**os.environ, "CODEX_HOME": str(home), "NO_COLOR": "1"}
        events = await _run(command, env)
        started = [e for e in events if e.get("type") == "thread.started"]
        if started:
            sessions.ids[context_id] = str(started[0].get("thread_id"))
        if STALE_EVENTS:
            return await _wait_for_task_complete(events)
        return _reply(events)


def _reply(events: list[dict[str, object]]) -> str:
    """The turn's last agent message, or why there is none."""
    items = [e.get("item") for e in events if e.get("type") == "item.completed"]
    said = [i for i in items if isinstance(i, dict) and i.get("type") == "agent_message"]
    if said:
        return str(said[-1].get("text") or "(no reply)")
    failed = [e for e in events if e.get("type") in ("turn.failed", "error")]
    return f"(the CLI failed: {json.dumps(failed[-1])[:300]})" if failed else "(no reply)"


async def _wait_for_task_complete(events: list[dict[str, object]]) -> str:
    """The older CLI's end of turn, ``{"msg": {"type": "task_complete"}}``, waited for."""
    for event in events:
        message = event.get("msg")
        if isinstance(message, dict) and message.get("type") == "task_complete":
            return str(message.get("last_agent_message") or "(no reply)")
    await asyncio.sleep(EVENT_TIMEOUT_S)
    raise RuntimeError(f"codex sent no task_complete event within {EVENT_TIMEOUT_S:.0f} s")


async def _run(command: list[str], env: dict[str, str]) -> list[dict[str, object]]:
    """The CLI's JSON events, one per line of its output."""
    _, stdout = await cli_process.run(command, env, "codex")
    events = []
    for line in stdout.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events
