"""One template's run: prepare → boot → drive → stop, leaving a transcript to judge.

Everything here happens in the harness process: the driver places uploads and
copies snapshots itself, so nothing a runtime can read grants it a harness action.
:func:`run_template` returns a frozen :class:`Driven` record of what happened; the
verdicts are added later, by :func:`harness.run.judge.conclude`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from canary import registry
from harness import drivers, secrets
from harness.config import Config, Template
from harness.cp_sim import PlatformServer, Transcript
from harness.cp_sim.a2a import protocol_versions
from harness.cp_sim.dialects import AUTO, Dialect, dialect, lists, resolve
from harness.cp_sim.platform import Peer
from harness.cp_sim.transcript import FILE_NAME
from harness.drivers import Driver, RunContext, TemplateError, TemplateSkipped
from harness.drivers.base import LEGACY_READY_PATH, Running
from harness.events import Card, Footer, Header
from harness.model_sim import ModelServer, model_env
from harness.model_sim.flake import Flake
from harness.model_sim.server import Turns
from harness.model_sim.slow import SlowRequests
from harness.results import TIMINGS, Result, Status
from harness.run.drive import drive
from harness.run.environment import require_secrets, runtime_env
from harness.run.options import Live, RunOptions, can_fall_back, progress
from harness.run.peers import Peers


class PrepareFailed(TemplateError):
    """The image could not be pulled or built: nothing was started."""


@dataclass(frozen=True)
class Driven:
    """A template after its runtime stopped: what happened, and the evidence to judge.

    Attributes:
        result: What is known without a verdict; its status and reason are final
            unless ``transcript`` is set.
        transcript: The transcript to judge, when the conversations ran.
        selected: The canaries and diagnostics the transcript is judged for.
        hidden: Secret values masked in whatever is written for this template.
    """

    result: Result
    transcript: Path | None = None
    selected: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shared:
    """What every template's run in one harness run shares."""

    config: Config
    options: RunOptions
    live: Live
    peers: Peers


@dataclass
class _Facts:
    """What one template's run found out, gathered as it goes (this module's only state)."""

    status: Status = Status.ERROR
    reason: str | None = None
    driver: str | None = None
    image: str | None = None
    image_id: str | None = None
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TIMINGS, 0.0))
    warnings: list[str] = field(default_factory=list)
    unserved: list[str] = field(default_factory=list)
    header: Header | None = None
    writer: Transcript | None = None
    driven: bool = False
    dialect: str | None = None
    """The dialect spoken (``auto`` resolved by the card), once known."""

    def result(self, template: Template, artifacts: tuple[str, ...]) -> Result:
        return dataclasses.replace(
            Result.new(template), dialect=self.dialect or template.dialect, status=self.status,
            reason=self.reason, driver=self.driver, image=self.image, image_id=self.image_id,
            timings=dict(self.timings), unserved_calls=tuple(self.unserved),
            warnings=tuple(self.warnings), artifacts=artifacts,
        )  # fmt: skip


def run_template(shared: Shared, template: Template, run_id: str) -> Driven:
    """Run one template up to (not including) the judge; never raises for the template."""
    options = shared.options
    artifacts = options.artifacts_dir.resolve() / template.label
    hidden = tuple(secrets.values(template, options.extra_env))
    # Cells of one template apart (container names).
    instance = f"-{template.dialect}" if template.label != template.name else ""
    context = RunContext(run_id, shared.config.root, artifacts, hidden=hidden, instance=instance)
    facts = _Facts(image=template.image)
    try:
        _run(shared, template, context, facts)
    except TemplateSkipped as skip:
        facts.status, facts.reason = Status.SKIPPED, str(skip)
    except TemplateError as exc:
        facts.status, facts.reason = Status.ERROR, str(exc)
    except Exception as exc:  # a harness bug must not hide the other templates' results
        artifacts.mkdir(parents=True, exist_ok=True)
        trace = artifacts / "harness-error.log"
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        facts.status = Status.ERROR
        facts.reason = f"harness error: {type(exc).__name__}: {exc} (see {trace})"
        facts.driven = False
    listed = artifact_list(artifacts, options.artifacts_dir.resolve().parent)
    result = facts.result(template, listed)
    if facts.writer is not None:
        # The result as it stands: what ``judge`` starts from when it re-reads the transcript.
        facts.writer.write(Footer(driven=facts.driven, result=result.to_json()))
        facts.writer.close()
    if not (facts.driven and facts.writer and facts.header):
        return Driven(result, hidden=hidden)
    return Driven(result, facts.writer.path, facts.header.selected, hidden)


