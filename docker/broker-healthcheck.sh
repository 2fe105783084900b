#!/bin/bash
# HEALTHCHECK of the broker image: sends an ApiVersions v0 request (correlation id 7, null client
# id) to the local listener and succeeds only on a reply to it with error code 0 (NONE). A bare TCP
# connect would pass while the broker is still recovering logs before it answers.
set -uo pipefail

# The port of the first listener, e.g. PLAINTEXT://0.0.0.0:9092 -> 9092.
listeners="${KAFKA_LISTENERS:-PLAINTEXT://0.0.0.0:9092}"
first="${listeners%%,*}"
port="${BROKER_HEALTHCHECK_PORT:-${first##*:}}"

exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
# size 10 | api_key 18 | api_version 0 | correlation_id 7 | client_id null (-1)
printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x07\xff\xff' >&3
# size (4 bytes) | correlation_id (4) | error_code (2)
reply="$(timeout 3 head -c 10 <&3 | od -An -v -tx1 | tr -d ' \n')"
exec 3<&-
[ "${reply:8:12}" = "000000070000" ] || {
    echo "no valid ApiVersions reply on 127.0.0.1:$port (got '${reply}')" >&2
    exit 1
}
