#!/usr/bin/env bash
# Starts an Apache Kafka reference broker (KRaft, one node acting as broker and controller).
#
#   start-kafka.sh <port> <dir> [key=value ...]
#
# <port>  PLAINTEXT listener on 127.0.0.1.
# <dir>   working directory: server.properties, data/, kafka.log, kafka.pid are written here.
# Extra key=value arguments are appended to server.properties (later keys win in Kafka).
#
# Environment:
#   KAFKA_VERSION          Kafka release resolved from Maven Central (default 4.1.1).
#   KAFKA_COMPAT_CACHE     jar cache root (default $HOME/.cache/kafka-compat).
#   KAFKA_CONTROLLER_PORT  CONTROLLER listener port (default: a free one is picked).
#   KAFKA_START_TIMEOUT    seconds to wait for the listener to answer (default 90).
#   KAFKA_HEAP             JVM heap (default 512m).
#   KAFKA_PARENT_PID       if set, a watchdog stops Kafka once that process is gone, so a test
#                          binary that exits without running destructors leaves nothing behind.
#   KAFKA_REMOVE_DIR_ON_EXIT  with KAFKA_PARENT_PID: the watchdog also deletes <dir> afterwards.
#
# The script returns once the PLAINTEXT port accepts connections; Kafka keeps running in the
# background. Stop it with stop-kafka.sh <dir>.
set -euo pipefail

usage() { echo "usage: $0 <port> <dir> [key=value ...]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
port=$1
dir=$2
shift 2
[[ $port =~ ^[0-9]+$ ]] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${KAFKA_VERSION:-4.1.1}
cache_root=${KAFKA_COMPAT_CACHE:-$HOME/.cache/kafka-compat}
libs=$cache_root/kafka-$version/libs
timeout_s=${KAFKA_START_TIMEOUT:-90}
heap=${KAFKA_HEAP:-512m}

# Resolves the jars once per version; the marker makes an interrupted copy get redone.
resolve_jars() {
    if [[ -f $libs/.complete ]]; then
        return
    fi
    echo "resolving Apache Kafka $version jars into $libs" >&2
    rm -rf "$libs"
    mkdir -p "$libs"
    local log=$cache_root/kafka-$version/mvn.log
    mvn -B -f "$here/pom.xml" -Dkafka.version="$version" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" \
        >"$log" 2>&1 || {
        echo "resolving the jars with Maven failed; its log ($log) ends with:" >&2
        tail -n 30 "$log" >&2
        exit 1
    }
    touch "$libs/.complete"
}

# True when something on 127.0.0.1 accepts connections on port $1.
port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a port nobody listens on (bash-only: tries random ports until one refuses).
free_port() {
    local p tries=0
    while ((tries < 200)); do
        p=$((20000 + RANDOM % 40000))
        if ! port_answers "$p"; then
            echo "$p"
            return
        fi
        tries=$((tries + 1))
    done
    echo "no free port found" >&2
    return 1
}

# A Kafka cluster id is a base64url (no padding) encoding of 16 random bytes. One that starts
# with '-' would be read by kafka-storage's argument parser as an option (as Kafka's own
# Uuid.randomUuid also avoids), so draw again until it does not.
random_cluster_id() {
    local id
    while true; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id == -* ]] || break
    done
    printf '%s\n' "$id"
}

resolve_jars

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [[ -f $dir/kafka.pid ]] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    echo "a Kafka from $dir is already running (pid $(cat "$dir/kafka.pid"))" >&2
    exit 1
fi
if port_answers "$port"; then
    echo "port $port on 127.0.0.1 is already in use" >&2
    exit 1
fi
controller_port=${KAFKA_CONTROLLER_PORT:-$(free_port)}

props=$dir/server.properties
cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
for kv in "$@"; do
    [[ $kv == *=* ]] || { echo "not a key=value: $kv" >&2; exit 2; }
    echo "$kv" >>"$props"
done

classpath="$libs/*"
jvm_opts=(-Xmx"$heap" -Xms"$heap" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$here/log4j2.properties")

if [[ ! -f $dir/data/meta.properties ]]; then
    java "${jvm_opts[@]}" -cp "$classpath" kafka.tools.StorageTool format \
        --config "$props" --cluster-id "$(random_cluster_id)" --standalone \
        >"$dir/format.log" 2>&1 || {
        echo "formatting the storage failed:" >&2
        cat "$dir/format.log" >&2
        exit 1
    }
fi

# setsid: the broker must not receive signals aimed at the caller's process group (Ctrl-C of a
# test run is handled by the watchdog or stop-kafka.sh instead, which shut it down cleanly).
setsid java "${jvm_opts[@]}" -cp "$classpath" kafka.Kafka "$props" \
    >"$dir/kafka.log" 2>&1 </dev/null &
kafka_pid=$!
echo "$kafka_pid" >"$dir/kafka.pid"

if [[ -n ${KAFKA_PARENT_PID:-} ]]; then
    remove_dir=${KAFKA_REMOVE_DIR_ON_EXIT:-}
    # The polling interval only bounds how long Kafka outlives its parent.
    setsid bash -c '
        parent=$1 kafka=$2 dir=$3 remove=$4 stop=$5
        while kill -0 "$parent" 2>/dev/null && kill -0 "$kafka" 2>/dev/null; do sleep 1; done
        "$stop" "$dir" >/dev/null 2>&1 || true
        if [[ -n $remove ]]; then rm -rf -- "$dir"; fi
    ' watchdog "$KAFKA_PARENT_PID" "$kafka_pid" "$dir" "$remove_dir" "$here/stop-kafka.sh" \
        >/dev/null 2>&1 </dev/null &
    echo $! >"$dir/watchdog.pid"
fi

deadline=$((SECONDS + timeout_s))
until port_answers "$port"; do
    if ! kill -0 "$kafka_pid" 2>/dev/null; then
        echo "Kafka (pid $kafka_pid) exited before 127.0.0.1:$port answered; log tail:" >&2
        tail -n 40 "$dir/kafka.log" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "gave up after ${timeout_s}s waiting for Kafka (pid $kafka_pid) to accept" \
            "connections on 127.0.0.1:$port; log tail:" >&2
        tail -n 40 "$dir/kafka.log" >&2
        "$here/stop-kafka.sh" "$dir" >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "Kafka $version (pid $kafka_pid) listening on 127.0.0.1:$port, controller on" \
    "127.0.0.1:$controller_port, dir $dir"
