"""Scenarios driven by the kcat command-line tool (Debian's kcat, librdkafka inside).

kcat has no admin commands, no way to set a record's timestamp, and commits group offsets
only through librdkafka's auto-commit; scenarios needing those are `unsupported`. Group
scenarios run kcat -G processes side by side and read their rebalance reports on stderr.
"""

import json
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
import common  # noqa: E402  (shared driver plumbing, found through the path above)
from common import PARTITIONS, Unsupported, check  # noqa: E402

KCAT = shutil.which("kcat") or "kcat"
#: How long one kcat run may take before the scenario fails.
RUN_TIMEOUT_S = 30
#: The headers every produced record carries (kcat sets the same -H headers on all records).
HEADERS = [("dup", "first"), ("dup", "second"), ("trace", "compat")]


def kcat(bootstrap, *args, stdin=None):
    """Runs kcat to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([KCAT, "-b", bootstrap, *args], input=stdin, capture_output=True,
                       text=True, timeout=RUN_TIMEOUT_S)
    return p.returncode, p.stdout, p.stderr


def records(seed, count=common.RECORDS):
    """Keyed text records (kcat reads delimited text), spread round-robin over the partitions."""
    rng = random.Random(seed)
    return [{"partition": i % PARTITIONS, "key": "key-%06d" % i,
             "value": rng.randbytes(rng.randrange(1, 200)).hex()} for i in range(count)]


def produce(bootstrap, topic, recs, *extra):
    """Produces `recs` with keys and HEADERS, one kcat -P run per partition."""
    hdrs = [a for k, v in HEADERS for a in ("-H", f"{k}={v}")]
    for p in range(PARTITIONS):
        lines = "".join(f"{r['key']}:{r['value']}\n" for r in recs if r["partition"] == p)
        if not lines:
            continue
        rc, _, err = kcat(bootstrap, "-P", "-t", topic, "-p", str(p), "-K:", *hdrs, *extra,
                          stdin=lines)
        check(rc == 0 and "ERROR" not in err, f"kcat -P partition {p}: exit {rc}: {err.strip()}")


def consume(bootstrap, topic, *extra):
    """Reads `topic` from the beginning to its end (-e) as JSON envelopes."""
    rc, out, err = kcat(bootstrap, "-C", "-J", "-t", topic, "-o", "beginning", "-e", *extra)
    check(rc == 0, f"kcat -C exit {rc}: {err.strip()}")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def compare(expected, got, t0, t1):
    """Checks `got` (kcat -J envelopes) holds exactly `expected`, in order per partition, with
    HEADERS and CreateTime timestamps from the produce window [t0, t1]."""
    check(len(got) == len(expected), f"consumed {len(got)} records, expected {len(expected)}")
    want_headers = [x for kv in HEADERS for x in kv]
    for p in range(PARTITIONS):
        want = [r for r in expected if r["partition"] == p]
        have = [m for m in got if m["partition"] == p]
        check(len(have) == len(want), f"partition {p}: {len(have)} records, expected {len(want)}")
        for i, (w, h) in enumerate(zip(want, have)):
            where = f"partition {p} record {i}"
            check(h["offset"] == i, f"{where}: offset {h['offset']}")
            check(h["key"] == w["key"], f"{where}: key {h['key']!r} != {w['key']!r}")
            check(h["payload"] == w["value"], f"{where}: value differs")
            check(h.get("headers") == want_headers, f"{where}: headers {h.get('headers')}")
            check(h["tstype"] == "create" and t0 - 1000 <= h["ts"] <= t1 + 1000,
                  f"{where}: timestamp {h['tstype']} {h['ts']} outside [{t0}, {t1}]")


def now_ms():
    return int(time.time() * 1000)


def round_trip(bootstrap, topic, seed, *producer_args):
    recs = records(seed)
    t0 = now_ms()
    produce(bootstrap, topic, recs, *producer_args)
    compare(recs, consume(bootstrap, topic), t0, now_ms())


def codec(name):
    return lambda bootstrap, topic: round_trip(bootstrap, topic, name,
                                               "-X", f"compression.codec={name}")


def wait_topic(bootstrap, topic):
    """Asks for the topic's metadata (auto-creating it) until it has every partition."""
    deadline = time.monotonic() + 15
    while True:
        rc, out, err = kcat(bootstrap, "-L", "-J", "-t", topic, "-X", "allow.auto.create.topics=true")
        md = json.loads(out) if rc == 0 and out.startswith("{") else {}
        t = next((t for t in md.get("topics", []) if t["topic"] == topic), None)
        brokers = {b["id"] for b in md.get("brokers", [])}
        if t and "error" not in t and len(t["partitions"]) == PARTITIONS:
            check(all(p["leader"] in brokers for p in t["partitions"]), "a leader is not a broker")
            return
        check(time.monotonic() < deadline, f"metadata of {topic}: {t or err.strip()}")
        time.sleep(0.3)


