#!/usr/bin/env bash
# End-to-end test of docker/: builds both images offline with podman (a Debian base made with
# debootstrap, binaries built on the host), starts docker/compose.yaml with podman-compose, then
# from the host: produces and consumes with kcat through the broker's EXTERNAL listener, reads
# the simulator's events, waits for the web page and a simulated user's rows and features,
# restarts the broker container (graceful SIGTERM) and recreates the whole stack, finding the
# data still there each time, and tears everything down.
#
# Skips (exit 0, with a message) only where podman cannot run a container at all.
#
# Environment: BROKER_BIN / RECOMMENDER_BIN (default: cargo's release broker and debug
# recommender, built if missing), DOCKER_TEST_CACHE (where the debootstrap base is cached).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== docker: %s\n' "$*"; }
fail() {
    printf 'docker test FAILED: %s\n' "$*" >&2
    exit 1
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

install_packages() {
    local need=()
    command -v podman >/dev/null || need+=(podman)
    command -v podman-compose >/dev/null || need+=(podman-compose)
    command -v runc >/dev/null || need+=(runc)
    command -v debootstrap >/dev/null || need+=(debootstrap)
    command -v kcat >/dev/null || need+=(kcat)
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}
install_packages

# Settings under which podman runs in this sandbox (no systemd, no cgroup delegation, no ulimit
# changes); they apply to this script's podman calls only.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
export CONTAINERS_CONF="$work/containers.conf"
# (sudo resets the environment: CONTAINERS_CONF is passed through env.)
podman=($sudo env "CONTAINERS_CONF=$CONTAINERS_CONF" podman)

# --- the base image: Debian bookworm minbase, made once and cached ---------------------------------
base=localhost/debian:bookworm-slim
cache="${DOCKER_TEST_CACHE:-/var/cache/kafka-rs-docker}"
if ! "${podman[@]}" image exists "$base"; then
    if [ ! -s "$cache/bookworm-minbase.tar" ]; then
        log "debootstrap bookworm minbase (cached in $cache)"
        $sudo mkdir -p "$cache"
        $sudo rm -rf "$cache/rootfs"
        $sudo debootstrap --variant=minbase bookworm "$cache/rootfs" http://deb.debian.org/debian \
            >"$work/debootstrap.log" 2>&1 || {
            tail -20 "$work/debootstrap.log"
            fail "debootstrap"
        }
        $sudo rm -rf "$cache/rootfs/var/cache/apt/archives/"*.deb "$cache/rootfs/var/lib/apt/lists/"*
        $sudo tar -C "$cache/rootfs" -cf "$cache/bookworm-minbase.tar.tmp" .
        $sudo mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
        $sudo rm -rf "$cache/rootfs"
    fi
    log "importing $base"
    "${podman[@]}" import "$cache/bookworm-minbase.tar" "$base" >/dev/null 2>&1
fi
if ! out="$("${podman[@]}" run --rm "$base" true 2>&1)"; then
    echo "$out"
    echo "SKIPPED docker/test.sh: podman cannot run a container on this machine (see above)."
    exit 0
fi

# --- images, from binaries built on the host --------------------------------------------------
target="${CARGO_TARGET_DIR:-$PWD/target}"
broker_bin="${BROKER_BIN:-$target/release/broker}"
recommender_bin="${RECOMMENDER_BIN:-$target/debug/recommender}"
[ -x "$broker_bin" ] || cargo build --release -p broker
[ -x "$recommender_bin" ] || cargo build -p recommender
mkdir -p docker/prebuilt
# Debug info is not needed in the images and is most of the binaries' size.
for bin in "$broker_bin" "$recommender_bin"; do
    strip -o "docker/prebuilt/$(basename "$bin")" "$bin" 2>/dev/null || cp "$bin" docker/prebuilt/
done
for image in broker recommender; do
    log "building localhost/kafka-rs/$image (BUILD=prebuilt, offline)"
    name="localhost/kafka-rs/$image:latest"
    old="$("${podman[@]}" image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)"
    "${podman[@]}" build --quiet --format docker --pull=never -f docker/Dockerfile \
        --target "$image" --build-arg BUILD=prebuilt --build-arg "RUNTIME_IMAGE=$base" \
        -t "$name" . >/dev/null
    # The previous build of this image, now untagged, is not kept around.
    new="$("${podman[@]}" image inspect --format '{{.Id}}' "$name")"
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        "${podman[@]}" rmi "$old" >/dev/null 2>&1 || true
    fi
done
rm -rf docker/prebuilt

# --- the stack ----------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BROKER_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
compose=($sudo env "CONTAINERS_CONF=$CONTAINERS_CONF" "BROKER_PORT=$BROKER_PORT"
    "HTTP_PORT=$HTTP_PORT" podman-compose)
project="kafkarsdockertest$$"
up() { "${compose[@]}" -p "$project" -f docker/compose.yaml up -d --no-build >"$work/up.log" 2>&1 || {
    cat "$work/up.log"
    fail "podman-compose up"
}; }
down() { "${compose[@]}" -p "$project" -f docker/compose.yaml down "$@" >>"$work/down.log" 2>&1; }
cleanup() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        for c in broker simulate process serve; do
            echo "--- logs of $c"
            "${podman[@]}" logs --tail 15 "${project}_${c}_1" 2>&1 || true
        done
    fi
    down -v || true
    "${podman[@]}" volume rm -f "${project}_broker-data" >/dev/null 2>&1 || true
    "${podman[@]}" network rm -f "${project}_default" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every half second until it succeeds.
wait_for() {
    local what="$1" seconds="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "no $what within ${seconds}s"
        sleep 0.5
    done
    echo "ok: $what"
}
broker_ctr="${project}_broker_1"
healthy() { "${podman[@]}" healthcheck run "$broker_ctr"; }
kafka=(kcat -b "127.0.0.1:$BROKER_PORT" -m 10)
consume() { timeout 30 "${kafka[@]}" -C -t "$1" -o beginning -e -q -f "${2:-%k:%s\n}"; }

log "podman-compose up (broker on 127.0.0.1:$BROKER_PORT, web page on 127.0.0.1:$HTTP_PORT)"
up
wait_for "healthy broker (HEALTHCHECK: ApiVersions)" 60 healthy

log "kcat from the host"
metadata="$(timeout 30 "${kafka[@]}" -L)"
grep -q "broker 1 at localhost:$BROKER_PORT" <<<"$metadata" ||
    fail "the host is not told the EXTERNAL address: $metadata"
echo "ok: metadata names broker 1 at localhost:$BROKER_PORT"
marker="docker-test-$$-$RANDOM"
printf 'k1:%s\nk2:%s\n' "$marker" "$marker" | timeout 30 "${kafka[@]}" -P -t docker-test -K:
[ "$(consume docker-test | grep -c "$marker")" -eq 2 ] || fail "produced records not consumed back"
echo "ok: produced and consumed 2 records"

# The simulator, inside the network, produces through INTERNAL; the host reads its events.
has_play_events() { [ -n "$(consume play-events '%k\n' | head -1)" ]; }
wait_for "simulated play-events read from the host" 90 has_play_events
# (head closes the pipe early: kcat's SIGPIPE is expected.)
user="$(consume play-events '%k\n' | head -1 || true)"
echo "simulated user: $user"

page() { python3 - "$HTTP_PORT" "$@" <<'EOF'
import json, sys, urllib.request
port, path = sys.argv[1], sys.argv[2]
body = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
if len(sys.argv) > 3:  # a user's page: rows, and features folded in by `process`
    page = json.loads(body)
    assert page["rows"] and any(r["items"] for r in page["rows"]), "no rows"
    assert page["features"] is not None, "no features yet"
    print(len(page["rows"]), "rows;", page["features"]["summary"])
else:
    assert b"<html" in body.lower(), "not the web page"
EOF
}
wait_for "web page on 127.0.0.1:$HTTP_PORT" 90 page /
wait_for "rows and features of simulated user $user" 120 page "/users/$user/rows" check
page "/users/$user/rows" check

log "restarting the broker container"
# (podman without systemd complains that it cannot schedule health checks: harmless here.)
"${podman[@]}" restart "$broker_ctr" >/dev/null 2>"$work/restart.log"
"${podman[@]}" logs "$broker_ctr" 2>&1 | grep -q "shutdown complete" ||
    fail "the broker did not shut down gracefully on SIGTERM"
echo "ok: graceful shutdown on SIGTERM"
wait_for "healthy broker after restart" 60 healthy
[ "$(consume docker-test | grep -c "$marker")" -eq 2 ] || fail "records lost across a restart"
echo "ok: records still there after the restart"

log "recreating every container (data only in the volume)"
down
up
wait_for "healthy broker in a new container" 60 healthy
[ "$(consume docker-test | grep -c "$marker")" -eq 2 ] || fail "records lost with the container"
echo "ok: records still there in a new container"
wait_for "web page after recreation" 90 page /

log "docker test passed"
