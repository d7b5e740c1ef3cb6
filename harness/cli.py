"""``canary-matrix``: the command line (and what the noxfile calls)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from harness import history, report, rerun, results
from harness.config import (
    CANARY_IDS,
    DIAGNOSTIC_IDS,
    DIALECTS,
    PULL_POLICIES,
    Config,
    Template,
    cascade_order,
    cells,
    default_path,
    load,
    on_scripted_model,
)
from harness.drivers import DRIVER_CHOICES
from harness.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, HarnessError, UsageError
from harness.model_sim import flake
from harness.results import Result
from harness.run import RunOptions, judge_transcripts, run

IMAGE_ENV = "TEMPLATE_IMAGE"


def _whole_number(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number, 0 or more; errors say what was expected."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
        if number < 0:
            raise argparse.ArgumentTypeError(f"expected {what}, 0 or more, got {number}")
        return number

    return parse


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``matrix`` (and passed through by nox after ``--``)."""
    _add_config_option(parser, default=argparse.SUPPRESS)
    parser.add_argument(
        "--driver",
        choices=DRIVER_CHOICES,
        default="auto",
        help="how runtimes are started (default: auto)",
    )
    parser.add_argument(
        "--canary",
        action="append",
        dest="canaries",
        metavar="ID",
        choices=(*CANARY_IDS, *DIAGNOSTIC_IDS),
        help="run only this canary or diagnostic (repeatable)",
    )
    parser.add_argument(
        "--dialect",
        action="append",
        dest="dialects",
        metavar="NAME",
        choices=DIALECTS,
        help="speak this platform dialect to every template (repeatable: one cell each; "
        "default: each template's dialects)",
    )
    parser.add_argument(
        "--repeat", type=_whole_number("a number of samples"), default=None, metavar="N",
        help="drive each canary's conversation N times; a cell some of whose samples fail "
        "is flaky (default: each template's 'repeat', 1)",
    )  # fmt: skip
    parser.add_argument(
        "--retries", type=_whole_number("a number of retries"), default=None, metavar="N",
        help="drive a sample again up to N times when the model provider failed it "
        "(429, 5xx) (default: each template's 'retries', 2)",
    )  # fmt: skip
    _add_judge_options(parser)
    _add_strict_option(parser)
    _add_wide_option(parser)
    parser.add_argument(
        "--pull",
        choices=PULL_POLICIES,
        default=None,
        help="image pull policy for every template (default: each template's, 'missing')",
    )
    parser.add_argument(
        "--model",
        choices=("sim",),
        default=None,
        help="run every template that has a model of its own on the scripted model (no keys)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="add to every runtime's environment; NAME alone passes the caller's value",
    )
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=Path("artifacts"),
        help="artifacts directory (default: artifacts)",
    )


def _add_wave_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wave", type=_whole_number("a wave number"), default=None, metavar="N",
        help="only templates of waves 0 to N (the cascade so far)",
    )  # fmt: skip


def _add_wide_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wide", action="store_true",
        help="the full-width terminal table: long column names and the reason in a column",
    )  # fmt: skip


def _add_strict_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict",
        action="store_true",
        default=os.environ.get("CI", "").lower() == "true",
        help="a required template that was skipped fails the run (default under CI=true)",
    )


def _add_judge_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=_whole_number("a number of workers"),
        default=0,
        help="pytest-xdist workers for the judge (default: 0 = no xdist)",
    )
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="results directory (default: results)"
    )


def _add_config_option(parser: argparse.ArgumentParser, default: object) -> None:
    # Accepted before and after the subcommand; SUPPRESS keeps a subcommand's
    # unset option from overwriting the one given before it.
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        help="templates file (default: $CANARY_TEMPLATES or templates.toml)",
    )


