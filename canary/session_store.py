"""session_store: the declared session store holds an entry for name_recall's context.

Where the template declares ``probe.session_store`` (a path in the runtime's
filesystem) and ``probe.key`` (how an entry's key derives from ``{workspace_id}``
and ``{context_id}``), the store is copied into the artifacts after name_recall's
conversation and must hold the key, in a file name or in a file's content.
"""

from __future__ import annotations

from pathlib import Path

from canary.evidence import Evidence, NoEvidence, fail
from harness.cp_sim import Conversation
from harness.events import Snapshot

KIND = "diagnostic"
ORDER = 3
SHORT = "stor"
EXPLAINS = "name_recall"


async def follow_up(talk: Conversation) -> None:
    """Copy the declared store out of the runtime."""
    store = talk.settings.probe_store
    if store:
        await talk.snapshot(store)


def _holds_key(root: Path, key: str) -> bool:
    needle = key.encode()
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    return any(key in p.name or needle in p.read_bytes() for p in files)


def check(evidence: Evidence) -> None:
    """The store exists and holds the context's key."""
    store, pattern = evidence.header.probe_store, evidence.header.probe_key
    if not store or not pattern:
        raise NoEvidence("the template declares no probe.session_store")
    if not evidence.dialect.sends_context:
        raise NoEvidence(f"dialect {evidence.dialect.name} sends no contextId to key it by")
    turns = evidence.turns("name_recall")
    if not turns or not all(turn.reply.ok for turn in turns):
        raise NoEvidence("no evidence: name_recall's turns did not all get a reply")
    context = turns[-1].context_id
    key = pattern.format(workspace_id=evidence.header.workspace_id, context_id=context)
    snapshots = evidence.events("session_store", Snapshot)
    if not snapshots:
        raise NoEvidence("the session store was not copied")
    line = snapshots[-1]
    snapshot = line.event
    if snapshot.error:
        fail("session", f"could not copy {store}: {snapshot.error} ({line.where})")
    if snapshot.copy is None:
        fail("session", f"the session store {store} does not exist in the runtime ({line.where})")
    copy = evidence.root / snapshot.copy
    if not copy.exists():
        raise NoEvidence(f"the copy of the session store is missing: {copy}")
    if not _holds_key(copy, key):
        fail(
            "session",
            f"no entry with key {key!r} for context {context} in {store} (copied to {copy}; "
            f"{line.where})",
        )
