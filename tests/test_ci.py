"""The CI loop: the fan-out matrix and the cascade's waves come from templates.toml."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, write_config

SAMPLE = """
[templates.ref]
command = ["true"]
gate = "required"
wave = 0
[templates.alpha]
image = "example/alpha:1"
secrets = ["ALPHA_KEY"]
gate = "required"
wave = 1
[templates.beta]
image = "example/beta:1"
secrets = ["BETA_KEY", "BETA_TOKEN"]
wave = 2
[templates.gone]
image = "example/gone:1"
gate = "off"
wave = 0
"""


def ci_matrix(config: Path, *args: str) -> list[dict[str, object]]:
    completed = run_cli("--config", str(config), "ci-matrix", *args)
    assert completed.returncode == 0, completed.stderr
    include: list[dict[str, object]] = json.loads(completed.stdout)["include"]
    return include


def test_ci_matrix_lists_every_gated_template_with_its_secrets(tmp_path: Path) -> None:
    assert ci_matrix(write_config(tmp_path, SAMPLE)) == [
        {"template": "ref", "wave": 0, "gate": "required", "session": "canary-ref",
         "secrets": []},
        {"template": "alpha", "wave": 1, "gate": "required", "session": "canary-alpha",
         "secrets": ["ALPHA_KEY"]},
        {"template": "beta", "wave": 2, "gate": "advisory", "session": "canary-beta",
         "secrets": ["BETA_KEY", "BETA_TOKEN"]},
    ]  # fmt: skip


def test_ci_matrix_by_wave_and_gate(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLE)
    assert [e["template"] for e in ci_matrix(config, "--wave", "1")] == ["ref", "alpha"]
    assert [e["template"] for e in ci_matrix(config, "--gate", "advisory")] == ["beta"]


def test_matrix_wave_runs_only_the_cascade_so_far(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLE)
    completed = run_cli(
        "--config", str(config), "matrix", "--wave", "0", "--driver", "process",
        "--results", str(tmp_path / "r"), "--artifacts", str(tmp_path / "a"),
    )  # fmt: skip
    assert sorted(p.stem for p in (tmp_path / "r").glob("*.json")) == ["ref"]
    assert "alpha" not in completed.stdout
