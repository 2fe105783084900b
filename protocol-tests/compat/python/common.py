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



# --- Consumer-group scenarios, shared by the three Python drivers -------------------------------
#
# A driver supplies a *group client* with these synchronous methods:
#   ensure_topic(bootstrap, topic)                 auto-create the topic (metadata request)
#   produce(bootstrap, topic, records)             records from expected_records()
#   member(bootstrap, group, topic, name, static_id=None, cooperative=False,
#          consumer_protocol=False)                a subscribed member (raises Unsupported)
#   committed(bootstrap, group, topic)             {partition: committed offset or None}
#   watermarks(bootstrap, topic)                   {partition: (log start, log end)}
#   offset_for_time(bootstrap, topic, p, ts)       ListOffsets by timestamp
#   commit_offsets(bootstrap, group, topic, offs)  commit {partition: offset} with no member
# and a member has `name`, `seen` [(partition, offset)] processed, `events` [("assign" or
# "revoke", {partitions})] from its rebalance listener, `commit_each` (commit every polled batch
# synchronously before the next poll), and methods poll() (one short poll, processing what
# came), assigned() -> {partitions}, commit({partition: offset}) and close().

#: How long a group may take to settle into what a scenario waits for.
GROUP_TIMEOUT_S = 45.0


def poll_until(members, what, cond):
    """Polls every member in turn until cond() holds; fails naming `what` after the timeout."""
    deadline = time.monotonic() + GROUP_TIMEOUT_S
    while not cond():
        if time.monotonic() >= deadline:
            state = "; ".join(f"{m.name}: assigned {sorted(m.assigned())}, {len(m.seen)} processed"
                              for m in members)
            raise ScenarioFailed(f"timed out waiting for {what} ({state})")
        for m in members:
            m.poll()


def split_evenly(members):
    """True once the members' assignments are non-empty, disjoint and cover every partition."""
    parts = [m.assigned() for m in members]
    return all(parts) and sum(map(len, parts)) == len(set().union(*parts)) == PARTITIONS


def exactly_once(seen, want):
    check(len(seen) == want and len(set(seen)) == want,
          f"{len(seen)} records processed, {len(set(seen))} distinct, expected {want} exactly once")


def group_rebalance(gc, bootstrap, topic):
    """Two members split the partitions; each processes only its own; one leaves, the other
    takes over everything; with synchronous commits every record is processed exactly once."""
    group = "compat-" + topic
    gc.produce(bootstrap, topic, expected_records("rb-1", count=45))
    a = gc.member(bootstrap, group, topic, "member A")
    poll_until([a], "member A to process the first 45", lambda: len(a.seen) >= 45)
    b = gc.member(bootstrap, group, topic, "member B")
    poll_until([a, b], "a disjoint split of the partitions", lambda: split_evenly([a, b]))
    before = {m.name: (len(m.seen), m.assigned()) for m in (a, b)}
    gc.produce(bootstrap, topic, expected_records("rb-2", count=45))
    poll_until([a, b], "90 records processed", lambda: len(a.seen) + len(b.seen) >= 90)
    for m in (a, b):
        n, parts = before[m.name]
        stray = [at for at in m.seen[n:] if at[0] not in parts]
        check(not stray, f"{m.name} (assigned {sorted(parts)}) processed {stray}")
    a.close()
    poll_until([b], "member B to own every partition", lambda: len(b.assigned()) == PARTITIONS)
    gc.produce(bootstrap, topic, expected_records("rb-3", count=30))
    poll_until([b], "120 records processed in all", lambda: len(a.seen) + len(b.seen) >= 120)
    b.close()
    exactly_once(a.seen + b.seen, 120)


def static_membership(gc, bootstrap, topic):
    """KIP-345: a static member closes (no LeaveGroup) and restarts with its instance id: it gets
    its partitions back and the other member sees no rebalance (same generation)."""
    group = "compat-" + topic
    gc.produce(bootstrap, topic, expected_records("sm", count=30))
    a = gc.member(bootstrap, group, topic, "static member a", static_id="a")
    b = gc.member(bootstrap, group, topic, "static member b", static_id="b")
    poll_until([a, b], "a disjoint split between a and b", lambda: split_evenly([a, b]))
    a_parts, b_events = a.assigned(), len(b.events)
    a.close()
    a2 = gc.member(bootstrap, group, topic, "restarted a", static_id="a")
    poll_until([a2, b], "the restarted member's assignment", lambda: bool(a2.assigned()))
    # Keep polling a moment: a rebalance, if one was started, would reach b now.
    quiet = time.monotonic() + 1.0
    poll_until([a2, b], "a quiet second", lambda: time.monotonic() >= quiet)
    got, b_after = a2.assigned(), b.events[b_events:]
    a2.close()
    b.close()
    check(got == a_parts, f"restarted member got {sorted(got)}, had {sorted(a_parts)}")
    check(not b_after, f"the other member saw a rebalance: {b_after}")