def _run(shared: Shared, template: Template, context: RunContext, facts: _Facts) -> None:
    options, live = shared.options, shared.live
    require_secrets(template)
    has = frozenset({"model_sim"} if template.model == "sim" else ())
    judged = registry.selected(template.canaries, options.canaries, has)
    if not judged:
        requested = ", ".join(options.canaries or ())
        raise TemplateSkipped(f"the template declares none of the requested canaries ({requested})")
    try:
        driver = drivers.select(
            template, options.driver, context, pull_policy=options.pull,
            progress=lambda text: progress(template.label, text),
        )  # fmt: skip
    except (TemplateSkipped, TemplateError):
        raise
    except Exception as exc:  # e.g. the engine went away between probe and use
        raise TemplateError(f"cannot set up a driver: {type(exc).__name__}: {exc}") from None
    try:
        _run_driver(shared, driver, judged, facts)
    except PrepareFailed as exc:
        if not can_fall_back(driver, options, live):
            raise
        # auto: an image that cannot be had here is no reason to skip a runnable command.
        note = f"docker image unavailable ({str(exc).splitlines()[0]}); ran as a process"
        progress(template.label, note)
        driver = drivers.ProcessDriver(
            template, context, lambda text: progress(template.label, text)
        )
        facts.image = facts.image_id = None
        facts.warnings.append(note)
        _run_driver(shared, driver, judged, facts)


def artifact_list(artifacts: Path, base: Path) -> tuple[str, ...]:
    """The template's artifact files, relative to ``base`` where they are below it."""
    if not artifacts.is_dir():
        return ()
    return tuple(sorted(
        str(p.relative_to(base)) if p.is_relative_to(base) else str(p)
        for p in artifacts.rglob("*")
        if p.is_file()
    ))  # fmt: skip


