"""The control-plane simulator's platform API (DESIGN §3), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.cp_sim import PlatformServer, search_memories
from harness.cp_sim.platform import Memory, Peer
from harness.cp_sim.serving import ThreadedServer
from harness.events import PlatformCall

WORKSPACE = "ws-123"


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with PlatformServer(WORKSPACE) as platform:
        yield platform


def memories_url(server: PlatformServer, workspace: str = WORKSPACE) -> str:
    return f"{server.url}/workspaces/{workspace}/memories"


def test_binds_loopback_on_a_free_port(server: PlatformServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0


def register(server: PlatformServer, **extra: object) -> httpx.Response:
    """Register the way production runtimes do."""
    body = {"id": WORKSPACE, "url": "http://127.0.0.1:8000", "agent_card": {"name": "x"}}
    return httpx.post(f"{server.url}/registry/register", json={**body, **extra})


HEARTBEAT = {
    "workspace_id": WORKSPACE, "error_rate": 0.0, "sample_error": "", "active_tasks": 0,
    "current_task": "", "uptime_seconds": 12,
}  # fmt: skip


def test_unregistered_runtime_is_served_without_token(server: PlatformServer) -> None:
    created = httpx.post(memories_url(server), json={"content": "likes tea", "scope": "LOCAL"})
    assert created.status_code == 201
    assert set(created.json()) == {"id", "scope", "namespace"}
    found = httpx.get(memories_url(server), params={"q": "tea"}).json()
    # The platform's handler answers with the list itself, not a wrapper.
    assert isinstance(found, list)
    assert [m["content"] for m in found] == ["likes tea"]
    assert set(found[0]) == {"id", "content", "scope", "namespace", "created_at"}


def test_registration_takes_production_s_body(server: PlatformServer) -> None:
    response = register(server, configuration_status="ready", delivery_mode="push")
    assert response.status_code == 200
    assert set(response.json()) == {"auth_token"}
    assert server.state.registered()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"workspace_id": WORKSPACE, "url": "u", "agent_card": {}}, 400),  # the old field name
        ({"id": WORKSPACE, "agent_card": {}}, 400),
        ({"id": WORKSPACE, "url": "u", "agent_card": "card"}, 400),
        ({"id": "someone-else", "url": "u", "agent_card": {}}, 404),
    ],
)
def test_registration_body_is_validated(
    server: PlatformServer, body: dict[str, object], status: int
) -> None:
    assert httpx.post(f"{server.url}/registry/register", json=body).status_code == status
    assert not server.state.registered()


def test_after_registration_calls_need_the_bearer_token(server: PlatformServer) -> None:
    token = register(server).json()["auth_token"]
    assert httpx.post(memories_url(server), json={"content": "x y"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(memories_url(server), headers=wrong).status_code == 401
    good = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.post(memories_url(server), json={"content": "x y"}, headers=good).status_code == 201
    )
    heartbeat = f"{server.url}/registry/heartbeat"
    assert httpx.post(heartbeat, json=HEARTBEAT, headers=good).status_code == 200
    assert httpx.post(heartbeat, json=HEARTBEAT).status_code == 401


def test_heartbeat_body_is_validated(server: PlatformServer) -> None:
    heartbeat = f"{server.url}/registry/heartbeat"
    assert httpx.post(heartbeat, json=HEARTBEAT).status_code == 200
    assert httpx.post(heartbeat, json={**HEARTBEAT, "active_tasks": "two"}).status_code == 400
    assert httpx.post(heartbeat, json={"status": "online"}).status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("GET", f"/registry/{WORKSPACE}/peers", []),
        ("GET", f"/workspaces/{WORKSPACE}/delegations", []),
        ("POST", f"/workspaces/{WORKSPACE}/activity", {"status": "ok"}),
    ],
)
def test_other_production_calls_are_served_benignly(
    server: PlatformServer, method: str, path: str, answer: object
) -> None:
    response = httpx.request(method, server.url + path, json={"type": "boot"})
    assert (response.status_code, response.json()) == (200, answer)
    assert server.state.unserved() == []


def test_an_unserved_call_is_404_and_listed(server: PlatformServer) -> None:
    assert httpx.get(f"{server.url}/workspaces/{WORKSPACE}/skills").status_code == 404
    assert httpx.post(f"{server.url}/v2/whatever", json={}).status_code == 404
    assert server.state.unserved() == [
        "GET /workspaces/{workspace_id}/skills",
        "POST /v2/whatever",
    ]


def test_other_workspace_is_not_found(server: PlatformServer) -> None:
    assert httpx.get(memories_url(server, "someone-else")).status_code == 404
    assert server.state.unserved() == []  # served: the platform knows no such workspace


def test_empty_content_and_unknown_scope_are_rejected(server: PlatformServer) -> None:
    assert httpx.post(memories_url(server), json={"content": "  "}).status_code == 400
    assert httpx.post(memories_url(server), json={"text": "wrong field"}).status_code == 400
    assert httpx.post(memories_url(server), json={"content": "a", "scope": "ME"}).status_code == 400


@pytest.mark.parametrize("scope", ["LOCAL", "TEAM", "GLOBAL"])
def test_each_scope_is_stored(server: PlatformServer, scope: str) -> None:
    created = httpx.post(memories_url(server), json={"content": "a fact", "scope": scope})
    assert (created.status_code, created.json()["scope"]) == (201, scope)


def test_empty_query_returns_ten_most_recent(server: PlatformServer) -> None:
    for n in range(12):
        httpx.post(memories_url(server), json={"content": f"memory number {n}"})
    found = httpx.get(memories_url(server), params={"q": ""}).json()
    assert len(found) == 10
    assert found[0]["content"] == "memory number 11"


def test_scope_filters_search(server: PlatformServer) -> None:
    httpx.post(memories_url(server), json={"content": "team colour is red", "scope": "TEAM"})
    httpx.post(memories_url(server), json={"content": "my colour is blue", "scope": "LOCAL"})
    found = httpx.get(memories_url(server), params={"q": "colour", "scope": "local"}).json()
    assert [m["content"] for m in found] == ["my colour is blue"]


def test_search_ranks_phrase_then_shared_words() -> None:
    pool = [
        Memory("1", "the user likes green tea", "LOCAL", "ns", "t1"),
        Memory("2", "favourite colour is misty saffron", "LOCAL", "ns", "t2"),
        Memory("3", "colours of the office", "LOCAL", "ns", "t3"),
        Memory("4", "nothing relevant here", "LOCAL", "ns", "t4"),
    ]
    ranked = [m.id for m in search_memories(pool, "favourite colour", None)]
    assert ranked == ["2", "3"]
    assert search_memories(pool, "What is my favourite colour?", None)[0].id == "2"
    assert search_memories(pool, "spaceships", None) == []


def test_calls_are_recorded_without_tokens(server: PlatformServer) -> None:
    token = register(server).json()["auth_token"]
    httpx.post(
        memories_url(server), json={"content": "a b"}, headers={"Authorization": f"Bearer {token}"}
    )
    httpx.get(memories_url(server))
    calls = server.calls()
    assert [(c.method, c.status, c.auth) for c in calls] == [
        ("POST", 200, "open"),
        ("POST", 201, "ok"),
        ("GET", 401, "missing"),
    ]
    assert token not in repr(calls)


def test_every_call_reaches_the_recorder_and_issued_tokens_stay_out() -> None:
    recorded: list[PlatformCall] = []
    with PlatformServer(WORKSPACE, recorder=recorded.append) as server:
        token = register(server).json()["auth_token"]
        httpx.get(memories_url(server), headers={"Authorization": f"Bearer {token}"})
    assert [(c.method, c.path, c.status) for c in recorded] == [
        ("POST", "/registry/register", 200),
        ("GET", f"/workspaces/{WORKSPACE}/memories", 200),
    ]
    assert token not in repr(recorded)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/_harness/calls"), ("POST", "/_harness/upload"), ("POST", "/_harness/snapshot")],
)
def test_no_harness_side_door(server: PlatformServer, method: str, path: str) -> None:
    # Nothing a runtime can reach grants it a harness action.
    response = httpx.request(method, f"{server.url}{path}", json={"path": "/etc/passwd"})
    assert response.status_code == 404


# --- peers (peer_call): listed, discovered, and proxied as production does ---------------


class _PeerApp:
    """A peer's A2A endpoint: answers with what it got, headers included."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        request = Request(scope, receive)
        got = await request.json()
        answer = {"jsonrpc": "2.0", "id": got.get("id"), "result": {
            "kind": "message", "parts": [{"kind": "text", "text": "pong"}],
            "got": got, "caller": request.headers.get("x-workspace-id")}}  # fmt: skip
        await JSONResponse(answer)(scope, receive, send)


