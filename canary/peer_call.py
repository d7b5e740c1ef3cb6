"""peer_call: a question delegated to a peer workspace comes back answered (DESIGN §4.1).

The template's peer (another runtime, the ``peer`` key) is told directly, in a context of
its own: "Please remember for future conversations: the secret word for {NAME} is {WORD}.",
and asked in another context what it is (the control: a peer that cannot answer itself
says nothing about the template). Then the template is asked "Please ask your peer agent
what the secret word for {NAME} is, and tell me what it says." Its platform lists the peer
under ``GET /registry/{id}/peers`` and proxies ``POST /workspaces/{peer}/a2a`` to it.
Passes when the reply holds WORD and the transcript shows, during that turn, a proxied
call whose answer held it: the word exists nowhere else the template could reach. The
name keys the word, so templates sharing one peer never read each other's. Layers:
``peer:call`` (no call through the platform reached the peer), ``peer:context`` (the peer
was called, but what it was sent did not let it answer), ``peer:reply`` (the peer answered
with the word, the reply does not relay it).
"""

from __future__ import annotations

import json

from canary.evidence import Evidence, NoEvidence, fail, request_texts
from canary.tokens import random_name, random_word
from harness.cp_sim import Conversation, trim
from harness.cp_sim.platform import proxy_target
from harness.events import PeerTold, PlatformCall

KIND = "canary"
ORDER = 9
SHORT = "peer"
DEFAULT = False
TELL = "Please remember for future conversations: the secret word for {name} is {word}."
CONTROL = "What is the secret word for {name}?"
ASK = "Please ask your peer agent what the secret word for {name} is, and tell me what it says."


async def converse(talk: Conversation) -> None:
    """Tell the peer a word, then ask the template to ask its peer for it."""
    if not talk.has_peer:
        return  # the check says why: nothing was started to delegate to
    name, word = talk.token("name", random_name()), talk.token("word", random_word())
    await talk.tell_peer(TELL.format(name=name, word=word))
    await talk.tell_peer(CONTROL.format(name=name))
    await talk.say(talk.new_context(), ASK.format(name=name))


def proxied_to_peer(call: PlatformCall, own_workspace: str) -> bool:
    """A ``POST /workspaces/{id}/a2a`` to another workspace than the caller's."""
    target = proxy_target(call.method, call.path)
    return target is not None and target != own_workspace


def check(evidence: Evidence) -> None:
    """The reply holds the peer's word, and it came through the platform's proxy."""
    told = evidence.events("peer_call", PeerTold)
    if not told:
        raise NoEvidence("no peer was started for this template, so nothing could be delegated")
    word = evidence.token("peer_call", "word").lower()
    for line in told:
        if line.event.status != 200 or line.event.error:
            raise NoEvidence(f"the peer failed {line.event.sent!r} (status {line.event.status}, "
                             f"{line.event.error or 'no error'}): a problem of the peer, "
                             f"not of this template ({line.where})")  # fmt: skip
    control = told[-1]
    if word not in control.event.body_bytes().decode("utf-8", "replace").lower():
        raise NoEvidence(f"the peer itself does not answer {control.event.sent!r} with "
                         f"{word!r}: a problem of the peer, not of this template "
                         f"({control.where})")  # fmt: skip
    (asked,) = evidence.first_turns("peer_call", 1)
    text = asked.answer().lower()
    during = [line for line in evidence.platform_calls if asked.turn in line.event.turns]
    proxied = [line for line in during
               if proxied_to_peer(line.event, evidence.header.workspace_id)]  # fmt: skip
    answered = [line for line in proxied
                if word in json.dumps(line.event.response).lower()]  # fmt: skip
    said = f"asked {asked.sent!r} in context {asked.context_id}; got {trim(asked.reply.text)!r}"
    if word in text and answered:
        return
    if word in text and proxied:
        fail("peer:call", f"{said}: the reply holds {word!r}, yet no answer from the peer "
             f"through the platform held it ({proxied[0].where})")  # fmt: skip
    if not proxied:
        listed = any(line.event.path.rstrip("/").endswith("/peers") for line in during)
        how = "it listed its peers but never called one" if listed else (
            "it never listed its peers nor called one")  # fmt: skip
        if word in text:
            how = f"the reply holds {word!r}, yet no call through the platform reached the peer"
        fail("peer:call", f"{said}: {how} (POST /workspaces/<peer>/a2a) ({asked.where})")
    if not answered:
        first = proxied[0]
        if first.event.status != 200:
            fail("peer:call", f"{said}: the proxied call to the peer answered "
                 f"{first.event.status} ({first.where})")  # fmt: skip
        fail("peer:context", f"{said}: the peer was sent {_sent(first.event)!r} and did not "
             f"answer with the word ({first.where})")  # fmt: skip
    fail("peer:reply", f"{said}: the peer answered with {word!r}, the reply does not relay it "
         f"({answered[0].where})")  # fmt: skip


def _sent(call: PlatformCall) -> str:
    """The text parts of the JSON-RPC message the runtime sent its peer."""
    body = call.body if isinstance(call.body, dict) else {}
    texts = [text for text in request_texts(body) if text]
    return trim(" ".join(texts)) if texts else trim(json.dumps(body))
