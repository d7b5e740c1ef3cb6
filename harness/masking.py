"""Masking secret values: one implementation for transcripts, logs, results and artifacts.

Standard library only, so every layer (the simulators' transcript, the drivers' logs,
the results) can use it. A mask is asterisks of the secret's length, which keeps
binary files' sizes and offsets intact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

SECRET_NAME_RE = re.compile(
    r"(^|_)(KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)($|_)", re.IGNORECASE
)


def secret_shaped(name: str) -> bool:
    """Whether an environment variable's name says it holds a key, token or password."""
    return bool(SECRET_NAME_RE.search(name))


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret (as it is, and JSON-escaped) with asterisks of its length."""
    for secret in secrets:
        for form in {secret, json.dumps(secret)[1:-1]}:
            text = text.replace(form, "*" * len(form))
    return text


def mask_bytes(data: bytes, secrets: Iterable[bytes]) -> bytes:
    """Replace each secret with asterisks of its length."""
    for secret in secrets:
        data = data.replace(secret, b"*" * len(secret))
    return data
