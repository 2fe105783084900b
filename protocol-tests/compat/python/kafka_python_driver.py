"""Scenarios driven by kafka-python (pure Python)."""

import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka import ConsumerRebalanceListener
from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, NewTopic
from kafka.admin import ConfigSourceType
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.errors import MessageSizeTooLargeError
from kafka.structs import OffsetAndMetadata

import common
from common import PARTITIONS, check

#: One group member's poll, in ms. With short polls that time out in the middle of a
#: JoinGroup/SyncGroup round, kafka-python 3.0.12's group leader was seen (on Apache Kafka too)
#: to drop its own assignment and rejoin over and over.
POLL_MS = 1000


def producer(bootstrap, **extra):
    return KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **extra)


def consumer(bootstrap, **extra):
    conf = {"group_id": None, "enable_auto_commit": False, "auto_offset_reset": "earliest"}
    conf.update(extra)
    return KafkaConsumer(bootstrap_servers=bootstrap, **conf)


def tps(topic):
    return [TopicPartition(topic, p) for p in range(PARTITIONS)]


def produce_all(p, topic, records):
    futures = [p.send(topic, value=r["value"], key=r["key"], headers=r["headers"],
                      partition=r["partition"], timestamp_ms=r["timestamp"]) for r in records]
    p.flush(30)
    for f in futures:
        f.get(timeout=30)
    p.close()


def as_record(m):
    return {"partition": m.partition, "offset": m.offset, "key": m.key, "value": m.value or b"",
            "headers": m.headers or [], "timestamp": m.timestamp}


def drain(c, count, timeout=common.CONSUME_TIMEOUT_S):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for batch in c.poll(timeout_ms=500).values():
            got.extend(as_record(m) for m in batch)
    return got


def consume(bootstrap, topic, count, **extra):
    c = consumer(bootstrap, **extra)
    try:
        c.assign(tps(topic))
        c.seek_to_beginning()
        return drain(c, count)
    finally:
        c.close()


def round_trip(bootstrap, topic, seed, **producer_conf):
    records = common.expected_records(seed)
    produce_all(producer(bootstrap, **producer_conf), topic, records)
    common.compare(records, consume(bootstrap, topic, len(records)))


def wait_partitions(get, want, what):
    deadline = time.monotonic() + 15
    while True:
        n = get()
        if n == want:
            return
        check(time.monotonic() < deadline, f"{what}: {n} partitions, expected {want}")
        time.sleep(0.3)


def metadata_autocreate(bootstrap, topic):
    # The producer's metadata request asks for the unknown topic to be auto-created.
    p = producer(bootstrap)
    try:
        wait_partitions(lambda: len(p.partitions_for(topic) or ()), PARTITIONS, "auto-create")
    finally:
        p.close()


def admin_topics(bootstrap, topic):
    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        a.create_topics([NewTopic(topic, 2, 1)])

        def count():
            d = a.describe_topics([topic])
            return len(d[0]["partitions"]) if d and d[0]["error_code"] == 0 else -1
        wait_partitions(count, 2, "after create")
        a.create_partitions({topic: 4})
        wait_partitions(count, 4, "after create_partitions")
        a.delete_topics([topic])
        deadline = time.monotonic() + 15
        while topic in a.list_topics():
            check(time.monotonic() < deadline, "topic still listed after delete")
            time.sleep(0.3)
    finally:
        a.close()


def codec(name):
    return lambda bootstrap, topic: round_trip(bootstrap, topic, name, compression_type=name)


def max_message(bootstrap, topic):
    p = producer(bootstrap, max_request_size=2_000_000, retries=0, enable_idempotence=False)
    p.send(topic, value=b"n" * common.NEAR_MAX, key=b"near", partition=0).get(timeout=30)
    try:
        p.send(topic, value=b"o" * common.OVER_MAX, key=b"over", partition=0).get(timeout=30)
        check(False, "over-max record was accepted")
    except MessageSizeTooLargeError:
        pass
    p.close()
    got = consume(bootstrap, topic, 1, max_partition_fetch_bytes=2_000_000)
    check(len(got) == 1 and got[0]["value"] == b"n" * common.NEAR_MAX, "near-max record not read back")


def idempotent(bootstrap, topic):
    # kafka-python 3 is idempotent by default; the scenario checks the default stays usable.
    p = producer(bootstrap)
    check(p.config.get("enable_idempotence") in (True, None), "idempotence is not the default")
    records = common.expected_records("idem")
    produce_all(p, topic, records)
    common.compare(records, consume(bootstrap, topic, len(records)))


