"""Runs a template's image as a container, on docker-py; removes it always.

Containers carry labels naming the tool, the run, the template and the harness
process, so a later run can remove what a killed harness left behind, and
``canary-matrix clean`` can remove everything the tool made.
"""

from __future__ import annotations

import contextlib
import functools
import io
import ipaddress
import os
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Collection, Mapping
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import docker.errors
import requests
from docker.models.containers import Container
from docker.models.volumes import Volume

from harness.config import Template
from harness.drivers import images
from harness.drivers.base import (
    UPLOADS_DIR,
    Driver,
    RunContext,
    Running,
    RuntimeStopped,
    TemplateError,
    capped,
    tail,
    upload_name,
)
from harness.drivers.contexts import Progress
from harness.drivers.images import LABEL_TOOL, TOOL

LABEL_RUN = "io.canary-matrix.run"
LABEL_TEMPLATE = "io.canary-matrix.template"
LABEL_PID = "io.canary-matrix.pid"
LABEL_HOST = "io.canary-matrix.host"
CONFIGS_DIR = "/configs"
RUNTIME_UID = 1000  # production images run as uid 1000
DESKTOP_HOST = "host.docker.internal"
SNAPSHOT_ATTEMPTS = 3
ARCHIVE_LIMIT_BYTES = 64 << 20


@functools.cache
def engine() -> tuple[docker.DockerClient | None, str | None]:
    """The shared engine client, or None and why no engine answers (probed once)."""
    try:
        client = images.engine_client()
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        return None, f"no Docker engine answers ({_first_line(exc)})"
    return client, None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160]


