#!/usr/bin/env bash
# Installs what the compatibility drivers need, idempotently and quietly (run as root on a
# fresh Debian machine; Java and Maven for the reference broker are handled by ../kafka/):
#   - python3 with venv, and a venv in python/.venv with the pinned client libraries;
#   - Go (Debian's golang-go when no `go` is on PATH), the modules of go/go.mod, and the
#     go/compat-go driver binary; the modules of goclients/go.mod and its sarama and kafka-go
#     driver binaries;
#   - Node.js and npm (Debian's when missing) and kafkajs/node_modules from its package-lock.json
#     (zstd-napi compiles zstd, hence make and g++);
#   - kcat (Debian's package). The rdkafka driver (Rust) is built by run.py with cargo;
#   - a Java 17 JDK and Maven (Debian's), then the Java drivers (java/: kafka-clients and
#     Apache Kafka's tools 4.1.1, resolved into the same Maven repository ~/.m2 that the
#     reference broker's jars come from) compiled into java/target.
# Everything installed lives outside git (python/.venv, go/compat-go, goclients/*/compat-*,
# kafkajs/node_modules, java/target are gitignored; Go modules go to the Go module cache).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "install.sh: missing $*; run as root or install them" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v go >/dev/null || apt_install golang-go
# javac too: scripts/test-all.sh may have installed only the JRE for the reference broker.
command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v make >/dev/null && command -v g++ >/dev/null || apt_install make g++
# zstd-napi compiles against Node's headers (no download): Debian ships them in libnode-dev.
[[ -e /usr/include/node/node_api.h ]] || apt_install libnode-dev
# Debian's kcat (1.7.1 on bookworm/trixie, with its own librdkafka) for the kcat driver.
command -v kcat >/dev/null || apt_install kcat

venv=$here/python/.venv
req=$here/python/requirements.txt
# The stamp skips pip entirely when the requirements did not change since the last install.
if [[ ! -x $venv/bin/python ]] || ! cmp -s "$req" "$venv/.requirements.installed"; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.requirements.installed"
fi

cd "$here/go"
go mod download
go build -o compat-go .

cd "$here/goclients"
go mod download
go build -o sarama/compat-sarama ./sarama
go build -o kafka-go/compat-kafka-go ./kafka-go

# The stamp skips npm when the lock file did not change since the last install.
cd "$here/kafkajs"
if ! cmp -s package-lock.json node_modules/.compat-installed-lock; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json node_modules/.compat-installed-lock
fi

# The Java drivers: rebuilt only when the pom or a source changed since the last build.
cd "$here/java"
stamp=target/.built
sum=$(find pom.xml src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
if [[ ! -f target/classpath.txt ]] || [[ $(cat "$stamp" 2>/dev/null) != "$sum" ]]; then
    mvn -B -q -Dstyle.color=never compile >/dev/null 2>&1 || { echo "install.sh: building the Java drivers failed" >&2; mvn -B compile >&2; exit 1; }
    echo "$sum" >"$stamp"
fi
