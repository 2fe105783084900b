#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine and runs every test.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

install_system_packages() {
    # kcat (Debian 1.7.1 on librdkafka 2.0.2) is a client under test; a C/C++ toolchain, cmake and
    # zlib build the bundled librdkafka for the rdkafka crate.
    local need=()
    command -v kcat >/dev/null || need+=(kcat)
    command -v cc >/dev/null || need+=(build-essential)
    command -v cmake >/dev/null || need+=(cmake)
    command -v pkg-config >/dev/null || need+=(pkg-config)
    dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)
    # The reference Apache Kafka broker of the compatibility matrix runs on Java, from Maven jars.
    command -v java >/dev/null || need+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || need+=(maven)
    # The recommender's web page is tested in headless Chromium over WebDriver.
    command -v chromium >/dev/null || need+=(chromium)
    command -v chromedriver >/dev/null || need+=(chromium-driver)
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

install_system_packages
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

log "building the broker (release) for the client tests"
cargo build --release -p broker
export BROKER_BIN="$PWD/target/release/broker"

log "unit and integration tests"
cargo test --workspace --no-fail-fast -- --test-threads=2

log "recommender web page in headless Chromium"
cargo build -p recommender
python3 recommender/tests/web/page_test.py "$PWD/target/debug/recommender"

log "container images and the compose stack, with podman (docker/test.sh)"
./docker/test.sh

log "compatibility matrix: eleven clients and Kafka's own tools, Apache Kafka first, then ours"
# Needs Java and Maven (the reference broker's jars come from Maven Central) and Go >= 1.26.
./protocol-tests/compat/install.sh
python3 protocol-tests/compat/run.py

log "benchmark harness: smoke pass against both brokers (checks every figure exists, no timings)"
# Needs the Kafka jars and the kafka-tools jar that the compatibility matrix's install resolved.
python3 -m unittest discover -s protocol-tests/bench -p "test_*.py"
cargo build --release -p protocol-tests --bin broker-perf
python3 protocol-tests/bench/run.py --smoke
