#!/usr/bin/env bash
# Installs what the compatibility drivers need (run as root on Debian; idempotent, quiet):
# a Python venv with the pinned clients and the franz-go driver's Go modules, built.
# The reference Apache Kafka (Java, Maven jars) is handled by ../kafka/start-kafka.sh.
#
#   install.sh          (COMPAT_VENV overrides the venv location, default python/.venv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${COMPAT_VENV:-$here/python/.venv}

apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "$@" >/dev/null
    else
        echo "missing $*; install it (as root: apt-get install $*)" >&2
        exit 1
    fi
}

command -v python3 >/dev/null || apt_install python3
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
fi
command -v go >/dev/null || apt_install golang-go
# franz-go 1.22 needs Go 1.26; an older toolchain would try to download a newer one.
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if ((go_minor < 26)); then
    echo "Go $(go env GOVERSION) is too old for franz-go; install Go 1.26 or newer" >&2
    exit 1
fi

if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/python/requirements.txt"

(cd "$here/go" && go mod download && go build -o "$here/go/compat-franz" .)
echo "compat drivers installed: venv $venv, go driver $here/go/compat-franz"
