"""Runs a template's ``command`` as a local process, in a fresh temporary workspace."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.config import Template
from harness.drivers import cpu, isolation, supervise, venvs
from harness.drivers.base import (
    LOG_FILE_HEAD_BYTES,
    LOG_FILE_TAIL_BYTES,
    UPLOADS_DIR,
    Driver,
    RunContext,
    Running,
    RuntimeStopped,
    TemplateError,
    TemplateSkipped,
    head_and_tail,
    stop_group,
    upload_name,
)
from harness.drivers.contexts import Progress, cache_root

CHUNK_BYTES = 1 << 16
INHERITED_ENV = (
    "PATH", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)  # fmt: skip


class _Ports:
    """Hands out ports for runtimes to listen on, never one the kernel may pick itself.

    A port found free is only free until someone binds it. The kernel picks
    ports for ``bind(0)`` and for outgoing connections from its ephemeral range,
    so a port from below that range cannot be taken by the platform simulator or
    a client socket between the check here and the runtime's own ``bind``; and a
    port handed out is not handed out again while its runtime holds it.
    """

    SPAN = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: set[int] = set()
        self._random = random.SystemRandom()

    @staticmethod
    def _ephemeral_low() -> int:
        try:
            return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 32768

    def take(self) -> int:
        low = self._ephemeral_low()
        candidates = range(max(1024, low - self.SPAN), low)
        with self._lock:
            for _ in range(200):
                port = self._random.choice(candidates) if candidates else 0
                if port in self._taken:
                    continue
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    try:
                        sock.bind(("127.0.0.1", port))
                    except OSError:
                        continue
                    port = int(sock.getsockname()[1])
                self._taken.add(port)
                return port
        raise TemplateError("no free TCP port on 127.0.0.1 for the runtime")

    def give_back(self, port: int) -> None:
        with self._lock:
            self._taken.discard(port)


PORTS = _Ports()


def _copy_if_present(source: str, target: str) -> None:
    """Copy one file of a live store; one replaced while the copy runs is skipped."""
    # The runtime keeps writing (write a temporary file, rename it over the old one):
    # a file listed a moment ago may be gone, and that is no failure of the runtime.
    with contextlib.suppress(FileNotFoundError):
        shutil.copy2(source, target, follow_symlinks=False)


def _read_capped(path: Path) -> bytes:
    """A file's start and end, without reading a huge one whole."""
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(0)
        if size <= LOG_FILE_HEAD_BYTES + LOG_FILE_TAIL_BYTES:
            return file.read()
        start = file.read(LOG_FILE_HEAD_BYTES)
        file.seek(size - LOG_FILE_TAIL_BYTES)
        end = file.read(LOG_FILE_TAIL_BYTES)
    return head_and_tail(start, end, size)


@dataclass(frozen=True)
class _Directories:
    """The run's own directories: on the host below ``root``, and as the runtime sees them.

    Isolated, the runtime sees them at ``/workspace``, ``/configs`` and ``/tmp`` (its
    ``HOME`` inside that ``/tmp``); otherwise at their host paths.
    """

    root: Path
    isolated: bool

    @property
    def host_workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def host_configs(self) -> Path:
        return self.root / "configs"

    @property
    def host_tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def workspace(self) -> str:
        return isolation.WORKSPACE if self.isolated else str(self.host_workspace)

    @property
    def configs(self) -> str:
        return isolation.CONFIGS if self.isolated else str(self.host_configs)

    @property
    def tmp(self) -> str:
        """The runtime's private temporary directory as it sees it (its ``TMPDIR``)."""
        return isolation.TMP if self.isolated else str(self.host_tmp)

    @property
    def home(self) -> str:
        """The runtime's fresh ``HOME`` as it sees it."""
        return isolation.HOME if self.isolated else str(self.root / "home")

    def make(self) -> None:
        self.host_workspace.mkdir()
        self.host_tmp.mkdir()
        self.host_tmp.chmod(0o1777)  # as a /tmp is
        (self.host_tmp / "home" if self.isolated else self.root / "home").mkdir()

    def host_path(self, runtime_path: str) -> Path:
        """Where a path of the runtime's filesystem is on the host (its own directories only)."""
        path = Path(runtime_path)
        seen = [(self.workspace, self.host_workspace), (self.configs, self.host_configs)]
        # Isolated, its /tmp is the run's; otherwise TMPDIR and HOME are under the root.
        seen.append(
            (isolation.TMP, self.host_tmp) if self.isolated else (str(self.root), self.root)
        )
        for where, host in seen:
            if path == Path(where) or path.is_relative_to(where):
                return host / path.relative_to(where)
        raise TemplateError(f"{runtime_path} is outside the runtime's own directories")


