"""Getting a template's image: pull by policy, or build from its context (reused by hash)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
from docker.transport.unixconn import UnixHTTPAdapter, UnixHTTPConnectionPool

from harness.config import Build, Template
from harness.drivers.base import TemplateError
from harness.drivers.contexts import (
    Progress,
    Stopped,
    context_digest,
    context_files,
    never,
    npm_stamp,
    packages_ready,
    wheel_target,
)

_ARG_RE = re.compile(r"^\s*ARG\s+(\w+)(?:=(\S*))?", re.IGNORECASE | re.MULTILINE)
_FROM_RE = re.compile(
    r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE
)
_VARIABLE_RE = re.compile(r"\$\{?(\w+)\}?")
LABEL_TOOL = "io.canary-matrix.tool"
TOOL = "canary-matrix"


def build_tag(template: Template) -> str:
    """``canary-matrix/<template>:<hash>`` of the context's files, Dockerfile and args."""
    assert template.build is not None
    digest = hashlib.sha256(context_digest(template.build).encode())
    digest.update(template.build.dockerfile.encode() + b"\0")
    for key, value in sorted(template.build.args.items()):
        digest.update(f"{key}={value}\0".encode())
    if template.build.wheelhouse:
        digest.update(f"wheels:{wheel_target(template.build)}".encode())
        digest.update(b" no-deps" if template.build.wheelhouse.no_deps else b"")
    if template.build.npm:
        digest.update(f"npm:{npm_stamp(template.build)}".encode())
    return f"{TOOL}/{template.name}:{digest.hexdigest()[:12]}"


def build_args(build: Build) -> dict[str, str]:
    """The template's build arguments, and ``PIP_NO_DEPS=1`` for a wheelhouse whose
    requirements are the whole tree (the framework shell's Dockerfile passes it to pip)."""
    no_deps = build.wheelhouse is not None and build.wheelhouse.no_deps
    return {**build.args, **({"PIP_NO_DEPS": "1"} if no_deps else {})}


@contextlib.contextmanager
def _context_archive(build: Build, progress: Progress, stopped: Stopped) -> Iterator[IO[bytes]]:
    """The build context as Docker receives it: the directory, as ``.dockerignore``
    leaves it, with its wheelhouse and npm packages, and the shared files of
    ``build.include`` at its root."""
    with tempfile.TemporaryFile() as archive:
        with (
            packages_ready(build, progress, stopped),
            tarfile.open(fileobj=archive, mode="w") as tar,
        ):
            for name, path in context_files(build, downloads=True):
                tar.add(path, arcname=name, recursive=False)
        archive.seek(0)
        yield archive


def base_images(build: Build) -> list[str]:
    """The images the Dockerfile builds ``FROM``, its ``ARG`` defaults and the build's
    args filled in; earlier stages and ``scratch`` are not images to get."""
    # An included Dockerfile (the shell's) or the context's own: no walk of the context.
    found = dict(build.include).get(build.dockerfile, build.context / build.dockerfile)
    if not found.is_file():
        return []  # the build says what is missing
    text = found.read_text(encoding="utf-8", errors="replace")
    values = {m.group(1): m.group(2) or "" for m in _ARG_RE.finditer(text)}
    values.update(build.args)
    stages, bases = {"scratch"}, []
    for line in _FROM_RE.finditer(text):
        image = _VARIABLE_RE.sub(lambda m: values.get(m.group(1), ""), line.group(1))
        if image.lower() not in stages and image not in bases:
            bases.append(image)
        if line.group(2):
            stages.add(line.group(2).lower())
    return bases


def image_exists(client: docker.DockerClient, reference: str) -> bool:
    """Whether the engine has this image locally."""
    try:
        client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def build(
    client: docker.DockerClient,
    template: Template,
    log_path: Path,
    progress: Progress,
    stopped: Stopped = never,
) -> str:
    """Build the template's image unless an image with its context hash exists.

    Returns:
        The image's tag.

    Raises:
        TemplateError: The build failed; the message names the failing step and
            the last lines of ``build.log``.
    """
    assert template.build is not None
    tag = build_tag(template)
    with _one_build_at_a_time(tag, stopped):
        if image_exists(client, tag):
            return tag
        return _build(client, template, tag, log_path, progress=progress, stopped=stopped)


_TAG_LOCKS: dict[str, threading.Lock] = {}
_TAG_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _one_build_at_a_time(tag: str, stopped: Stopped) -> Iterator[None]:
    """One build of a tag in this process: the cells of one template (one per dialect) share
    it. Concurrent builds of one tag each made an image, and all but one were left untagged."""
    with _TAG_LOCKS_GUARD:
        lock = _TAG_LOCKS.setdefault(tag, threading.Lock())
    while not lock.acquire(timeout=0.2):
        if stopped():
            raise TemplateError(f"interrupted while {tag} was being built for another cell")
    try:
        yield
    finally:
        lock.release()


def _build(
    client: docker.DockerClient,
    template: Template,
    tag: str,
    log_path: Path,
    *,
    progress: Progress,
    stopped: Stopped,
) -> str:
    assert template.build is not None
    # Before the context's downloads and archive: a build without its base fails anyway.
    for base in base_images(template.build):
        pull(client, base, "missing", progress, stopped)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    step, lines = "", []
    archive = _context_archive(template.build, progress, stopped)
    with archive as context, log_path.open("w", encoding="utf-8") as log:
        try:
            stream = client.api.build(
                fileobj=context,
                custom_context=True,
                dockerfile=template.build.dockerfile,
                buildargs=build_args(template.build),
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                labels={LABEL_TOOL: TOOL, "io.canary-matrix.template": template.name},
            )
            for event in stream:
                if stopped():
                    raise TemplateError(f"interrupted during the build ({step or 'start'})")
                text = str(event.get("stream") or event.get("status") or "")
                if text:
                    log.write(text)
                    lines.extend(text.splitlines())
                    if text.startswith("Step "):
                        step = text.strip()
                        progress(f"build {step[:90]}")
                if "error" in event:
                    log.write(f"ERROR: {event['error']}\n")
                    raise TemplateError(
                        f"build failed at {step or 'the start'}: {event['error'].strip()}\n"
                        + "\n".join(lines[-10:])
                    )
        except docker.errors.APIError as exc:
            log.write(f"ERROR: {exc.explanation}\n")
            raise TemplateError(
                f"build failed at {step or 'the start'}: {exc.explanation}"
            ) from None
    if not image_exists(client, tag):
        raise TemplateError(f"build ended without producing {tag}; see {log_path}")
    return tag


