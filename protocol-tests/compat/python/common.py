"""Shared pieces of the Python scenario drivers: arguments, expected records, checks, output.

Every driver is run as `driver.py --bootstrap HOST:PORT --scenario ID --topic NAME` and prints
exactly one JSON line: {"scenario", "result": "pass"|"fail"|"unsupported", "detail"}.
`driver.py --versions` prints {"client": ..., "library": "version"} instead.
"""

import argparse
import json
import random
import sys
import time
import traceback

#: Partitions of every topic the scenarios create (the runner sets num.partitions to match).
PARTITIONS = 3
#: Records per produce/consume scenario: small, so the matrix stays quick.
RECORDS = 300
#: A value that fits under the default max.message.bytes (1048588) with batch overhead.
NEAR_MAX = 1_000_000
#: A value that cannot fit under the default max.message.bytes.
OVER_MAX = 1_100_000
#: How long a consume loop waits for the expected records.
CONSUME_TIMEOUT_S = 30.0


class ScenarioFailed(Exception):
    """A check in a scenario did not hold; the message says which."""


class Unsupported(Exception):
    """The client library cannot express this scenario."""


def check(cond, what):
    """Fails the scenario with `what` unless `cond` holds."""
    if not cond:
        raise ScenarioFailed(what)


def expected_records(seed, count=RECORDS, base_ts=None):
    """Deterministic keyed records with headers (duplicate keys included) and explicit timestamps.

    Returns dicts {partition, key, value, headers: [(str, bytes)], timestamp}. Values are
    random bytes so a byte-level mismatch anywhere shows up.
    """
    rng = random.Random(seed)
    if base_ts is None:
        # In the past, so no broker rejects it as too far in the future.
        base_ts = int(time.time() * 1000) - 600_000
    out = []
    for i in range(count):
        out.append({
            "partition": i % PARTITIONS,
            "key": b"key-%06d" % i,
            "value": bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300))),
            "headers": [("trace", b"%d" % i), ("bin", bytes([0, 255, i % 256])),
                        ("dup", b"first"), ("dup", b"second")],
            "timestamp": base_ts + i,
        })
    return out


def compare(expected, got, with_headers=True, with_timestamps=True):
    """Checks `got` (same dict shape) holds exactly `expected`, in order within each partition."""
    check(len(got) == len(expected), f"consumed {len(got)} records, expected {len(expected)}")
    for p in range(PARTITIONS):
        want = [r for r in expected if r["partition"] == p]
        have = [r for r in got if r["partition"] == p]
        check(len(have) == len(want), f"partition {p}: {len(have)} records, expected {len(want)}")
        for i, (w, h) in enumerate(zip(want, have)):
            where = f"partition {p} record {i}"
            check(h["key"] == w["key"], f"{where}: key {h['key']!r} != {w['key']!r}")
            check(h["value"] == w["value"], f"{where}: value differs ({len(h['value'] or b'')} "
                                            f"bytes vs {len(w['value'])})")
            if with_headers:
                hh = [(k, bytes(v) if v is not None else None) for k, v in (h["headers"] or [])]
                check(hh == w["headers"], f"{where}: headers {hh!r} != {w['headers']!r}")
            if with_timestamps:
                check(h["timestamp"] == w["timestamp"],
                      f"{where}: timestamp {h['timestamp']} != {w['timestamp']}")
            check(h.get("offset") == i, f"{where}: offset {h.get('offset')} != {i}")


def retry(fn, seconds=10.0):
    """Calls fn until it returns without raising, for up to `seconds`: a broker's metadata may
    lag an admin request that already returned. The last error propagates."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return fn()
        except Exception:  # retried; re-raised once the time is up
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.3)


def parse_args():
    """The common command line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap")
    ap.add_argument("--scenario")
    ap.add_argument("--topic")
    ap.add_argument("--versions", action="store_true")
    return ap.parse_args()


def emit(obj):
    """Prints one JSON result line."""
    print(json.dumps(obj), flush=True)



def scenario_table(fns):
    """The scenario id -> fn(bootstrap, topic) table every driver serves, from the driver's
    functions (its module namespace): one catalogue, so the drivers cannot drift apart."""
    return {
        "metadata-autocreate": fns["metadata_autocreate"],
        "admin-topics": fns["admin_topics"],
        "produce-consume": lambda b, t: fns["round_trip"](b, t, "pc"),
        "codec-gzip": fns["codec"]("gzip"),
        "codec-snappy": fns["codec"]("snappy"),
        "codec-lz4": fns["codec"]("lz4"),
        "codec-zstd": fns["codec"]("zstd"),
        "max-message-size": fns["max_message"],
        "idempotent-producer": fns["idempotent"],
        "consume-earliest-latest": fns["earliest_latest"],
        "offsets-for-times": fns["offsets_for_times"],
        "empty-partition-eof": fns["empty_eof"],
        "describe-configs": fns["describe_configs"],
        "consumer-group-resume": fns["consumer_group"],
        # Served only by the drivers that implement them so far (the others answer "unsupported").
        **{sid: fns[name] for sid, name in (("alter-configs", "alter_configs"),
                                            ("delete-records", "delete_records")) if name in fns},
    }

def main(client, versions, scenarios):
    """Runs the scenario named on the command line from `scenarios` (id -> fn(bootstrap, topic))."""
    args = parse_args()
    if args.versions:
        emit({"client": client, "versions": versions()})
        return
    fn = scenarios.get(args.scenario)
    if fn is None:
        emit({"scenario": args.scenario, "result": "unsupported",
              "detail": f"{client} has no driver for this scenario"})
        return
    started = time.monotonic()
    try:
        fn(args.bootstrap, args.topic)
        result, detail = "pass", ""
    except Unsupported as e:
        result, detail = "unsupported", str(e)
    except ScenarioFailed as e:
        result, detail = "fail", str(e)
    except Exception as e:  # a client error is a scenario failure, reported with its type
        traceback.print_exc(file=sys.stderr)
        result, detail = "fail", f"{type(e).__name__}: {e}"
    emit({"scenario": args.scenario, "result": result, "detail": detail,
          "seconds": round(time.monotonic() - started, 2)})
