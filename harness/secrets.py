"""Keeping secrets out of results and artifacts.

Secrets are passed to runtimes by name; a runtime may still print or echo a
value, so everything the harness writes for a template is scrubbed of the
values of that template's secrets before it is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.config import Template

MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary text


def missing(template: Template) -> list[str]:
    """Names of the template's declared secrets that the environment does not set."""
    return [name for name in template.secrets if not os.environ.get(name)]


def values(template: Template) -> list[str]:
    """The current values of a template's declared secrets, longest first."""
    found = {os.environ.get(name, "") for name in template.secrets}
    return sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value with asterisks of the same length."""
    for secret in secrets:
        text = text.replace(secret, "*" * len(secret))
    return text


def redact_data(data: Any, secrets: list[str]) -> Any:
    """A copy of JSON-like data with secret values replaced in every string."""
    if isinstance(data, str):
        return redact_text(data, secrets)
    if isinstance(data, list):
        return [redact_data(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: redact_data(value, secrets) for key, value in data.items()}
    return data


def redact_tree(root: Path, secrets: list[str]) -> None:
    """Scrub every file below ``root`` in place; same-length masks keep binary files intact."""
    if not secrets or not root.is_dir():
        return
    needles = [(s.encode(), b"*" * len(s.encode())) for s in secrets]
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes()
        scrubbed = content
        for needle, mask in needles:
            scrubbed = scrubbed.replace(needle, mask)
        if scrubbed != content:
            path.write_bytes(scrubbed)