class _Process(Running):
    """A runtime running as a local process (its group, through the supervisor)."""

    def __init__(
        self, template: Template, context: RunContext, dirs: _Directories, port: int
    ) -> None:
        super().__init__(template, context)
        self.dirs = dirs
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.stopped = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def workspace(self) -> str:
        return self.dirs.workspace

    def exit_status(self) -> int | None:
        if self.stopped:
            raise RuntimeStopped("the harness stopped the runtime")
        return None if self.process is None else self.process.poll()

    def upload(self, name: str, content: bytes) -> str:
        path = Path(self.workspace) / UPLOADS_DIR / upload_name(name)
        return f"workspace:{self.place(str(path), content)}"

    def place(self, path: str, content: bytes) -> str:
        runtime_path = self.resolve_path(path)
        host = self.dirs.host_path(runtime_path)
        host.parent.mkdir(parents=True, exist_ok=True)  # mkdir -p, then copy: the platform's way
        host.write_bytes(content)
        return runtime_path

    def snapshot(self, path: str, destination: Path) -> Path | None:
        source = self.dirs.host_path(self.resolve_path(path))
        # Never through a symlink out of the run's directories: a runtime must not be
        # able to make the harness copy a host file.
        if not source.resolve().is_relative_to(self.dirs.root.resolve()):
            raise TemplateError(f"{path} leads outside the runtime's workspace")
        if not source.exists():
            return None
        target = destination / source.name
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, symlinks=True, dirs_exist_ok=True, copy_function=_copy_if_present
            )
        else:
            _copy_if_present(str(source), str(target))
        return target

    def read_files(self, pattern: str) -> list[tuple[str, bytes]]:
        directory, name = pattern.rsplit("/", 1)
        try:
            host_directory, confined = self.dirs.host_path(directory), True
        except TemplateError:
            if self.dirs.isolated:
                raise
            # Not isolated, the runtime wrote to the host's own /tmp: that is where it is.
            host_directory, confined = Path(directory), False
        found = []
        for host in sorted(host_directory.glob(name)) if host_directory.is_dir() else []:
            if not host.is_file() or host.is_symlink():
                continue
            if confined and not host.resolve().is_relative_to(self.dirs.root.resolve()):
                continue
            found.append((f"{directory}/{host.name}", _read_capped(host)))
        return found

    def cpu_s(self) -> float | None:
        # The runtime's tree below the supervisor: the supervisor is the harness's cost.
        return None if self.process is None else cpu.descendants_cpu_s(self.process.pid)

    def terminate(self) -> None:
        """Stop the process group (the supervisor waits for the runtime)."""
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            stop_group(self.process)


