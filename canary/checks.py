"""How canaries judge replies and word their failures."""

from __future__ import annotations

from typing import NoReturn

import pytest

from harness.cp_sim import Reply, trim


def fail(request: pytest.FixtureRequest, layer: str, message: str) -> NoReturn:
    """Fail the test with a plain message (no traceback) and the layer it points at."""
    request.node.user_properties.append(("layer", layer))
    pytest.fail(message, pytrace=False)


def dropped_marker(text: str, markers: tuple[str, ...]) -> str | None:
    """The first dropped-turn marker the reply contains, case-insensitively."""
    lowered = text.lower()
    return next((m for m in markers if m.lower() in lowered), None)


def require_reply(request: pytest.FixtureRequest, reply: Reply, sent: str, ctx: str) -> str:
    """The reply text, or a failure that says the turn itself failed."""
    if not reply.ok:
        fail(request, "wire", f"sent {trim(sent)!r} in context {ctx}: {reply.describe()}")
    return reply.text
