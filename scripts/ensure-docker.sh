#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#
# - exits 0 at once when `docker info` already works (safe to run twice);
# - installs Debian's docker.io when `dockerd` is missing (needs root);
# - starts dockerd in the background (no systemd here), logging to
#   ${TMPDIR:-/tmp}/canary-dockerd.log, and waits up to ~60 s for it.
#
# Extra dockerd flags can be passed with CANARY_DOCKERD_ARGS (word-split),
# e.g. CANARY_DOCKERD_ARGS="--storage-driver vfs" or "--iptables=false".
# Without it the script starts plain `dockerd`; if that dies, it retries once
# with `--storage-driver vfs` when the log shows an overlay/storage failure, or
# with `--iptables=false` when the log shows an iptables failure.
set -euo pipefail

LOG="${TMPDIR:-/tmp}/canary-dockerd.log"
WAIT_SECONDS="${CANARY_DOCKER_WAIT:-60}"

log() { printf 'ensure-docker: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    if [[ -f "$LOG" ]]; then
        log "last lines of $LOG:"
        tail -n 25 "$LOG" >&2 || true
    fi
    exit 1
}

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if docker_ok; then
    log "docker engine already reachable"
    exit 0
fi

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $*"
    fi
}

if ! command -v dockerd >/dev/null 2>&1 && [[ ! -x /usr/sbin/dockerd ]]; then
    log "dockerd missing: installing Debian's docker.io"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
        || die "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io \
        || die "apt-get install docker.io failed"
fi
DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"
command -v docker >/dev/null 2>&1 || die "docker CLI not found after install"

# A daemon may already be starting (e.g. a concurrent run of this script):
# give it a moment before starting a second one.
daemon_running() { pgrep -x dockerd >/dev/null 2>&1; }

wait_for_docker() {  # $1 = pid of the dockerd we started (or empty)
    local pid="${1:-}" i
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        docker_ok && return 0
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1   # our dockerd exited
        fi
        sleep 1
    done
    return 1
}

start_dockerd() {  # args: extra dockerd flags
    log "starting: $DOCKERD${*:+ $*} (log: $LOG)"
    {
        printf '=== %s: %s %s\n' "$(date -Is)" "$DOCKERD" "$*"
    } >>"$LOG"
    # setsid+nohup: the daemon outlives this script and its terminal.
    as_root nohup setsid "$DOCKERD" "$@" >>"$LOG" 2>&1 </dev/null &
    DOCKERD_PID=$!
}

if daemon_running; then
    log "a dockerd process already exists; waiting for it"
    wait_for_docker "" && { log "docker engine ready"; exit 0; }
    die "dockerd is running but 'docker info' still fails after ${WAIT_SECONDS}s"
fi

# Stale pid file from a killed daemon makes dockerd refuse to start.
if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
    as_root rm -f /var/run/docker.pid
fi

read -r -a EXTRA <<<"${CANARY_DOCKERD_ARGS:-}"
start_dockerd "${EXTRA[@]}"
if wait_for_docker "$DOCKERD_PID"; then
    log "docker engine ready"
    exit 0
fi

# Our dockerd died (or never answered). Only retry when the flags were not
# chosen by the caller and the log points at a known cause.
if [[ -z "${CANARY_DOCKERD_ARGS:-}" ]] && ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
    tail_log="$(tail -n 60 "$LOG")"
    retry=()
    if grep -qiE 'overlay|storage-driver|graphdriver|driver not supported' <<<"$tail_log"; then
        retry+=(--storage-driver vfs)
    fi
    if grep -qiE 'iptables|nf_tables|bridge.*nat' <<<"$tail_log"; then
        retry+=(--iptables=false)
    fi
    if ((${#retry[@]})); then
        log "dockerd exited; retrying with ${retry[*]}"
        start_dockerd "${retry[@]}"
        if wait_for_docker "$DOCKERD_PID"; then
            log "docker engine ready (with ${retry[*]})"
            exit 0
        fi
    fi
fi

if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
    die "dockerd exited during start-up (see its log)"
fi
die "docker engine did not become ready within ${WAIT_SECONDS}s (dockerd pid $DOCKERD_PID still running)"
