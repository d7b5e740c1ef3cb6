"""Flake count: many healthy copies in one matrix, several runs in a row, every failure listed.

A single green run proves little (a fixture shared "by grouping" once gave 2-3 false
failures among 8 healthy copies). This runs ``--copies`` copies of the healthy
reference template with every canary on (the ones still off by default too,
``peer_call`` with the reference as the peer) ``--runs`` times, and prints how many
passed in each run and every canary that did not pass, with its layer and message.
It exits 1 when any healthy copy failed.

    nox -s flakes                              # 20 copies, 5 runs, process driver
    nox -s flakes -- --runs 10 --driver docker
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from copies import PROBE, ROOT, reference_table

sys.path.insert(0, str(ROOT))

from harness.config import CANARY_IDS


def templates_file(directory: Path, copies: int) -> Path:
    """``copies`` healthy reference templates with every canary on, runnable from anywhere."""
    canaries = ", ".join(f'"{c}"' for c in CANARY_IDS)
    lines = ["schema = 1", "[defaults]", 'gate = "required"', f"canaries = [{canaries}]"]
    for index in range(1, copies + 1):
        lines += reference_table(f"healthy{index}", {}, f"probe = {PROBE}")
    lines += reference_table("reference", {}, 'gate = "off"')  # every copy's peer (the default)
    path = directory / f"flakes-{copies}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_run(config: Path, driver: str, scratch: Path, copies: int) -> tuple[int, list[str]]:
    """One matrix: how many copies passed, and a line for each canary that did not."""
    results = scratch / "results"
    argv = [
        sys.executable, "-m", "harness", "--config", str(config), "matrix", "--driver", driver,
        "--results", str(results), "--artifacts", str(scratch / "artifacts"),
    ]  # fmt: skip
    completed = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    passed, problems = 0, []
    if not results.is_dir():
        said = (completed.stderr.strip() or completed.stdout.strip() or "nothing").splitlines()
        return 0, [f"no results (exit {completed.returncode}); the harness said: {said[-1]}"]
    for index in range(1, copies + 1):
        path = results / f"healthy{index}.json"
        if not path.is_file():
            problems.append(f"healthy{index}: no result file (exit {completed.returncode})")
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        outcomes = {c: e for c, e in result["canaries"].items() if e["outcome"] != "passed"}
        missing = sorted(set(CANARY_IDS) - set(result["canaries"]))
        if result["status"] == "passed" and not outcomes and not missing:
            passed += 1
            continue
        if result.get("reason"):
            problems.append(f"healthy{index}: {result['status']}: {result['reason']}")
        problems += [f"healthy{index}: {c} {e['outcome']} at {e.get('layer')}: "
                     f"{e.get('message')}" for c, e in outcomes.items()]  # fmt: skip
        problems += [f"healthy{index}: {c} did not run" for c in missing]
    return passed, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=20, help="healthy copies per matrix")
    parser.add_argument("--runs", type=int, default=5, help="matrices in a row")
    parser.add_argument("--driver", default="process", choices=("process", "docker"))
    args = parser.parse_args()
    failed_runs = 0
    with tempfile.TemporaryDirectory(prefix="canary-flakes-") as scratch:
        config = templates_file(Path(scratch), args.copies)
        print(f"{args.copies} healthy copies, {len(CANARY_IDS)} canaries each, "
              f"{args.runs} runs, {args.driver} driver")  # fmt: skip
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            passed, problems = one_run(config, args.driver, Path(scratch) / f"run{run}",
                                       args.copies)  # fmt: skip
            took = time.monotonic() - started
            print(f"run {run}: {passed}/{args.copies} passed in {took:.0f}s", flush=True)
            for problem in problems:
                print(f"  {problem}")
            failed_runs += passed != args.copies
    print(f"{args.runs - failed_runs}/{args.runs} runs with every copy passing")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