def earliest_latest(bootstrap, topic):
    produce_all(producer(bootstrap), topic, common.expected_records("el-1", count=60))
    check(len(consume(bootstrap, topic, 60)) == 60, "earliest: not all 60 records")
    c = consumer(bootstrap)
    try:
        c.assign(tps(topic))
        c.seek_to_end()
        pos = [c.position(tp) for tp in tps(topic)]
        check(pos == [20, 20, 20], f"latest: positions {pos}, expected 20 each")
        later = common.expected_records("el-2", count=30)
        produce_all(producer(bootstrap), topic, later)
        got = drain(c, 30)
        got += drain(c, 1, timeout=1.0)
        check(sorted(r["value"] for r in got) == sorted(r["value"] for r in later),
              f"latest: got {len(got)} records, expected the 30 new ones")
    finally:
        c.close()


def offsets_for_times(bootstrap, topic):
    base = int(time.time() * 1000) - 600_000
    produce_all(producer(bootstrap), topic, common.expected_records("oft", count=90, base_ts=base))
    c = consumer(bootstrap)
    try:
        t0, t1, t2 = tps(topic)
        res = c.offsets_for_times({t0: base + 31, t1: base + 10_000_000})
        check(res[t0] is not None and res[t0].offset == 11, f"partition 0: {res[t0]}, expected 11")
        check(res[t1] is None, f"past the last timestamp: {res[t1]}, expected none")
        lo, hi = c.beginning_offsets([t2])[t2], c.end_offsets([t2])[t2]
        check((lo, hi) == (0, 30), f"offsets {lo},{hi}, expected 0,30")
    finally:
        c.close()


def empty_eof(bootstrap, topic):
    metadata_autocreate(bootstrap, topic)
    c = consumer(bootstrap)
    try:
        c.assign(tps(topic))
        c.seek_to_beginning()
        check(drain(c, 1, timeout=3.0) == [], "a record came out of an empty topic")
        ends = c.end_offsets(tps(topic))
        check(all(v == 0 for v in ends.values()), f"end offsets {ends}")
        check([c.position(tp) for tp in tps(topic)] == [0, 0, 0], "positions not 0")
    finally:
        c.close()


def describe_configs(bootstrap, topic):
    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        a.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})])
        entries = common.retry(lambda: a.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")["topic"][topic])
        rm, cp = entries.get("retention.ms"), entries.get("cleanup.policy")
        check(rm is not None and rm["value"] == "3600000", f"retention.ms {rm}")
        check(cp is not None and cp["value"] == "delete", f"cleanup.policy {cp}")
    finally:
        a.close()


def alter_configs(bootstrap, topic):
    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        a.create_topics([NewTopic(topic, 1, 1)])
        res = ConfigResourceType.TOPIC

        def alter(configs, **kw):
            r = a.alter_configs([ConfigResource(res, topic, configs=configs)], **kw)
            return r["topic"][topic]

        def entries():
            return a.describe_configs([ConfigResource(res, topic)],
                                      config_filter="all")["topic"][topic]

        def expect(retention, policy, what):
            def probe():
                e = entries()
                check(e["retention.ms"]["value"] == retention, f"{what}: {e['retention.ms']}")
                check(e["cleanup.policy"]["value"] == policy, f"{what}: {e['cleanup.policy']}")
            # Apache Kafka applies a change through its metadata log: describe may lag a little.
            common.retry(probe)

        common.retry(lambda: alter({"retention.ms": ("SET", "7200000"),
                                    "cleanup.policy": ("APPEND", "compact")}))
        expect("7200000", "delete,compact", "after SET/APPEND")
        alter({"retention.ms": ("DELETE", None), "cleanup.policy": ("SUBTRACT", "compact")})
        expect("604800000", "delete", "after DELETE/SUBTRACT")
        # The legacy AlterConfigs replaces the whole set.
        alter({"retention.ms": "3600000"}, incremental=False)
        expect("3600000", "delete", "after AlterConfigs")
        bad = None
        try:
            bad = alter({"retention.ms": ("SET", "soon")})
        except kafka.errors.KafkaError as e:
            bad = e
        # The client reports a per-resource error as its text: "[Error 40] InvalidConfiguration...".
        check("Error 40" in str(bad), f"invalid value: {bad!r}")
    finally:
        a.close()


def delete_records(bootstrap, topic):
    from kafka.admin import OffsetSpec
    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        a.create_topics([NewTopic(topic, 1, 1)])
        records = [dict(r, partition=0) for r in common.expected_records("dr", count=50)]
        produce_all(producer(bootstrap), topic, records)
        tp = TopicPartition(topic, 0)
        common.retry(lambda: a.delete_records({tp: 20}))
        earliest = a.list_partition_offsets({tp: OffsetSpec.EARLIEST})[tp].offset
        check(earliest == 20, f"ListOffsets earliest {earliest}, expected 20")
        c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest")
        try:
            c.assign([tp])
            c.seek_to_beginning(tp)
            got = [m["offset"] for m in drain(c, 30)]
        finally:
            c.close()
        check(got[:1] == [20] and len(got) == 30, f"consumer from earliest got {got[:3]}...")
    finally:
        a.close()


def consumer_group(bootstrap, topic):
    produce_all(producer(bootstrap), topic, common.expected_records("grp", count=90))
    group = "compat-" + topic

    def member():
        c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                          enable_auto_commit=False, auto_offset_reset="earliest")
        return c
    c = member()
    got = drain(c, 45)
    check(len(got) >= 45, f"first member consumed {len(got)}")
    last = {}
    for r in got[:45]:
        last[r["partition"]] = r["offset"] + 1
    c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in last.items()})
    c.close()
    c = member()
    rest = drain(c, 45)
    c.close()
    seen = {(r["partition"], r["offset"]) for r in got[:45] + rest}
    check(len(rest) == 45 and len(seen) == 90, f"resumed member got {len(rest)}, {len(seen)} distinct")


