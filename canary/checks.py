"""How canaries judge replies and word their failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import pytest

from harness.cp_sim import Reply, trim

if TYPE_CHECKING:
    from canary.conftest import Turn


def fail(request: pytest.FixtureRequest, layer: str, message: str) -> NoReturn:
    """Fail the test with a plain message (no traceback) and the layer it points at."""
    request.node.user_properties.append(("layer", layer))
    pytest.fail(message, pytrace=False)


FILE_ERROR_MARKERS = (
    "could not open", "couldn't open", "cannot open", "can't open", "unable to open",
    "could not read", "couldn't read", "cannot read", "can't read", "unable to read",
    "cannot access", "can't access", "unable to access", "no such file", "file not found",
    "outside my workspace", "permission denied",
)  # fmt: skip


def file_error(text: str) -> str | None:
    """The first phrase saying the runtime could not read the file, case-insensitively."""
    lowered = text.lower()
    return next((m for m in FILE_ERROR_MARKERS if m in lowered), None)


def dropped_marker(text: str, markers: tuple[str, ...]) -> str | None:
    """The first dropped-turn marker the reply contains, case-insensitively."""
    lowered = text.lower()
    return next((m for m in markers if m.lower() in lowered), None)


def require_reply(request: pytest.FixtureRequest, reply: Reply, sent: str, ctx: str) -> str:
    """The reply text, or a failure that says the turn itself failed."""
    if not reply.ok:
        fail(request, "wire", f"sent {trim(sent)!r} in context {ctx}: {reply.describe()}")
    return reply.text


def second_answer(request: pytest.FixtureRequest, turns: list[Turn]) -> str:
    """The reply to a two-turn conversation's question; both turns must have succeeded."""
    first, second = turns
    require_reply(request, first.reply, first.sent, first.context_id)
    return require_reply(request, second.reply, second.sent, second.context_id)
