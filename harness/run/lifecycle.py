"""One template's run: prepare → boot → drive → stop, leaving a transcript to judge.

Everything here happens in the harness process: the driver places uploads and
copies snapshots itself, so nothing a runtime can read grants it a harness action.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from canary import registry
from harness import drivers, secrets
from harness.config import Config, Template
from harness.cp_sim import PlatformServer, Transcript
from harness.cp_sim.transcript import FILE_NAME, SCHEMA_VERSION
from harness.drivers import Driver, RunContext, TemplateError, TemplateSkipped
from harness.drivers.base import LEGACY_READY_PATH
from harness.model_sim import ModelServer
from harness.results import Result, Status
from harness.run.drive import drive
from harness.run.options import Live, RunOptions, progress


class PrepareFailed(TemplateError):
    """The image could not be pulled or built: nothing was started."""


@dataclass
class Driven:
    """A template after its runtime stopped: its result so far, and the evidence to judge.

    Attributes:
        result: Status and reason are final unless ``driven`` is true.
        hidden: Secret values to mask in whatever is written for this template.
        writer: The template's transcript, once opened.
        driven: The conversations ran: the transcript is to be judged.
    """

    result: Result
    hidden: list[str]
    writer: Transcript | None = None
    driven: bool = False

    @property
    def transcript(self) -> Path | None:
        """The transcript to judge, when the conversations ran."""
        return self.writer.path if self.writer is not None and self.driven else None

    def close(self) -> None:
        """End the transcript with the result as it stands (what ``judge`` starts from)."""
        if self.writer is not None:
            footer = {"type": "footer", "driven": self.driven, "result": self.result.to_json()}
            self.writer.write(footer)
            self.writer.close()


def run_template(
    config: Config, template: Template, options: RunOptions, run_id: str, live: Live
) -> Driven:
    """Run one template up to (not including) the judge; never raises for the template."""
    result = Result.new(template)
    artifacts = options.artifacts_dir.resolve() / template.name
    hidden = secrets.values(template, options.extra_env)
    context = RunContext(run_id, config.root, artifacts, hidden=tuple(hidden))
    driven = Driven(result, hidden)
    try:
        missing = secrets.missing(template)
        if missing:
            raise TemplateSkipped(f"secret {missing[0]} is not set in the environment")
        has = frozenset({"model_sim"} if template.model == "sim" else ())
        judged = registry.selected(template.canaries, options.canaries, has)
        if not judged:
            requested = ", ".join(options.canaries or ())
            raise TemplateSkipped(f"the template declares none of the requested canaries "
                                  f"({requested})")  # fmt: skip
        driver = drivers.select(
            template, options.driver, context, pull_policy=options.pull,
            progress=lambda text: progress(template.name, text),
        )  # fmt: skip
    except TemplateSkipped as skip:
        result.status, result.reason = Status.SKIPPED, str(skip)
        return driven
    except TemplateError as exc:  # e.g. --driver docker with no engine
        result.reason = str(exc)
        return driven
    except Exception as exc:  # e.g. the engine went away between probe and use
        result.reason = f"cannot set up a driver: {type(exc).__name__}: {exc}"
        return driven
    try:
        try:
            _run_driver(driver, judged, options, driven, live)
        except PrepareFailed as exc:
            if not _can_fall_back(template, driver, options, live):
                raise
            # auto: an image that cannot be had here is no reason to skip a runnable command.
            note = f"docker image unavailable ({str(exc).splitlines()[0]}); ran as a process"
            progress(template.name, note)
            driver = drivers.ProcessDriver(
                template, context, lambda text: progress(template.name, text)
            )
            result.image = result.image_id = None
            _run_driver(driver, judged, options, driven, live)
            result.reason = note
    except TemplateSkipped as skip:
        result.status, result.reason = Status.SKIPPED, str(skip)
    except TemplateError as exc:
        result.status, result.reason = Status.ERROR, str(exc)
    except Exception as exc:  # a harness bug must not hide the other templates' results
        artifacts.mkdir(parents=True, exist_ok=True)
        trace = artifacts / "harness-error.log"
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        result.status = Status.ERROR
        result.reason = f"harness error: {type(exc).__name__}: {exc} (see {trace})"
        driven.driven = False
    result.artifacts = artifact_list(artifacts, options.artifacts_dir.resolve().parent)
    driven.close()
    return driven


def artifact_list(artifacts: Path, base: Path) -> list[str]:
    """The template's artifact files, relative to ``base`` where they are below it."""
    if not artifacts.is_dir():
        return []
    return sorted(
        str(p.relative_to(base)) if p.is_relative_to(base) else str(p)
        for p in artifacts.rglob("*")
        if p.is_file()
    )


