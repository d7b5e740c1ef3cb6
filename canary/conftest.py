"""Fixtures of the canary suite: the runtime's handed-over info, clients, shared evidence.

Conversations that a canary and its layer diagnostic both read (``name_conversation``,
``memory_conversation``) are session fixtures; the harness runs xdist with
``--dist loadgroup`` and each pair shares an ``xdist_group``, so one worker holds
the conversation once and both tests judge the same evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from canary.runtime import RuntimeInfo, context_id, random_colour, random_name
from harness.cp_sim import A2AClient, PlatformClient, Reply, text_part


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "canary(id): the canary or diagnostic id this test decides")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the canaries the harness selected for this template."""
    selected = set(RuntimeInfo.from_env().selected)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("canary")
        (keep if marker and marker.args[0] in selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _canary_id(request: pytest.FixtureRequest) -> None:
    # The harness reads the id back from the report to fill results/<template>.json.
    marker = request.node.get_closest_marker("canary")
    if marker:
        request.node.user_properties.append(("canary", marker.args[0]))


@pytest.fixture(scope="session")
def runtime() -> RuntimeInfo:
    """The runtime under test, as the harness handed it over."""
    return RuntimeInfo.from_env()


@pytest.fixture(scope="session")
def a2a(runtime: RuntimeInfo) -> Iterator[A2AClient]:
    """The platform's A2A client for the runtime."""
    with A2AClient(runtime.a2a_url, timeout=runtime.turn_timeout) as client:
        yield client


@pytest.fixture(scope="session")
def platform(runtime: RuntimeInfo) -> Iterator[PlatformClient]:
    """The platform simulator's record and file service."""
    client = PlatformClient(runtime.platform_url, runtime.harness_token)
    yield client
    client.close()


@dataclass
class Turn:
    """One user turn and what came back."""

    context_id: str
    sent: str
    reply: Reply
    platform_calls_before: int = 0
    platform_calls_after: int = 0


@dataclass
class Conversation:
    """The evidence a canary and its diagnostic share."""

    token: str
    turns: list[Turn] = field(default_factory=list)

    @property
    def last(self) -> Turn:
        return self.turns[-1]


def say(a2a: A2AClient, platform: PlatformClient, ctx: str, text: str) -> Turn:
    """Send one text turn, noting where the platform's call record stood around it."""
    before = len(platform.calls())
    reply = a2a.send([text_part(text)], ctx)
    return Turn(ctx, text, reply, before, len(platform.calls()))


@pytest.fixture(scope="session")
def name_conversation(a2a: A2AClient, platform: PlatformClient) -> Conversation:
    """ctx A: introduce a random name, then ask for it."""
    name, ctx = random_name(), context_id()
    conversation = Conversation(token=name)
    conversation.turns.append(
        say(a2a, platform, ctx, f"Hi! My name is {name}. Please remember it.")
    )
    conversation.turns.append(say(a2a, platform, ctx, "What is my name?"))
    return conversation


@pytest.fixture(scope="session")
def memory_conversation(a2a: A2AClient, platform: PlatformClient) -> Conversation:
    """ctx D: state a random favourite colour; new ctx E: ask for it."""
    colour = random_colour()
    conversation = Conversation(token=colour)
    conversation.turns.append(
        say(
            a2a,
            platform,
            context_id(),
            f"Please remember for future conversations: my favourite colour is {colour}.",
        )
    )
    conversation.turns.append(say(a2a, platform, context_id(), "What is my favourite colour?"))
    return conversation
