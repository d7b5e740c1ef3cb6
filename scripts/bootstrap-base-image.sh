#!/usr/bin/env bash
# Build a local Python base image from Debian packages, for machines where no
# container registry can be reached (nothing can be pulled).
#
#   scripts/bootstrap-base-image.sh [IMAGE]     (default: $CANARY_BASE_IMAGE or
#                                                canary-matrix/python-base:bookworm)
#
# mmdebstrap builds a bookworm root file system (Python 3.11 at /usr/bin/python3)
# from the host's apt sources; `docker import` turns it into an image. Does
# nothing when the image already exists. Last line of output:
#   CANARY_BASE_IMAGE=<image>
set -euo pipefail

IMAGE="${1:-${CANARY_BASE_IMAGE:-canary-matrix/python-base:bookworm}}"
SUITE="${CANARY_BASE_SUITE:-bookworm}"
# passwd (useradd) is not Essential; it comes in anyway via apt -> adduser ->
# passwd, but is listed so Dockerfiles can rely on `useradd`.
PACKAGES="python3,python3-venv,ca-certificates,passwd"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'bootstrap-base-image: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || "$SCRIPT_DIR/ensure-docker.sh" \
    || die "no docker engine (scripts/ensure-docker.sh failed)"

# Serialise concurrent runs (the second one then finds the image).
LOCK="${TMPDIR:-/tmp}/canary-bootstrap-base-image.lock"
exec 9>"$LOCK"
flock 9

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE already exists; nothing to do"
    echo "CANARY_BASE_IMAGE=$IMAGE"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap root mode, docker)"

if ! command -v mmdebstrap >/dev/null 2>&1; then
    log "mmdebstrap missing: installing it"
    DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap \
        || die "apt-get install mmdebstrap failed"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/canary-base.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
TAR="$WORK/rootfs.tar"

start=$SECONDS
log "mmdebstrap $SUITE (+$PACKAGES) -> $TAR"
# No mirror argument: mmdebstrap uses the host's apt sources (and its proxy
# settings), which is what works on a machine without a registry.
mmdebstrap --quiet --variant=apt --include="$PACKAGES" \
    --aptopt='Acquire::Retries "3"' \
    --customize-hook='rm -f "$1"/etc/resolv.conf "$1"/etc/hostname "$1"/var/cache/apt/*.bin' \
    "$SUITE" "$TAR" || die "mmdebstrap failed"
log "rootfs: $(du -h "$TAR" | cut -f1) in $((SECONDS - start)) s"

# docker import keeps no image config; restore what python:3.11-slim sets.
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "canary-matrix: mmdebstrap $SUITE $PACKAGES" \
    "$TAR" "$IMAGE" >/dev/null || die "docker import failed"

docker run --rm "$IMAGE" python3 -c 'import sys, venv, ssl; assert sys.version_info[:2] == (3, 11), sys.version' \
    || die "image $IMAGE has no working python3 3.11"
log "built $IMAGE in $((SECONDS - start)) s"
echo "CANARY_BASE_IMAGE=$IMAGE"