def metadata_autocreate(bootstrap, topic):
    wait_topic(bootstrap, topic)


def max_message(bootstrap, topic):
    with tempfile.TemporaryDirectory() as d:
        near, over = Path(d) / "near", Path(d) / "over"
        near.write_bytes(b"n" * common.NEAR_MAX)
        over.write_bytes(b"o" * common.OVER_MAX)
        conf = ["-X", "message.max.bytes=2000000", "-X", "compression.codec=none"]
        # A file argument is sent as one record.
        rc, _, err = kcat(bootstrap, "-P", "-t", topic, "-p", "0", *conf, str(near))
        check(rc == 0 and "ERROR" not in err, f"near-max record: exit {rc}: {err.strip()}")
        rc, _, err = kcat(bootstrap, "-P", "-t", topic, "-p", "0", *conf, str(over))
        check(rc != 0 and "Message size too large" in err,
              f"over-max record: exit {rc}: {err.strip()!r} (expected MESSAGE_TOO_LARGE)")
    rc, out, err = kcat(bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e",
                        "-f", "%o %S\n", "-X", "fetch.max.bytes=2000000")
    check(rc == 0, f"kcat -C exit {rc}: {err.strip()}")
    check(out.split() == ["0", str(common.NEAR_MAX)], f"read back {out.strip()!r}")


def idempotent(bootstrap, topic):
    round_trip(bootstrap, topic, "idem", "-X", "enable.idempotence=true")


