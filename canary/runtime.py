"""What a canary worker knows about the runtime under test, and fresh random tokens."""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNTIME_INFO_ENV = "CANARY_RUNTIME_INFO"

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_SHADES = (
    "dusty",
    "burnt",
    "pale",
    "deep",
    "electric",
    "misty",
    "smoky",
    "frosted",
    "muted",
    "bright",
    "dark",
    "royal",
    "soft",
    "vivid",
    "faded",
    "glowing",
)
_HUES = (
    "periwinkle",
    "saffron",
    "vermilion",
    "cerulean",
    "chartreuse",
    "magenta",
    "ochre",
    "turquoise",
    "lavender",
    "crimson",
    "amber",
    "teal",
    "indigo",
    "coral",
    "olive",
    "maroon",
    "mauve",
    "scarlet",
    "cobalt",
    "emerald",
    "sienna",
    "fuchsia",
    "azure",
)


@dataclass(frozen=True)
class RuntimeInfo:
    """The handed-over facts about one running template (written by the harness)."""

    template: str
    a2a_url: str
    base_url: str
    ready_path: str
    turn_timeout: float
    workspace_id: str
    platform_url: str
    harness_token: str
    session_scope: str
    probe: dict[str, Any]
    dropped_markers: tuple[str, ...]
    selected: tuple[str, ...]
    artifacts: str

    @classmethod
    def from_env(cls) -> RuntimeInfo:
        """Load the file named by ``CANARY_RUNTIME_INFO``."""
        path = os.environ.get(RUNTIME_INFO_ENV)
        if not path:
            raise RuntimeError(
                f"{RUNTIME_INFO_ENV} is not set: the canary suite runs under the harness "
                "(nox -s canary-<template>), which starts the runtime first"
            )
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data["dropped_markers"] = tuple(data["dropped_markers"])
        data["selected"] = tuple(data["selected"])
        return cls(**data)

    def dump(self, path: Path) -> None:
        """Write the file workers read."""
        payload = {
            **self.__dict__,
            "dropped_markers": list(self.dropped_markers),
            "selected": list(self.selected),
        }
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def random_name() -> str:
    """A pronounceable, capitalized name no runtime can know in advance."""
    syllables = [secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(3)]
    return ("".join(syllables) + secrets.choice(_CONSONANTS)).capitalize()


def random_colour() -> str:
    """A two-word colour, e.g. 'misty saffron' (one of several hundred)."""
    return f"{secrets.choice(_SHADES)} {secrets.choice(_HUES)}"


def random_code() -> str:
    """A lowercase code of letters and digits, so its uppercase form differs."""
    letters = [secrets.choice(string.ascii_lowercase) for _ in range(4)]
    digits = [secrets.choice(string.digits) for _ in range(3)]
    chars = letters + digits
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def context_id() -> str:
    """A fresh conversation thread id."""
    return f"canary-{secrets.token_hex(8)}"


def document(code: str) -> str:
    """A small text file with the reference code among filler lines."""
    filler = [
        "Quarterly notes, internal draft.",
        "Revenue grew in two of three regions.",
        "Action items are tracked in the planning board.",
        f"reference code: {code}",
        "Next review is scheduled for the first Monday of the month.",
        "End of notes.",
    ]
    return "\n".join(filler) + "\n"
