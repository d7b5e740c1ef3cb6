"""Randomized tokens: names, colours and codes no runtime can know in advance."""

from __future__ import annotations

import secrets
import string

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


_CITY_ENDINGS = ("vik", "grad", "stad", "mora", "heim", "polis", "burg", "ova")


def random_city() -> str:
    """A city no runtime can know in advance, e.g. 'Tosamagrad' (one capitalized word)."""
    syllables = [secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(2)]
    return ("".join(syllables) + secrets.choice(_CITY_ENDINGS)).capitalize()


def random_word() -> str:
    """A lowercase nonsense word of four syllables, e.g. 'tovasemi', known to no model."""
    return "".join(secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(4))
