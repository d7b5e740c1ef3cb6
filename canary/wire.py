"""wire: the agent card answers; the platform's sends are taken; an unknown method is -32601.

DESIGN §4: the card is served (or at the legacy path); every ``message/send`` the
canaries made was answered in a shape the platform reads (a -32601/-32602 there means
the runtime does not accept the platform's 0.3 ``message/send``); an unknown method
gets -32601 with ``jsonrpc`` and ``id`` echoed. A turn that fails at layer ``wire``
in any canary fails here too, so this diagnostic and the canaries never disagree; a
turn the runtime took and failed (-32603, a 5xx, no reply in time) is layer
``runtime`` and not this diagnostic's business.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from canary.evidence import SEND_METHOD, Evidence, NoEvidence, fail
from harness.cp_sim import Conversation
from harness.cp_sim.a2a import BODY_EXCERPT_BYTES, WIRE
from harness.events import A2ACall, HttpGet

KIND = "diagnostic"
ORDER = 1
SHORT = "wire"
EXPLAINS = None
LEGACY_CARD_PATH = "/.well-known/agent.json"
UNKNOWN_METHOD = "canary/noSuchMethod"


async def converse(talk: Conversation) -> None:
    """Fetch the card (falling back to the legacy path), then call an unknown method."""
    for path in dict.fromkeys((talk.settings.ready_path, LEGACY_CARD_PATH)):
        if (await talk.get(path)).status == 200:
            break
    envelope = {"jsonrpc": "2.0", "id": f"canary-{uuid.uuid4()}", "method": UNKNOWN_METHOD,
                "params": {}}  # fmt: skip
    await talk.rpc(envelope, sent=f"JSON-RPC method {UNKNOWN_METHOD!r}")


def check(evidence: Evidence) -> None:
    """Card served, -32601 for an unknown method, envelope echoed."""
    cards = evidence.events("wire", HttpGet)
    if not any(line.event.status == 200 for line in cards):
        statuses = {line.event.path: line.event.status or line.event.error for line in cards}
        where = f" ({cards[-1].where})" if cards else ""
        gone = cards and evidence.gone_by(cards[-1].number, lost=cards[-1].event.status is None)
        if gone:  # the card went with the runtime: not a wire fault
            fail("runtime", f"no agent card: {statuses}{where}; {gone}")
        fail("wire", f"no agent card: {statuses}{where}")
    for turn in evidence.every_turn():
        failed = turn.failure()
        if turn.method == SEND_METHOD and failed is not None and failed[0] == WIRE:
            fail("wire", f"the {turn.canary} conversation's message/send: {failed[1]}")
    calls = evidence.turns("wire")
    if not calls:
        raise NoEvidence("the wire conversation recorded no JSON-RPC call")
    call = calls[0]
    recorded = next(line.event for line in evidence.events("wire", A2ACall)
                    if line.number == call.line)  # fmt: skip
    body = recorded.body_bytes()
    excerpt = body[:BODY_EXCERPT_BYTES].decode("utf-8", "replace")
    status = recorded.status
    if status is None:
        gone = f"; {call.runtime_gone}" if call.runtime_gone else ""
        fail(
            "runtime" if gone else "wire", f"unknown method: {recorded.error} ({call.where}){gone}"
        )
    try:
        payload: Any = json.loads(body)
    except ValueError:
        fail("wire", f"unknown method: HTTP {status}, body is not JSON: {excerpt!r} ({call.where})")
    if not isinstance(payload, dict):
        fail("wire", f"unknown method: answer is not a JSON-RPC object: {excerpt!r} ({call.where})")
    problems = []
    error = payload.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if code != -32601:
        problems.append(f"error code {code!r} instead of -32601")
    if payload.get("jsonrpc") != "2.0":
        problems.append(f"jsonrpc {payload.get('jsonrpc')!r} instead of '2.0'")
    request_id = call.request.get("id")
    if payload.get("id") != request_id:
        problems.append(f"id {payload.get('id')!r} instead of the request's {request_id!r}")
    if problems:
        fail("wire", f"unknown method: {'; '.join(problems)}: {excerpt!r} ({call.where})")
