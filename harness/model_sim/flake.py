"""``CANARY_MODEL_FLAKE=P:SEED``: a scripted model that misbehaves as real ones do, on a seed.

With probability ``P`` per turn, drawn from the seed, the template's name, the conversation's
key (canary, sample, attempt) and the turn's place in it, the model either answers every
request of that turn with HTTP 429 (a provider's rate limit, so a client's own retries fail
too) or answers it without the memory tools it was offered (a model that forgot to look).
The same seed gives the same turns the same fate in every run: the harness drives such a
template's conversations one at a time, so every request belongs to exactly one turn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import UsageError

ENV = "CANARY_MODEL_FLAKE"
RATE_LIMIT = "rate_limit"
NO_MEMORY_TOOL = "no_memory_tool"


@dataclass(frozen=True)
class Flake:
    """The switch's setting.

    Attributes:
        probability: The share of turns that misbehave.
        seed: What makes the choice repeatable.
    """

    probability: float
    seed: str

    def fate(self, template: str, conversation: str, turn: int) -> str | None:
        """What the model does in that turn: :data:`RATE_LIMIT`, :data:`NO_MEMORY_TOOL`,
        or None (it behaves)."""
        digest = hashlib.sha256(f"{self.seed}\0{template}\0{conversation}\0{turn}".encode())
        value = digest.digest()
        if int.from_bytes(value[:8], "big") / 2**64 >= self.probability:
            return None
        return RATE_LIMIT if value[8] % 2 else NO_MEMORY_TOOL


def from_env(environ: Mapping[str, str]) -> Flake | None:
    """The switch from the environment (None when unset).

    Raises:
        UsageError: It is not ``P:SEED`` with P from 0 to 1.
    """
    raw = environ.get(ENV, "").strip()
    if not raw:
        return None
    probability, sep, seed = raw.partition(":")
    try:
        share = float(probability)
    except ValueError:
        share = -1.0
    if not sep or not seed or not 0.0 <= share <= 1.0:
        raise UsageError(f"{ENV}={raw!r}: expected P:SEED, P from 0 to 1 (e.g. 0.3:7)")
    return Flake(share, seed)
