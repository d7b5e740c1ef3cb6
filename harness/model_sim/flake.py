"""``CANARY_MODEL_FLAKE=P:SEED[:FATES]``: a scripted model that misbehaves as real ones do.

With probability ``P`` per turn, drawn from the seed, the template's name, the conversation's
key (canary, sample, attempt) and the turn's place in it, the model does one of ``FATES``
(comma-separated; ``rate_limit,no_memory_tool`` unless named) to every request of that turn:

- ``rate_limit``: answers HTTP 429 (a provider's rate limit, so a client's own retries fail
  too);
- ``no_memory_tool``: answers without the memory tools it was offered (a model that forgot to
  look);
- ``stall``: sends nothing until the client gives up (a provider that timed out before the
  first token). It costs the client's timeout, or the turn's, so it is only on when named.

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
STALL = "stall"
FATES = (NO_MEMORY_TOOL, RATE_LIMIT, STALL)
DEFAULT_FATES = (NO_MEMORY_TOOL, RATE_LIMIT)


@dataclass(frozen=True)
class Flake:
    """The switch's setting.

    Attributes:
        probability: The share of turns that misbehave.
        seed: What makes the choice repeatable.
        fates: What a misbehaving turn may do (one of them, drawn from the seed too).
    """

    probability: float
    seed: str
    fates: tuple[str, ...] = DEFAULT_FATES

    def fate(self, template: str, conversation: str, turn: int) -> str | None:
        """What the model does in that turn: one of :attr:`fates`, or None (it behaves)."""
        digest = hashlib.sha256(f"{self.seed}\0{template}\0{conversation}\0{turn}".encode())
        value = digest.digest()
        if int.from_bytes(value[:8], "big") / 2**64 >= self.probability:
            return None
        return self.fates[value[8] % len(self.fates)]


def from_env(environ: Mapping[str, str]) -> Flake | None:
    """The switch from the environment (None when unset).

    Raises:
        UsageError: It is not ``P:SEED[:FATES]`` with P from 0 to 1 and known fates.
    """
    raw = environ.get(ENV, "").strip()
    if not raw:
        return None
    probability, sep, rest = raw.partition(":")
    seed, _, named = rest.partition(":")
    try:
        share = float(probability)
    except ValueError:
        share = -1.0
    if not sep or not seed or not 0.0 <= share <= 1.0:
        raise UsageError(f"{ENV}={raw!r}: expected P:SEED[:FATES], P from 0 to 1 (e.g. 0.3:7)")
    if not named:
        return Flake(share, seed)
    fates = tuple(f.strip() for f in named.split(","))
    unknown = [f for f in fates if f not in FATES]  # "stall," names an empty one
    if unknown:
        raise UsageError(
            f"{ENV}={raw!r}: unknown fate {unknown[0]!r} (expected some of "
            f"{', '.join(FATES)}, comma-separated)"
        )
    return Flake(share, seed, fates)
