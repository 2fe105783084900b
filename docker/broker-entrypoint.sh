#!/bin/bash
# Entrypoint of the broker image: every KAFKA_* environment variable becomes an `--override` with
# Kafka's key name, as the well-known Kafka images do (KAFKA_LOG_RETENTION_MS=60000 becomes
# log.retention.ms=60000; `__` stands for `_` and `___` for `-`). Arguments (a server.properties
# path, more --override flags) come first, so the environment wins over the file.
#
# The broker is exec'd: it becomes PID 1 and receives SIGTERM from `docker stop` itself, then shuts
# down gracefully (it installs its own SIGTERM/SIGINT handlers, so no init process is needed).
set -euo pipefail

# `docker run IMAGE bash` and the like run that command instead of the broker.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ] && [ ! -f "$1" ] && command -v "$1" >/dev/null; then
    exec "$@"
fi

overrides=()
while IFS='=' read -r -d '' name value; do
    case "$name" in
    KAFKA_?*) ;;
    *) continue ;;
    esac
    key="${name#KAFKA_}"
    key="${key,,}"
    key="${key//___/-}"
    key="${key//__/@}" # '@' cannot occur in a variable name: a placeholder for a literal '_'.
    key="${key//_/.}"
    key="${key//@/_}"
    overrides+=(--override "$key=$value")
done < <(env -0)

exec /usr/local/bin/broker "$@" "${overrides[@]}"