class Listener(ConsumerRebalanceListener):
    """Records a member's rebalance callbacks as ("assign" | "revoke", {partitions})."""

    def __init__(self, events):
        self.events = events

    def on_partitions_revoked(self, revoked):
        self.events.append(("revoke", {tp.partition for tp in revoked}))

    def on_partitions_assigned(self, assigned):
        self.events.append(("assign", {tp.partition for tp in assigned}))


class Member:
    """A subscribed group member (see common.py's group client contract)."""

    def __init__(self, bootstrap, group, topic, name, static_id=None, cooperative=False,
                 consumer_protocol=False):
        if consumer_protocol:
            raise common.Unsupported("kafka-python has no KIP-848 consumer group protocol")
        if cooperative:
            # Written and run: against Apache Kafka 4.1.1 the member that keeps partitions after
            # an incremental revoke never fetches them again (their state keeps
            # drop_pending_record_batch set), so the library cannot carry the scenario.
            raise common.Unsupported("kafka-python 3.0.12 stops fetching kept partitions after "
                                     "a cooperative revoke (library bug, also on Apache Kafka)")
        conf = {"group_id": group, "auto_offset_reset": "earliest", "enable_auto_commit": False}
        if static_id:
            conf.update(group_instance_id=static_id, session_timeout_ms=30000)
        if cooperative:
            conf["partition_assignment_strategy"] = (CooperativeStickyAssignor,)
        self.name, self.topic, self.seen, self.events, self.commit_each = name, topic, [], [], True
        self.c = KafkaConsumer(bootstrap_servers=bootstrap, **conf)
        self.c.subscribe([topic], listener=Listener(self.events))

    def poll(self):
        done = {}
        for tp, batch in self.c.poll(timeout_ms=POLL_MS).items():
            for m in batch:
                self.seen.append((tp.partition, m.offset))
                done[tp.partition] = m.offset + 1
        if done and self.commit_each:
            self.commit(done)

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}

    def commit(self, offsets):
        self.c.commit({TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1)
                       for p, o in offsets.items()})

    def close(self):
        self.c.close()


class GroupClient:
    """The group client of common.py's shared group scenarios."""

    member = Member

    @staticmethod
    def ensure_topic(bootstrap, topic):
        metadata_autocreate(bootstrap, topic)

    @staticmethod
    def produce(bootstrap, topic, records):
        produce_all(producer(bootstrap), topic, records)

    @staticmethod
    def committed(bootstrap, group, topic):
        c = consumer(bootstrap, group_id=group)
        try:
            return {tp.partition: c.committed(tp) for tp in tps(topic)}
        finally:
            c.close()

    @staticmethod
    def watermarks(bootstrap, topic):
        c = consumer(bootstrap)
        try:
            lo, hi = c.beginning_offsets(tps(topic)), c.end_offsets(tps(topic))
            return {tp.partition: (lo[tp], hi[tp]) for tp in tps(topic)}
        finally:
            c.close()

    @staticmethod
    def offset_for_time(bootstrap, topic, partition, ts):
        c = consumer(bootstrap)
        try:
            tp = TopicPartition(topic, partition)
            return c.offsets_for_times({tp: ts})[tp].offset
        finally:
            c.close()

    @staticmethod
    def commit_offsets(bootstrap, group, topic, offsets):
        a = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            res = a.alter_group_offsets(group, {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1)
                                                for p, o in offsets.items()})
            errors = {tp: e for tp, e in res.items() if e is not kafka.errors.NoError}
            check(not errors, f"OffsetCommit: {errors}")
        finally:
            a.close()


def check_ok(res):
    """Fails unless an alter_configs per-resource result (kafka-python reports it as text) is
    success."""
    check(res == "OK", f"AlterConfigs: {res!r}")
    return res


def source(entry):
    """A DescribeConfigs entry's source name (kafka-python reports it by number or by name)."""
    src = entry.get("config_source", entry.get("source"))
    try:
        return ConfigSourceType(src).name
    except (ValueError, TypeError):
        return str(src)


def versions():
    return {"kafka-python": kafka.__version__}


SCENARIOS = common.scenario_table(globals())

if __name__ == "__main__":
    common.main("kafka-python", versions, SCENARIOS)
