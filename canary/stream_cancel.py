"""stream_cancel: streams survive a closed tab, and a cancel cancels (DESIGN §4.1).

On a runtime whose agent card advertises streaming, in one context: a ``message/stream``
read to its end (events in a valid order: a task, status or message first, a terminal
state last); a second one the harness disconnects from after its first event, whose task
must still reach ``completed`` (``tasks/get``: not stuck, not canceled); then a
``message/send`` in the same context must answer and remember the first turn. In another
context a slow request is streamed, its task cancelled with ``tasks/cancel {id}`` (with a
scripted model: once the model has its request, which it answers only after the cancel,
with a tool call a cancelled turn must not follow): it must end ``canceled``, no model
request for it may start after the cancel, and the runtime must still answer a turn there.
The empty-params ``tasks/cancel`` the platform's Stop button sends is recorded, not judged.
It runs alone, so model requests after the cancel are its task's. Layers: ``stream:order``,
``stream:disconnect``, ``stream:next``, ``stream:cancel``, ``stream:wedged``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from canary.evidence import Evidence, NoEvidence, fail
from canary.name_recall import QUESTION
from canary.tokens import random_name
from canary.wire import LEGACY_CARD_PATH
from harness.cp_sim import Conversation, trim
from harness.cp_sim.a2a import FAILED_TASK_STATES
from harness.cp_sim.dialects import canonical_method
from harness.events import A2ACall, CanaryEnd, HttpGet, ModelCall, StreamCall

KIND = "canary"
ORDER = 8
SHORT = "strm"
USUAL = "task"
DEFAULT = False
ALONE = True
SLOW = "Please take your time over this one: think it through slowly, then say done."
AGAIN = "Are you still there?"
TERMINAL = frozenset({"completed", *FAILED_TASK_STATES})
POLL_S = 0.2
MODEL_WAIT_S = 30.0  # a CLI that starts a process per turn, on a loaded machine
CANCEL_GRACE_S = 2.0  # for the runtime to show the cancel in tasks/get before its model answers


def streams(card: Any) -> bool:
    """Whether an agent card advertises streaming."""
    capabilities = card.get("capabilities") if isinstance(card, dict) else None
    return isinstance(capabilities, dict) and capabilities.get("streaming") is True


STREAM_KINDS = {"task": "task", "message": "message", "statusUpdate": "status-update",
                "artifactUpdate": "artifact-update"}  # fmt: skip
"""A 1.0 stream event's one field, and the 0.3 ``kind`` of what it holds."""


def result_of(data: str, v1: bool = False) -> dict[str, Any] | None:
    """The ``result`` of one event's JSON-RPC response (None: an error or no object).

    ``v1``: an A2A 1.0 event, ``{"statusUpdate": {…}}`` and the like, read as the 0.3
    object it holds, its ``kind`` set.
    """
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict):
        return None
    if v1 and len(result) == 1:
        field, inner = next(iter(result.items()))
        if field in STREAM_KINDS and isinstance(inner, dict):
            return {**inner, "kind": STREAM_KINDS[field]}
    return result


def kind(result: dict[str, Any]) -> str:
    return str(result.get("kind") or result.get("type") or "")


def state(result: dict[str, Any]) -> str | None:
    """A task's or status update's state, in 0.3's words."""
    status = result.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        return None
    return str(status["state"]).lower().removeprefix("task_state_").replace("_", "-")


def task_id(result: dict[str, Any] | None) -> str | None:
    if result is None:
        return None
    found = result.get("id") if kind(result) == "task" else result.get("taskId")
    return str(found) if isinstance(found, str) and found else None


async def converse(talk: Conversation) -> None:
    """Stream, disconnect, send; then stream a slow request and cancel it."""
    card = None
    for path in dict.fromkeys((talk.settings.ready_path, LEGACY_CARD_PATH)):
        exchange = await talk.get(path)
        if exchange.status == 200:
            card = json.loads(exchange.body or b"null")
            break
    if not streams(card):
        return
    name = talk.token("name", random_name())
    chat = talk.new_context()
    await talk.stream(chat, f"Hi! My name is {name}. Please remember it.")
    first = await talk.stream(chat, QUESTION, events=1)
    await _until_done(talk, task_id(result_of(first[0], talk.dialect.v1)) if first else None)
    await talk.say(chat, QUESTION)
    slow = talk.new_context()
    with talk.holding_slow_answers() as hold:
        started = await talk.stream(slow, SLOW, events=1)
        task = task_id(result_of(started[0], talk.dialect.v1)) if started else None
        if task is not None:
            # Cancel while the model is on the request; hold its answer until the runtime
            # has shown it has the cancel (harness.model_sim.slow says why).
            on_it = hold is not None and await hold.arrived(MODEL_WAIT_S)
            during = " while the model was on its request" if on_it else ""
            await talk.call("tasks/cancel", {"id": task}, sent=f"tasks/cancel of {task}{during}")
            await _until_done(talk, task, CANCEL_GRACE_S)
    if task is not None and talk.last_state not in TERMINAL:
        await _until_done(talk, task)
    await talk.say(slow, AGAIN)
    await talk.call("tasks/cancel", {}, sent="tasks/cancel with empty params (the Stop button)")


