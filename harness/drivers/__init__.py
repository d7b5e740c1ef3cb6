"""Drivers: how a template's runtime gets started (a local process or a container)."""

from __future__ import annotations

from harness.config import Template
from harness.drivers.base import Driver, RunContext, TemplateError, TemplateSkipped
from harness.drivers.process import ProcessDriver

DRIVER_CHOICES = ("auto", "docker", "process")


def docker_available() -> str | None:
    """None when a Docker engine answers, else why not (the Docker driver is not built yet)."""
    return "the docker driver is not available in this version"


def select(template: Template, requested: str, context: RunContext) -> Driver:
    """The driver for a template, or TemplateSkipped saying why none can run it.

    Args:
        template: The template to run.
        requested: ``auto``, ``docker`` or ``process``.
        context: The run's shared facts.
    """
    wants_container = template.image is not None or template.build is not None
    if requested == "process" or (requested == "auto" and template.command):
        if not template.command:
            raise TemplateSkipped("no 'command' for the process driver (it has only an image)")
        return ProcessDriver(template, context)
    problem = docker_available()
    if problem:
        raise TemplateSkipped(f"needs Docker: {problem}")
    if not wants_container:
        raise TemplateSkipped("no 'image' or 'build' for the docker driver")
    raise TemplateSkipped("needs Docker")


__all__ = [
    "DRIVER_CHOICES",
    "Driver",
    "ProcessDriver",
    "RunContext",
    "TemplateError",
    "TemplateSkipped",
    "select",
]
