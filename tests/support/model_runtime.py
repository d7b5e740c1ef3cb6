"""A runtime that thinks with a model: it sends each conversation's history to an
OpenAI-compatible endpoint (``$OPENAI_BASE_URL``) and answers with what comes back.

Standard library only; it never imports the harness. ``MODEL_RUNTIME_FAULT=no_history``
sends only the latest message, the bug of a runtime that lost its checkpointer. A model
request that fails (``MODEL_RUNTIME_TIMEOUT`` seconds, 30 unless set) is answered as its
error's text, as many runtimes answer their exceptions.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BASE_URL = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
KEY = os.environ.get("OPENAI_API_KEY", "")
NO_HISTORY = os.environ.get("MODEL_RUNTIME_FAULT") == "no_history"
TIMEOUT_S = float(os.environ.get("MODEL_RUNTIME_TIMEOUT") or 30)
HISTORY: dict[str, list[dict[str, str]]] = {}
LOCK = threading.Lock()
CARD = {"name": "model-runtime", "version": "0.1", "protocolVersion": "0.3.0"}


def complete(messages: list[dict[str, str]]) -> str:
    body = json.dumps({"model": "any", "messages": messages}).encode()
    request = urllib.request.Request(f"{BASE_URL}/chat/completions", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {KEY}")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        answer: dict[str, Any] = json.load(response)
    return str(answer["choices"][0]["message"]["content"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(CARD if self.path.startswith("/.well-known/") else {"error": "no"}, 200
                   if self.path.startswith("/.well-known/") else 404)  # fmt: skip

    def do_POST(self) -> None:
        rpc = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if rpc.get("method") != "message/send":
            error = {"code": -32601, "message": "Method not found"}
            self._send({"jsonrpc": "2.0", "id": rpc.get("id"), "error": error})
            return
        message = rpc["params"]["message"]
        context = str(message.get("contextId") or uuid.uuid4())
        text = " ".join(p["text"] for p in message["parts"] if p.get("kind") == "text")
        with LOCK:
            history = HISTORY.setdefault(context, [])
            history.append({"role": "user", "content": text})
            sent = history[-1:] if NO_HISTORY else list(history)
        try:
            answer = complete(sent)
        except OSError as exc:  # urllib's URLError and timeouts alike
            answer = f"Error: {exc}"
        with LOCK:
            history.append({"role": "assistant", "content": answer})
        result = {"kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
                  "contextId": context, "parts": [{"kind": "text", "text": answer}]}  # fmt: skip
        self._send({"jsonrpc": "2.0", "id": rpc.get("id"), "result": result})


if __name__ == "__main__":
    address = (os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000")))
    print(f"model-runtime on {address[0]}:{address[1]} model {BASE_URL}", flush=True)
    ThreadingHTTPServer(address, Handler).serve_forever()