async def _until_done(talk: Conversation, task: str | None, patience: float | None = None) -> None:
    """Ask ``tasks/get`` until the task is in a terminal state, or ``patience`` (default:
    the turn timeout) passed."""
    if task is None:
        return
    deadline = time.monotonic() + (talk.settings.turn_timeout if patience is None else patience)
    while time.monotonic() < deadline:
        await talk.call("tasks/get", {"id": task}, sent=f"tasks/get of {task}")
        if talk.last_state in TERMINAL:
            return
        await asyncio.sleep(POLL_S)


def check(evidence: Evidence) -> str:
    """Each step as the docstring says; observes ``task`` (a task lifecycle) or ``message``."""
    cards = [line for line in evidence.events("stream_cancel", HttpGet) if line.event.status == 200]
    if not cards:
        raise NoEvidence("no agent card (the wire diagnostic says why)")
    if not streams(json.loads(cards[0].event.body or "null")):
        raise NoEvidence("the agent card does not advertise streaming")
    streamed = evidence.events("stream_cancel", StreamCall)
    calls = evidence.events("stream_cancel", A2ACall)
    if len(streamed) < 3:
        raise NoEvidence("the stream_cancel conversation recorded fewer than three streams")
    full, dropped, slow = streamed[:3]
    results = _read(full, evidence.v1)
    if not results:
        fail("stream:order", f"{_said(full)}: no event ({full.event.error or full.event.body!r}; "
             f"{full.where})")  # fmt: skip
    if kind(results[0]) not in ("task", "status-update", "message"):
        fail("stream:order", f"{_said(full)}: the first event is a {kind(results[0])!r}, not a "
             f"task, status or message ({full.where})")  # fmt: skip
    last = results[-1]
    if kind(last) != "message" and state(last) not in TERMINAL:
        fail("stream:order", f"{_said(full)}: the stream ended in state {state(last)!r}, not a "
             f"terminal one ({full.where})")  # fmt: skip
    observed = "message"
    dropped_results = _read(dropped, evidence.v1)
    dropped_task = task_id(dropped_results[0]) if dropped_results else None
    if dropped_task is not None:
        observed = "task"
        final = _final_state(calls, dropped_task)
        if final != "completed":
            fail("stream:disconnect", f"after the harness closed the stream of {_said(dropped)} "
                 f"({dropped.where}), tasks/get says {dropped_task} is {final!r}, not "
                 "'completed'")  # fmt: skip
    sends = [c for c in evidence.turns("stream_cancel") if c.method == "message/send"]
    if len(sends) < 2:
        raise NoEvidence("the stream_cancel conversation recorded fewer than two sends")
    name = evidence.token("stream_cancel", "name")
    after = sends[0]
    text = after.answer()
    if name.lower() not in text.lower():
        fail("stream:next", f"asked {after.sent!r} in context {after.context_id} after the "
             f"streams; got {trim(text)!r}; expected {name!r} ({after.where})")  # fmt: skip
    _check_cancel(evidence, slow, calls)
    again = sends[1]
    failed = again.failure()
    if failed is not None:
        fail("stream:wedged", f"after the cancel, {failed[1]}")
    return observed


def _check_cancel(evidence: Evidence, slow: Any, calls: list[Any]) -> None:
    """The slow stream's task ended ``canceled``, and no model request for it followed."""
    slow_results = _read(slow, evidence.v1)
    slow_task = task_id(slow_results[0]) if slow_results else None
    if slow_task is None:
        return
    final = _final_state(calls, slow_task)
    if final != "canceled":
        fail("stream:cancel", f"{_said(slow)}, then tasks/cancel {slow_task}: tasks/get says "
             f"{final!r}, not 'canceled' ({slow.where})")  # fmt: skip
    cancel = next(c for c in calls if _method(c) == "tasks/cancel")
    ends = evidence.events("stream_cancel", CanaryEnd)
    # The model's first request for the slow turn may arrive after the cancel's answer (sent
    # just before the runtime had the cancel); any other was started after the runtime had
    # it, as the model held its answer until then.
    models = evidence.of(ModelCall)
    first = [m.number for m in models if SLOW in m.event.last_user_text()][:1]
    late = [m for m in models
            if m.number > cancel.number and (not ends or m.number < ends[-1].number)
            and AGAIN not in m.event.last_user_text() and m.number not in first]  # fmt: skip
    if late:
        fail("stream:cancel", f"a model request started after tasks/cancel {slow_task} "
             f"({cancel.where}): {late[0].where}")  # fmt: skip


def _read(line: Any, v1: bool) -> list[dict[str, Any]]:
    return [r for r in (result_of(data, v1) for data in line.event.events) if r is not None]


def _method(line: Any) -> str:
    """A recorded call's method by its 0.3 name."""
    return canonical_method(str(line.event.request.get("method", "")))


def _said(line: Any) -> str:
    return f"streamed {trim(line.event.sent)!r} in context {line.event.context_id}"


def _final_state(calls: list[Any], task: str) -> str | None:
    """The state the last ``tasks/get`` of a task answered."""
    found = None
    for line in calls:
        request = line.event.request
        if _method(line) != "tasks/get" or (request.get("params") or {}).get("id") != task:
            continue
        result = result_of(line.event.body or "")
        found = state(result) if result else f"no task ({trim(line.event.body or '', 120)})"
    return found
