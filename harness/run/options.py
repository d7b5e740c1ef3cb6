"""What the command line asked for, and the live state of a run."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.drivers import Driver
from harness.model_sim.flake import Flake
from harness.rerun import Rerun


@dataclass(frozen=True)
class RunOptions:
    """What the command line asked for.

    Attributes:
        driver: ``auto``, ``docker`` or ``process``.
        canaries: Canary or diagnostic ids to judge (None: the template's canaries
            and every diagnostic they support).
        workers: pytest-xdist workers for the judge (0: no xdist).
        results_dir: Where ``<template>.json`` files go.
        artifacts_dir: Where transcripts, logs and snapshots go, one directory per template.
        pull: Pull policy for every image (None: each template's own).
        extra_env: More environment for every runtime (``--env``).
        dialects: The dialects to speak to every template (None: each template's own).
        rerun: Only an earlier run's failed cells, each with only its failed canaries.
        model_flake: ``CANARY_MODEL_FLAKE``: the scripted model misbehaves on a seed.
    """

    driver: str = "auto"
    canaries: tuple[str, ...] | None = None
    workers: int = 0
    results_dir: Path = Path("results")
    artifacts_dir: Path = Path("artifacts")
    pull: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    dialects: tuple[str, ...] | None = None
    rerun: Rerun | None = None
    model_flake: Flake | None = None


def progress(template: str, text: str) -> None:
    """A short progress line on stderr (the matrix goes to stdout)."""
    print(f"[{template}] {text}", file=sys.stderr, flush=True)


class Live:
    """Everything started that must be stopped, even on Ctrl-C."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.drivers: set[Driver] = set()
        self.cancelled = threading.Event()

    def add(self, driver: Driver) -> None:
        """A runtime about to be started: stopped on Ctrl-C from now on."""
        with self.lock:
            self.drivers.add(driver)

    def discard(self, driver: Driver) -> None:
        """A runtime stopped by its owner."""
        with self.lock:
            self.drivers.discard(driver)

    def stop_all(self) -> None:
        """Stop every runtime; one stuck runtime does not keep the others."""
        self.cancelled.set()
        with self.lock:
            running = list(self.drivers)
        for driver in running:
            try:
                driver.stop()
            except Exception as exc:
                progress(driver.template.label, f"could not stop: {exc}")


def can_fall_back(driver: Driver, options: RunOptions, live: Live) -> bool:
    """Whether a Docker image that cannot be had here is run as the template's command
    instead: under ``--driver auto``, when it has one and the run goes on."""
    return (
        options.driver == "auto"
        and driver.name == "docker"
        and driver.template.command is not None
        and not live.cancelled.is_set()
    )
