"""Drivers: how a template's runtime gets started (a local process or a container)."""

from __future__ import annotations

from collections.abc import Callable

from harness.config import Template
from harness.drivers.base import Driver, RunContext, TemplateError, TemplateSkipped
from harness.drivers.process import ProcessDriver

DRIVER_CHOICES = ("auto", "docker", "process")


def select(
    template: Template,
    requested: str,
    context: RunContext,
    *,
    pull_policy: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Driver:
    """The driver for a template, or TemplateSkipped saying why none can run it.

    ``auto`` prefers Docker when an engine answers and the template has an
    image or a build, then the process driver when it has a command.

    Args:
        template: The template to run.
        requested: ``auto``, ``docker`` or ``process``.
        context: The run's shared facts.
        pull_policy: Overrides the template's pull policy.
        progress: Receives short progress lines (pull, build).
    """
    has_container = template.image is not None or template.build is not None
    if requested == "process" or (requested == "auto" and not has_container):
        if not template.command:
            raise TemplateSkipped(
                "the process driver needs a 'command' (this template has an image)"
            )
        return ProcessDriver(template, context, progress)
    if not has_container:
        raise TemplateSkipped("the docker driver needs an 'image' or a 'build'")
    from harness.drivers import docker as docker_driver  # docker-py loads only when used

    client, problem = docker_driver.engine()
    if client is None:
        if requested == "docker":
            # Asked for explicitly and not to be had: an error, never a quiet skip.
            raise TemplateError(f"--driver docker: {problem}")
        if template.command:
            return ProcessDriver(template, context, progress)
        raise TemplateSkipped(f"needs Docker: {problem}")
    return docker_driver.DockerDriver(
        template, context, client, pull_policy=pull_policy, progress=progress
    )


__all__ = [
    "DRIVER_CHOICES",
    "Driver",
    "ProcessDriver",
    "RunContext",
    "TemplateError",
    "TemplateSkipped",
    "select",
]