def cooperative_rebalance(gc, bootstrap, topic):
    """KIP-429: a second member joins; the first has only the moved partitions revoked and keeps
    consuming the others."""
    group = "compat-" + topic
    gc.produce(bootstrap, topic, expected_records("coop-1", count=30))
    a = gc.member(bootstrap, group, topic, "member A", cooperative=True)
    poll_until([a], "member A to process the first 30", lambda: len(a.seen) >= 30)
    mark = len(a.events)
    b = gc.member(bootstrap, group, topic, "member B", cooperative=True)
    poll_until([a, b], "a disjoint split between A and B", lambda: split_evenly([a, b]))
    kept, moved = a.assigned(), b.assigned()
    revoked = set().union(*[p for kind, p in a.events[mark:] if kind == "revoke"])
    check(revoked == moved, f"member A had {sorted(revoked)} revoked but {sorted(moved)} moved "
                            f"(events {a.events[mark:]})")
    n = len(a.seen)
    gc.produce(bootstrap, topic, expected_records("coop-2", count=30))
    poll_until([a, b], "the 30 later records", lambda: len(a.seen) + len(b.seen) >= 60)
    later = {p for p, _ in a.seen[n:]}
    a.close()
    b.close()
    check(later == kept, f"member A kept {sorted(kept)} but then read from {sorted(later)}")
    exactly_once(a.seen + b.seen, 60)


def consumer_protocol_group(gc, bootstrap, topic):
    """KIP-848: two members split the topic by server-side assignment, process every record once
    with commits; a new member resumes after the commits."""
    group = "compat-" + topic
    gc.ensure_topic(bootstrap, topic)  # a subscription alone does not create it
    a = gc.member(bootstrap, group, topic, "member A", consumer_protocol=True)
    b = gc.member(bootstrap, group, topic, "member B", consumer_protocol=True)
    poll_until([a, b], "a disjoint split between A and B", lambda: split_evenly([a, b]))
    gc.produce(bootstrap, topic, expected_records("kip848-1", count=90))
    poll_until([a, b], "90 records", lambda: len(a.seen) + len(b.seen) >= 90)
    a.close()
    b.close()
    exactly_once(a.seen + b.seen, 90)
    gc.produce(bootstrap, topic, expected_records("kip848-2", count=30))
    c = gc.member(bootstrap, group, topic, "member C", consumer_protocol=True)
    poll_until([c], "the 30 records after the commits", lambda: len(c.seen) >= 30)
    c.close()
    check(all(o >= 30 for _, o in c.seen), f"the new member re-read committed records: {c.seen}")
    exactly_once(a.seen + b.seen + c.seen, 120)


def group_lag(gc, bootstrap, topic):
    """After a group commits part of each partition, committed offsets and log end offsets give
    the lag per partition."""
    group = "compat-" + topic
    gc.produce(bootstrap, topic, expected_records("lag", count=90))
    m = gc.member(bootstrap, group, topic, "member")
    m.commit_each = False
    poll_until([m], "all 90 records", lambda: len(m.seen) >= 90)
    want = {0: 10, 1: 20, 2: 30}
    m.commit(want)
    m.close()
    committed = gc.committed(bootstrap, group, topic)
    check(committed == want, f"committed {committed}, expected {want}")
    marks = gc.watermarks(bootstrap, topic)
    lag = {p: marks[p][1] - o for p, o in committed.items()}
    check(lag == {0: 20, 1: 10, 2: 0}, f"lag {lag} (watermarks {marks}), expected 20, 10, 0")


def group_reset_offsets(gc, bootstrap, topic):
    """With no members, reset the group to earliest (p0), to an offset (p1) and by time (p2);
    a new member consumes from there."""
    group = "compat-" + topic
    base = int(time.time() * 1000) - 600_000
    gc.produce(bootstrap, topic, expected_records("reset", count=90, base_ts=base))
    m = gc.member(bootstrap, group, topic, "first member")
    poll_until([m], "all 90 records", lambda: len(m.seen) >= 90)
    m.close()
    earliest = gc.watermarks(bootstrap, topic)[0][0]
    # Partition 2 holds records 2, 5, 8...; base+50 is first reached by record 50 (offset 16).
    at_time = gc.offset_for_time(bootstrap, topic, 2, base + 50)
    check(at_time == 16, f"offset by time {at_time}, expected 16")
    reset = {0: earliest, 1: 7, 2: at_time}
    gc.commit_offsets(bootstrap, group, topic, reset)
    n = gc.member(bootstrap, group, topic, "new member")
    want = sum(30 - o for o in reset.values())
    poll_until([n], "the records after the reset positions", lambda: len(n.seen) >= want)
    n.close()
    first = {}
    for p, o in n.seen:
        first.setdefault(p, o)
    check(first == reset, f"new member started at {first}, expected {reset}")
    exactly_once(n.seen, want)


def group_scenarios(make_client):
    """The group scenarios over a driver's group client (make_client() builds one)."""
    def run(fn):
        return lambda bootstrap, topic: fn(make_client(), bootstrap, topic)
    return {
        "consumer-group-rebalance": run(group_rebalance),
        "static-membership": run(static_membership),
        "cooperative-rebalance": run(cooperative_rebalance),
        "consumer-protocol-group": run(consumer_protocol_group),
        "consumer-group-lag": run(group_lag),
        "consumer-group-reset-offsets": run(group_reset_offsets),
    }


def unsupported(why):
    """A scenario function that reports the library cannot express it."""
    def fn(_bootstrap, _topic):
        raise Unsupported(why)
    return fn


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
        "alter-configs": fns.get("alter_configs") or unsupported("no config-altering API"),
        "delete-records": fns.get("delete_records") or unsupported("no DeleteRecords API"),
        "perf-tools": unsupported("needs Kafka's command-line tools, not a client library"),
        "dump-log": unsupported("needs Kafka's command-line tools, not a client library"),
    } | (group_scenarios(fns["GroupClient"]) if "GroupClient" in fns else {})

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
