#!/usr/bin/env bash
# Prepare, on the host, a directory of binary wheels for a container's Python,
# so images can be built offline:
#   pip install --no-index --find-links /wheels -r requirements.txt
#
#   scripts/build-wheelhouse.sh [WHEELHOUSE] [REQUIREMENTS]
#     WHEELHOUSE    default <repo>/.cache/wheelhouse
#     REQUIREMENTS  default <repo>/templates/reference/requirements.txt
#                   (created with the reference agent's pins if missing)
#
# Target: CPython $CANARY_WHEEL_PYTHON (default 3.11), glibc Linux on this
# machine's architecture (uname -m), manylinux up to glibc 2.$CANARY_WHEEL_GLIBC_MAX
# (default 36 = Debian bookworm, the base image's glibc).
# The host's pip settings (PIP_FIND_LINKS, PIP_CERT, pip.conf) are used for the
# download. Skips all work when the stamp file matches the requirements' sha256
# and the target; otherwise downloads into a fresh directory and swaps it in,
# so the wheelhouse holds exactly what the requirements resolve to.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
DEFAULT_REQ="$REPO/templates/reference/requirements.txt"

WHEELHOUSE="${1:-$REPO/.cache/wheelhouse}"
REQ="${2:-$DEFAULT_REQ}"
PYVER="${CANARY_WHEEL_PYTHON:-3.11}"
GLIBC_MAX="${CANARY_WHEEL_GLIBC_MAX:-36}"
PYTHON="${PYTHON:-python3}"

log() { printf 'build-wheelhouse: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ ! -e "$REQ" ]]; then
    [[ "$REQ" == "$DEFAULT_REQ" ]] || die "requirements file not found: $REQ"
    log "creating $REQ"
    mkdir -p "$(dirname "$REQ")"
    printf '%s\n' 'a2a-sdk[http-server]==1.3.0' 'uvicorn>=0.30' 'httpx>=0.27' >"$REQ"
fi

ARCH="$(uname -m)"
case "$ARCH" in
    x86_64 | aarch64 | ppc64le | s390x) ;;
    arm64) ARCH=aarch64 ;;
    *) die "unsupported architecture: $ARCH" ;;
esac
[[ "$PYVER" =~ ^3\.[0-9]+$ ]] || die "CANARY_WHEEL_PYTHON must look like 3.11, got $PYVER"
ABI="cp${PYVER/./}"

PLATFORM_ARGS=(--platform "manylinux2014_$ARCH")
for ((minor = GLIBC_MAX; minor >= 17; minor--)); do
    PLATFORM_ARGS+=(--platform "manylinux_2_${minor}_$ARCH")
done
PLATFORM_ARGS+=(--platform "linux_$ARCH" --platform any)
TARGET_ARGS=(--only-binary=:all: "${PLATFORM_ARGS[@]}"
    --python-version "$PYVER" --implementation cp --abi "$ABI")

# The stamp covers the requirements' content and the target.
REQ_SHA="$(sha256sum "$REQ" | cut -d' ' -f1)"
STAMP_VALUE="$REQ_SHA cp$PYVER $ARCH glibc2.$GLIBC_MAX"
STAMP="$WHEELHOUSE/.stamp"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_VALUE" ]] \
    && compgen -G "$WHEELHOUSE/*.whl" >/dev/null; then
    log "$WHEELHOUSE is up to date for $REQ ($ABI, $ARCH)"
    exit 0
fi

"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip"
mkdir -p "$(dirname "$WHEELHOUSE")"
WHEELHOUSE="$(cd "$(dirname "$WHEELHOUSE")" && pwd)/$(basename "$WHEELHOUSE")"
NEW="$(mktemp -d "$WHEELHOUSE.new.XXXXXX")"
trap 'rm -rf "$NEW"' EXIT

start=$SECONDS
log "downloading wheels for $REQ ($ABI, manylinux <= 2.$GLIBC_MAX, $ARCH) -> $WHEELHOUSE"
"$PYTHON" -m pip download --quiet --disable-pip-version-check \
    "${TARGET_ARGS[@]}" -d "$NEW" -r "$REQ" \
    || die "pip download failed (is every requirement available as a $ABI/$ARCH wheel?)"

# Check the wheelhouse alone satisfies the requirements, as the image build
# will see it: no index, no other find-links (no pip.conf, no PIP_FIND_LINKS).
env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --dry-run \
    --ignore-installed --no-index --find-links "$NEW" --target "$NEW/.dry-run" \
    "${TARGET_ARGS[@]}" -r "$REQ" \
    || die "downloaded wheelhouse does not satisfy $REQ offline"
rm -rf "$NEW/.dry-run"

printf '%s\n' "$STAMP_VALUE" >"$NEW/.stamp"
chmod 755 "$NEW"
rm -rf "$WHEELHOUSE.old"
[[ -e "$WHEELHOUSE" ]] && mv "$WHEELHOUSE" "$WHEELHOUSE.old"
mv "$NEW" "$WHEELHOUSE"
rm -rf "$WHEELHOUSE.old"
log "$(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels in $WHEELHOUSE ($((SECONDS - start)) s)"
