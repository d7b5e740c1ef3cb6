#!/usr/bin/env bash
# One-shot canary run for a template repository's CI:
#
#   TEMPLATE_IMAGE=ghcr.io/molecule-ai/workspace-template-foo:pr-42 scripts/run-canary.sh
#   TEMPLATE_IMAGE=… scripts/run-canary.sh hermes     # a templates.toml entry, image replaced
#
# Without a template name the image runs with the defaults of templates.toml.
# Exit 0 when every canary passes; otherwise non-zero, with results/ and
# artifacts/ written in the current directory. Variables named in
# CANARY_PASS_ENV (default: REFERENCE_FAULTS) are passed into the container when set.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${TEMPLATE_IMAGE:-}" ]]; then
    echo "run-canary.sh: set TEMPLATE_IMAGE to the image to test (usage: TEMPLATE_IMAGE=IMAGE $0 [TEMPLATE])" >&2
    exit 2  # a usage error, not a failed template
fi

args=(--driver docker --results "$PWD/results" --artifacts "$PWD/artifacts")
for name in ${CANARY_PASS_ENV:-REFERENCE_FAULTS}; do
    if [[ -n "${!name:-}" ]]; then args+=(--env "$name"); fi
done

command -v nox >/dev/null 2>&1 || python3 -m pip install --quiet nox
if [[ $# -gt 0 ]]; then
    session="canary-$1"
    shift
else
    session="run"
fi
# TEMPLATE_IMAGE reaches the harness through the environment.
exec nox -f "$ROOT/noxfile.py" -s "$session" -- "${args[@]}" "$@"