def _can_fall_back(template: Template, driver: Driver, options: RunOptions, live: Live) -> bool:
    return (
        options.driver == "auto"
        and driver.name == "docker"
        and template.command is not None
        and not live.cancelled.is_set()
    )


@contextmanager
def _timed(result: Result, key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        result.timings[key] = round(time.perf_counter() - start, 3)


def _header(template: Template, judged: tuple[str, ...], workspace_id: str) -> dict[str, Any]:
    return {
        "type": "header",
        "schema": SCHEMA_VERSION,
        "template": template.name,
        "gate": template.gate,
        "wave": template.wave,
        "selected": list(judged),
        "conversations": list(registry.conversations(judged)),
        "session_scope": template.session_scope,
        "probe": {"session_store": template.probe.session_store, "key": template.probe.key},
        "dropped_markers": list(template.dropped_markers),
        "workspace_id": workspace_id,
        "ready_path": template.ready_path,
        "turn_timeout": template.turn_timeout,
        # Interleaved conversations would mix in one session a runtime declared to share.
        "concurrent": template.session_scope == "context",
    }


def _run_driver(
    driver: Driver, judged: tuple[str, ...], options: RunOptions, driven: Driven, live: Live
) -> None:
    template, result = driver.template, driven.result
    artifacts = driver.context.artifacts
    artifacts.mkdir(parents=True, exist_ok=True)
    workspace_id = str(uuid.uuid4())
    result.driver = driver.name
    header = _header(template, judged, workspace_id)
    if driven.writer is not None:  # a fallback's second attempt starts a fresh transcript
        driven.writer.close()
    transcript = driven.writer = Transcript(artifacts / FILE_NAME, driven.hidden)
    transcript.write(header)
    try:
        platform = PlatformServer(
            workspace_id, host=driver.platform_host(), recorder=transcript.platform_call
        ).start()
    except OSError as exc:
        raise TemplateError(f"cannot serve the platform API for the runtime: {exc}") from None
    with live.lock:
        live.drivers.add(driver)
    stack = contextlib.ExitStack()  # the model simulator, when the template uses one
    try:
        with _timed(result, "prepare_s"):
            _prepare(driver, result)
        with _timed(result, "boot_s"):
            env = _runtime_env(
                template, workspace_id, driver.platform_url(platform.host, platform.port),
                options.extra_env,
            )  # fmt: skip
            if template.model == "sim":
                env.update(_serve_model(driver, transcript, stack))
            driver.start(env)
            result.warnings += driver.notes
            driver.wait_ready(registered=platform.state.registered)
        progress(template.name, f"ready in {result.timings['boot_s']:.2f}s; driving the canaries")
        result.warnings += _card_warnings(driver, transcript)
        with _timed(result, "canaries_s"):
            asyncio.run(
                drive(
                    base_url=driver.base_url, a2a_path=template.a2a_path,
                    turn_timeout=template.turn_timeout, transcript=transcript, files=driver,
                    artifacts=artifacts, settings=header,
                    conversations=tuple(header["conversations"]), judged=judged,
                    concurrent=bool(header["concurrent"]), runtime=driver,
                )
            )  # fmt: skip
        driven.driven = True
    finally:
        with _timed(result, "teardown_s"):
            try:
                if template.logs:
                    driver.collect_logs()  # before the stop removes the runtime's filesystem
                driver.stop()  # first: what a runtime prints while stopping is in its log too
                driver.write_logs()
            finally:
                platform.stop()
                stack.close()
                result.unserved_calls = platform.state.unserved()
                with live.lock:
                    live.drivers.discard(driver)


def _prepare(driver: Driver, result: Result) -> None:
    """Pull or build what the driver needs; a failure here means nothing was started."""
    progress(driver.template.name, f"preparing ({driver.name} driver)")
    try:
        driver.prepare()
    except TemplateError as exc:
        raise PrepareFailed(str(exc)) from None
    result.image = driver.image or driver.template.image
    result.image_id = driver.image_id


def _serve_model(
    driver: Driver, transcript: Transcript, stack: contextlib.ExitStack
) -> dict[str, str]:
    """Start the scripted model where the runtime reaches it; its variables for the runtime."""
    model = ModelServer(
        driver.platform_host(), recorder=transcript.model_call, unserved=transcript.model_unserved
    )
    stack.callback(model.stop)
    try:
        model.start()
    except OSError as exc:
        raise TemplateError(f"cannot serve the scripted model for the runtime: {exc}") from None
    return model_env(driver.template, driver.platform_url(model.host, model.port))


def _card_warnings(driver: Driver, transcript: Transcript) -> list[str]:
    """Record the agent card's protocol versions; warn when it does not list 0.3."""
    for path in dict.fromkeys((driver.template.ready_path, LEGACY_READY_PATH)):
        try:
            response = httpx.get(driver.base_url + path, timeout=10)
            card = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            card = None
        if isinstance(card, dict):
            break
    else:
        return []  # no card: the wire diagnostic says so
    versions = protocol_versions(card)
    transcript.write({"type": "card", "path": path, "protocol_versions": versions})
    if any(v == "0.3" or v.startswith("0.3.") for v in versions):
        return []
    advertised = ", ".join(versions) if versions else "no protocol version"
    return [f"the agent card advertises {advertised}, not 0.3 (the platform speaks 0.3)"]


def protocol_versions(card: dict[str, Any]) -> list[str]:
    """Protocol versions an agent card advertises (0.3's field and 1.0's interfaces)."""
    found = [card.get("protocolVersion"), card.get("protocol_version")]
    for key in ("supportedInterfaces", "supported_interfaces", "additionalInterfaces"):
        interfaces = card.get(key)
        for interface in interfaces if isinstance(interfaces, list) else []:
            if isinstance(interface, dict):
                found += [interface.get("protocolVersion"), interface.get("protocol_version")]
    return list(dict.fromkeys(str(v) for v in found if isinstance(v, str | int | float) and v))


MODEL_SIM_KEY = "canary-sim-dummy-key"
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1", "ANONYMIZED_TELEMETRY": "false", "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false", "OTEL_SDK_DISABLED": "true", "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1", "AUTOGEN_TELEMETRY": "0", "CREWAI_TELEMETRY_OPT_OUT": "1",
}  # fmt: skip


def model_env(template: Template, url: str) -> dict[str, str]:
    """Where a runtime finds the scripted model: the OpenAI, Anthropic and Gemini base URLs,
    dummy keys for its declared secrets, telemetry off, and the template's ``model_env``."""
    env = {
        **TELEMETRY_OFF,
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_BASE": f"{url}/v1",
        "ANTHROPIC_BASE_URL": url,
        "GOOGLE_GEMINI_BASE_URL": url,  # google-genai ≥ 1.13, and ADK's Gemini through it
        **dict.fromkeys(template.secrets, MODEL_SIM_KEY),
    }
    for name, value in template.model_env.items():
        env[name] = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), value)
    return env


def _runtime_env(
    template: Template, workspace_id: str, platform_url: str, extra: Mapping[str, str]
) -> dict[str, str]:
    env = {**template.env, **extra}
    if template.model != "sim":
        env.update({s: os.environ[s] for s in template.secrets})
    env.update(
        {"WORKSPACE_ID": workspace_id, "PLATFORM_URL": platform_url, "PORT": str(template.port)}
    )
    return env