@pytest.fixture
def with_peer(server: PlatformServer) -> Iterator[tuple[PlatformServer, Peer]]:
    with ThreadedServer(_PeerApp(), "127.0.0.1", "peer") as peer_server:
        peer = Peer("ws-peer", "the peer", f"{peer_server.url}/", {"name": "the peer"}, 10.0)
        server.state.peers[peer.workspace_id] = peer
        server.state.platform_url = server.url
        yield server, peer


def test_peers_are_listed_and_discovered_at_the_platforms_proxy(
    with_peer: tuple[PlatformServer, Peer],
) -> None:
    server, peer = with_peer
    proxy = f"{server.url}/workspaces/{peer.workspace_id}/a2a"
    listed = httpx.get(f"{server.url}/registry/{WORKSPACE}/peers").json()
    assert [(p["id"], p["name"], p["url"]) for p in listed] == [("ws-peer", "the peer", proxy)]
    discover = f"{server.url}/registry/discover/ws-peer"
    found = httpx.get(discover, headers={"X-Workspace-ID": WORKSPACE})
    assert (found.status_code, found.json()["url"]) == (200, proxy)
    # As production: the caller must say who it is, and an unknown peer is not found.
    assert httpx.get(discover).status_code == 400
    unknown = httpx.get(f"{server.url}/registry/discover/ws-nobody",
                        headers={"X-Workspace-ID": WORKSPACE})  # fmt: skip
    assert unknown.status_code == 404
    assert server.state.unserved() == []


