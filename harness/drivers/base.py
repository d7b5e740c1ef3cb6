"""The driver interface: how a template's runtime is prepared, started and stopped.

A :class:`Driver` owns one runtime for one run. The orchestration calls, in order,
:meth:`Driver.prepare` (pull or build), :meth:`Driver.start`, which returns the
:class:`Running` runtime (where it answers, its files, its output: what only a
started runtime has), :meth:`Running.wait_ready`, drives the conversations through
the running runtime, and always calls :meth:`Driver.stop` and then
:meth:`Driver.write_logs` at the end.
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.config import Template
from harness.drivers.logs import RuntimeLog, decisive_line
from harness.errors import HarnessError

LEGACY_READY_PATH = "/.well-known/agent.json"
UPLOADS_DIR = ".molecule/chat-uploads"
LOG_TAIL_LINES = 200
LOG_DRAIN_S = 3.0
LOG_FILE_HEAD_BYTES = 256 << 10
LOG_FILE_TAIL_BYTES = 256 << 10
"""How much of each declared log file is kept: its start and its end."""
LOG_FILES_DIR = "logs"
_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
_MODEL_URLS = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL")
_PLACEHOLDER_RE = re.compile(
    rf"\$\{{(PORT|WORKSPACE_ID|PLATFORM_URL|WORKSPACE_DIR|{'|'.join(_MODEL_URLS)})\}}"
)


class TemplateSkipped(HarnessError):
    """A declared precondition is missing (a secret, a driver): the template is skipped."""


class TemplateError(HarnessError):
    """The template never got to run its canaries (build, pull or boot failed)."""


class RuntimeStopped(TemplateError):
    """The harness stopped the runtime (Ctrl-C, the end of the run): its exit is not its own."""


@dataclass(frozen=True)
class RunContext:
    """What every driver of one harness run shares.

    Attributes:
        run_id: Identifies this run (labels, temp names).
        config_root: Directory of the templates file; relative paths resolve here.
        artifacts: This template's artifacts directory.
        hidden: Secret values masked in everything the driver writes.
        instance: Tells apart two runtimes of one template in one run (a peer's).
    """

    run_id: str
    config_root: Path
    artifacts: Path
    hidden: tuple[str, ...] = ()
    instance: str = ""


def sanitize_filename(name: str) -> str:
    """A file name safe in any filesystem, keeping its extension readable."""
    cleaned = _UNSAFE_NAME_RE.sub("_", Path(name).name).strip("._") or "file"
    return cleaned[:100]


def upload_name(name: str) -> str:
    """The platform's name for an uploaded file: ``<32 hex>-<sanitized name>``."""
    return f"{secrets.token_hex(16)}-{sanitize_filename(name)}"


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal a process started with ``start_new_session`` and everything in its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


STOP_GRACE_S = 5.0
"""How long a stopped runtime or pip run gets between SIGTERM and SIGKILL."""


def stop_group(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the process's group, SIGKILL what is left after ``grace`` seconds; wait."""
    signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait()


def head_and_tail(start: bytes, end: bytes, size: int) -> bytes:
    """A long file's start and end, joined by a line saying how much was left out."""
    left_out = size - len(start) - len(end)
    return start + f"\n[canary-matrix: {left_out} bytes left out]\n".encode() + end


def capped(content: bytes) -> bytes:
    """A file's content, its start and end only when it is longer than the cap."""
    if len(content) <= LOG_FILE_HEAD_BYTES + LOG_FILE_TAIL_BYTES:
        return content
    start, end = content[:LOG_FILE_HEAD_BYTES], content[-LOG_FILE_TAIL_BYTES:]
    return head_and_tail(start, end, len(content))


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log."""
    return "\n".join(text.splitlines()[-lines:])


class Running(abc.ABC):
    """A started runtime: what only exists once it runs (made by :meth:`Driver.start`).

    Its output streams into ``runtime.log`` (masked and capped) from the start.
    """

    def __init__(self, template: Template, context: RunContext) -> None:
        self.template = template
        self.context = context
        self._log = RuntimeLog(context.artifacts / "runtime.log", context.hidden)
        self._log_pump: threading.Thread | None = None

    def capture(self, output: Iterable[bytes]) -> None:
        """Stream the runtime's output into ``runtime.log`` as it comes."""
        self._log_pump = self._log.pump(output)

    def logs(self) -> str:
        """What the runtime printed so far (masked; head and tail when it printed a lot)."""
        return self._log.text()

    def write_logs(self) -> None:
        """Finish ``runtime.log`` and save its tail; after the runtime stopped."""
        if self._log_pump is not None:
            self._log_pump.join(timeout=LOG_DRAIN_S)  # the output ends with the runtime
        self._log.close()
        (self.context.artifacts / "runtime.tail.log").write_text(
            tail(self.logs()) + "\n", encoding="utf-8"
        )

    def collect_logs(self) -> dict[str, str]:
        """The template's declared log files (``logs``), read now from the runtime.

        Each is masked and capped (its start and its end) as it is copied to
        ``artifacts/logs/``; a file that cannot be read is skipped, since these are
        evidence of a failure, never a failure of their own.

        Returns:
            Their text by runtime path, in the order found.
        """
        found: dict[str, str] = {}
        for pattern in self.template.logs:
            try:
                files = self.read_files(self.resolve_path(pattern))
            except (HarnessError, OSError):
                continue
            for path, content in files:
                name = sanitize_filename(path.strip("/").replace("/", "_"))
                log = RuntimeLog(
                    self.context.artifacts / LOG_FILES_DIR / name, self.context.hidden,
                    head=LOG_FILE_HEAD_BYTES, tail=LOG_FILE_TAIL_BYTES,
                )  # fmt: skip
                log.feed(content)
                log.close()
                found[path] = log.text()
        return found

    def cpu_s(self) -> float | None:
        """CPU seconds the runtime has used so far, where the driver can tell (else None)."""
        return None

    def decisive_line(self) -> str:
        """Why the runtime failed, from its output, else from its declared log files."""
        return decisive_line(self.logs(), self.collect_logs())

    def died(self, code: int, when: str = "during boot") -> TemplateError:
        """The error for a runtime that exited on its own: its code and decisive line."""
        if self._log_pump is not None:
            # It exited: its output ends; what it printed last may still be in the pipe.
            self._log_pump.join(timeout=LOG_DRAIN_S)
        return TemplateError(
            f"runtime exited with code {code} {when}: {self.decisive_line()}\n"
            f"last lines:\n{tail(self.logs(), 20)}"
        )

    @property
    @abc.abstractmethod
    def base_url(self) -> str:
        """Where the harness reaches the runtime's HTTP port."""

    @property
    @abc.abstractmethod
    def workspace(self) -> str:
        """The runtime's workspace root, in the runtime's filesystem."""

    @abc.abstractmethod
    def exit_status(self) -> int | None:
        """The runtime's exit code once it exited on its own, else None.

        Raises:
            RuntimeStopped: The harness stopped it (the same for every driver).
        """

    @abc.abstractmethod
    def upload(self, name: str, content: bytes) -> str:
        """Place a file in the chat uploads directory; returns its ``workspace:`` URI."""

    @abc.abstractmethod
    def place(self, path: str, content: bytes) -> str:
        """Write a file into the runtime's filesystem (its workspace or ``/configs``), making
        its directories; ``{workspace}`` expands. Returns the path as the runtime sees it."""

    @abc.abstractmethod
    def snapshot(self, path: str, destination: Path) -> Path | None:
        """Copy a path of the runtime's filesystem to ``destination``; None if absent."""

    @abc.abstractmethod
    def read_files(self, pattern: str) -> list[tuple[str, bytes]]:
        """Files of the runtime's filesystem matching a glob (wildcards in the name only).

        Returns:
            (runtime path, content) pairs; a long file's content is its start and its
            end, joined by a line saying how much was left out.
        """

    def resolve_path(self, path: str) -> str:
        """Expand ``{workspace}`` in a declared runtime path."""
        return path.replace("{workspace}", self.workspace)

    def wait_ready(self, registered: Callable[[], bool]) -> None:
        """Poll until the agent card answers (DESIGN §3: the ready path, or the legacy one).

        Args:
            registered: Tells whether the runtime registered (said when it never gets ready).

        Raises:
            TemplateError: The runtime exited, or ``boot_timeout`` passed.
        """
        deadline = time.monotonic() + self.template.boot_timeout
        paths = [self.template.ready_path]
        if self.template.ready_path != LEGACY_READY_PATH:
            paths.append(LEGACY_READY_PATH)
        delay = 0.02
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.exit_status()
                if code is not None:
                    raise self.died(code)
                if any(self._answers(client, path) for path in paths):
                    return
                if time.monotonic() > deadline:
                    registration = " (it did register with the platform)" if registered() else ""
                    raise TemplateError(
                        f"not ready after {self.template.boot_timeout:g}s: "
                        f"GET {' or '.join(paths)} never answered 200{registration}"
                    )
                time.sleep(delay)
                delay = min(delay * 1.5, 0.2)

    def _answers(self, client: httpx.Client, path: str) -> bool:
        try:
            return client.get(self.base_url + path).status_code == 200
        except httpx.HTTPError:
            return False


class Driver(abc.ABC):
    """Prepares, starts and stops one template's runtime for one harness run."""

    name: str
    image: str | None = None
    """The image the runtime runs, for results (None for a local process)."""
    image_id: str | None = None

    def __init__(self, template: Template, context: RunContext) -> None:
        self.template = template
        self.context = context
        self.notes: list[str] = []
        """Where the runtime's surroundings differ from production's (shown as warnings)."""
        self.running: Running | None = None
        """The runtime, once started (kept so that :meth:`stop` reaches it)."""

    def write_logs(self) -> None:
        """Finish the runtime's logs; call after :meth:`stop`."""
        if self.running is not None:
            self.running.write_logs()

    def render_configs(self, destination: Path, env: Mapping[str, str], workspace: str) -> None:
        """Copy the template's ``configs`` directory, rendering ``${PORT}`` and the like.

        Text files get ``${PORT}``, ``${WORKSPACE_ID}``, ``${PLATFORM_URL}``,
        ``${WORKSPACE_DIR}`` and, on the scripted model, its base URLs
        (``${OPENAI_BASE_URL}``, ``${ANTHROPIC_BASE_URL}``, ``${GOOGLE_GEMINI_BASE_URL}``;
        elsewhere they are left for the runtime's own expansion) replaced by what the
        runtime sees; other files are copied as they are. With no ``configs``,
        ``destination`` is left empty.
        """
        destination.mkdir(parents=True, exist_ok=True)
        source = self.template.configs
        if source is None:
            return
        values = {
            "PORT": env.get("PORT", str(self.template.port)),
            "WORKSPACE_ID": env.get("WORKSPACE_ID", ""),
            "PLATFORM_URL": env.get("PLATFORM_URL", ""),
            "WORKSPACE_DIR": workspace,
            **{name: env[name] for name in _MODEL_URLS if name in env},
        }
        for path in sorted(source.rglob("*")):
            target = destination / path.relative_to(source)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            content = path.read_bytes()
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                target.write_bytes(content)
            else:
                rendered = _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
                target.write_text(rendered, encoding="utf-8")

    @abc.abstractmethod
    def prepare(self) -> None:
        """Make the runtime startable (pull or build an image); raises TemplateError."""

    @abc.abstractmethod
    def platform_host(self) -> str:
        """The address the platform server must bind so the runtime can reach it."""

    @abc.abstractmethod
    def platform_url(self, host: str, port: int) -> str:
        """The platform server's URL as the runtime sees it."""

    @abc.abstractmethod
    def start(self, env: Mapping[str, str]) -> Running:
        """Start the runtime with the given environment (contract variables included).

        Sets :attr:`running` as soon as there is a runtime to stop, even when the start
        then fails (its logs say why).
        """

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the runtime and release everything it holds; safe to call twice."""
