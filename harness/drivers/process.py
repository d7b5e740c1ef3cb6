"""Runs a template's ``command`` as a local process, in a fresh temporary workspace."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from harness.config import Template
from harness.drivers import supervise
from harness.drivers.base import (
    UPLOADS_DIR,
    Driver,
    RunContext,
    TemplateError,
    TemplateSkipped,
    signal_group,
    tail,
    upload_name,
)

STOP_GRACE_S = 5.0
INHERITED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessDriver(Driver):
    """Starts ``command`` with the contract environment; stops its whole process group."""

    name = "process"

    def __init__(self, template: Template, context: RunContext) -> None:
        super().__init__(template, context)
        self._port = free_port()
        self._workspace: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._log: IO[bytes] | None = None
        self._log_path = self.context.artifacts / "runtime.log"

    def prepare(self) -> None:
        if not self.template.command:
            raise TemplateSkipped("the process driver needs a 'command'")

    def platform_host(self) -> str:
        return "127.0.0.1"

    def platform_url(self, host: str, port: int) -> str:
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def workspace(self) -> str:
        assert self._workspace is not None, "the workspace exists once the runtime started"
        return str(self._workspace)

    def start(self, env: Mapping[str, str]) -> None:
        assert self.template.command
        # The harness's own interpreter comes first on PATH, so a command that
        # says "python" gets the environment the harness was installed into.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        # Only what any program needs from the caller: undeclared secrets stay out.
        inherited = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
        self._workspace = Path(tempfile.mkdtemp(prefix=f"canary-{self.template.name}-"))
        full_env = {
            **inherited,
            **env,
            "PATH": path,
            "PORT": str(self._port),
            "HOST": "127.0.0.1",
            "WORKSPACE_DIR": str(self._workspace),
            "PYTHONUNBUFFERED": "1",
        }
        self.context.artifacts.mkdir(parents=True, exist_ok=True)
        self._log = self._log_path.open("wb")
        with self._lock:
            if self._stopped:
                raise TemplateError("stopped before the runtime started")
            self._process = self._spawn(full_env)

    def _spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        assert self.template.command
        # Through the supervisor, which cleans up even if the harness is SIGKILLed.
        # Run as a script: it needs only the standard library, not an installed harness.
        supervised = [
            sys.executable,
            supervise.__file__,
            str(os.getpid()),
            self.workspace,
            "--",
            *self.template.command,
        ]
        try:
            return subprocess.Popen(
                supervised,
                cwd=self.context.config_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stop() reaches its children too
            )
        except OSError as exc:
            raise TemplateError(
                f"cannot start {self.template.command[0]!r}: {exc.strerror}"
            ) from None

    def exit_status(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def logs(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def write_logs(self) -> None:
        # The log already streams to runtime.log; only the tail needs writing.
        short = self.context.artifacts / "runtime.tail.log"
        short.write_text(tail(self.logs()) + "\n", encoding="utf-8")

    def upload(self, name: str, content: bytes) -> str:
        target = Path(self.workspace) / UPLOADS_DIR / upload_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return f"workspace:{target}"

    def snapshot(self, path: str, destination: Path) -> Path | None:
        workspace = Path(self.workspace).resolve()
        source = Path(self.resolve_path(path))
        # Only inside the runtime's workspace, and never through a symlink out of it:
        # a runtime must not be able to make the harness copy a host file.
        if not source.resolve().is_relative_to(workspace):
            raise TemplateError(f"{path} is outside the runtime's workspace {workspace}")
        if not source.exists():
            return None
        target = destination / source.name
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target, follow_symlinks=False)
        return target

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            process = self._process
        if process is not None and process.poll() is None:
            signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