def _owned_by_runtime(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = RUNTIME_UID
    info.uname = info.gname = ""
    info.mode |= 0o660 if info.isfile() else 0o770
    return info


def is_desktop(client: docker.DockerClient) -> bool:
    """Docker Desktop runs the engine in a VM; containers reach the host by name."""
    return "Docker Desktop" in str(client.info().get("OperatingSystem", ""))


def bridge_gateway(client: docker.DockerClient) -> str:
    """The default bridge's gateway: the host address containers reach, not 0.0.0.0."""
    network = client.networks.get("bridge")
    for config in network.attrs.get("IPAM", {}).get("Config") or []:
        if config.get("Gateway"):
            return str(config["Gateway"])
        # A fresh daemon may omit Gateway (moby#26799): it is the subnet's first host.
        if config.get("Subnet"):
            return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    raise TemplateError("cannot find the Docker bridge network's gateway address")


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(labels: dict[str, str], host: str) -> bool:
    pid = int(labels.get(LABEL_PID, "0") or 0)
    return labels.get(LABEL_HOST) == host and pid > 0 and not process_alive(pid)


def remove_orphans(client: docker.DockerClient) -> list[str]:
    """Remove containers and volumes of earlier runs here whose harness process is gone."""
    removed = []
    host = socket.gethostname()
    tool: dict[str, str | list[str] | bool] = {"label": f"{LABEL_TOOL}={TOOL}"}
    for container in client.containers.list(all=True, filters=tool):
        if _orphaned(container.labels, host):
            with contextlib.suppress(docker.errors.NotFound):  # another run got there first
                container.remove(force=True)
            removed.append(str(container.name))
    for volume in client.volumes.list(filters=tool):
        if _orphaned(volume.attrs.get("Labels") or {}, host):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                volume.remove(force=True)  # APIError: still in use by a live container
                removed.append(str(volume.name))
    return removed


def clean(client: docker.DockerClient, templates: Collection[str] = ()) -> tuple[int, int]:
    """Remove the containers, volumes and built images the tool made; returns the counts.

    Args:
        client: The engine.
        templates: Only these templates' (all of them when empty).
    """
    filters: list[dict[str, str | list[str] | bool]] = [
        {"label": [f"{LABEL_TOOL}={TOOL}", f"{LABEL_TEMPLATE}={name}"]} for name in templates
    ] or [{"label": f"{LABEL_TOOL}={TOOL}"}]
    containers = [c for f in filters for c in client.containers.list(all=True, filters=f)]
    for container in containers:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for volume in [v for f in filters for v in client.volumes.list(filters=f)]:
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
    built = [i for f in filters for i in client.images.list(filters=f)]
    for image in built:
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(str(image.id), force=True)
    return len(containers), len(built)


class _Container(Running):
    """A runtime running as a container, with its workspace volume."""

    def __init__(
        self, template: Template, context: RunContext, container: Container, workspace: str
    ) -> None:
        super().__init__(template, context)
        self.container = container
        self._workspace = workspace
        self.host_port: int | None = None
        self.stopped = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    @property
    def workspace(self) -> str:
        return self._workspace

    def exit_status(self) -> int | None:
        if self.stopped:
            raise RuntimeStopped("the harness stopped the runtime")
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return -1
        if self.container.status in ("exited", "dead"):
            return int(self.container.attrs["State"]["ExitCode"])
        return None

    def publish(self, port: str) -> None:
        """Find the loopback port Docker published for the runtime's port."""
        # run(detach=True) returns before the port mapping is filled in.
        for _ in range(50):
            self.container.reload()
            bindings = (self.container.ports or {}).get(port)
            if bindings:
                self.host_port = int(bindings[0]["HostPort"])
                return
            if self.container.status in ("exited", "dead"):
                break
            time.sleep(0.05)
        code = self.exit_status()
        if code is not None:
            # It died before its port was mapped: the same error as dying a moment later.
            raise self.died(code)
        raise TemplateError(
            f"container published no port for {port}: {self.decisive_line()}\n"
            f"last lines:\n{tail(self.logs(), 20)}"
        )

    # --- files ------------------------------------------------------------------

    def upload(self, name: str, content: bytes) -> str:
        path = PurePosixPath(self.workspace) / UPLOADS_DIR / upload_name(name)
        return f"workspace:{self.place(str(path), content)}"

    def place(self, path: str, content: bytes) -> str:
        target = PurePosixPath(self.resolve_path(path))
        # Below the root it is under (the workspace volume, /configs), as the platform copies:
        # put_archive needs a directory that exists, so the archive makes the rest.
        root = next((PurePosixPath(r) for r in (self.workspace, CONFIGS_DIR)
                     if target.is_relative_to(r)), PurePosixPath("/"))  # fmt: skip
        relative = target.relative_to(root)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for directory in reversed(relative.parents[:-1]):
                info = tarfile.TarInfo(str(directory))
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                info.uid = info.gid = RUNTIME_UID
                archive.addfile(info)
            info = tarfile.TarInfo(str(relative))
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            info.uid = info.gid = RUNTIME_UID
            archive.addfile(info, io.BytesIO(content))
        if not self.container.put_archive(str(root), buffer.getvalue()):
            raise TemplateError(f"could not copy {target.name} into {root}")
        return str(target)

    def snapshot(self, path: str, destination: Path) -> Path | None:
        source = self.resolve_path(path)
        for attempt in range(SNAPSHOT_ATTEMPTS):
            try:
                stream, _ = self.container.get_archive(source)
                buffer = io.BytesIO(b"".join(stream))
                break
            except docker.errors.NotFound:
                return None
            except docker.errors.APIError:
                # A file the runtime replaced while the engine was archiving: try again.
                if attempt == SNAPSHOT_ATTEMPTS - 1:
                    raise
                time.sleep(0.1)
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=buffer) as archive:
            archive.extractall(destination, filter="data")
        return destination / PurePosixPath(source).name

    def read_files(self, pattern: str) -> list[tuple[str, bytes]]:
        directory, name = pattern.rsplit("/", 1)
        try:
            stream, _ = self.container.get_archive(directory)
        except docker.errors.NotFound:
            return []
        received = bytearray()
        for chunk in stream:
            received += chunk
            if len(received) > ARCHIVE_LIMIT_BYTES:
                break  # a huge directory: what arrived is read, the rest is not evidence
        found = []
        with (
            tarfile.open(fileobj=io.BytesIO(bytes(received)), mode="r|") as archive,
            contextlib.suppress(tarfile.ReadError, EOFError),
        ):
            for member in archive:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) != 2 or not fnmatch(parts[1], name):
                    continue
                content = archive.extractfile(member)
                if content is not None:
                    found.append((f"{directory}/{parts[1]}", capped(content.read())))
        return sorted(found)


