#!/usr/bin/env bash
# Stops a reference broker started by start-kafka.sh: SIGTERM (a controlled shutdown), then
# SIGKILL if it is still alive after KAFKA_STOP_TIMEOUT seconds (default 30).
#
#   stop-kafka.sh <dir>
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 <dir>" >&2; exit 2; }
dir=$1
timeout_s=${KAFKA_STOP_TIMEOUT:-30}

# Only signal a pid that still is our Kafka: pids get reused.
is_kafka() {
    [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'kafka\.Kafka'
}

if [[ -f $dir/watchdog.pid ]]; then
    watchdog=$(cat "$dir/watchdog.pid")
    # When the watchdog itself calls us it is our parent; it exits on its own afterwards.
    if [[ $watchdog != "$PPID" ]]; then
        kill "$watchdog" 2>/dev/null || true
    fi
    rm -f "$dir/watchdog.pid"
fi

[[ -f $dir/kafka.pid ]] || { echo "no $dir/kafka.pid: nothing to stop" >&2; exit 0; }
pid=$(cat "$dir/kafka.pid")
if ! is_kafka "$pid"; then
    rm -f "$dir/kafka.pid"
    exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + timeout_s))
while is_kafka "$pid"; do
    if ((SECONDS >= deadline)); then
        echo "Kafka (pid $pid) still running ${timeout_s}s after SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
    fi
    sleep 0.2
done
rm -f "$dir/kafka.pid"
