"""The peers of one run, for ``peer_call``: runtimes the platform lists and proxies to.

A peer is an instance of the template a ``peer`` key names (the reference runtime by
default), started once per run when the first template needs it and shared by every
template naming it, with a workspace and a platform of its own. Each template's
platform lists it under ``/registry/{id}/peers`` and proxies ``POST /workspaces/{peer}/a2a``
to it, as production does. Sharing keeps a matrix of N templates at N + 1 runtimes; the
canary keys what it tells a peer by a name of its own, so templates sharing one never
read each other's word.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from dataclasses import dataclass

import httpx

from harness import drivers, secrets
from harness.config import Config, Template
from harness.cp_sim import PlatformServer
from harness.cp_sim.platform import Peer
from harness.drivers import Driver, RunContext, TemplateError, TemplateSkipped
from harness.drivers.contexts import Progress
from harness.run.environment import require_secrets, runtime_env
from harness.run.options import Live, RunOptions, can_fall_back, progress


@dataclass
class _Started:
    """A started peer: what to stop, and how the platform lists it."""

    driver: Driver
    platform: PlatformServer
    peer: Peer


class Peers:
    """Starts each peer template once, on first need; stops them all at the end of the run.

    Args:
        config: The templates file.
        options: The run's options (driver, pull policy).
        live: What the run must stop on Ctrl-C (the peers' drivers join it).
        run_id: The run's id (labels, temp names).
    """

    def __init__(self, config: Config, options: RunOptions, live: Live, run_id: str) -> None:
        self._config, self._options, self._live, self._run_id = config, options, live, run_id
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._started: dict[str, _Started] = {}
        self._failed: dict[str, str] = {}

    def get(self, name: str) -> Peer:
        """The peer template ``name``, started if it was not; raises TemplateError if it
        cannot run (every template naming it gets the same reason)."""
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._failed:
                raise TemplateError(self._failed[name])
            if name not in self._started:
                try:
                    self._started[name] = self._start(self._config.templates[name])
                except (TemplateError, TemplateSkipped) as exc:
                    self._failed[name] = f"peer_call: its peer {name} could not start: {exc}"
                    raise TemplateError(self._failed[name]) from None
            return self._started[name].peer

    def stop_all(self) -> None:
        """Stop every peer and its platform; keep its logs."""
        for started in self._started.values():
            try:
                started.driver.stop()
                started.driver.write_logs()
            except Exception as exc:  # one stuck peer does not keep the others
                progress(started.driver.template.name, f"peer: could not stop: {exc}")
            finally:
                started.platform.stop()
                self._live.discard(started.driver)
        self._started.clear()

    def _start(self, template: Template) -> _Started:
        if self._live.cancelled.is_set():
            raise TemplateError("the run was stopped")
        require_secrets(template)
        artifacts = self._options.artifacts_dir.resolve() / f"{template.name}.peer"
        hidden = tuple(secrets.values(template, self._options.extra_env))
        context = RunContext(self._run_id, self._config.root, artifacts, hidden, instance="-peer")

        def say(text: str) -> None:
            progress(template.name, f"peer: {text}")

        driver = drivers.select(
            template, self._options.driver, context, pull_policy=self._options.pull,
            progress=say,
        )  # fmt: skip
        driver = self._prepared(driver, context, say)
        workspace = str(uuid.uuid4())
        try:
            platform = PlatformServer(workspace, host=driver.platform_host()).start()
        except OSError as exc:
            self._live.discard(driver)
            raise TemplateError(f"cannot serve the platform API for the peer: {exc}") from None
        try:
            platform_url = driver.platform_url(platform.host, platform.port)
            env = runtime_env(template, workspace, platform_url, self._options.extra_env)
            running = driver.start(env)
            running.wait_ready(registered=platform.state.registered)
        except BaseException:
            with contextlib.suppress(Exception):
                driver.stop()
                driver.write_logs()
            platform.stop()
            self._live.discard(driver)
            raise
        card = _card(running.base_url + template.ready_path)
        name = str(card.get("name") or template.name)
        progress(template.name, f"peer: ready for peer_call ({running.base_url})")
        url = running.base_url + template.a2a_path
        peer = Peer(workspace, name, url, card, template.turn_timeout)
        return _Started(driver, platform, peer)

    def _prepared(self, driver: Driver, context: RunContext, say: Progress) -> Driver:
        """The driver, prepared: as a template's run does, an image that cannot be had here
        falls back to the peer's command (``--driver auto``)."""
        self._live.add(driver)
        try:
            driver.prepare()
            return driver
        except TemplateError as exc:
            self._live.discard(driver)
            if not can_fall_back(driver, self._options, self._live):
                raise
            say(f"docker image unavailable ({str(exc).splitlines()[0]}); running it as a process")
        except BaseException:
            self._live.discard(driver)
            raise
        process = drivers.ProcessDriver(driver.template, context, say)
        self._live.add(process)
        try:
            process.prepare()
        except BaseException:
            self._live.discard(process)
            raise
        return process


def _card(url: str) -> dict[str, object]:
    try:
        card = httpx.get(url, timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}
