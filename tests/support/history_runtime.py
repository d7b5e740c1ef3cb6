"""A runtime built for the platform's April 2026 chat: it keeps no session at all.

Written apart from the harness and the reference (Starlette, httpx): each ``message/send``
is answered from that message and the conversation so far the request carries in
``params.metadata.history``, as runtimes of that time read it. The ``contextId`` is
ignored. So it remembers a name only when the platform sends the history (dialect
``history``), and forgets it when it sends a context id instead (``context``). It answers
with a Message; files are read from the workspace, memories go through the platform.

Environment: ``HOST``, ``PORT``, ``WORKSPACE_ID``, ``PLATFORM_URL``, ``WORKSPACE_DIR``.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

WORKSPACE = Path(os.environ.get("WORKSPACE_DIR", "/workspace")).resolve()
MEMORIES = (
    f"{os.environ.get('PLATFORM_URL', '').rstrip('/')}"
    f"/workspaces/{os.environ.get('WORKSPACE_ID', 'history')}/memories"
)
CARD = {"name": "history-runtime", "version": "0.1.0", "protocolVersion": "0.3",
        "description": "rebuilds each conversation from the request's history"}  # fmt: skip

TOLD = re.compile(r"\bmy name is ([A-Za-z][\w-]*)", re.I)
ASKED = re.compile(r"\bwhat(?:'s| is) my name\b", re.I)
SAVE = re.compile(r"\bremember\b[^:]*:\s*(.+)", re.I | re.S)
COLOUR = re.compile(r"favou?rite colou?r is ([a-z][a-z ]*[a-z])", re.I)
ASK_COLOUR = re.compile(r"favou?rite colou?r\s*\?", re.I)
CODE = re.compile(r"reference code\s*:\s*(\w+)", re.I)


def earlier_user_texts(params: dict[str, Any]) -> list[str]:
    """What the user said earlier in this conversation, from ``metadata.history``."""
    history = (params.get("metadata") or {}).get("history") or []
    return [
        str(part.get("text", ""))
        for turn in history
        if isinstance(turn, dict) and turn.get("role") == "user"
        for part in turn.get("parts") or []
        if isinstance(part, dict) and "text" in part
    ]


def file_text(file: dict[str, Any]) -> tuple[str, str | None]:
    name = str(file.get("name") or "attachment")
    path = Path(str(file.get("uri", "")).removeprefix("workspace:")).resolve()
    if not path.is_relative_to(WORKSPACE) or not path.is_file():
        return name, None
    return name, path.read_text(encoding="utf-8", errors="replace")


async def answer(text: str, files: list[tuple[str, str | None]], earlier: list[str]) -> str:
    if files:
        name, content = files[0]
        if content is None:
            return f"{name} is not in my workspace."
        code = CODE.search(content)
        if "code" in text.lower() and code:
            found = code.group(1)
            return f"That code reads {found.upper() if 'uppercase' in text.lower() else found}."
        return f"{name} arrived: {len(content.splitlines())} lines. Tell me what to do with it."
    if told := TOLD.search(text):
        return f"Hello, {told.group(1)}."
    if ASKED.search(text):
        for said in reversed(earlier):
            if told := TOLD.search(said):
                return f"You are {told.group(1)}."
        return "You haven't said your name in what I was sent."
    async with httpx.AsyncClient(timeout=10) as platform:
        if (saved := SAVE.search(text)) and COLOUR.search(saved.group(1)):
            await platform.post(MEMORIES, json={"content": saved.group(1), "scope": "LOCAL"})
            return "Stored in the platform's memory."
        if ASK_COLOUR.search(text):
            listed = (await platform.get(MEMORIES, params={"q": "colour"})).json()
            for memory in listed:
                if colour := COLOUR.search(str(memory.get("content", ""))):
                    return f"The platform remembers: {colour.group(1)}."
            return "The platform remembers no colour."
    return "history-runtime here: tell me your name or send a file."


async def card(_: Request) -> JSONResponse:
    return JSONResponse(CARD)


async def rpc(request: Request) -> JSONResponse:
    call = await request.json()
    if call.get("method") != "message/send":
        error = {"code": -32601, "message": f"no method {call.get('method')!r}"}
        return JSONResponse({"jsonrpc": "2.0", "id": call.get("id"), "error": error})
    params = call.get("params") or {}
    message = params.get("message") or {}
    texts = [p.get("text", "") for p in message.get("parts", []) if p.get("kind") == "text"]
    files = [file_text(p.get("file") or {}) for p in message.get("parts", [])
             if p.get("kind") == "file"]  # fmt: skip
    reply = await answer(" ".join(texts).strip(), files, earlier_user_texts(params))
    result = {"kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
              "parts": [{"kind": "text", "text": reply}]}  # fmt: skip
    return JSONResponse({"jsonrpc": "2.0", "id": call.get("id"), "result": result})


app = Starlette(routes=[
    Route("/.well-known/agent-card.json", card),
    Route("/", rpc, methods=["POST"]),
])  # fmt: skip

if __name__ == "__main__":
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ["PORT"]))
