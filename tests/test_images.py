"""Image helpers that need no engine: build tags and pull progress."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.config import load
from harness.drivers.images import _pull_event, _split, build_tag
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
