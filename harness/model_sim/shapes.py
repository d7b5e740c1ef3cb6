"""The wire shapes the scripted model speaks: OpenAI Chat Completions and Responses, Anthropic.

Each API has a reader (request body → :class:`~harness.model_sim.oracle.Conversation`)
and a writer (decision → a JSON body, or the SSE events a streaming client expects).
Readers accept what frameworks really send: content as a string, null or a list of
parts; tool results as ``tool`` messages, ``tool_result`` blocks, or smolagents'
``Observation:`` text.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from harness.model_sim.oracle import Conversation, Decision, Message, Tool

Event = tuple[str | None, dict[str, Any]]
"""One SSE event: its ``event:`` name (None for OpenAI's unnamed ones) and its data."""


def _text(content: Any) -> str:
    """Text of a content field: a string, null, or a list of parts/blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "tool_result":
                    texts.append(_text(part.get("content")))
        return "\n".join(texts)
    return str(content)


def _tool_choice(raw: Any) -> str:
    if isinstance(raw, str):
        return {"any": "required"}.get(raw, raw)
    if isinstance(raw, dict):
        if raw.get("type") in ("function", "tool"):
            named = raw.get("name") or (raw.get("function") or {}).get("name")
            return str(named or "required")
        return {"any": "required"}.get(str(raw.get("type")), str(raw.get("type") or "auto"))
    return "auto"


def _usage(conversation: Conversation, text: str) -> tuple[int, int]:
    prompt = sum(len(m.text.split()) for m in conversation.messages) + 1
    return prompt, max(1, len(text.split()))


def _arguments_json(decision: Decision) -> str:
    return json.dumps(decision.arguments)


# --- OpenAI Chat Completions --------------------------------------------------------


def read_chat(body: dict[str, Any]) -> Conversation:
    """A Chat Completions request."""
    messages = []
    for message in body.get("messages") or []:
        calls = tuple(
            str((call.get("function") or {}).get("name"))
            for call in message.get("tool_calls") or []
            if isinstance(call, dict)
        )
        messages.append(Message(str(message.get("role")), _text(message.get("content")), calls))
    tools = tuple(
        Tool(
            str(fn.get("name")), dict(fn.get("parameters") or {}), str(fn.get("description") or "")
        )
        for fn in (t.get("function") or {} for t in body.get("tools") or [])
    )
    return Conversation(tuple(messages), tools, _tool_choice(body.get("tool_choice")))


def write_chat(decision: Decision, conversation: Conversation, model: str) -> dict[str, Any]:
    """A Chat Completions response body."""
    message: dict[str, Any] = {"role": "assistant", "content": decision.text}
    finish = "stop"
    if decision.tool is not None:
        message["tool_calls"] = [{
            "id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": decision.tool, "arguments": _arguments_json(decision)},
        }]  # fmt: skip
        finish = "tool_calls"
    prompt, completion = _usage(conversation, decision.text or "")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
        "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }  # fmt: skip


def stream_chat(
    decision: Decision, conversation: Conversation, model: str, include_usage: bool
) -> list[Event]:
    """Chat Completions SSE chunks: role, content or tool-call deltas, finish, usage."""
    full = write_chat(decision, conversation, model)
    base = {"id": full["id"], "object": "chat.completion.chunk", "created": full["created"],
            "model": model}  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [chunk({"role": "assistant", "content": ""})]
    if decision.tool is not None:
        call = full["choices"][0]["message"]["tool_calls"][0]
        arguments = call["function"]["arguments"]
        events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                              "function": {"name": decision.tool,
                                                           "arguments": ""}}]}))  # fmt: skip
        half = len(arguments) // 2  # arguments arrive in pieces, as real deltas do
        for piece in (arguments[:half], arguments[half:]):
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        for word in (decision.text or "").split(" "):
            events.append(chunk({"content": word + " "}))
    events.append(chunk({}, full["choices"][0]["finish_reason"]))
    if include_usage:
        events.append((None, {**base, "choices": [], "usage": full["usage"]}))
    return events


# --- OpenAI Responses --------------------------------------------------------------


def read_responses(body: dict[str, Any]) -> Conversation:
    """A Responses request (``input`` as a string or a list of items)."""
    raw = body.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
    messages = []
    if body.get("instructions"):
        messages.append(Message("system", str(body["instructions"])))
    for item in items:
        kind = item.get("type")
        if kind == "function_call":
            messages.append(Message("assistant", "", (str(item.get("name")),)))
        elif kind == "function_call_output":
            messages.append(Message("tool", _text(item.get("output"))))
        else:
            messages.append(Message(str(item.get("role", "user")), _text(item.get("content"))))
    tools = tuple(_responses_tools(body.get("tools") or []))
    return Conversation(tuple(messages), tools, _tool_choice(body.get("tool_choice")))


def _responses_tools(offered: list[Any], namespace: str = "") -> Iterator[Tool]:
    """The function tools of a Responses request, also those grouped in a ``namespace``
    (codex offers each MCP server's tools so: ``{"type": "namespace", "name": "mcp__x"}``)."""
    for tool in offered:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":
            yield from _responses_tools(tool.get("tools") or [], str(tool.get("name") or ""))
        elif tool.get("type") == "function":
            yield Tool(str(tool.get("name")), dict(tool.get("parameters") or {}),
                       str(tool.get("description") or ""), namespace)  # fmt: skip


def write_responses(decision: Decision, conversation: Conversation, model: str) -> dict[str, Any]:
    """A Responses response body."""
    output: list[dict[str, Any]]
    if decision.tool is not None:
        output = [{"type": "function_call", "id": f"fc_{uuid.uuid4().hex[:20]}",
                   "call_id": f"call_{uuid.uuid4().hex[:20]}", "name": decision.tool,
                   "arguments": _arguments_json(decision), "status": "completed"}]  # fmt: skip
        namespace = next((t.namespace for t in conversation.tools if t.name == decision.tool), "")
        if namespace:  # called as offered: the tool's name within its namespace
            output[0]["namespace"] = namespace
    else:
        output = [{"type": "message", "id": f"msg_{uuid.uuid4().hex[:20]}", "role": "assistant",
                   "status": "completed",
                   "content": [{"type": "output_text", "text": decision.text or "",
                                "annotations": []}]}]  # fmt: skip
    prompt, completion = _usage(conversation, decision.text or "")
    return {
        "id": f"resp_{uuid.uuid4().hex[:24]}", "object": "response", "created_at": int(time.time()),
        "status": "completed", "model": model, "output": output,
        "usage": {"input_tokens": prompt, "output_tokens": completion,
                  "total_tokens": prompt + completion},
    }  # fmt: skip


def _event(name: str, **data: Any) -> Event:
    """A named SSE event whose data repeats its name as ``type``, as these APIs do."""
    return name, {"type": name, **data}


def stream_responses(decision: Decision, conversation: Conversation, model: str) -> list[Event]:
    """Responses SSE: created, the output item with its deltas, completed."""
    full = write_responses(decision, conversation, model)
    item = full["output"][0]
    where = {"output_index": 0, "item_id": item["id"]}
    if decision.tool is not None:
        delta = _event("response.function_call_arguments.delta", **where, delta=item["arguments"])
    else:
        text = decision.text or ""
        delta = _event("response.output_text.delta", **where, content_index=0, delta=text)
    return [
        _event("response.created", response={**full, "status": "in_progress", "output": []}),
        _event("response.output_item.added", output_index=0, item=item),
        delta,
        _event("response.output_item.done", output_index=0, item=item),
        _event("response.completed", response=full),
    ]


# --- Anthropic Messages ----------------------------------------------------------------


def read_messages(body: dict[str, Any]) -> Conversation:
    """An Anthropic Messages request (tool results arrive as ``tool_result`` blocks)."""
    messages = []
    system = body.get("system")
    if system:
        messages.append(Message("system", _text(system)))
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
        calls = tuple(
            str(b.get("name"))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "tool_use"
        )
        if results:
            messages += [Message("tool", _text(b.get("content"))) for b in results]
            rest = [b for b in blocks if b not in results]
            if _text(rest):
                messages.append(Message(str(message.get("role")), _text(rest)))
            continue
        messages.append(Message(str(message.get("role")), _text(content), calls))
    tools = tuple(
        Tool(str(t.get("name")), dict(t.get("input_schema") or {}), str(t.get("description") or ""))
        for t in body.get("tools") or []
    )
    return Conversation(tuple(messages), tools, _tool_choice(body.get("tool_choice")))


def write_messages(decision: Decision, conversation: Conversation, model: str) -> dict[str, Any]:
    """An Anthropic Messages response body."""
    if decision.tool is not None:
        content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}",
                    "name": decision.tool, "input": decision.arguments}]  # fmt: skip
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": decision.text or ""}]
        stop = "end_turn"
    prompt, completion = _usage(conversation, decision.text or "")
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
        "model": model, "content": content, "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion},
    }  # fmt: skip