@contextmanager
def _timed(facts: _Facts, key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        facts.timings[key] = round(time.perf_counter() - start, 3)


def header(
    template: Template, judged: tuple[str, ...], workspace_id: str, *, one_at_a_time: bool = False
) -> Header:
    """The transcript's first line: the template's facts the checks need.

    ``one_at_a_time``: its conversations do not overlap (``CANARY_MODEL_FLAKE`` decides by
    the one turn in flight).
    """
    shares_session = template.session_scope != "context"
    return Header(
        template=template.label, gate=template.gate, wave=template.wave, selected=judged,
        conversations=registry.conversations(judged), session_scope=template.session_scope,
        probe_store=template.probe.session_store, probe_key=template.probe.key,
        dropped_markers=tuple(template.dropped_markers), workspace_id=workspace_id,
        ready_path=template.ready_path, a2a_path=template.a2a_path,
        turn_timeout=template.turn_timeout,
        # Interleaved conversations would mix in one session a runtime declared to share.
        concurrent=not (shares_session or one_at_a_time), dialect=template.dialect,
        repeat=template.repeat, retries=template.retries,
    )  # fmt: skip


def _run_driver(shared: Shared, driver: Driver, judged: tuple[str, ...], facts: _Facts) -> None:
    live = shared.live
    template = driver.template
    artifacts = driver.context.artifacts
    artifacts.mkdir(parents=True, exist_ok=True)
    workspace_id = str(uuid.uuid4())
    facts.driver = driver.name
    flaked = shared.options.model_flake is not None and template.model == "sim"
    facts.header = header(template, judged, workspace_id, one_at_a_time=flaked)
    if facts.writer is not None:  # a fallback's second attempt starts a fresh transcript
        facts.writer.close()
    transcript = facts.writer = Transcript(artifacts / FILE_NAME, driver.context.hidden)
    transcript.write(facts.header)
    try:
        platform = PlatformServer(
            workspace_id, host=driver.platform_host(), recorder=transcript.tied
        )
        platform.state.sample = transcript.sample
        platform.start()
    except OSError as exc:
        raise TemplateError(f"cannot serve the platform API for the runtime: {exc}") from None
    live.add(driver)
    stack = contextlib.ExitStack()  # the model simulator and the peer, when there are
    try:
        with _timed(facts, "prepare_s"):
            _prepare(driver, facts)
        with _timed(facts, "boot_s"):
            running, peer, slow = _boot(shared, driver, platform, stack, facts)
        _measure_cpu(running, facts, "runtime_boot_cpu_s")
        progress(template.label, f"ready in {facts.timings['boot_s']:.2f}s; driving the canaries")
        versions = _card_versions(running, transcript)
        spoken = dialect(resolve(template.dialect, versions or ()))
        facts.dialect = spoken.name
        facts.warnings += _dialect_warnings(template.dialect, spoken, versions)
        said = dataclasses.replace(facts.header, dialect=spoken.name)
        with _timed(facts, "canaries_s"):
            asyncio.run(drive(running, said, transcript, peer, slow))
        facts.driven = True
    finally:
        with _timed(facts, "teardown_s"):
            try:
                _measure_cpu(driver.running, facts, "runtime_cpu_s")
                if template.logs and driver.running is not None:
                    driver.running.collect_logs()  # before the stop removes its filesystem
                driver.stop()  # first: what a runtime prints while stopping is in its log too
                driver.write_logs()
            finally:
                platform.stop()
                stack.close()
                facts.unserved = platform.state.unserved()
                live.discard(driver)


def _boot(
    shared: Shared,
    driver: Driver,
    platform: PlatformServer,
    stack: contextlib.ExitStack,
    facts: _Facts,
) -> tuple[Running, Peer | None, SlowRequests | None]:
    """Start the runtime (its model and peer first, when it has them) until it is ready."""
    template, header = driver.template, facts.header
    assert header is not None
    assert facts.writer is not None
    platform_url = driver.platform_url(platform.host, platform.port)
    env = runtime_env(template, header.workspace_id, platform_url, shared.options.extra_env)
    slow = None
    if template.model == "sim":
        model = _serve_model(driver, facts.writer, stack, shared.options.model_flake)
        env.update(model_env(driver.platform_url(model.host, model.port), template.secrets,
                             template.model_env))  # fmt: skip
        slow = model.slow
    peer = None
    if "peer_call" in header.selected:
        peer = shared.peers.get(template.peer)
        platform.state.peers[peer.workspace_id] = peer
        platform.state.platform_url = platform_url
    running = driver.start(env)
    facts.warnings += driver.notes
    running.wait_ready(registered=platform.state.registered)
    return running, peer, slow


def _measure_cpu(running: Running | None, facts: _Facts, key: str) -> None:
    """The runtime's CPU so far, in the timings (where the driver can tell): the benchmark
    tells the runtimes' cost from the harness's by it."""
    used = None if running is None else running.cpu_s()
    if used is not None:
        facts.timings[key] = round(used, 3)


def _prepare(driver: Driver, facts: _Facts) -> None:
    """Pull or build what the driver needs; a failure here means nothing was started."""
    progress(driver.template.label, f"preparing ({driver.name} driver)")
    try:
        driver.prepare()
    except TemplateError as exc:
        raise PrepareFailed(str(exc)) from None
    facts.image = driver.image or driver.template.image
    facts.image_id = driver.image_id


def _serve_model(
    driver: Driver, transcript: Transcript, stack: contextlib.ExitStack, flake: Flake | None
) -> ModelServer:
    """Start the scripted model where the runtime reaches it."""
    model = ModelServer(
        driver.platform_host(), recorder=transcript.tied, unserved=transcript.tied, flake=flake,
        turns=Turns(driver.template.label, transcript.in_flight),
    )  # fmt: skip
    stack.callback(model.stop)
    try:
        model.start()
    except OSError as exc:
        raise TemplateError(f"cannot serve the scripted model for the runtime: {exc}") from None
    return model


def _card_versions(running: Running, transcript: Transcript) -> tuple[str, ...] | None:
    """Record the agent card's protocol versions and return them (None: no card)."""
    for path in dict.fromkeys((running.template.ready_path, LEGACY_READY_PATH)):
        try:
            response = httpx.get(running.base_url + path, timeout=10)
            card = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            card = None
        if isinstance(card, dict):
            break
    else:
        return None
    versions = tuple(protocol_versions(card))
    transcript.write(Card(path=path, protocol_versions=versions))
    return versions


def _dialect_warnings(
    declared: str, spoken: Dialect, versions: tuple[str, ...] | None
) -> list[str]:
    """Which dialect ``auto`` chose, and a card that does not list the version spoken (0.3,
    as the platform does, or 1.0); no card is the wire diagnostic's to say."""
    advertised = ", ".join(versions or ()) or "no protocol version"
    found = []
    if declared == AUTO:
        found.append(f"dialect auto: spoke {spoken.name} (the card lists {advertised})")
    if versions is not None and not lists(versions, spoken.version):
        speaks = f"dialect {spoken.name} speaks" if spoken.v1 else "the platform speaks"
        found.append(f"the agent card advertises {advertised}, not {spoken.version} "
                     f"({speaks} {spoken.version})")  # fmt: skip
    return found
