"""Templates files of reference copies, runnable from anywhere: what the scripts measure."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = '{ session_store = "{workspace}/.sessions", key = "{workspace_id}:{context_id}" }'


def reference_table(name: str, env: dict[str, str], *extra: str) -> list[str]:
    """One ``[templates.<name>]`` of the reference runtime, by command and by build, with
    ``env`` and ``extra`` key lines (the project root on its ``PYTHONPATH``)."""
    env_table = ", ".join(f'{k} = "{v}"' for k, v in {"PYTHONPATH": str(ROOT), **env}.items())
    return [
        f"[templates.{name}]",
        'command = ["python", "-m", "templates.reference"]',
        f"env = {{ {env_table} }}",
        *extra,
        f"[templates.{name}.build]",
        f'context = "{ROOT / "templates" / "reference"}"',
        'args = { BASE_IMAGE = "${CANARY_BASE_IMAGE:-python:3.11-slim}" }',
        'wheelhouse = { requirements = "requirements.txt", python = "3.11" }',
    ]
