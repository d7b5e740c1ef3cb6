"""Comparing a result file with the verdict a table row expects: the verdict tables' rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Expected = dict[str, str | tuple[str, str]]
"""By canary: an outcome, or (outcome, layer)."""


def differences(
    result: dict[str, Any],
    status: str,
    canaries: Mapping[str, str | tuple[str, str]],
    observed: Mapping[str, str],
    reason: str | None = None,
) -> list[str]:
    """Where a result differs from the expected verdict (empty: right), in words."""
    wrong = []
    if result["status"] != status:
        wrong.append(f"status {result['status']} ({result['reason']}), expected {status}")
    if reason and reason not in (result["reason"] or ""):
        wrong.append(f"reason {result['reason']!r} lacks {reason!r}")
    found = result["canaries"]
    for cid, expected in canaries.items():
        outcome, layer = expected if isinstance(expected, tuple) else (expected, None)
        got = found.get(cid, {})
        if got.get("outcome") != outcome or (layer and got.get("layer") != layer):
            wrong.append(
                f"{cid}: {got.get('outcome')}/{got.get('layer')} ({got.get('message')}), "
                f"expected {expected}"
            )
    for cid, seen in observed.items():
        if found.get(cid, {}).get("observed") != seen:
            wrong.append(f"{cid} observed {found.get(cid, {}).get('observed')}, not {seen}")
    return wrong