class Stream:
    """A running kcat whose stdout and stderr lines are collected by reader threads."""

    def __init__(self, bootstrap, *args):
        self.proc = subprocess.Popen([KCAT, "-b", bootstrap, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.out, self.err = queue.Queue(), queue.Queue()
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, q=q: [q.put(ln) for ln in s], daemon=True).start()

    def stop(self):
        """SIGTERM: kcat closes its consumer cleanly (commits, leaves the group)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def earliest_latest(bootstrap, topic):
    first = records("el-1", count=60)
    produce(bootstrap, topic, first)
    check(len(consume(bootstrap, topic)) == 60, "earliest: not all 60 records")
    s = Stream(bootstrap, "-C", "-J", "-u", "-t", topic, "-o", "end")
    try:
        # Produce the later records only once every partition reported its end.
        ends, deadline = set(), time.monotonic() + 20
        while len(ends) < PARTITIONS:
            check(time.monotonic() < deadline, f"latest: end reached on {sorted(ends)} only")
            try:
                m = re.search(r"Reached end of topic \S+ \[(\d+)\]", s.err.get(timeout=0.5))
            except queue.Empty:
                continue
            if m:
                ends.add(int(m.group(1)))
        later = records("el-2", count=30)
        produce(bootstrap, topic, later)
        got, deadline = [], time.monotonic() + common.CONSUME_TIMEOUT_S
        while len(got) < 30 and time.monotonic() < deadline:
            try:
                got.append(json.loads(s.out.get(timeout=0.5))["payload"])
            except queue.Empty:
                pass
        check(sorted(got) == sorted(r["value"] for r in later),
              f"latest: got {len(got)} records, expected the 30 new ones")
    finally:
        s.stop()


def query(bootstrap, topic, partition, ts):
    """kcat -Q: the offset ListOffsets gives for a timestamp (-1 latest, -2 earliest)."""
    rc, out, err = kcat(bootstrap, "-Q", "-t", f"{topic}:{partition}:{ts}")
    m = re.search(r"\[%d\] offset (-?\d+)" % partition, out)
    check(rc == 0 and m, f"kcat -Q {partition}:{ts}: exit {rc}: {out.strip()} {err.strip()}")
    return int(m.group(1))


def offsets_for_times(bootstrap, topic):
    # kcat cannot set timestamps: partition 0 gets 12 records, then (once the clock moved on)
    # 18 more; the first record at or after that instant is offset 12.
    produce(bootstrap, topic, [r for r in records("oft-1", count=36) if r["partition"] == 0])
    mid = now_ms() + 2
    while now_ms() < mid:
        time.sleep(0.001)
    produce(bootstrap, topic, [r for r in records("oft-2", count=54) if r["partition"] == 0])
    check(query(bootstrap, topic, 0, mid) == 12, "offset by time: "
          f"{query(bootstrap, topic, 0, mid)}, expected 12")
    past = query(bootstrap, topic, 0, now_ms() + 10_000_000)
    check(past == -1, f"past the last timestamp: {past}, expected -1 (end)")
    lo, hi = query(bootstrap, topic, 0, -2), query(bootstrap, topic, 0, -1)
    check((lo, hi) == (0, 30), f"earliest, latest {lo}, {hi}, expected 0, 30")
    rc, out, err = kcat(bootstrap, "-C", "-t", topic, "-p", "0", "-o", f"s@{mid}", "-e",
                        "-f", "%o\n")
    check(rc == 0, f"kcat -o s@{mid}: exit {rc}: {err.strip()}")
    check(out.split() == [str(o) for o in range(12, 30)], f"-o s@ read offsets {out.split()}")


def empty_eof(bootstrap, topic):
    wait_topic(bootstrap, topic)
    rc, out, err = kcat(bootstrap, "-C", "-J", "-t", topic, "-o", "beginning", "-e")
    check(rc == 0, f"kcat -C exit {rc}: {err.strip()}")
    check(not out.strip(), f"records from an empty topic: {out[:200]}")
    ends = re.findall(r"Reached end of topic \S+ \[(\d+)\] at offset (\d+)", err)
    check(sorted(ends) == [(str(p), "0") for p in range(PARTITIONS)], f"end of partition: {ends}")
    for p in range(PARTITIONS):
        check(query(bootstrap, topic, p, -1) == 0, f"partition {p}: end offset not 0")


def consumer_group(bootstrap, topic):
    produce(bootstrap, topic, records("grp", count=90))
    group = ["-G", "compat-" + topic, "-X", "auto.offset.reset=earliest", topic]
    # -c stops after 45 records; closing commits the offsets of exactly those (auto-commit).
    rc, out, err = kcat(bootstrap, "-C", "-J", "-c", "45", *group)
    check(rc == 0, f"first member exit {rc}: {err.strip()}")
    first = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    rc, out, err = kcat(bootstrap, "-C", "-J", "-e", *group)
    check(rc == 0, f"resumed member exit {rc}: {err.strip()}")
    rest = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    seen = {(m["partition"], m["offset"]) for m in first + rest}
    check(len(first) == 45 and len(rest) == 45 and len(seen) == 90,
          f"first member {len(first)}, resumed member {len(rest)}, {len(seen)} distinct")


class Member(Stream):
    """A kcat -G group member: the records it printed and its assignment, from the rebalance
    reports kcat writes to stderr."""

    EAGER = re.compile(r"rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)")
    COOP = re.compile(r"rebalanced: incremental (assignment|revoke) of \d+ partition\(s\) \([^)]*\):(.*)")

    def __init__(self, bootstrap, group, topic, name, *extra):
        super().__init__(bootstrap, "-C", "-J", "-u", "-G", group, "-X", "auto.offset.reset=earliest",
                         *extra, topic)
        self.name, self.seen, self.events, self.assigned = name, [], [], set()

    def pump(self):
        """Takes in what kcat printed since the last call."""
        while not self.out.empty():
            line = self.out.get()
            if line.startswith("{"):
                m = json.loads(line)
                self.seen.append((m["partition"], m["offset"]))
        while not self.err.empty():
            line = self.err.get()
            for pattern, incremental in ((self.EAGER, False), (self.COOP, True)):
                m = pattern.search(line)
                if not m:
                    continue
                parts = {int(p) for p in re.findall(r"\[(\d+)\]", m.group(2))}
                kind = "assign" if m.group(1).startswith("assign") else "revoke"
                self.events.append((kind, parts))
                if kind == "assign":
                    self.assigned = self.assigned | parts if incremental else parts
                else:
                    self.assigned = self.assigned - parts if incremental else set()

    def __repr__(self):
        return f"{self.name}: assigned {sorted(self.assigned)}, {len(self.seen)} records"


def poll_until(members, what, cond):
    """Takes in every member's output until cond() holds; fails after the group time-out."""
    deadline = time.monotonic() + 45
    while True:
        for m in members:
            m.pump()
        if cond():
            return
        check(time.monotonic() < deadline, f"timed out waiting for {what} ({members})")
        exited = [m for m in members if m.proc.poll() is not None]
        check(not exited, f"{exited} exited with {exited and exited[0].proc.returncode}")
        time.sleep(0.05)  # output arrives through the reader threads


def split_evenly(members):
    parts = [m.assigned for m in members]
    union = set().union(*parts)
    return all(parts) and sum(map(len, parts)) == len(union) == PARTITIONS


def exactly_once(seen, want):
    check(len(seen) == want and len(set(seen)) == want,
          f"{len(seen)} records processed, {len(set(seen))} distinct, expected {want} exactly once")


def rebalance(bootstrap, topic):
    group = "compat-" + topic
    produce(bootstrap, topic, records("rb-1", count=45))
    a = Member(bootstrap, group, topic, "member A")
    b = None
    try:
        poll_until([a], "member A to read the first 45", lambda: len(a.seen) >= 45)
        b = Member(bootstrap, group, topic, "member B")
        poll_until([a, b], "a disjoint split", lambda: split_evenly([a, b]))
        before = {m.name: (len(m.seen), set(m.assigned)) for m in (a, b)}
        produce(bootstrap, topic, records("rb-2", count=45))
        poll_until([a, b], "90 records", lambda: len(a.seen) + len(b.seen) >= 90)
        for m in (a, b):
            n, parts = before[m.name]
            stray = [at for at in m.seen[n:] if at[0] not in parts]
            check(not stray, f"{m.name} (assigned {sorted(parts)}) read {stray}")
        a.stop()  # SIGTERM: commits and leaves the group
        a.pump()
        poll_until([b], "member B to own every partition", lambda: len(b.assigned) == PARTITIONS)
        produce(bootstrap, topic, records("rb-3", count=30))
        poll_until([b], "120 records in all", lambda: len(a.seen) + len(b.seen) >= 120)
        exactly_once(a.seen + b.seen, 120)
    finally:
        for m in (a, b):
            if m is not None:
                m.stop()


def static_membership(bootstrap, topic):
    group = "compat-" + topic
    conf = lambda i: ("-X", f"group.instance.id={i}", "-X", "session.timeout.ms=30000")  # noqa: E731
    produce(bootstrap, topic, records("sm", count=30))
    a = Member(bootstrap, group, topic, "static member a", *conf("a"))
    b = Member(bootstrap, group, topic, "static member b", *conf("b"))
    a2 = None
    try:
        poll_until([a, b], "a disjoint split between a and b", lambda: split_evenly([a, b]))
        a_parts, b_events = set(a.assigned), len(b.events)
        a.stop()  # a static member's close sends no LeaveGroup
        a2 = Member(bootstrap, group, topic, "restarted a", *conf("a"))
        poll_until([a2, b], "the restarted member's assignment", lambda: a2.assigned)
        # Watch a moment longer: a rebalance, if any, would show on b now.
        settle = time.monotonic() + 1.0
        poll_until([a2, b], "a quiet second", lambda: time.monotonic() >= settle)
        check(a2.assigned == a_parts, f"restarted member got {sorted(a2.assigned)}, had {sorted(a_parts)}")
        check(len(b.events) == b_events, f"the other member saw a rebalance: {b.events[b_events:]}")
    finally:
        for m in (a, b, a2):
            if m is not None:
                m.stop()


def cooperative(bootstrap, topic):
    group = "compat-" + topic
    conf = ("-X", "partition.assignment.strategy=cooperative-sticky")
    produce(bootstrap, topic, records("coop-1", count=30))
    a = Member(bootstrap, group, topic, "member A", *conf)
    b = None
    try:
        poll_until([a], "member A to read the first 30", lambda: len(a.seen) >= 30)
        a_events = len(a.events)
        b = Member(bootstrap, group, topic, "member B", *conf)
        poll_until([a, b], "a disjoint split between A and B", lambda: split_evenly([a, b]))
        kept, moved = set(a.assigned), set(b.assigned)
        revoked = set().union(*[p for k, p in a.events[a_events:] if k == "revoke"])
        check(revoked == moved, f"member A had {sorted(revoked)} revoked, but {sorted(moved)} moved "
                                f"(events {a.events[a_events:]})")
        n = len(a.seen)
        produce(bootstrap, topic, records("coop-2", count=30))
        poll_until([a, b], "the 30 later records", lambda: len(a.seen) + len(b.seen) >= 60)
        later = {p for p, _ in a.seen[n:]}
        check(later == kept, f"member A kept {sorted(kept)} but then read from {sorted(later)}")
        exactly_once(a.seen + b.seen, 60)
    finally:
        for m in (a, b):
            if m is not None:
                m.stop()


def unsupported(why):
    def fn(_bootstrap, _topic):
        raise Unsupported(why)
    return fn


def versions():
    out = subprocess.run([KCAT, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"Version (\S+) .*librdkafka (\S+)", out)
    return {"kcat": m.group(1), "librdkafka": m.group(2)} if m else {"kcat": "unknown"}


NO_ADMIN = unsupported("kcat has no admin commands")
SCENARIOS = {
    "metadata-autocreate": metadata_autocreate,
    "admin-topics": NO_ADMIN,
    "produce-consume": lambda b, t: round_trip(b, t, "pc"),
    "codec-gzip": codec("gzip"),
    "codec-snappy": codec("snappy"),
    "codec-lz4": codec("lz4"),
    "codec-zstd": codec("zstd"),
    "max-message-size": max_message,
    "idempotent-producer": idempotent,
    "consume-earliest-latest": earliest_latest,
    "offsets-for-times": offsets_for_times,
    "empty-partition-eof": empty_eof,
    "describe-configs": NO_ADMIN,
    "consumer-group-resume": consumer_group,
    "consumer-group-rebalance": rebalance,
    "static-membership": static_membership,
    "cooperative-rebalance": cooperative,
    "consumer-protocol-group": unsupported("kcat's librdkafka 2.0.2 predates KIP-848"),
    "consumer-group-lag": unsupported("kcat cannot fetch a group's committed offsets"),
    "consumer-group-reset-offsets": unsupported("kcat cannot commit chosen offsets"),
    "alter-configs": NO_ADMIN,
    "delete-records": NO_ADMIN,
    "perf-tools": unsupported("needs Kafka's command-line tools"),
    "dump-log": unsupported("needs Kafka's command-line tools"),
}

if __name__ == "__main__":
    os.environ.pop("KCAT_CONFIG", None)  # only the options given here
    common.main("kcat", versions, SCENARIOS)
