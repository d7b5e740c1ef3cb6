"""The control-plane simulator's platform API (DESIGN §3), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.cp_sim import PlatformServer, search_memories
from harness.cp_sim.platform import Memory

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


def test_unregistered_runtime_is_served_without_token(server: PlatformServer) -> None:
    created = httpx.post(memories_url(server), json={"content": "likes tea", "scope": "LOCAL"})
    assert created.status_code == 201
    assert set(created.json()) == {"id", "scope", "namespace"}
    found = httpx.get(memories_url(server), params={"q": "tea"}).json()
    assert found["success"] is True
    assert found["count"] == 1
    assert found["memories"][0]["content"] == "likes tea"


def test_after_registration_calls_need_the_bearer_token(server: PlatformServer) -> None:
    token = httpx.post(f"{server.url}/registry/register", json={"workspace_id": WORKSPACE}).json()[
        "auth_token"
    ]
    assert httpx.post(memories_url(server), json={"content": "x y"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(memories_url(server), headers=wrong).status_code == 401
    good = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.post(memories_url(server), json={"content": "x y"}, headers=good).status_code == 201
    )
    assert httpx.post(f"{server.url}/registry/heartbeat", json={}, headers=good).status_code == 200
    assert httpx.post(f"{server.url}/registry/heartbeat", json={}).status_code == 401


def test_other_workspace_is_not_found(server: PlatformServer) -> None:
    assert httpx.get(memories_url(server, "someone-else")).status_code == 404


def test_empty_content_is_rejected(server: PlatformServer) -> None:
    assert httpx.post(memories_url(server), json={"content": "  "}).status_code == 400
    assert httpx.post(memories_url(server), json={"text": "wrong field"}).status_code == 400


def test_empty_query_returns_ten_most_recent(server: PlatformServer) -> None:
    for n in range(12):
        httpx.post(memories_url(server), json={"content": f"memory number {n}"})
    found = httpx.get(memories_url(server), params={"q": ""}).json()
    assert found["count"] == 10
    assert found["memories"][0]["content"] == "memory number 11"


def test_scope_filters_search(server: PlatformServer) -> None:
    httpx.post(memories_url(server), json={"content": "team colour is red", "scope": "TEAM"})
    httpx.post(memories_url(server), json={"content": "my colour is blue", "scope": "LOCAL"})
    found = httpx.get(memories_url(server), params={"q": "colour", "scope": "local"}).json()
    assert [m["content"] for m in found["memories"]] == ["my colour is blue"]


def test_search_ranks_phrase_then_shared_words() -> None:
    pool = [
        Memory("1", "the user likes green tea", "LOCAL", "ns", 1.0),
        Memory("2", "favourite colour is misty saffron", "LOCAL", "ns", 2.0),
        Memory("3", "colours of the office", "LOCAL", "ns", 3.0),
        Memory("4", "nothing relevant here", "LOCAL", "ns", 4.0),
    ]
    ranked = [m.id for m in search_memories(pool, "favourite colour", None)]
    assert ranked == ["2", "3"]
    assert search_memories(pool, "What is my favourite colour?", None)[0].id == "2"
    assert search_memories(pool, "spaceships", None) == []


def test_calls_are_recorded_without_tokens(server: PlatformServer) -> None:
    token = httpx.post(f"{server.url}/registry/register", json={}).json()["auth_token"]
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
    assert token not in repr([c.body for c in calls[1:]])


def test_every_call_reaches_the_recorder_and_issued_tokens_stay_out(tmp_path: object) -> None:
    recorded: list[dict[str, object]] = []
    with PlatformServer(WORKSPACE, recorder=recorded.append) as server:
        token = httpx.post(f"{server.url}/registry/register", json={}).json()["auth_token"]
        httpx.get(memories_url(server), headers={"Authorization": f"Bearer {token}"})
    assert [(c["method"], c["path"], c["status"]) for c in recorded] == [
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
