"""Orchestration: run templates concurrently, each through prepare → boot → canaries → teardown.

Runtimes are started here, outside pytest; the canary suite runs as a pytest
subprocess (under xdist) that receives only a small JSON of URLs and ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import canary
from canary.runtime import RuntimeInfo
from harness import drivers, results, secrets
from harness.config import CANARY_IDS, DIAGNOSTIC_IDS, Config, Template
from harness.cp_sim import PlatformServer
from harness.drivers import Driver, RunContext, TemplateError, TemplateSkipped
from harness.drivers.base import signal_group
from harness.results import Result

# A diagnostic runs only where the canary whose evidence it reads runs.
DIAGNOSTIC_NEEDS = {
    "wire": None,
    "session_scope": "name_recall",
    "session_store": "name_recall",
    "memory_layers": "memory_recall",
}
PYTEST_GRACE_S = 60.0


@dataclass(frozen=True)
class RunOptions:
    """What the command line asked for.

    Attributes:
        driver: ``auto``, ``docker`` or ``process``.
        canaries: Canary or diagnostic ids to run (None: the template's canaries
            and every diagnostic they support).
        workers: pytest-xdist workers per template (0: no xdist).
        results_dir: Where ``<template>.json`` files go.
        artifacts_dir: Where logs and snapshots go, one directory per template.
        pull: Pull policy for every image (None: each template's own).
        extra_env: More environment for every runtime (``--env``).
    """

    driver: str = "auto"
    canaries: tuple[str, ...] | None = None
    workers: int = 2
    results_dir: Path = Path("results")
    artifacts_dir: Path = Path("artifacts")
    pull: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


class _Live:
    """Everything started that must be stopped, even on Ctrl-C."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.drivers: set[Driver] = set()
        self.processes: set[subprocess.Popen[bytes]] = set()
        self.cancelled = threading.Event()

    def stop_all(self) -> None:
        self.cancelled.set()
        with self.lock:
            processes, running = list(self.processes), list(self.drivers)
        for process in processes:
            if process.poll() is None:
                signal_group(process, signal.SIGTERM)
        for driver in running:
            try:
                driver.stop()
            except Exception as exc:  # one stuck runtime must not keep the others running
                print(
                    f"canary-matrix: could not stop {driver.template.name}: {exc}", file=sys.stderr
                )


def selected_canaries(template: Template, requested: tuple[str, ...] | None) -> tuple[str, ...]:
    """Canary and diagnostic ids this template runs."""
    if requested is not None:
        chosen = tuple(cid for cid in requested if cid in (*template.canaries, *DIAGNOSTIC_IDS))
        if not chosen:
            raise TemplateSkipped(
                f"the template declares none of the requested canaries ({', '.join(requested)})"
            )
        return chosen
    diagnostics = [
        d for d, needs in DIAGNOSTIC_NEEDS.items() if needs is None or needs in template.canaries
    ]
    return (*template.canaries, *diagnostics)


def log_line(options: RunOptions, template: str, text: str) -> None:
    """A short progress line on stderr (the matrix goes to stdout)."""
    print(f"[{template}] {text}", file=sys.stderr, flush=True)


def run(config: Config, templates: list[Template], options: RunOptions) -> list[Result]:
    """Run templates concurrently and write one result file per template.

    Args:
        config: The loaded templates file.
        templates: The templates to run.
        options: Command-line options.

    Returns:
        The results, in cascade order. On Ctrl-C every started runtime is
        stopped, the results of finished templates are kept, and
        KeyboardInterrupt propagates.
    """
    run_id = uuid.uuid4().hex[:12]
    live = _Live()
    if options.driver != "process":
        _remove_orphans(options)
    finished: list[Result] = []
    with ThreadPoolExecutor(max_workers=max(1, len(templates))) as pool:
        futures: dict[Future[Result], Template] = {
            pool.submit(_run_template, config, t, options, run_id, live): t for t in templates
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                finished.extend(f.result() for f in done)
        except KeyboardInterrupt:
            live.stop_all()
            for future in pending:
                future.cancel()
            wait(pending)
            raise
    return results.sort(finished)


def _remove_orphans(options: RunOptions) -> None:
    from harness.drivers import docker as docker_driver

    client, _ = docker_driver.engine()
    if client is None:
        return
    try:
        for name in docker_driver.remove_orphans(client):
            log_line(options, "cleanup", f"removed {name}, left by a harness that is gone")
    except Exception as exc:  # a sweep that fails must not stop the run itself
        log_line(options, "cleanup", f"could not look for leftover containers: {exc}")


def _run_template(
    config: Config, template: Template, options: RunOptions, run_id: str, live: _Live
) -> Result:
    result = results.new_result(template)
    artifacts = options.artifacts_dir.resolve() / template.name
    context = RunContext(run_id=run_id, config_root=config.root, artifacts=artifacts)

    def progress(text: str) -> None:
        log_line(options, template.name, text)

    try:
        missing = secrets.missing(template)
        if missing:
            raise TemplateSkipped(f"secret {missing[0]} is not set in the environment")
        selected = selected_canaries(template, options.canaries)  # known before anything boots
        driver = drivers.select(
            template, options.driver, context, pull_policy=options.pull, progress=progress
        )
    except TemplateSkipped as skip:
        result.update(status="skipped", reason=str(skip))
        log_line(options, template.name, f"skipped: {skip}")
        return _finish(result, options)
    except Exception as exc:  # e.g. the engine went away between probe and use
        result.update(status="error", reason=f"cannot set up a driver: {type(exc).__name__}: {exc}")
        log_line(options, template.name, f"error: {result['reason']}")
        return _finish(result, options)
    result["driver"] = driver.name
    fallback_note = None
    try:
        try:
            _run_driver(template, driver, selected, options=options, result=result, live=live)
        except TemplateError as exc:
            if not _can_fall_back(template, driver, options, result, live):
                raise
            # auto: an image that cannot be had here is no reason to skip a runnable command.
            fallback_note = (
                f"docker image unavailable ({str(exc).splitlines()[0]}); ran as a process"
            )
            log_line(options, template.name, fallback_note)
            driver = drivers.ProcessDriver(template, context)
            result.update(driver=driver.name, image=None, image_id=None)
            _run_driver(template, driver, selected, options=options, result=result, live=live)
    except TemplateSkipped as skip:
        result.update(status="skipped", reason=str(skip))
    except TemplateError as exc:
        result.update(status="error", reason=str(exc))
    except Exception as exc:  # a harness bug must not hide the other templates' results
        context.artifacts.mkdir(parents=True, exist_ok=True)
        trace = context.artifacts / "harness-error.log"
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        result.update(
            status="error", reason=f"harness error: {type(exc).__name__}: {exc} (see {trace})"
        )
    if live.cancelled.is_set() and result["status"] != "passed":
        result.update(status="error", reason="interrupted")
    if fallback_note and not result["reason"]:
        result["reason"] = fallback_note
    hidden = secrets.values(template)
    secrets.redact_tree(context.artifacts, hidden)
    result = secrets.redact_data(result, hidden)
    log_line(
        options,
        template.name,
        f"{result['status']}" + (f": {result['reason']}" if result["reason"] else ""),
    )
    return _finish(result, options)


def _can_fall_back(
    template: Template, driver: Driver, options: RunOptions, result: Result, live: _Live
) -> bool:
    failed_in_prepare = not result["timings"]["boot_s"]
    return (
        options.driver == "auto"
        and driver.name == "docker"
        and template.command is not None
        and failed_in_prepare
        and not live.cancelled.is_set()
    )


def _finish(result: Result, options: RunOptions) -> Result:
    results.write(result, options.results_dir)
    return result


@contextmanager
def _timed(result: Result, key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        result["timings"][key] = round(time.perf_counter() - start, 3)


def _run_driver(
    template: Template,
    driver: Driver,
    selected: tuple[str, ...],
    *,
    options: RunOptions,
    result: Result,
    live: _Live,
) -> None:
    workspace_id = str(uuid.uuid4())
    driver.context.artifacts.mkdir(parents=True, exist_ok=True)
    try:
        platform = PlatformServer(workspace_id, host=driver.platform_host()).start()
    except OSError as exc:
        raise TemplateError(f"cannot serve the platform API for the runtime: {exc}") from None
    with live.lock:
        live.drivers.add(driver)
    try:
        with _timed(result, "prepare_s"):
            log_line(options, template.name, f"preparing ({driver.name} driver)")
            driver.prepare()
            result["image"] = driver.image or template.image
            result["image_id"] = driver.image_id
        with _timed(result, "boot_s"):
            platform_url = driver.platform_url(platform.host, platform.port)
            driver.start(_runtime_env(template, workspace_id, platform_url, options.extra_env))
            driver.wait_ready(registered=platform.state.registered)
        log_line(
            options, template.name, f"ready in {result['timings']['boot_s']:.2f}s; running canaries"
        )
        snapshots = driver.context.artifacts / "snapshots"

        def snapshot(path: str) -> str | None:
            target = snapshots / uuid.uuid4().hex[:8]
            copied = driver.snapshot(path, target)
            return None if copied is None else str(copied)

        platform.serve_files(driver.upload, snapshot)
        with _timed(result, "canaries_s"):
            outcomes, problem = _run_canaries(
                template,
                driver,
                selected=selected,
                platform=platform,
                workspace_id=workspace_id,
                options=options,
                live=live,
            )
        result["canaries"] = outcomes
        if problem:
            raise TemplateError(problem)
        result["status"] = results.template_status(outcomes)
        if result["status"] == "skipped":
            result["reason"] = "every selected canary was skipped"
        if result["status"] == "failed" and template.probe.session_store:
            driver.snapshot(
                template.probe.session_store, driver.context.artifacts / "session_store"
            )
    finally:
        with _timed(result, "teardown_s"):
            try:
                driver.stop()  # first: what a runtime prints while stopping is in its log too
                driver.write_logs()
            finally:
                platform.stop()
                with live.lock:
                    live.drivers.discard(driver)
        result["artifacts"] = _artifact_list(driver.context.artifacts, options)


def _runtime_env(
    template: Template, workspace_id: str, platform_url: str, extra: Mapping[str, str]
) -> dict[str, str]:
    env = {**template.env, **extra}
    env.update({s: os.environ[s] for s in template.secrets})
    env.update(
        {"WORKSPACE_ID": workspace_id, "PLATFORM_URL": platform_url, "PORT": str(template.port)}
    )
    return env


def _artifact_list(artifacts: Path, options: RunOptions) -> list[str]:
    if not artifacts.is_dir():
        return []
    base = options.artifacts_dir.resolve().parent
    return sorted(
        str(p.relative_to(base)) if p.is_relative_to(base) else str(p)
        for p in artifacts.rglob("*")
        if p.is_file()
    )


def _run_canaries(
    template: Template,
    driver: Driver,
    *,
    selected: tuple[str, ...],
    platform: PlatformServer,
    workspace_id: str,
    options: RunOptions,
    live: _Live,
) -> tuple[dict[str, dict[str, Any]], str | None]:
    artifacts = driver.context.artifacts
    info = RuntimeInfo(
        template=template.name,
        a2a_url=driver.a2a_url,
        base_url=driver.base_url,
        ready_path=template.ready_path,
        turn_timeout=template.turn_timeout,
        workspace_id=workspace_id,
        platform_url=platform.url,
        harness_token=platform.harness_token,
        session_scope=template.session_scope,
        probe={"session_store": template.probe.session_store, "key": template.probe.key},
        dropped_markers=template.dropped_markers,
        selected=selected,
        artifacts=str(artifacts),
    )
    with tempfile.TemporaryDirectory(prefix="canary-run-") as scratch:
        info_path = Path(scratch) / "runtime.json"
        outcomes_path = Path(scratch) / "outcomes.json"
        info.dump(info_path)
        command = _pytest_command(options, outcomes_path, artifacts / "junit.xml")
        env = {**os.environ, "CANARY_RUNTIME_INFO": str(info_path), "PYTHONDONTWRITEBYTECODE": "1"}
        with (artifacts / "canaries.log").open("wb") as log:
            # Its own process group, so stopping it reaches the xdist workers too.
            process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            with live.lock:
                live.processes.add(process)
            budget = PYTEST_GRACE_S + template.turn_timeout * 8
            try:
                code = process.wait(timeout=budget)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
                raise TemplateError(f"canaries did not finish within {budget:g}s") from None
            finally:
                with live.lock:
                    live.processes.discard(process)
        outcomes: dict[str, dict[str, Any]] = (
            json.loads(outcomes_path.read_text()) if outcomes_path.exists() else {}
        )
    problem = None
    if not outcomes or code not in (0, 1):
        output = (artifacts / "canaries.log").read_text(errors="replace").splitlines()[-15:]
        problem = f"the canary suite ended abnormally (pytest exit {code}): " + " | ".join(output)
    for cid in selected:
        outcomes.setdefault(
            cid, {"outcome": "error", "duration_s": 0.0, "message": "did not run", "layer": None}
        )
    ordered = {cid: outcomes[cid] for cid in (*CANARY_IDS, *DIAGNOSTIC_IDS) if cid in outcomes}
    return ordered, problem


def _pytest_command(options: RunOptions, outcomes: Path, junit: Path) -> list[str]:
    suite = Path(canary.__file__).parent
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(suite),
        "-p",
        "harness.collect",
        f"--canary-outcomes={outcomes}",
        f"--junitxml={junit}",
        "-p",
        "no:cacheprovider",
        f"--rootdir={suite}",
        "-c",
        os.devnull,
        "-q",
        "-rN",
    ]
    if options.workers > 0:
        command += ["-n", str(options.workers), "--dist", "loadgroup"]
    return command