def stream_messages(decision: Decision, conversation: Conversation, model: str) -> list[Event]:
    """Anthropic's SSE sequence: message_start, content block start/delta/stop, message end."""
    full = write_messages(decision, conversation, model)
    block = full["content"][0]
    start = {**full, "content": [], "stop_reason": None}
    start["usage"] = {**full["usage"], "output_tokens": 0}
    if block["type"] == "tool_use":
        opened = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    else:
        opened = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": block["text"]}
    stop = {"stop_reason": full["stop_reason"], "stop_sequence": None}
    produced = {"output_tokens": full["usage"]["output_tokens"]}
    return [
        _event("message_start", message=start),
        _event("content_block_start", index=0, content_block=opened),
        _event("content_block_delta", index=0, delta=delta),
        _event("content_block_stop", index=0),
        _event("message_delta", delta=stop, usage=produced),
        _event("message_stop"),
    ]


def count_tokens(body: dict[str, Any]) -> dict[str, int]:
    """Anthropic's ``count_tokens``: a rough word count of the request."""
    prompt, _ = _usage(read_messages(body), "")
    return {"input_tokens": prompt}


# --- Google Gemini generateContent / streamGenerateContent ------------------------------


def _gemini_key(data: dict[str, Any], camel: str) -> Any:
    """A field in either spelling: the SDK dumps some objects camelCase, others snake_case."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return data.get(camel, data.get(snake))


def read_gemini(body: dict[str, Any]) -> Conversation:
    """A ``generateContent`` request: ``contents`` of user/model parts, function calls."""
    messages = []
    system = _gemini_key(body, "systemInstruction")
    if isinstance(system, dict):
        messages.append(Message("system", _text(system.get("parts"))))
    for content in body.get("contents") or []:
        role = "assistant" if content.get("role") == "model" else "user"
        parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
        calls = tuple(
            str(call.get("name"))
            for call in (_gemini_key(p, "functionCall") for p in parts)
            if isinstance(call, dict)
        )
        answers = [r for r in (_gemini_key(p, "functionResponse") for p in parts) if r]
        messages += [Message("tool", json.dumps(r.get("response"))) for r in answers]
        text = _text([p for p in parts if isinstance(p.get("text"), str)])
        if text or calls or not answers:
            messages.append(Message(role, text, calls))
    tools = []
    for group in body.get("tools") or []:
        for declared in _gemini_key(group, "functionDeclarations") or []:
            schema = declared.get("parameters") or _gemini_key(declared, "parametersJsonSchema")
            tools.append(Tool(str(declared.get("name")), dict(schema or {}),
                              str(declared.get("description") or "")))  # fmt: skip
    calling = _gemini_key(_gemini_key(body, "toolConfig") or {}, "functionCallingConfig") or {}
    mode = str(calling.get("mode") or "AUTO").upper()
    allowed = _gemini_key(calling, "allowedFunctionNames") or []
    choice = {"NONE": "none", "ANY": "required"}.get(mode, "auto")
    if choice == "required" and len(allowed) == 1:
        choice = str(allowed[0])
    return Conversation(tuple(messages), tuple(tools), choice)


def _gemini_part(decision: Decision) -> dict[str, Any]:
    if decision.tool is not None:
        return {"functionCall": {"name": decision.tool, "args": decision.arguments}}
    return {"text": decision.text or ""}


def _gemini_response(
    parts: list[dict[str, Any]], model: str, response_id: str, usage: tuple[int, int] | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model,
                            "responseId": response_id}  # fmt: skip
    if usage is not None:
        candidate["finishReason"] = "STOP"
        prompt, completion = usage
        body["usageMetadata"] = {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                                 "totalTokenCount": prompt + completion}  # fmt: skip
    return body


def write_gemini(decision: Decision, conversation: Conversation, model: str) -> dict[str, Any]:
    """A ``generateContent`` response body."""
    usage = _usage(conversation, decision.text or "")
    return _gemini_response([_gemini_part(decision)], model, uuid.uuid4().hex, usage)


def stream_gemini(decision: Decision, conversation: Conversation, model: str) -> list[Event]:
    """``streamGenerateContent?alt=sse``: text in pieces, the last chunk with finish and usage."""
    response_id = uuid.uuid4().hex
    usage = _usage(conversation, decision.text or "")
    if decision.tool is not None:
        return [(None, _gemini_response([_gemini_part(decision)], model, response_id, usage))]
    words = (decision.text or "").split(" ")
    pieces = [" ".join(words[: len(words) // 2]) + " ", " ".join(words[len(words) // 2 :])]
    return [
        (None, _gemini_response([{"text": piece}], model, response_id, None if i == 0 else usage))
        for i, piece in enumerate(pieces)
    ]
