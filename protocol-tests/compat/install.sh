#!/usr/bin/env bash
# Installs what the compatibility drivers need, idempotently and quietly (run as root on a
# fresh Debian machine; Java and Maven for the reference broker are handled by ../kafka/):
#   - python3 with venv, and a venv in python/.venv with the pinned client libraries;
#   - Go (Debian's golang-go when no `go` is on PATH), the modules of go/go.mod, and the
#     go/compat-go driver binary;
#   - kcat (Debian's package). The rdkafka driver (Rust) is built by run.py with cargo.
# Everything installed lives outside git (python/.venv, go/compat-go are gitignored; Go modules
# go to the Go module cache).
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
