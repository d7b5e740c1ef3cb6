"""The CI loop: the fan-out matrix and the cascade's waves come from templates.toml."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.runs import ROOT, project_templates_text, run_cli, write_config

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
    today = {"dialect": "context", "args": "--dialect context"}
    assert ci_matrix(write_config(tmp_path, SAMPLE)) == [
        {"template": "ref", "wave": 0, "gate": "required", "session": "canary-ref",
         "secrets": [], "cell": "ref", **today},
        {"template": "alpha", "wave": 1, "gate": "required", "session": "canary-alpha",
         "secrets": ["ALPHA_KEY"], "cell": "alpha", **today},
        {"template": "beta", "wave": 2, "gate": "advisory", "session": "canary-beta",
         "secrets": ["BETA_KEY", "BETA_TOKEN"], "cell": "beta", **today},
    ]  # fmt: skip


def test_ci_matrix_fans_out_by_dialect_with_a_cell_per_job(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLE)
    jobs = ci_matrix(config, "--wave", "0", "--dialect", "context", "--dialect", "history")
    # What each job's own run names its cell (it speaks one dialect): no job overwrites another.
    assert [(e["cell"], e["args"]) for e in jobs] == [
        ("ref", "--dialect context"), ("ref@history", "--dialect history"),
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


def test_junit_counts_failures_and_names_the_transcript(tmp_path: Path) -> None:
    from xml.etree import ElementTree

    from harness import report
    from harness.results import CanaryResult, Result, Status

    failing = Result("alpha", "required", 0, Status.FAILED, artifacts=(
        "artifacts/alpha/runtime.log", "artifacts/alpha/transcript.jsonl"), canaries={
        "name_recall": CanaryResult(Status.FAILED, 1.0, "told 'X'; got 'Y'", "session"),
        "file_only": CanaryResult(Status.PASSED, 0.5),
        "session_scope": CanaryResult(Status.SKIPPED, 0.0, "no evidence"),
    })  # fmt: skip
    broken = Result("beta", "advisory", 1, Status.ERROR, reason="not ready after 5s")
    root = ElementTree.fromstring(report.junit([failing, broken]))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "4", "1", "1", "1",
    )  # fmt: skip
    failure = root.find("./testsuite[@name='alpha']/testcase[@name='name_recall']/failure")
    assert failure is not None
    assert failure.get("message") == "told 'X'; got 'Y'"
    assert "transcript: artifacts/alpha/transcript.jsonl" in (failure.text or "")
    error = root.find("./testsuite[@name='beta']/testcase/error")
    assert error is not None
    assert error.get("message") == "not ready after 5s"


def test_baseline_lists_exactly_the_regression_and_gates_on_it(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[templates.reference]\ncommand = ["python", "-m", "templates.reference"]\n'
        f'env = {{ PYTHONPATH = "{ROOT}", REFERENCE_FAULTS = "${{REFERENCE_FAULTS:-}}" }}\n'
        'gate = "required"\n',
    )
    for name, faults in (("base", ""), ("now", "empty_prompt")):
        run_cli(
            "--config", str(config), "run", "reference", "--driver", "process",
            "--results", str(tmp_path / name), "--artifacts", str(tmp_path / f"a-{name}"),
            env={"REFERENCE_FAULTS": faults},
        )  # fmt: skip
    completed = run_cli(
        "report", "--config", str(config), str(tmp_path / "now"),
        "--baseline", str(tmp_path / "base"), "--fail-on", "regression",
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout + completed.stderr
    regressions = [line.strip() for line in completed.stdout.splitlines() if "REGRESSION" in line]
    assert regressions == ["REGRESSION reference / file_only: passed -> failed"]
    same = run_cli(
        "report", "--config", str(config), str(tmp_path / "base"),
        "--baseline", str(tmp_path / "base"), "--fail-on", "regression",
    )  # fmt: skip
    assert same.returncode == 0
    assert "no change" in same.stdout


def test_compare_marks_fixes_new_and_removed_templates() -> None:
    from harness import report
    from harness.results import CanaryResult, Result, Status

    def result(name: str, **outcomes: str) -> Result:
        canaries = {c: CanaryResult(Status(o)) for c, o in outcomes.items()}
        return Result(name, "advisory", 0, Status.PASSED, canaries=canaries)

    baseline = [result("kept", name_recall="failed", file_only="passed"), result("gone")]
    current = [result("kept", name_recall="passed", file_only="failed"), result("fresh")]
    assert [c.line() for c in report.compare(baseline, current)] == [
        "REGRESSION kept / file_only: passed -> failed",
        "FIX kept / name_recall: failed -> passed",
        "NEW fresh: - -> passed",
        "REMOVED gone: passed -> -",
    ]


def test_html_page_has_one_cell_per_template_and_canary(tmp_path: Path) -> None:
    from html.parser import HTMLParser

    from harness import report
    from harness.results import CanaryResult, Result, Status

    first = Result("alpha", "required", 0, Status.FAILED, artifacts=("a/alpha/transcript.jsonl",),
                   canaries={
        "name_recall": CanaryResult(Status.FAILED, message="got <b>Y</b>", layer="session"),
        "file_only": CanaryResult(Status.PASSED),
    })  # fmt: skip
    second = Result(
        "beta", "advisory", 1, Status.PASSED, canaries={"name_recall": CanaryResult(Status.PASSED)}
    )

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.cells: list[str] = []
            self.statuses: list[str] = []
            self.external = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            classes = str(found.get("class") or "").split()
            if tag == "button" and "cell" in classes:
                self.cells.append(classes[1])
            if tag == "td" and "status" in classes:
                self.statuses.append(classes[1])
            if (tag == "script" and "src" in found) or tag in ("link", "img", "iframe"):
                self.external = True

    page = report.render([first, second], "html")
    cells = Cells()
    cells.feed(page)
    # alpha: both columns; beta has no file_only (a dash, not a cell).
    assert cells.cells == ["failed", "passed", "passed"]
    assert cells.statuses == ["failed", "passed"]
    assert not cells.external  # self-contained
    assert "<b>Y</b>" not in page  # a message reaches the page as JSON text, never as markup
    assert "got \\u003cb\\u003eY" in page


def test_markdown_goes_to_the_step_summary(tmp_path: Path) -> None:
    from harness import results
    from harness.results import Result, Status

    results.write(Result("alpha", "advisory", 0, Status.PASSED), tmp_path / "r")
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    config = write_config(tmp_path, '[templates.alpha]\ncommand = ["true"]\n')
    completed = run_cli(
        "report", "--config", str(config), str(tmp_path / "r"), "--format", "markdown",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "| alpha" in text


def test_onboard_adds_only_its_block_and_the_session_appears(tmp_path: Path) -> None:
    import difflib
    import subprocess
    import sys

    # The project's file, its build contexts made absolute so it loads from here.
    original = project_templates_text()
    config = tmp_path / "templates.toml"
    config.write_text(original)
    completed = run_cli(
        "--config", str(config), "onboard", "mytemplate", "--image", "example/image:1",
        "--secret", "MY_API_KEY",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "nox -s canary-mytemplate" in completed.stdout
    assert "run-canary.sh" in completed.stdout  # the template repository's snippet
    after = config.read_text()
    added = [line for line in difflib.ndiff(original.splitlines(), after.splitlines())
             if line.startswith(("+ ", "- "))]  # fmt: skip
    assert all(line.startswith("+ ") for line in added)
    assert "+ [templates.mytemplate]" in added
    assert '+ gate = "advisory"' in added
    assert "+ wave = 3" in added  # the wave after the last
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-l"],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**__import__("os").environ, "CANARY_TEMPLATES": str(config)},
    )  # fmt: skip
    assert "canary-mytemplate" in listed.stdout
    again = run_cli("--config", str(config), "onboard", "mytemplate", "--image", "x:1")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    bad = run_cli("--config", str(config), "onboard", "Bad Name", "--image", "x:1")
    assert bad.returncode == 2
    assert str(config) in bad.stderr
    assert config.read_text() == after  # a name that would not validate is never written


def test_required_since_shows_how_long_a_gate_has_baked(tmp_path: Path) -> None:
    import datetime

    from harness import report
    from harness.config import load
    from harness.results import Result

    config = write_config(
        tmp_path,
        '[templates.a]\ncommand = ["true"]\ngate = "required"\nrequired_since = 2026-11-19\n'
        '[templates.b]\ncommand = ["true"]\ngate = "required"\nrequired_since = "2026-11-01"\n',
    )
    templates = load(config).templates
    assert templates["a"].required_since == datetime.date(2026, 11, 19)
    result = Result.new(templates["a"])
    assert report.gate_cell(result, datetime.date(2026, 11, 25)) == "required 6d"
    assert report.gate_cell(Result.new(templates["b"]), datetime.date(2026, 11, 25)) == (
        "required 24d"
    )
    bad = write_config(tmp_path, '[templates.c]\ncommand = ["true"]\nrequired_since = "soon"\n')
    completed = run_cli("--config", str(bad), "list")
    assert completed.returncode == 2
    assert "key 'required_since': expected a date" in completed.stderr