RETRYABLE_PULL_RE = re.compile(
    r"toomanyrequests|too many requests|timeout|timed out|connection reset|tls handshake"
    r"|unexpected http status: 5\d\d|\b50[234]\b|unexpected eof",
    re.IGNORECASE,
)
"""A registry's or the network's passing trouble. Not retried: an unknown host (an offline
machine stays offline), a missing image, a refused login."""
PULL_BACKOFF_S = 1.0


def pull(
    client: docker.DockerClient,
    reference: str,
    policy: str,
    progress: Progress,
    stopped: Stopped = never,
    *,
    retries: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Pull an image per policy (``missing``, ``always``, ``never``), with condensed progress.

    A pull that fails for a registry's passing trouble (:data:`RETRYABLE_PULL_RE`) is tried
    again up to ``retries`` times, after 1 s, 2 s, 4 s…; one that still fails says it was the
    infrastructure's.

    Raises:
        TemplateError: The image is not available under the policy, or the pull failed.
    """
    present = image_exists(client, reference)
    if policy == "never" or (policy == "missing" and present):
        if not present:
            raise TemplateError(f"image {reference} is not present and the pull policy is 'never'")
        return
    repository, tag = _split(reference)
    for attempt in range(retries + 1):
        layer_states: dict[str, str] = {}
        try:
            for event in client.api.pull(repository, tag=tag, stream=True, decode=True):
                if stopped():
                    raise TemplateError(f"interrupted while pulling {reference}")
                _pull_event(event, layer_states, progress)
            return
        except docker.errors.APIError as exc:
            if present:  # 'always' with a copy at hand: a registry outage is not the template's
                progress(f"pull failed, using the local {reference}: {exc.explanation}")
                return
            passing = RETRYABLE_PULL_RE.search(str(exc.explanation or exc))
            if passing is None:
                raise TemplateError(f"pull of {reference} failed: {exc.explanation}") from None
            if attempt == retries or stopped():
                raise TemplateError(
                    f"infrastructure: pull of {reference} failed {attempt + 1} time(s), the "
                    f"registry's or the network's trouble ({passing.group(0)}): {exc.explanation}"
                ) from None
            wait = PULL_BACKOFF_S * float(2**attempt)
            progress(f"pull failed ({passing.group(0)}); trying again in {wait:g}s")
            sleep(wait)


def _pull_event(event: dict[str, Any], states: dict[str, str], progress: Progress) -> None:
    if "error" in event:
        raise docker.errors.APIError(str(event["error"]), explanation=str(event["error"]))
    layer, status = event.get("id"), str(event.get("status", ""))
    if not layer:
        progress(status)
    elif states.get(layer) != status:  # one line per layer state change, not per byte
        states[layer] = status
        if status in {"Pulling fs layer", "Download complete", "Pull complete", "Already exists"}:
            progress(f"layer {layer}: {status}")


def _split(reference: str) -> tuple[str, str]:
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    name, _, tag = reference.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return reference, "latest"


def engine_client() -> docker.DockerClient:
    """A client for the engine ``DOCKER_HOST`` or the current Docker context names,
    safe to share between the threads of a run."""
    return _one_pool_per_socket(_client_for_engine())


def _client_for_engine() -> docker.DockerClient:
    if os.environ.get("DOCKER_HOST"):
        return docker.from_env()
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
    except Exception:
        context = None
    if context is not None and context.name != "default" and context.Host:
        return docker.DockerClient(base_url=context.Host, tls=context.TLSConfig)
    return docker.from_env()


class _SocketAdapter(UnixHTTPAdapter):
    """docker-py's Unix-socket adapter with one connection pool for the socket.

    docker-py keeps a pool per request URL in an LRU of 25 (``num_pools`` is ignored
    for sockets) and closes the one it evicts, even while another thread is using it:
    with a few templates starting at once that thread fails inside urllib3
    (``'NoneType' object has no attribute 'qsize'``). Every URL goes to the same
    socket, so one pool, never evicted, serves them all.
    """

    def get_connection(self, url: str | bytes, proxies: Any = None) -> UnixHTTPConnectionPool:
        return super().get_connection(SOCKET_POOL_KEY, proxies)


SOCKET_POOL_KEY = "http+docker://socket"
SOCKET_POOL_SIZE = 32  # connections kept for reuse; more are opened when needed


def _one_pool_per_socket(client: docker.DockerClient) -> docker.DockerClient:
    api: Any = client.api  # _custom_adapter is private to docker-py's APIClient
    shipped = api._custom_adapter
    if isinstance(shipped, UnixHTTPAdapter) and not isinstance(shipped, _SocketAdapter):
        adapter = _SocketAdapter(
            shipped.socket_path, shipped.timeout, pool_connections=1, max_pool_size=SOCKET_POOL_SIZE
        )
        # APIClient.get_adapter answers with _custom_adapter, not the mounted one.
        api._custom_adapter = adapter
        api.mount("http+docker://", adapter)
    return client
