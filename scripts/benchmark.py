"""Benchmark: wall time of ``nox -s canary-reference`` and where it goes, per driver.

Every figure comes from one invocation of this script, so ratios compare runs
made on the same (noisy, 2-core) machine at the same time. A warm-up run per
driver comes first, so venvs and images are reused as a user's second run would.

    python scripts/benchmark.py                # process driver, plus docker when an engine answers
    python scripts/benchmark.py --runs 5 --drivers process,docker
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ("prepare_s", "boot_s", "canaries_s", "teardown_s")


def nox_command() -> list[str]:
    """nox as the user runs it (the benchmark session's venv does not have it)."""
    found = shutil.which("nox")
    return [found] if found else [sys.executable, "-m", "nox"]


def docker_answers() -> bool:
    """Whether a Docker engine is reachable."""
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


def one_run(driver: str, scratch: Path) -> dict[str, float]:
    """Run the canary-reference session once; wall time plus the results' timings."""
    results, artifacts = scratch / "results", scratch / "artifacts"
    command = [
        *nox_command(), "-f", str(ROOT / "noxfile.py"), "-s", "canary-reference", "--",
        "--driver", driver, "--results", str(results), "--artifacts", str(artifacts),
    ]  # fmt: skip
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(
            f"benchmark: {driver} run failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        )
    timings = json.loads((results / "reference.json").read_text())["timings"]
    return {"wall_s": wall, **{k: float(timings[k]) for k in TIMINGS}}


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=3, help="measured runs per driver (median shown)"
    )
    parser.add_argument(
        "--drivers",
        default=None,
        help="comma-separated (default: process, and docker if it answers)",
    )
    args = parser.parse_args()
    drivers = (
        args.drivers.split(",")
        if args.drivers
        else ["process", *(["docker"] if docker_answers() else [])]
    )
    medians: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="canary-bench-") as scratch:
        for driver in drivers:
            one_run(driver, Path(scratch))  # warm-up: venv, image
            runs = [one_run(driver, Path(scratch)) for _ in range(args.runs)]
            medians[driver] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    base = medians[drivers[0]]["wall_s"]
    print(f"nox -s canary-reference, median of {args.runs} runs after a warm-up (seconds)")
    print(
        f"{'driver':<10}{'wall':>8}{'prepare':>9}{'boot':>8}{'canaries':>10}{'teardown':>10}{'ratio':>8}"
    )
    for driver, m in medians.items():
        print(
            f"{driver:<10}{m['wall_s']:>8.2f}{m['prepare_s']:>9.2f}{m['boot_s']:>8.2f}"
            f"{m['canaries_s']:>10.2f}{m['teardown_s']:>10.2f}{m['wall_s'] / base:>8.2f}"
        )
    for driver, m in medians.items():
        rest = m["wall_s"] - sum(m[k] for k in TIMINGS)
        print(
            f"{driver}: nox + interpreter start-up + config outside the timed phases: {rest:.2f}s"
        )


if __name__ == "__main__":
    main()
