"""peer_call, judged on what its real conversation recorded (DESIGN §4.1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canary import peer_call
from canary.evidence import NoEvidence
from tests.support.scripted import Answer, Got, fails, message, record

PEER = "ws-peer"
PEERS = "/registry/ws-0001/peers"
PROXY = f"/workspaces/{PEER}/a2a"
WORD = re.compile(r"the secret word for \w+ is (\w+)")


class Peer:
    """The peer: keeps what it is told to remember, answers the secret word when asked."""

    def __init__(self, *, recalls: bool = True) -> None:
        self.word = ""
        self.recalls = recalls

    def __call__(self, got: Got) -> str:
        told = WORD.search(got.text)
        if told:
            self.word = told.group(1)
            return "I'll remember that."
        if "secret word" in got.text and self.recalls:
            return f"The secret word is {self.word}."
        return "Hello!"


class Delegating:
    """The template: lists its peers and asks the first, through the platform's proxy."""

    def __init__(self, peer: Peer, *, send: str = "What is the secret word?",
                 relay: bool = True, call: bool = True, status: int = 200) -> None:  # fmt: skip
        self.peer, self.send, self.relay, self.call, self.status = peer, send, relay, call, status

    def __call__(self, got: Got) -> str:
        if "ask your peer" not in got.text:
            return "ok"
        got.platform("GET", PEERS, response=[{"id": PEER, "url": f"http://platform{PROXY}"}])
        if not self.call:
            return "I could not reach my peer."
        body = {"jsonrpc": "2.0", "id": "1", "method": "message/send",
                "params": {"message": {"role": "user", "parts": [
                    {"kind": "text", "text": self.send}]}}}  # fmt: skip
        answer = self.peer(Got(body, got.transcript, 0)) if self.status == 200 else "down"
        got.platform("POST", PROXY, status=self.status, body=body,
                     response={"jsonrpc": "2.0", "id": "1", "result": message(answer)})  # fmt: skip
        return f"My peer says: {answer}" if self.relay else "My peer answered."


def test_peer_call_passes_when_the_word_comes_back_through_the_proxy(tmp_path: Path) -> None:
    peer = Peer()
    evidence = record(tmp_path, ["peer_call"], Delegating(peer), peer=peer)
    peer_call.check(evidence)
    assert peer.word == evidence.token("peer_call", "word")
    (asked,) = evidence.turns("peer_call")
    assert asked.sent == peer_call.ASK.format(name=evidence.token("peer_call", "name"))


def test_peer_call_fails_at_call_when_no_peer_was_called(tmp_path: Path) -> None:
    peer = Peer()
    evidence = record(tmp_path, ["peer_call"], Delegating(peer, call=False), peer=peer)
    (asked,) = evidence.turns("peer_call")
    fails(peer_call.check, evidence, "peer:call", asked.line, "listed its peers but never")


def test_peer_call_fails_at_call_when_the_word_came_from_elsewhere(tmp_path: Path) -> None:
    # The reply holds the word without any call through the platform: a side channel
    # production does not have, not a delegation.
    peer = Peer()

    def knows(got: Got) -> str:
        return f"The secret word is {peer.word}." if "ask your peer" in got.text else "ok"

    evidence = record(tmp_path, ["peer_call"], knows, peer=peer)
    (asked,) = evidence.turns("peer_call")
    fails(peer_call.check, evidence, "peer:call", asked.line, "no call through the platform")


def test_peer_call_fails_at_call_when_the_proxied_call_failed(tmp_path: Path) -> None:
    peer = Peer()
    evidence = record(tmp_path, ["peer_call"], Delegating(peer, status=502), peer=peer)
    proxied = [line for line in evidence.platform_calls if line.event.path == PROXY]
    fails(peer_call.check, evidence, "peer:call", proxied[0].number, "answered 502")


def test_peer_call_fails_at_context_when_the_peer_was_not_asked_the_question(
    tmp_path: Path,
) -> None:
    peer = Peer()
    evidence = record(tmp_path, ["peer_call"], Delegating(peer, send="Hi there"), peer=peer)
    proxied = [line for line in evidence.platform_calls if line.event.path == PROXY]
    fails(peer_call.check, evidence, "peer:context", proxied[0].number, "'Hi there'")


def test_peer_call_fails_at_reply_when_the_answer_is_not_relayed(tmp_path: Path) -> None:
    peer = Peer()
    evidence = record(tmp_path, ["peer_call"], Delegating(peer, relay=False), peer=peer)
    proxied = [line for line in evidence.platform_calls if line.event.path == PROXY]
    fails(peer_call.check, evidence, "peer:reply", proxied[0].number, "does not relay")


def test_a_call_to_its_own_workspace_is_no_delegation(tmp_path: Path) -> None:
    peer = Peer()
    own = Delegating(peer)

    def to_itself(got: Got) -> str:
        if "ask your peer" in got.text:
            got.platform("POST", "/workspaces/ws-0001/a2a", body={},
                         response={"result": message(f"It is {peer.word}")})  # fmt: skip
            return f"It is {peer.word}."
        return own(got)

    evidence = record(tmp_path, ["peer_call"], to_itself, peer=peer)
    (asked,) = evidence.turns("peer_call")
    fails(peer_call.check, evidence, "peer:call", asked.line, "no call through the platform")


def test_peer_call_has_no_evidence_without_a_peer(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["peer_call"], Delegating(Peer()))
    with pytest.raises(NoEvidence, match="no peer was started"):
        peer_call.check(evidence)


def test_peer_call_has_no_evidence_when_the_peer_refused_the_word(tmp_path: Path) -> None:
    evidence = record(tmp_path, ["peer_call"], Delegating(Peer()),
                      peer=lambda got: Answer(500, "down"))  # fmt: skip
    with pytest.raises(NoEvidence, match="a problem of the peer"):
        peer_call.check(evidence)


def test_peer_call_has_no_evidence_when_the_peer_cannot_answer_itself(tmp_path: Path) -> None:
    # The control question: a peer that forgot the word says nothing about the template,
    # however it delegates.
    peer = Peer(recalls=False)
    evidence = record(tmp_path, ["peer_call"], Delegating(peer), peer=peer)
    with pytest.raises(NoEvidence, match="the peer itself does not answer"):
        peer_call.check(evidence)