class DockerDriver(Driver):
    """Pulls or builds the template's image and runs it with the contract environment."""

    name = "docker"

    def __init__(
        self,
        template: Template,
        context: RunContext,
        client: docker.DockerClient,
        pull_policy: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(template, context)
        self.client = client
        self.pull_policy = pull_policy or template.pull
        self.image = template.image
        self._progress = progress or (lambda text: None)
        self._container: Container | None = None
        self._volume: Volume | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._desktop = is_desktop(client)

    # --- image ------------------------------------------------------------------

    def prepare(self) -> None:
        if self.template.build is not None and self.template.image is None:
            self.image = images.build(
                self.client,
                self.template,
                self.context.artifacts / "build.log",
                self._progress,
                stopped=lambda: self._stopped,
            )
        else:
            assert self.image is not None
            images.pull(
                self.client, self.image, self.pull_policy, self._progress, lambda: self._stopped,
                retries=self.template.retries,
            )  # fmt: skip
        self.image_id = str(self.client.images.get(self.image).id)

    # --- where things are -------------------------------------------------------

    def platform_host(self) -> str:
        override = os.environ.get("CANARY_PLATFORM_HOST")
        if override:
            return override
        return "127.0.0.1" if self._desktop else bridge_gateway(self.client)

    def platform_url(self, host: str, port: int) -> str:
        return f"http://{DESKTOP_HOST if self._desktop else host}:{port}"

    # --- lifecycle --------------------------------------------------------------

    def labels(self) -> dict[str, str]:
        """Labels that identify the tool, the run, the template and this harness process."""
        return {
            LABEL_TOOL: TOOL,
            LABEL_RUN: self.context.run_id,
            LABEL_TEMPLATE: self.template.name,
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
        }

    def start(self, env: Mapping[str, str]) -> Running:
        if self.image is None:
            raise TemplateError("the docker driver has no image to start (prepare first)")
        port = f"{self.template.port}/tcp"
        name = f"canary-{self.template.name}{self.context.instance}-{self.context.run_id}"
        workspace = self.template.workspace
        options: dict[str, Any] = {
            "name": name,
            "environment": dict(env),
            "ports": {port: ("127.0.0.1", None)},
            "labels": self.labels(),
            "init": True,
        }
        if self._desktop:
            options["extra_hosts"] = {DESKTOP_HOST: "host-gateway"}
        if self.template.mem_limit:
            options["mem_limit"] = self.template.mem_limit
        if self.template.cpus:
            options["nano_cpus"] = int(self.template.cpus * 1e9)
        with self._lock:
            if self._stopped:
                raise RuntimeStopped("interrupted before the container started")
            try:
                # As production provisions it: a fresh volume at the workspace, writable
                # by the runtime's uid, so an image need not create /workspace itself.
                self._volume = self.client.volumes.create(
                    name=f"{name}-workspace", driver="local", labels=self.labels(),
                    driver_opts={"type": "tmpfs", "device": "tmpfs",
                                 "o": f"uid={RUNTIME_UID},gid={RUNTIME_UID},mode=0775"},
                )  # fmt: skip
                options["volumes"] = {self._volume.name: {"bind": workspace, "mode": "rw"}}
                container = self._container = self.client.containers.create(self.image, **options)
                self._put_configs(container, env, workspace)
                container.start()
                running = _Container(self.template, self.context, container, workspace)
                self.running = running
                # Streamed by the harness from the start: masked and capped as it comes.
                running.capture(container.logs(stream=True, follow=True))
            except docker.errors.APIError as exc:
                raise TemplateError(f"cannot start {self.image}: {exc.explanation}") from None
        running.publish(port)
        return running

    def _put_configs(self, container: Container, env: Mapping[str, str], workspace: str) -> None:
        """Copy the rendered configs to /configs (writable by the runtime's uid)."""
        with tempfile.TemporaryDirectory(prefix="canary-configs-") as scratch:
            rendered = Path(scratch) / "configs"
            self.render_configs(rendered, env, workspace)
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as archive:
                archive.add(rendered, arcname=CONFIGS_DIR.strip("/"), filter=_owned_by_runtime)
        if not container.put_archive("/", buffer.getvalue()):
            raise TemplateError(f"could not copy the configs into {CONFIGS_DIR}")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            container, self._container = self._container, None
            volume, self._volume = self._volume, None
        if isinstance(self.running, _Container):
            self.running.stopped = True
        if container is not None:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    raise
        if volume is not None:
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