def _add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report_parser = commands.add_parser("report", help="print the matrix of existing result files")
    _add_config_option(report_parser, default=argparse.SUPPRESS)
    _add_strict_option(report_parser)
    report_parser.add_argument(
        "directories", nargs="*", type=Path, metavar="DIR",
        help="directories searched for result files, nested ones too (default: results)",
    )  # fmt: skip
    report_parser.add_argument("--results", type=Path, default=None, help="one more DIR")
    report_parser.add_argument(
        "--baseline", type=Path, action="append", default=[], metavar="DIR",
        help="mark every cell that changed against these results (repeatable)",
    )  # fmt: skip
    report_parser.add_argument(
        "--fail-on", choices=("gate", "regression"), default="gate",
        help="exit 1 by the gates (default), or only when a cell regressed against --baseline",
    )  # fmt: skip
    report_parser.add_argument(
        "--history", type=Path, action="append", default=[], metavar="DIR",
        help="an earlier run's results, for each cell's trend (repeatable, oldest first)",
    )  # fmt: skip
    report_parser.add_argument("--format", choices=report.FORMATS, default="terminal")
    report_parser.add_argument(
        "--open", action="store_true",
        help="write the HTML dashboard (to --output, default report.html) and open it in a browser",
    )  # fmt: skip
    report_parser.add_argument(
        "--output", type=Path, default=None, help="write to this file instead of stdout"
    )
    _add_wide_option(report_parser)
    report_parser.set_defaults(func=_report)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="canary-matrix", description=__doc__)
    _add_config_option(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True)

    run_parser = commands.add_parser("run", help="run the canaries against the named templates")
    run_parser.add_argument("templates", nargs="*", metavar="TEMPLATE")
    run_parser.add_argument(
        "--image",
        default=os.environ.get(IMAGE_ENV) or None,
        help=f"run this image instead of the template's (default: ${IMAGE_ENV}); "
        "with no TEMPLATE, run it with the defaults of the templates file",
    )
    add_run_options(run_parser)
    run_parser.set_defaults(func=_run)

    matrix_parser = commands.add_parser("matrix", help="run every template whose gate is not 'off'")
    add_run_options(matrix_parser)
    _add_wave_option(matrix_parser)
    matrix_parser.add_argument(
        "--rerun-failed", type=Path, default=None, metavar="RESULTS_DIR",
        help="run only the cells that failed in these results, and only their failed canaries",
    )  # fmt: skip
    matrix_parser.set_defaults(func=_matrix)

    onboard_parser = commands.add_parser(
        "onboard", help="add a template to templates.toml (advisory, next wave), comments kept"
    )
    _add_config_option(onboard_parser, default=argparse.SUPPRESS)
    onboard_parser.add_argument("name", metavar="NAME")
    onboard_parser.add_argument("--image", required=True, help="the template's image")
    onboard_parser.add_argument(
        "--secret", action="append", default=[], dest="secrets", metavar="NAME",
        help="an environment variable the runtime needs, passed by name (repeatable)",
    )  # fmt: skip
    onboard_parser.add_argument("--configs", type=Path, default=None, metavar="DIR")
    onboard_parser.set_defaults(func=_onboard)

    ci_parser = commands.add_parser(
        "ci-matrix", help="print the CI job matrix (JSON) of the templates, for fan-out"
    )
    _add_config_option(ci_parser, default=argparse.SUPPRESS)
    _add_wave_option(ci_parser)
    ci_parser.add_argument(
        "--gate", action="append", choices=("required", "advisory"), dest="gates",
        help="only templates with this gate (repeatable; default: every gate but off)",
    )  # fmt: skip
    ci_parser.add_argument(
        "--dialect", action="append", choices=DIALECTS, dest="dialects", metavar="NAME",
        help="a job per template in this dialect (repeatable; default: each template's)",
    )  # fmt: skip
    ci_parser.set_defaults(func=_ci_matrix)

    judge_parser = commands.add_parser(
        "judge", help="re-judge stored transcripts (no runtime) and write their results"
    )
    judge_parser.add_argument(
        "directories", nargs="+", type=Path, metavar="DIR",
        help="directories searched for transcript.jsonl (e.g. artifacts/)",
    )  # fmt: skip
    _add_judge_options(judge_parser)
    _add_strict_option(judge_parser)
    _add_wide_option(judge_parser)
    judge_parser.set_defaults(func=_judge)

    list_parser = commands.add_parser("list", help="list the templates")
    _add_config_option(list_parser, default=argparse.SUPPRESS)
    list_parser.add_argument(
        "--json", action="store_true", help="machine-readable, for a CI matrix"
    )
    list_parser.set_defaults(func=_list)

    clean_parser = commands.add_parser(
        "clean", help="remove every container, built image and local venv canary-matrix made"
    )
    clean_parser.add_argument(
        "templates", nargs="*", metavar="TEMPLATE", help="only these templates' (default: all)"
    )
    clean_parser.set_defaults(func=_clean)

    _add_report_parser(commands)
    return parser


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, a CI cancel, a hang-up


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Stopping already: a second signal (nox sends SIGTERM after Ctrl-C) must not cut the
    # cleanup short. A no-op handler, unlike SIG_IGN, is not inherited by what is started.
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, frame: None)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failed, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        code: int = args.func(args)
    except HarnessError as exc:
        print(f"canary-matrix: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("canary-matrix: interrupted; every runtime it started was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def _config(args: argparse.Namespace) -> Config:
    return load(args.config or default_path(Path()))


def _run(args: argparse.Namespace) -> int:
    config = _config(args)
    return run_and_report(config, _run_templates(config, args), args)


def _matrix(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.rerun_failed is not None:
        templates, again = rerun.plan(args.rerun_failed, config)
        if not templates:
            print(f"nothing failed in {args.rerun_failed}: nothing to rerun")
            return EXIT_OK
        return run_and_report(config, templates, args, again)
    templates = [t for t in config.matrix_templates() if args.wave is None or t.wave <= args.wave]
    return run_and_report(config, templates, args)


def _ci_matrix(args: argparse.Namespace) -> int:
    dialects = tuple(dict.fromkeys(args.dialects)) if args.dialects else None
    matrix = ci_matrix(_config(args), wave=args.wave, gates=args.gates, dialects=dialects)
    print(json.dumps(matrix))
    return EXIT_OK


def _onboard(args: argparse.Namespace) -> int:
    from harness import onboard

    config = _config(args)
    added = onboard.onboard(config, args.name, args.image, args.secrets, args.configs)
    template = added.templates[args.name]
    print(f"added {template.name} to {added.path} (gate {template.gate}, wave {template.wave}); "
          f"run it with: nox -s {template.session_name}")  # fmt: skip
    print(f"\nIn the template's repository, add this workflow ({onboard.SNIPPET.name}):\n")
    print(onboard.SNIPPET.read_text(encoding="utf-8"))
    return EXIT_OK


def ci_matrix(
    config: Config,
    *,
    wave: int | None = None,
    gates: list[str] | None = None,
    dialects: tuple[str, ...] | None = None,
) -> dict[str, list[dict[str, object]]]:
    """The fan-out matrix: one CI job per template and dialect, ``off`` gates left out.

    Each entry names the template, its wave and gate, the nox session the job runs, the
    secrets it needs (by name, for the workflow to map), and its dialect: the cell it
    writes and the arguments that make the job speak it.
    """
    chosen = [
        t for t in config.matrix_templates()
        if (wave is None or t.wave <= wave) and (not gates or t.gate in gates)
    ]  # fmt: skip
    return {
        "include": [
            {
                "template": t.name,
                "wave": t.wave,
                "gate": t.gate,
                "session": t.session_name,
                "secrets": list(t.secrets),
                "dialect": t.dialect,
                "cell": t.label,
                "args": f"--dialect {t.dialect}",
            }
            for t in cells(chosen, dialects)
        ]
    }


def _run_templates(config: Config, args: argparse.Namespace) -> list[Template]:
    if not args.templates:
        if not args.image:
            raise UsageError(f"run: name a TEMPLATE, or give --image (or ${IMAGE_ENV})")
        return [config.adhoc(args.image)]
    templates = config.select(args.templates)
    if args.image:
        if len(templates) != 1:
            raise UsageError("run: --image replaces the image of exactly one template")
        # The image replaces whatever the template would pull or build.
        templates = [replace(templates[0], image=args.image, build=None)]
    return templates


def _extra_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not name:
            raise UsageError(f"--env {pair!r}: expected NAME or NAME=VALUE")
        env[name] = value if sep else os.environ.get(name, "")
    return env


def run_and_report(
    config: Config,
    templates: list[Template],
    args: argparse.Namespace,
    again: rerun.Rerun | None = None,
) -> int:
    """Run templates (or only what ``again`` reruns of them), print the matrix, and return
    the gate's exit code."""
    if args.model == "sim":
        templates = on_scripted_model(templates)
    if args.repeat is not None:
        if args.repeat < 1:
            raise UsageError("--repeat: expected 1 or more samples")
        templates = [replace(t, repeat=args.repeat) for t in templates]
    if args.retries is not None:
        templates = [replace(t, retries=args.retries) for t in templates]
    options = RunOptions(
        driver=args.driver,
        canaries=tuple(args.canaries) if args.canaries else None,
        workers=args.workers,
        results_dir=args.results,
        artifacts_dir=args.artifacts,
        pull=args.pull,
        extra_env=_extra_env(args.env),
        dialects=tuple(dict.fromkeys(args.dialects)) if args.dialects else None,
        rerun=again,
        model_flake=flake.from_env(os.environ),
    )
    for flag, directory in (("--results", args.results), ("--artifacts", args.artifacts)):
        _writable_directory(flag, directory)
    finished = run(config, templates, options)
    print(report.render(finished, "terminal", wide=args.wide))
    return _gate(finished, strict=args.strict)


def _gate(found: list[Result], *, strict: bool) -> int:
    """The exit code by the gates, after one loud line if required templates did not run."""
    line = results.summary(found)
    if line:
        consequence = " (a failure: --strict or CI=true)" if strict else ""
        print(f"canary-matrix: {line}{consequence}", file=sys.stderr)
    return results.exit_code(found, strict=strict)


def _writable_directory(flag: str, directory: Path) -> None:
    """Fail before anything starts when results could not be written at the end."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".canary-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{flag} {directory}: not a writable directory ({reason})") from None


def _list(args: argparse.Namespace) -> int:
    config = _config(args)
    entries = [
        {
            "name": t.name,
            "session": t.session_name,
            "gate": t.gate,
            "wave": t.wave,
            "image": t.image,
            "build": str(t.build.context) if t.build else None,
            "command": list(t.command) if t.command else None,
            "secrets": list(t.secrets),
            "description": t.description,
        }
        for t in cascade_order(config.templates.values())
    ]
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        for e in entries:
            print(f"{e['name']:<16} gate={e['gate']:<9} wave={e['wave']}  {e['description']}")
    return 0


def _clean(args: argparse.Namespace) -> int:
    from harness.drivers import docker as docker_driver
    from harness.drivers import venvs
    from harness.drivers.contexts import cache_root

    cache = cache_root()
    local = venvs.clean(cache, args.templates)
    print(f"removed {local} local copies and venvs (of process_from_build templates) in {cache}")
    client, problem = docker_driver.engine()
    if client is None:
        print(f"canary-matrix: no containers or images to clean: {problem}", file=sys.stderr)
        return 0
    containers, images = docker_driver.clean(client, args.templates)
    print(f"removed {containers} container(s) and {images} image(s) made by canary-matrix")
    return 0


def _judge(args: argparse.Namespace) -> int:
    missing = [d for d in args.directories if not d.is_dir()]
    if missing:
        raise UsageError(f"judge: {missing[0]}: no such directory")
    options = RunOptions(workers=args.workers, results_dir=args.results)
    judged = judge_transcripts(list(args.directories), options)
    if not judged:
        raise UsageError(
            "judge: no transcript.jsonl under " + ", ".join(map(str, args.directories))
        )
    print(report.render(judged, "terminal", wide=args.wide))
    return _gate(judged, strict=args.strict)


def _report(args: argparse.Namespace) -> int:
    if args.fail_on == "regression" and not args.baseline:
        raise UsageError("report: --fail-on regression needs --baseline DIR")
    directories = [*args.directories, *([args.results] if args.results else [])]
    directories = directories or [Path("results")]
    missing = [d for d in directories if not d.is_dir()]
    if missing:
        raise UsageError(f"report: no results directory {missing[0]}")
    merged = results.read_all(*directories)
    for problem in merged.problems:
        print(f"canary-matrix: error: unreadable or foreign result file {problem.line()}",
              file=sys.stderr)  # fmt: skip
    for note in merged.notes:
        print(f"canary-matrix: note: {note}", file=sys.stderr)
    found = results.reconcile(
        merged, _config_if_present(args.config), ", ".join(map(str, directories))
    )
    trends = _history(args, found)
    if args.open:
        if args.format not in ("terminal", "html"):
            raise UsageError(f"report: --open shows the HTML page, not --format {args.format}")
        args.format, args.output = "html", args.output or Path("report.html")
    text = report.render(found, args.format, wide=args.wide, history=trends, sources=merged.paths)
    changes = _changes(args, found)
    if changes is not None and args.format in ("terminal", "markdown"):
        text += "\n\nagainst the baseline:\n" + (
            "\n".join(f"  {c.line()}" for c in changes) if changes else "  no change"
        )
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    if args.open:
        import webbrowser

        opened = webbrowser.open(args.output.resolve().as_uri())
        print(f"{'opened' if opened else 'wrote (no browser to open it)'} {args.output}")
    if args.format == "markdown":
        _step_summary(text)
    if merged.problems or (trends and trends.problems):
        # A damaged result is no verdict, whatever the config says: never a green report.
        return EXIT_FAILED
    if args.fail_on == "regression":
        assert changes is not None  # checked before anything was read
        return EXIT_FAILED if any(c.kind == "regression" for c in changes) else EXIT_OK
    return _gate(found, strict=args.strict)


STEP_SUMMARY_LIMIT = 900 * 1024  # GitHub's cap on a step summary is 1 MiB


def _step_summary(markdown: str) -> None:
    """Append the Markdown matrix to ``$GITHUB_STEP_SUMMARY`` (GitHub and Gitea Actions)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    if len(markdown.encode()) > STEP_SUMMARY_LIMIT:
        table = markdown.split("\n\n", 1)[0]
        markdown = table + "\n\n(findings left out: over the summary's size limit; see the JUnit "
        markdown += "and HTML reports)"
        markdown = markdown.encode()[:STEP_SUMMARY_LIMIT].decode(errors="ignore")
    with Path(target).open("a", encoding="utf-8") as summary:
        summary.write(markdown + "\n")


def _history(args: argparse.Namespace, found: list[Result]) -> history.History | None:
    if not args.history:
        return None
    missing = [d for d in args.history if not d.is_dir()]
    if missing:
        raise UsageError(f"report: no history directory {missing[0]}")
    trends = history.load(args.history, found)
    for problem in trends.problems:
        print(f"canary-matrix: error: unreadable or foreign result file {problem.line()}",
              file=sys.stderr)  # fmt: skip
    return trends


def _changes(args: argparse.Namespace, found: list[Result]) -> list[report.Change] | None:
    if not args.baseline:
        return None
    missing = [d for d in args.baseline if not d.is_dir()]
    if missing:
        raise UsageError(f"report: no baseline directory {missing[0]}")
    return report.compare(results.read_all(*args.baseline).results, found)


def _config_if_present(path: Path | None) -> Config | None:
    """The templates file (which templates are required), when there is one."""
    chosen = path or default_path(Path())
    if path is None and not chosen.is_file():
        print(f"canary-matrix: warning: no {chosen}: required templates without a result "
              "cannot be told apart", file=sys.stderr)  # fmt: skip
        return None
    return load(chosen)


if __name__ == "__main__":
    sys.exit(main())
