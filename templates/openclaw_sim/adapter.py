"""OpenClaw (the ``openclaw`` npm package) as the platform's openclaw adapter wires it.

A long-lived ``openclaw gateway`` is started once, when the adapter starts, on a loopback
port with a token of its own; each turn is one request to the gateway's OpenAI-compatible
endpoint (``/v1/chat/completions``, enabled in its config) with the context's key as the
conversation's ``user``, so the gateway keeps one session per A2A context and its own
transcript is the history. (A CLI start per turn, ``openclaw agent``, spent 9 s of every
turn starting Node and the CLI, and ``--local`` 20 s and more preparing its embedded agent
from cold; the gateway prepares once, and a warm-up turn that reaches no model loads its
agent runtime before the first real turn.) The model is a ``models.providers.sim`` entry for
the Chat Completions API at ``OPENAI_BASE_URL``. The platform's memory and peer tools come
from an MCP server over stdio (``platform_mcp.py``, one per session); of OpenClaw's own
tools only ``read`` is on (attachments are passed as paths), and Tool Search is off, so
the model is offered the tools themselves. The system prompt the platform renders goes
into the agent workspace's ``AGENTS.md``, which OpenClaw injects into its own. Its
bundled plugins, update checks, model-catalog refresh, Bonjour, cron and heartbeat are
off: a runtime under test reaches nothing but the model and the platform. Its state is in
the workspace. Cancelling a turn closes its request, which aborts the gateway's run.
``OPENCLAW_FAULT=session_per_message`` keys the session by the message instead (a new key
every turn, as a task id is), the production mistake of an adapter that passed the task
id as the session id.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import platform_api
import platform_mcp

NAME = "openclaw template"
DESCRIPTION = "OpenClaw gateway with the platform's memory and peer tools"
ATTACHMENTS_AS_PATHS = True
SESSION_PER_MESSAGE = os.environ.get("OPENCLAW_FAULT", "") == "session_per_message"
MODEL = os.environ.get("OPENCLAW_MODEL", "canary-sim")
HOME = platform_api.WORKSPACE / ".openclaw-home"
AGENT_WORKSPACE = HOME / "agent"
TOKEN_FILE = HOME / "platform-token"
GATEWAY_START_S = float(os.environ.get("OPENCLAW_GATEWAY_START_S", "240"))
TURN_TIMEOUT_S = 300.0  # the harness's turn timeout is shorter: it gives up first
MCP_START_MS = 120_000  # a Python start on a loaded machine
MCP_CALL_MS = 150_000  # delegate_task waits up to 120 s for the peer
PR_SET_PDEATHSIG = 1
WARM_UP_PROVIDER = "no-model"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the gateway's process, before it runs: killed when the adapter dies, even by
    SIGKILL (its own process group keeps it out of the signals the runtime's group gets)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Gateway:
    """The gateway process, its address and token, and one turn at a time per session."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.locks: dict[str, asyncio.Lock] = {}
        self.prompt = ""
        self.token_written = ""
        AGENT_WORKSPACE.mkdir(parents=True, exist_ok=True)
        (HOME / ".openclaw").mkdir(parents=True, exist_ok=True)
        (HOME / ".openclaw" / "openclaw.json").write_text(json.dumps(self.config(), indent=1))
        self.write_prompt()
        self.env = {
            **os.environ, "HOME": str(HOME), "OPENCLAW_HOME": str(HOME), "NO_COLOR": "1",
            "FORCE_COLOR": "0", "OPENCLAW_NO_AUTO_UPDATE": "1", "OPENCLAW_DISABLE_BONJOUR": "1",
        }  # fmt: skip
        # Started before the server has threads: preexec_fn is safe here.
        self.process = subprocess.Popen(
            ["openclaw", "gateway", "--port", str(self.port)], env=self.env,
            cwd=platform_api.WORKSPACE, stdin=subprocess.DEVNULL, stdout=sys.stderr,
            stderr=sys.stderr, start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        atexit.register(self.stop)
        self.wait_ready()
        self.warm_up()

    def config(self) -> dict[str, Any]:
        """OpenClaw's ``openclaw.json``: the scripted model, the gateway, the platform's MCP
        server, and nothing that looks anything up online."""
        model = {"id": MODEL, "name": MODEL, "reasoning": False, "input": ["text"],
                 "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                 "contextWindow": 128_000, "maxTokens": 8192}  # fmt: skip
        mcp = {
            "command": sys.executable, "args": [str(Path(platform_mcp.__file__).resolve())],
            # The token comes with the registration, after the gateway has started.
            "env": {**platform_mcp.child_env(), "PLATFORM_TOKEN_FILE": str(TOKEN_FILE)},
            "connectionTimeoutMs": MCP_START_MS, "requestTimeoutMs": MCP_CALL_MS,
        }  # fmt: skip
        return {
            "agents": {"defaults": {
                "model": {"primary": f"sim/{MODEL}"}, "workspace": str(AGENT_WORKSPACE),
                "skipBootstrap": True, "heartbeat": {"every": "0m"},
            }},
            "models": {"mode": "merge", "catalogRefresh": {"enabled": False}, "providers": {
                "sim": {"baseUrl": os.environ.get("OPENAI_BASE_URL", ""),
                        "apiKey": os.environ.get("OPENAI_API_KEY", "sim"),
                        "api": "openai-completions", "models": [model]},
                # No model behind it: the gateway's own port answers 404 (see warm_up).
                WARM_UP_PROVIDER: {"baseUrl": f"{self.origin}/no-model/v1", "apiKey": "none",
                                   "api": "openai-completions", "models": [model]},
            }},
            "gateway": {"mode": "local", "bind": "loopback", "port": self.port,
                        "auth": {"mode": "token", "token": self.token},
                        "http": {"endpoints": {"chatCompletions": {"enabled": True}}},
                        # Its web UI's assets took 13 s of CPU just after start, the
                        # first turn's time.
                        "controlUi": {"enabled": False}},
            # No store cleanup in a run of minutes (its first pass held the first turn up
            # 16 s), no notice of each new session to the agent's home conversation.
            "session": {"notifyOnCreate": False, "maintenance": {
                "mode": "warn", "maxDiskBytes": False, "archiveDashboardAfter": False}},
            # Its own tools but ``read`` off, the MCP server's on; each offered as itself,
            # not behind a tool search.
            "tools": {"profile": "coding", "allow": ["read", "bundle-mcp"],
                      "toolSearch": False},
            "mcp": {"servers": {"platform": mcp}},
            # Off: the bundled plugins (browser, canvas, memory-core, …: 5 s of every start),
            # and every lookup a machine without a network would wait for.
            "plugins": {"enabled": False},
            "update": {"checkOnStart": False},
            "discovery": {"mdns": {"mode": "off"}},
            "cron": {"enabled": False},
            "logging": {"file": str(HOME / "openclaw.log")},
        }  # fmt: skip

    def write_prompt(self) -> None:
        """The platform's system prompt, where OpenClaw reads its instructions (rendered per
        turn: the peers and skills may have changed since the last)."""
        prompt = platform_api.system_prompt()
        if prompt != self.prompt:
            platform_api.write_whole(AGENT_WORKSPACE / "AGENTS.md", prompt + "\n")
            self.prompt = prompt

    def wait_ready(self) -> None:
        """Until the gateway answers on its HTTP endpoint (the A2A server starts after)."""
        deadline = time.monotonic() + GATEWAY_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the openclaw gateway exited ({self.process.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                # Ready, not only listening: its start-up work would slow the first turn.
                if httpx.get(f"{self.origin}/readyz", timeout=5).is_success:
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the openclaw gateway did not start within {GATEWAY_START_S:.0f} s")

    def warm_up(self) -> None:
        """One turn that reaches no model, before the first real one: the gateway loads its
        agent runtime on its first turn (20-35 s of CPU on 2 cores), which every canary's
        first turn waited for. Its model is a provider with no model behind it, so the turn
        fails at its first request, quickly, and in a session of its own."""
        started = time.monotonic()
        body = {"model": "openclaw/default", "user": "warm-up",
                "messages": [{"role": "user", "content": "warm-up"}]}  # fmt: skip
        headers = {**self.headers, "x-openclaw-model": f"{WARM_UP_PROVIDER}/{MODEL}"}
        try:
            status = httpx.post(f"{self.url}/chat/completions", json=body, headers=headers,
                                timeout=GATEWAY_START_S).status_code  # fmt: skip
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        took = time.monotonic() - started
        print(f"[adapter] gateway warmed up in {took:.1f} s ({status}, no model)", file=sys.stderr)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        """The gateway and what it started (the MCP servers), as a process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def build() -> Gateway:
    """The server calls this once at start."""
    return Gateway()


async def answer(gateway: Gateway, context_id: str, text: str) -> str:
    """One turn: a request to the gateway in the context's session."""
    key = f"msg-{uuid.uuid4()}" if SESSION_PER_MESSAGE else f"ctx-{context_id}"
    lock = gateway.locks.setdefault(key, asyncio.Lock())
    async with lock:
        token = platform_api.TOKEN.get("value", "")
        if token and gateway.token_written != token:  # for the MCP servers sessions start
            platform_api.write_whole(TOKEN_FILE, token)
            gateway.token_written = token
        gateway.write_prompt()
        body = {"model": "openclaw/default", "user": key,
                "messages": [{"role": "user", "content": text}]}  # fmt: skip
        # A cancelled turn closes the request: the gateway then aborts its run.
        async with httpx.AsyncClient(timeout=TURN_TIMEOUT_S) as client:
            response = await client.post(
                f"{gateway.url}/chat/completions", json=body, headers=gateway.headers
            )
        return _reply(response)


def _reply(response: httpx.Response) -> str:
    """The assistant's text, or why there is none."""
    try:
        found = response.json()
    except ValueError:
        found = None
    choices = found.get("choices") if isinstance(found, dict) else None
    if response.is_success and isinstance(choices, list) and choices:
        message = choices[0].get("message") or {}
        return str(message.get("content") or "(no reply)")
    return f"(the gateway failed: {response.status_code} {response.text[:300]})"
