"""Keeping secrets out of results and artifacts.

Secrets are passed to runtimes by name; a runtime may still print or echo a
value, so everything the harness writes for a template is scrubbed of the
values of that template's secrets before it is kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.config import Template
from harness.masking import mask_bytes, mask_text, secret_shaped

MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary text
HEURISTIC_MIN_LENGTH = 8


def missing(template: Template) -> list[str]:
    """Names of the template's declared secrets that the environment does not set.

    A template on the scripted model (``model = "sim"``) needs none: it gets dummies.
    """
    if template.model == "sim":
        return []
    return [name for name in template.secrets if not os.environ.get(name)]


def values(template: Template, extra_env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret-shaped value the harness was given for a template, longest first.

    The values of its declared ``secrets``; of ``--env`` and ``env`` entries whose
    names say key, token, secret or password; and of such variables in the
    caller's environment (which a runtime could echo from a shared file or a
    mistaken config). Short heuristic values are left alone: they would blank out
    ordinary words.
    """
    found = set() if template.model == "sim" else {os.environ.get(n, "") for n in template.secrets}
    given = {**template.env, **(extra_env or {})}
    found |= {value for name, value in given.items() if secret_shaped(name)}
    found |= {
        value
        for name, value in os.environ.items()
        if secret_shaped(name) and len(value) >= HEURISTIC_MIN_LENGTH
    }
    return sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def redact_data(data: Any, secrets: list[str]) -> Any:
    """A copy of JSON-like data with secret values replaced in every string."""
    if isinstance(data, str):
        return mask_text(data, secrets)
    if isinstance(data, list):
        return [redact_data(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: redact_data(value, secrets) for key, value in data.items()}
    return data


def redact_tree(root: Path, secrets: list[str]) -> None:
    """Scrub every file below ``root`` in place; same-length masks keep binary files intact."""
    if not secrets or not root.is_dir():
        return
    needles = [s.encode() for s in secrets]
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes()
        scrubbed = mask_bytes(content, needles)
        if scrubbed != content:
            path.write_bytes(scrubbed)
