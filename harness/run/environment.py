"""What a runtime's environment holds (DESIGN §3): the template's, the run's, the platform's."""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness import secrets
from harness.config import Template
from harness.drivers import TemplateSkipped


def require_secrets(template: Template) -> None:
    """Raise TemplateSkipped, naming the first, when a secret the template needs is unset."""
    missing = secrets.missing(template)
    if missing:
        raise TemplateSkipped(f"secret {missing[0]} is not set in the environment")


def runtime_env(
    template: Template, workspace_id: str, platform_url: str, extra: Mapping[str, str]
) -> dict[str, str]:
    """The template's variables, the run's ``--env``, its secrets by name (not on the
    scripted model, whose keys are dummies), and the contract's three."""
    env = {**template.env, **extra}
    if template.model != "sim":
        env.update({s: os.environ[s] for s in template.secrets})
    env.update(
        {"WORKSPACE_ID": workspace_id, "PLATFORM_URL": platform_url, "PORT": str(template.port)}
    )
    return env
