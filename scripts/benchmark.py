"""Benchmark: how a matrix's wall time grows with its size, as ratios measured in one run.

Every figure comes from one invocation of this script, so ratios compare runs
made on the same (noisy, 2-core) machine at the same time. Each scenario runs
N copies of the reference template with ``REFERENCE_LATENCY`` seconds of
simulated model time per turn; a warm-up run comes first.

Beside the wall time it reports the CPU floor: the runtimes' own boot CPU (each measured in
the run, from ``/proc``) over the machine's cores, plus the longest conversation (the drive
phase of one template alone at that latency, in the same invocation); the ratio of the wall
time to it; and the harness's own CPU per template: everything the run used (the harness
process, its helpers, its judge, the runtimes) but the runtimes' own CPU.

``--frameworks`` measures the project's templates.toml instead: each template on
the scripted model (``model = "sim"``) and ``reference`` alone (boot and canary
time), then the whole ``matrix``, against the slowest single template.

    nox -s benchmark                               # process driver, the default scenarios
    nox -s benchmark -- --runs 5 --driver docker
    nox -s benchmark -- --frameworks --driver docker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from copies import ROOT, reference_table

PHASES = ("prepare_s", "boot_s", "canaries_s", "teardown_s")
# (copies, latency in seconds): the question is 8 copies at 1 s against one at 1 s.
SCENARIOS = ((1, 1.0), (8, 1.0), (20, 1.0), (1, 0.0), (8, 0.0))


def templates_file(directory: Path, copies: int, latency: float) -> Path:
    """A templates file with ``copies`` reference templates, runnable from anywhere."""
    lines = ["schema = 1", "[defaults]", 'gate = "required"']
    for index in range(1, copies + 1):
        lines += reference_table(f"reference{index}", {"REFERENCE_LATENCY": f"{latency:g}"})
    path = directory / f"bench-{copies}x{latency:g}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_run(
    config: Path, driver: str, scratch: Path, command: tuple[str, ...] = ("matrix",)
) -> dict[str, float]:
    """Run the harness once; its wall time and the slowest template's phases."""
    results, artifacts = scratch / "results", scratch / "artifacts"
    argv = [
        sys.executable, "-m", "harness", "--config", str(config), *command, "--driver", driver,
        "--results", str(results), "--artifacts", str(artifacts),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Every process of the run was waited for by its parent: the harness's tree, runtimes too.
    run_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ran = [json.loads(p.read_text()) for p in results.glob("*.json")]
    ran = [r for r in ran if r["status"] != "skipped"]
    if completed.returncode != 0 or any(r["status"] == "error" for r in ran):
        sys.exit(f"benchmark: {' '.join(command)} failed:\n{completed.stdout[-3000:]}")
    timings = [r["timings"] for r in ran]
    if not timings:
        sys.exit(f"benchmark: {' '.join(command)} ran no template (all skipped)")
    slowest = {k: max(float(t[k]) for t in timings) for k in PHASES}
    lifecycle = max(sum(float(t[k]) for k in PHASES) for t in timings)
    measured = [t for t in timings if "runtime_cpu_s" in t]
    runtimes_cpu = sum(float(t["runtime_cpu_s"]) for t in measured)
    return {
        "wall_s": wall, **slowest, "judge_and_startup_s": wall - lifecycle,
        "boot_cpu_s": sum(float(t.get("runtime_boot_cpu_s", 0.0)) for t in measured),
        "harness_cpu_per_template_s": (run_cpu - runtimes_cpu) / len(timings),
        "cpu_measured": float(len(measured) == len(timings)),
    }  # fmt: skip


def frameworks(runs: int, driver: str) -> None:
    """Each template on the scripted model alone, then the whole matrix, in one invocation."""
    sys.path.insert(0, str(ROOT))
    from harness.config import default_path, load

    config = default_path(ROOT)
    names = ["reference"] + [t.name for t in load(config).templates.values() if t.model == "sim"]
    with tempfile.TemporaryDirectory(prefix="canary-bench-") as scratch:
        directory = Path(scratch)
        one_run(config, driver, directory / "warm-up", ("run", *names))  # builds, venvs
        alone: dict[str, dict[str, float]] = {}
        for name in names:
            measured = [
                one_run(config, driver, directory / f"{name}-{i}", ("run", name))
                for i in range(runs)
            ]
            alone[name] = {k: statistics.median(r[k] for r in measured) for k in measured[0]}
        whole = [one_run(config, driver, directory / f"matrix-{i}") for i in range(runs)]
        matrix_wall = statistics.median(r["wall_s"] for r in whole)
    print(f"canary-matrix --driver {driver}: median of {runs} runs (seconds)")
    print("| template | boot | canaries | wall alone |")
    print("|---|---|---|---|")
    for name, m in alone.items():
        print(f"| {name} | {m['boot_s']:.2f} | {m['canaries_s']:.2f} | {m['wall_s']:.2f} |")
    slowest = max(alone, key=lambda n: alone[n]["wall_s"])
    print(
        f"\nwhole matrix: {matrix_wall:.2f} s; slowest single template ({slowest}): "
        f"{alone[slowest]['wall_s']:.2f} s; ratio {matrix_wall / alone[slowest]['wall_s']:.2f}"
    )


def main() -> None:
    """Measure every scenario and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs (median shown)")
    parser.add_argument("--driver", default="process", choices=("process", "docker"))
    parser.add_argument(
        "--frameworks", action="store_true", help="the framework templates and the matrix"
    )
    args = parser.parse_args()
    if args.frameworks:
        frameworks(args.runs, args.driver)
        return
    medians: dict[tuple[int, float], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="canary-bench-") as scratch:
        directory = Path(scratch)
        one_run(templates_file(directory, 1, 0.0), args.driver, directory / "warm-up")
        for copies, latency in SCENARIOS:
            config = templates_file(directory, copies, latency)
            runs = [
                one_run(config, args.driver, directory / f"{copies}-{latency}-{i}")
                for i in range(args.runs)
            ]
            medians[copies, latency] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"canary-matrix matrix --driver {args.driver}: N reference templates, median of "
        f"{args.runs} runs on {cores} cores (seconds; phases are the slowest template's; "
        "floor: the runtimes' boot CPU over the cores plus one template's conversations)"
    )
    header = ("templates", "latency", "wall", "ratio to 1", "CPU floor", "wall / floor",
              "harness CPU / template", "boot", "drive", "teardown", "judge+start-up")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for (copies, latency), m in medians.items():
        ratio = m["wall_s"] / medians[1, latency]["wall_s"]
        if m["cpu_measured"]:
            floor = m["boot_cpu_s"] / (cores or 1) + medians[1, latency]["canaries_s"]
            cpu = (f"{floor:.2f} | {m['wall_s'] / floor:.2f} | "
                   f"{m['harness_cpu_per_template_s'] * 1000:.0f} ms")  # fmt: skip
        else:  # a driver that cannot tell the runtime's CPU (docker)
            cpu = "- | - | -"
        print(
            f"| {copies} | {latency:g} s | {m['wall_s']:.2f} | {ratio:.2f} | {cpu} | "
            f"{m['boot_s']:.2f} | {m['canaries_s']:.2f} | {m['teardown_s']:.2f} | "
            f"{m['judge_and_startup_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
