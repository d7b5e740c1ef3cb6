"""The Docker driver, against a real engine: build, reuse, faults, boot crashes, cleanup.

Needs a Docker engine and a local Python base image (``scripts/bootstrap-base-image.sh``
makes one). Without them these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.images import Image

from harness.config import DEFAULT_CANARY_IDS
from harness.drivers.contexts import CACHE_ENV
from harness.drivers.docker import LABEL_PID, LABEL_RUN, LABEL_TEMPLATE
from harness.drivers.images import LABEL_TOOL, TOOL
from tests.support.frameworks import (
    EVERY_CANARY_EXPECTED,
    SWITCH_VERDICTS,
    SWITCHES,
    every_canary_config,
    every_canary_verdicts,
    run_frameworks,
    switch_verdicts,
)
from tests.support.runs import ROOT, SUPPORT, project_templates_text, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FAULT_BREAKS = {
    "forget_context": "name_recall",
    "empty_prompt": "file_only",
    "ignore_caption": "file_caption",
    "no_memory": "memory_recall",
}


def tool_containers(client: docker.DockerClient) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{LABEL_TOOL}={TOOL}"}))


@pytest.fixture
def docker_env(client: docker.DockerClient, base_image: str) -> Iterator[dict[str, str]]:
    """Environment for harness runs; afterwards no container of the tool may remain."""
    yield {"CANARY_BASE_IMAGE": base_image}
    left = [c.name for c in tool_containers(client)]
    assert left == [], f"containers left behind: {left}"
    volumes = client.volumes.list(filters={"label": f"{LABEL_TOOL}={TOOL}"})
    assert [v.name for v in volumes] == [], "workspace volumes left behind"


def run_docker(tmp_path: Path, *args: str, env: dict[str, str], config: Path | None = None) -> Any:
    completed = run_cli(
        "--config", str(config or ROOT / "templates.toml"), "run", *args, "--driver", "docker",
        "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "artifacts"),
        env=env, timeout=600,
    )  # fmt: skip
    return completed


def result_of(tmp_path: Path, template: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "results" / f"{template}.json").read_text())
    return data


def write_template(tmp_path: Path, name: str, dockerfile: str, base: str, extra: str = "") -> Path:
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    config = tmp_path / "templates.toml"
    previous = config.read_text() if config.exists() else "schema = 1\n"
    config.write_text(
        previous + f'[templates.{name}]\nbuild = {{ context = "{name}", '
        f'args = {{ BASE = "{base}" }} }}\ngate = "required"\nboot_timeout = 60\n{extra}'
    )
    return config


def test_reference_image_passes_and_second_run_reuses_it(
    tmp_path: Path, client: docker.DockerClient, docker_env: dict[str, str]
) -> None:
    first = run_docker(tmp_path / "one", "reference", env=docker_env)
    assert first.returncode == 0, first.stdout + first.stderr
    result = result_of(tmp_path / "one", "reference")
    assert result["driver"] == "docker"
    assert result["status"] == "passed"
    assert all(entry["outcome"] == "passed" for entry in result["canaries"].values()), result
    image = client.images.get(result["image"])
    assert image.id == result["image_id"]
    assert image.labels.get(LABEL_TOOL) == TOOL

    second = run_docker(tmp_path / "two", "reference", env=docker_env)
    again = result_of(tmp_path / "two", "reference")
    assert second.returncode == 0
    assert again["image_id"] == result["image_id"]
    assert "build Step" not in second.stderr
    assert not (tmp_path / "two" / "artifacts" / "reference" / "build.log").exists()


@pytest.mark.parametrize("fault", sorted(FAULT_BREAKS))
def test_each_fault_breaks_the_same_canary_through_docker(
    tmp_path: Path, docker_env: dict[str, str], fault: str
) -> None:
    completed = run_docker(tmp_path, "reference", env={**docker_env, "REFERENCE_FAULTS": fault})
    result = result_of(tmp_path, "reference")
    canaries = {cid: result["canaries"][cid]["outcome"] for cid in DEFAULT_CANARY_IDS}
    broken = FAULT_BREAKS[fault]
    assert canaries == {cid: "failed" if cid == broken else "passed" for cid in DEFAULT_CANARY_IDS}
    # The declared session store is copied out of the container, as evidence.
    snapshots = tmp_path / "artifacts" / "reference" / "snapshots"
    assert list(snapshots.glob("session_store-*/.sessions/*.json"))
    assert completed.returncode == 1
    assert result["driver"] == "docker"


def test_container_exiting_during_boot_is_an_error_with_code_and_log_tail(
    tmp_path: Path, base_image: str, docker_env: dict[str, str]
) -> None:
    config = write_template(tmp_path, "crashy", """
        ARG BASE
        FROM ${BASE}
        CMD ["python3", "-c", "import sys; print('missing MODEL_NAME, giving up'); sys.exit(7)"]
    """, base_image)  # fmt: skip
    completed = run_docker(tmp_path, "crashy", env=docker_env, config=config)
    result = result_of(tmp_path, "crashy")
    assert completed.returncode == 1
    assert result["status"] == "error"
    assert "code 7" in result["reason"]
    tail = (tmp_path / "artifacts" / "crashy" / "runtime.tail.log").read_text()
    assert "missing MODEL_NAME" in tail


def test_failed_build_is_an_error_and_the_rest_still_runs(
    tmp_path: Path, base_image: str, docker_env: dict[str, str]
) -> None:
    config = write_template(tmp_path, "broken", """
        ARG BASE
        FROM ${BASE}
        RUN echo "compiling the agent" && exit 3
    """, base_image)  # fmt: skip
    text = config.read_text() + project_templates_text().split("schema = 1", 1)[1]
    config.write_text(text)
    completed = run_docker(tmp_path, "broken", "reference", env=docker_env, config=config)
    broken, reference = result_of(tmp_path, "broken"), result_of(tmp_path, "reference")
    assert broken["status"] == "error"
    assert "Step 3/" in broken["reason"]
    assert "compiling the agent" in broken["reason"]
    assert (tmp_path / "artifacts" / "broken" / "build.log").exists()
    assert reference["status"] == "passed"
    assert completed.returncode == 1


CELLS = ("context", "history", "a2a-1.0")


def test_the_cells_of_one_template_build_its_image_once(
    tmp_path: Path, client: docker.DockerClient, base_image: str, docker_env: dict[str, str]
) -> None:
    # Three dialects of one template start together: one build, no untagged leftovers.
    name = f"cells-{uuid.uuid4().hex[:8]}"
    config = write_template(tmp_path, name, f"""
        ARG BASE
        FROM ${{BASE}}
        RUN echo "{name}" > /built
        CMD ["false"]
    """, base_image, extra=f"dialects = {list(CELLS)}\n")  # fmt: skip
    try:
        run_docker(tmp_path, name, env=docker_env, config=config)
        made = client.images.list(filters={"label": f"{LABEL_TEMPLATE}={name}"})
        assert [len(image.tags) for image in made] == [1], made
        for cell in CELLS:
            assert result_of(tmp_path, f"{name}@{cell}")["status"] == "error"  # it never served
    finally:
        for image in client.images.list(filters={"label": f"{LABEL_TEMPLATE}={name}"}):
            client.images.remove(image.id, force=True)


@pytest.mark.parametrize(("policy", "expected"), [("missing", "pull of"), ("never", "'never'")])
def test_unavailable_image_is_an_error_with_the_reason(
    tmp_path: Path, docker_env: dict[str, str], policy: str, expected: str
) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        'schema = 1\n[templates.ghost]\nimage = "canary-matrix-test/no-such-image:1"\n'
        'gate = "required"\n'
    )
    completed = run_docker(tmp_path, "ghost", "--pull", policy, env=docker_env, config=config)
    result = result_of(tmp_path, "ghost")
    assert completed.returncode == 1
    assert result["status"] == "error"
    assert expected in result["reason"]
    assert "Traceback" not in completed.stderr


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _start_harness(tmp_path: Path, config: Path, template: str, env: dict[str, str]) -> Any:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "--config", str(config), "run", template,
         "--driver", "docker", "--results", str(tmp_path / "results"),
         "--artifacts", str(tmp_path / "artifacts")],
        cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_boot_leaves_no_container(
    tmp_path: Path, client: docker.DockerClient, base_image: str, docker_env: dict[str, str],
    sig: signal.Signals,
) -> None:  # fmt: skip
    config = write_template(tmp_path, "sleepy", """
        ARG BASE
        FROM ${BASE}
        CMD ["sleep", "300"]
    """, base_image)  # fmt: skip
    harness = _start_harness(tmp_path, config, "sleepy", docker_env)
    _wait_for(lambda: tool_containers(client), 300, "the container to start")
    # Ctrl-C reaches the whole foreground group; SIGTERM (a CI runner) only the harness.
    if sig == signal.SIGINT:
        os.killpg(harness.pid, sig)
    else:
        harness.send_signal(sig)
    assert harness.wait(timeout=60) == 130
    assert tool_containers(client) == []
    assert result_of(tmp_path, "sleepy")["reason"] == "interrupted"


def test_ctrl_c_during_canaries_leaves_no_container(
    tmp_path: Path, client: docker.DockerClient, docker_env: dict[str, str]
) -> None:
    slow = {**docker_env, "REFERENCE_LATENCY": "5"}  # turns in flight when Ctrl-C comes
    harness = _start_harness(tmp_path, ROOT / "templates.toml", "reference", slow)
    assert harness.stderr is not None
    for line in harness.stderr:
        if "driving the canaries" in line:
            break
    time.sleep(0.5)
    os.killpg(harness.pid, signal.SIGINT)
    assert harness.wait(timeout=60) == 130
    assert tool_containers(client) == []
    # Nothing is lost: the interrupted template's result is still written, and says so.
    result = result_of(tmp_path, "reference")
    assert (result["status"], result["reason"]) == ("error", "interrupted")


def test_containers_of_a_dead_harness_are_removed_at_start(
    tmp_path: Path, client: docker.DockerClient, base_image: str, docker_env: dict[str, str]
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = client.containers.run(
        base_image, ["sleep", "300"], detach=True,
        labels={LABEL_TOOL: TOOL, LABEL_RUN: "orphan", LABEL_PID: str(dead.pid),
                "io.canary-matrix.host": os.uname().nodename},
    )  # fmt: skip
    completed = run_docker(tmp_path, "reference", "--canary", "wire", env=docker_env)
    assert completed.returncode == 0
    assert "left by a harness that is gone" in completed.stderr
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(orphan.id)


def test_run_canary_script_against_an_image(
    tmp_path: Path, client: docker.DockerClient, docker_env: dict[str, str]
) -> None:
    built = client.images.list(
        filters={"label": [f"{LABEL_TOOL}={TOOL}", "io.canary-matrix.template=reference"]}
    )
    tags = [tag for image in built for tag in image.tags]  # an untagged one has none
    assert tags, "the reference image is built by the first test"
    image = tags[0]

    def script(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(ROOT / "scripts" / "run-canary.sh")], cwd=tmp_path,
            env={**os.environ, **docker_env, "TEMPLATE_IMAGE": image, **env},
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip

    assert script().returncode == 0
    failing = script(REFERENCE_FAULTS="empty_prompt")
    assert failing.returncode != 0
    result = json.loads((tmp_path / "results" / "reference.json").read_text())
    assert result["canaries"]["file_only"]["outcome"] == "failed"
    assert (tmp_path / "artifacts" / "reference" / "runtime.log").exists()


def _labelled_image(client: docker.DockerClient, base: str, labels: dict[str, str]) -> Image:
    """A new image of ``base`` with these labels, as if the tool had built it."""
    scratch = client.containers.create(base, ["true"])
    try:
        return scratch.commit(conf={"Labels": labels})
    finally:
        scratch.remove()


def test_clean_removes_the_named_templates_containers_images_and_venvs_then_all(
    tmp_path: Path, client: docker.DockerClient, base_image: str
) -> None:
    # Named templates only: a bare clean here would remove the images other tests reuse.
    labels = {name: {LABEL_TOOL: TOOL, LABEL_TEMPLATE: f"clean-{name}"} for name in ("a", "b")}
    images = {name: _labelled_image(client, base_image, label) for name, label in labels.items()}
    containers = {
        name: client.containers.run(base_image, ["sleep", "300"], detach=True, labels=label)
        for name, label in labels.items()
    }
    # A cache of its own: the shared one holds the venvs the other tests reuse.
    cache = tmp_path / "cache"
    venvs = {name: cache / "venvs" / f"clean-{name}-0123456789ab" for name in labels}
    for venv in venvs.values():
        (venv / "bin").mkdir(parents=True)
    try:
        completed = run_cli("clean", "clean-a", cwd=tmp_path, env={CACHE_ENV: str(cache)})
        assert completed.returncode == 0, completed.stderr
        assert "removed 1 local copies and venvs" in completed.stdout
        assert "removed 1 container(s) and 1 image(s)" in completed.stdout
        assert not venvs["a"].exists()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(str(containers["a"].id))
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(str(images["a"].id))
        assert client.containers.get(str(containers["b"].id))
        assert client.images.get(str(images["b"].id))
        assert venvs["b"].exists()
        # Every template's, the engine out of reach: the cache is still cleaned.
        unreachable = {CACHE_ENV: str(cache), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
        completed = run_cli("clean", cwd=tmp_path, env=unreachable)
        assert completed.returncode == 0, completed.stderr
        assert not venvs["b"].exists()
    finally:
        containers["b"].remove(force=True)
        client.images.remove(str(images["b"].id), force=True)


PROD = SUPPORT / "prod_runtime"


def test_production_shaped_image_without_workspace_passes(
    tmp_path: Path, client: docker.DockerClient, docker_env: dict[str, str]
) -> None:
    config = tmp_path / "templates.toml"
    config.write_text(
        "schema = 1\n[templates.prod]\n"
        f'build = {{ context = "{PROD}", args = {{ BASE_IMAGE = "${{CANARY_BASE_IMAGE}}" }} }}\n'
        f'configs = "{PROD / "configs"}"\ngate = "required"\nboot_timeout = 60\n'
    )
    completed = run_docker(tmp_path, "prod", env=docker_env, config=config)
    result = result_of(tmp_path, "prod")
    outcomes = {cid: entry["outcome"] for cid, entry in result["canaries"].items()}
    assert {cid: outcomes[cid] for cid in DEFAULT_CANARY_IDS} == dict.fromkeys(
        DEFAULT_CANARY_IDS, "passed"
    ), result
    assert result["status"] == "passed", completed.stdout
    assert result["unserved_calls"] == []
    # The image itself has no /workspace: the harness gave it one, as production does.
    probe = client.containers.create(result["image"], ["test", "-e", "/workspace"])
    try:
        probe.start()
        assert probe.wait()["StatusCode"] == 1
    finally:
        probe.remove(force=True)


def test_a_sigkilled_harness_leaves_no_container_or_volume_for_long(
    tmp_path: Path, client: docker.DockerClient, docker_env: dict[str, str]
) -> None:
    slow = {**docker_env, "REFERENCE_LATENCY": "5"}
    harness = _start_harness(tmp_path, ROOT / "templates.toml", "reference", slow)
    assert harness.stderr is not None
    for line in harness.stderr:
        if "driving the canaries" in line:
            break
    assert tool_containers(client), "the container is not running"
    harness.kill()  # SIGKILL: no cleanup code of the harness runs
    harness.wait()
    deadline = time.monotonic() + 15
    volumes = {"label": f"{LABEL_TOOL}={TOOL}"}
    while tool_containers(client) or client.volumes.list(filters=volumes):
        assert time.monotonic() < deadline, "the reaper did not remove the run's container"
        time.sleep(0.2)
    # Nothing unmasked or half-written is left either: the transcript is line-complete.
    transcript = tmp_path / "artifacts" / "reference" / "transcript.jsonl"
    assert all(json.loads(line) for line in transcript.read_text().splitlines())


def test_real_frameworks_in_containers_pass_every_canary(
    tmp_path: Path, docker_env: dict[str, str]
) -> None:
    # Every framework row inherits [defaults] canaries: this is their healthy run too.
    results = run_frameworks(tmp_path, "docker", docker_env, every_canary=True)
    for name, result in results.items():
        assert every_canary_verdicts(result) == EVERY_CANARY_EXPECTED, (name, result)
        assert (result["status"], result["driver"]) == ("passed", "docker"), (name, result)
        assert result["canaries"]["model_history"]["observed"] == "history"


def test_each_framework_switch_breaks_what_it_should_in_containers_alike(
    tmp_path: Path, docker_env: dict[str, str]
) -> None:
    # The same table as through the process driver (tests/test_frameworks.py): every CI run
    # gets the verdicts twice, identical (the model is scripted), one run per driver.
    results = run_frameworks(tmp_path, "docker", {**docker_env, **SWITCHES})
    assert switch_verdicts(results) == SWITCH_VERDICTS
    lost = results["langgraph-sim"]["canaries"]["model_history"]["message"]
    assert "reached the model without turn 1" in lost
    scope = results["google-adk-sim"]["canaries"]["session_scope"]["message"]
    assert "without the platform's memories" in scope


def test_a_peer_whose_image_cannot_be_had_runs_as_a_process_as_its_template_does(
    tmp_path: Path, docker_env: dict[str, str]
) -> None:
    # With an engine but no registry (this machine), the reference's image cannot be built:
    # the template falls back to its command, and its peer must too, or the README's
    # `nox -s matrix` fails its required row on peer_call.
    config = every_canary_config(tmp_path)
    completed = run_cli(
        "--config", str(config), "run", "reference", "--canary", "peer_call",
        "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "artifacts"),
        env={**docker_env, "CANARY_BASE_IMAGE": "canary-matrix/absent:none"}, timeout=600,
    )  # fmt: skip
    result = json.loads((tmp_path / "results" / "reference.json").read_text())
    assert result["canaries"]["peer_call"]["outcome"] == "passed", result
    assert (result["status"], result["driver"]) == ("passed", "process"), result
    assert any("ran as a process" in warning for warning in result["warnings"])
    assert "peer: docker image unavailable" in completed.stdout + completed.stderr
    assert completed.returncode == 0