def test_a_call_to_the_peer_is_forwarded_whole_with_the_callers_workspace(
    with_peer: tuple[PlatformServer, Peer],
) -> None:
    server, peer = with_peer
    register(server)  # registered: the proxy still takes calls without the token
    ping = {"role": "user", "parts": [{"kind": "text", "text": "ping"}]}
    sent = {"jsonrpc": "2.0", "id": "7", "method": "message/send", "params": {"message": ping}}
    answer = httpx.post(f"{server.url}/workspaces/{peer.workspace_id}/a2a", json=sent)
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert (result["got"], result["caller"]) == (sent, WORKSPACE)
    recorded = [c for c in server.state.calls if c.path.endswith("/a2a")]
    assert [(c.method, c.body, c.response["result"]["parts"]) for c in recorded] == [
        ("POST", sent, [{"kind": "text", "text": "pong"}])
    ]


def test_a_peer_that_is_gone_is_a_bad_gateway(server: PlatformServer) -> None:
    server.state.peers["ws-gone"] = Peer("ws-gone", "gone", "http://127.0.0.1:9/", {}, 2.0)
    answer = httpx.post(f"{server.url}/workspaces/ws-gone/a2a", json={"jsonrpc": "2.0"})
    assert answer.status_code == 502
    assert "peer unreachable" in answer.json()["error"]
