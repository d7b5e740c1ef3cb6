"""A runtime shaped like production's passes when the harness provisions as production does.

``tests/support/prod_runtime/runtime.py`` reads its port from ``/configs/config.yaml``, saves its
token under ``/configs``, refuses attachments outside ``/workspace``, iterates the memory
search's list and makes production's other platform calls. It passes only if the harness
gives it what production gives it (DESIGN §3).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from canary import registry
from harness.config import DEFAULT_CANARY_IDS, load
from harness.drivers import RunContext, isolation
from harness.drivers.process import ProcessDriver
from harness.model_sim import model_env
from harness.model_sim.environment import DUMMY_KEY
from tests.support.runs import ROOT, SUPPORT, run_template, write_config

pytestmark = pytest.mark.slow

PROD = SUPPORT / "prod_runtime"


def prod_config(tmp_path: Path, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
        [templates.prod]
        command = ["python", "{PROD / "runtime.py"}"]
        configs = "{PROD / "configs"}"
        gate = "required"
        boot_timeout = 30
        turn_timeout = 30
        {extra}
        """,
    )


def run_prod(
    tmp_path: Path, extra: str = "", env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    return run_template(prod_config(tmp_path, extra), "prod", tmp_path, env=env)


needs_isolation = pytest.mark.skipif(
    isolation.unavailable() is not None, reason=f"no private namespace: {isolation.unavailable()}"
)


@needs_isolation
def test_production_shaped_runtime_passes_under_the_process_driver(tmp_path: Path) -> None:
    code, result, stdout = run_prod(tmp_path)
    outcomes = {cid: entry["outcome"] for cid, entry in result["canaries"].items()}
    expected = dict.fromkeys(registry.selected(DEFAULT_CANARY_IDS, None), "passed")
    expected["session_store"] = "skipped"  # it declares no store
    assert outcomes == expected, result
    assert code == 0, stdout
    assert result["unserved_calls"] == []
    assert result["warnings"] == []
    log = (tmp_path / "artifacts" / "prod" / "runtime.log").read_text()
    assert "(config /configs)" in log  # it read the rendered /configs/config.yaml


def test_without_isolation_it_falls_back_and_says_so(tmp_path: Path) -> None:
    _, result, stdout = run_prod(tmp_path, env={isolation.DISABLE_ENV: "0"})
    assert "could not isolate the runtime" in result["warnings"][0]
    assert "could not isolate the runtime" in stdout
    # The production-shaped runtime refuses uploads outside /workspace, as the real one does.
    for cid in ("file_only", "file_caption"):
        assert result["canaries"][cid]["outcome"] == "failed"
        assert result["canaries"][cid]["layer"] == "files"
    assert result["canaries"]["name_recall"]["outcome"] == "passed"


@needs_isolation
def test_an_unserved_platform_call_is_listed_in_results_and_matrix(tmp_path: Path) -> None:
    _, result, stdout = run_prod(tmp_path, 'env = { PROD_EXTRA_CALL = "1" }')
    assert result["unserved_calls"] == ["GET /workspaces/{workspace_id}/skills"]
    assert (
        "prod: runtime called GET /workspaces/{workspace_id}/skills, "
        "which the simulator does not serve" in stdout
    )


def test_configs_are_rendered_per_run(tmp_path: Path) -> None:
    source = tmp_path / "configs"
    (source / "nested").mkdir(parents=True)
    (source / "config.yaml").write_text(
        "port: ${PORT}\nid: ${WORKSPACE_ID}\nurl: ${PLATFORM_URL}\nws: ${WORKSPACE_DIR}\n"
        "kept: ${HOME} $PORT\n"
    )
    (source / "nested" / "blob.bin").write_bytes(b"\xff\xfe${PORT}")
    config = write_config(tmp_path, '[templates.t]\ncommand = ["true"]\nconfigs = "configs"\n')
    template = load(config).templates["t"]
    driver = ProcessDriver(template, RunContext("run", tmp_path, tmp_path / "artifacts"))
    target = tmp_path / "rendered"
    env = {"PORT": "18123", "WORKSPACE_ID": "ws-1", "PLATFORM_URL": "http://127.0.0.1:9"}
    driver.render_configs(target, env, "/workspace")
    assert (target / "config.yaml").read_text() == (
        "port: 18123\nid: ws-1\nurl: http://127.0.0.1:9\nws: /workspace\nkept: ${HOME} $PORT\n"
    )
    assert (target / "nested" / "blob.bin").read_bytes() == b"\xff\xfe${PORT}"


def test_codex_production_row_on_the_scripted_model_gets_a_home_of_our_own(
    tmp_path: Path,
) -> None:
    # Its image cannot be pulled here: what it would read is rendered and checked instead.
    codex = load(ROOT / "templates.toml").templates["codex"]
    url = "http://172.17.0.1:7000"
    env = {"WORKSPACE_ID": "ws-1", "PLATFORM_URL": "http://172.17.0.1:9",
           **model_env(url, codex.secrets, codex.model_env)}  # fmt: skip
    driver = ProcessDriver(codex, RunContext("run", tmp_path, tmp_path / "artifacts"))
    driver.render_configs(tmp_path / "configs", env, "/workspace")
    home = env["CODEX_HOME"]
    assert home.startswith("/configs/")
    rendered = (tmp_path / "configs" / home.removeprefix("/configs/") / "config.toml").read_text()
    # Not the header its adapter's re-render takes as its own (and deletes).
    assert not rendered.startswith("# Auto-generated by provider_config")
    config = tomllib.loads(rendered)
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == f"{url}/v1"
    assert provider["wire_api"] == "responses"
    assert env[provider["env_key"]] == DUMMY_KEY
    platform = config["mcp_servers"]["molecule"]["env"]
    assert platform == {"WORKSPACE_ID": "ws-1", "PLATFORM_URL": "http://172.17.0.1:9",
                        "CONFIGS_DIR": "/configs"}  # fmt: skip


def test_model_urls_in_configs_are_left_alone_off_the_scripted_model(tmp_path: Path) -> None:
    source = tmp_path / "configs"
    source.mkdir()
    (source / "c.toml").write_text("url = '${OPENAI_BASE_URL}'\n")
    config = write_config(tmp_path, '[templates.t]\ncommand = ["true"]\nconfigs = "configs"\n')
    driver = ProcessDriver(load(config).templates["t"], RunContext("run", tmp_path, tmp_path))
    driver.render_configs(tmp_path / "off", {"PORT": "1"}, "/workspace")
    assert (tmp_path / "off" / "c.toml").read_text() == "url = '${OPENAI_BASE_URL}'\n"
    driver.render_configs(tmp_path / "on", {"OPENAI_BASE_URL": "http://m/v1"}, "/workspace")
    assert (tmp_path / "on" / "c.toml").read_text() == "url = 'http://m/v1'\n"


def test_configs_directory_must_exist(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[templates.t]\ncommand = ["true"]\nconfigs = "nowhere"\n')
    with pytest.raises(
        Exception, match=r"template 't', key 'configs': directory .* does not exist"
    ):
        load(config)