class ProcessDriver(Driver):
    """Starts ``command`` with the contract environment; stops its whole process group.

    The runtime gets a fresh workspace, configs directory, ``/tmp`` and ``HOME`` per
    run. Where a private namespace is available (:mod:`harness.drivers.isolation`) it
    sees them at ``/workspace``, ``/configs`` and ``/tmp``, as in a container;
    otherwise at their temporary paths (``WORKSPACE_DIR``, ``CONFIGS_DIR``,
    ``TMPDIR``), and the driver notes that it fell back.
    """

    name = "process"

    def __init__(
        self, template: Template, context: RunContext, progress: Progress | None = None
    ) -> None:
        super().__init__(template, context)
        self._progress: Progress = progress or (lambda _text: None)
        self._local: venvs.LocalBuild | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._root: Path | None = None
        self._port: int | None = None

    def prepare(self) -> None:
        if not self.template.command:
            raise TemplateSkipped("the process driver needs a 'command'")
        if self.template.process_from_build:
            assert self.template.build is not None, "config: process_from_build needs a build"
            cache = cache_root()
            self._local = venvs.prepare(
                self.template.build, self.template.name, cache, self._progress,
                stopped=lambda: self._stopped,
            )  # fmt: skip

    def platform_host(self) -> str:
        return "127.0.0.1"

    def platform_url(self, host: str, port: int) -> str:
        return f"http://{host}:{port}"

    def start(self, env: Mapping[str, str]) -> Running:
        command = list(self.template.command or ())
        if not command:
            raise TemplateSkipped("the process driver needs a 'command'")
        # Taken just before the start, not at prepare: a venv may take minutes to make.
        port = self._port = PORTS.take()
        root = self._root = Path(tempfile.mkdtemp(prefix=f"canary-{self.template.name}-"))
        reason = isolation.unavailable()
        dirs = _Directories(root, isolated=reason is None)
        dirs.make()
        if reason is not None:
            self.notes.append(
                f"the process driver could not isolate the runtime ({reason}): it saw its "
                f"workspace at {dirs.host_workspace} instead of /workspace, shared the host's "
                "/tmp (its TMPDIR and HOME were private directories) and could read the host's "
                "processes"
            )
        # The template's own venv, else the harness's interpreter, comes first on PATH:
        # a command that says "python" gets the packages it was installed with.
        first = self._local.path if self._local else (Path(sys.executable).parent,)
        # Only what any program needs from the caller: undeclared secrets stay out.
        inherited = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
        full_env = {
            **inherited,
            # A fresh HOME and /tmp, as a container has (a template's env may say otherwise).
            "HOME": dirs.home,
            "TMPDIR": dirs.tmp,
            **env,
            "PATH": os.pathsep.join([*map(str, first), os.environ.get("PATH", "")]),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WORKSPACE_DIR": dirs.workspace,
            "CONFIGS_DIR": dirs.configs,
            "WORKSPACE_CONFIG_PATH": dirs.configs,
            "PYTHONUNBUFFERED": "1",
        }
        if self._local:
            full_env["PYTHONDONTWRITEBYTECODE"] = "1"  # the copy is shared, as the image's /app is
        self.render_configs(dirs.host_configs, full_env, dirs.workspace)
        self.context.artifacts.mkdir(parents=True, exist_ok=True)
        running = _Process(self.template, self.context, dirs, port)
        with self._lock:
            if self._stopped:
                raise RuntimeStopped("stopped before the runtime started")
            running.process = self._spawn(command, dirs, full_env)
            self.running = running
        assert running.process.stdout is not None
        output = running.process.stdout.fileno()
        running.capture(iter(lambda: os.read(output, CHUNK_BYTES), b""))
        return running

    def _spawn(
        self, command: list[str], dirs: _Directories, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        cwd = self._local.app if self._local else self.context.config_root
        if dirs.isolated:
            found = shutil.which(command[0], path=env.get("PATH"))
            candidates = [str(cwd), *command, *([found] if found else []), sys.prefix]
            candidates += [entry for value in env.values() for entry in value.split(os.pathsep)]
            keep = isolation.kept_paths(candidates, dirs.root)
            command = isolation.wrap(
                command, dirs.host_workspace, dirs.host_configs, dirs.host_tmp, keep
            )
        # Through the supervisor, which cleans up even if the harness is SIGKILLed.
        # Run as a script: it needs only the standard library, not an installed harness.
        supervised = [
            sys.executable, supervise.__file__, str(os.getpid()), str(dirs.root), "--", *command
        ]  # fmt: skip
        try:
            return subprocess.Popen(
                supervised,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,  # read by the harness: masked and capped as it comes
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stop() reaches its children too
            )
        except OSError as exc:
            raise TemplateError(f"cannot start {command[0]!r}: {exc.strerror}") from None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            running = self.running
        if isinstance(running, _Process):
            running.terminate()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        if self._port is not None:
            PORTS.give_back(self._port)
            self._port = None
