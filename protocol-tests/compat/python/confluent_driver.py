"""Scenarios driven by confluent-kafka (Python bindings over librdkafka)."""

import time

import confluent_kafka
from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, ResourceType)

import common
from common import PARTITIONS, check


def producer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    conf.update(extra)
    return Producer(conf)


def consumer(bootstrap, **extra):
    # librdkafka wants a group.id even for assign(); nothing is committed with auto-commit off.
    conf = {"bootstrap.servers": bootstrap, "group.id": "compat-assign",
            "enable.auto.commit": False, "enable.partition.eof": True}
    conf.update(extra)
    return Consumer(conf)


def produce_all(p, topic, records):
    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)

    for r in records:
        p.produce(topic, r["value"], r["key"], partition=r["partition"], headers=r["headers"],
                  timestamp=r["timestamp"], on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(30)
    check(left == 0, f"{left} records not delivered after 30 s")
    check(not errors, f"delivery errors: {errors[:3]}")


def consume(bootstrap, topic, count, start=confluent_kafka.OFFSET_BEGINNING, **extra):
    c = consumer(bootstrap, **extra)
    try:
        c.assign([TopicPartition(topic, p, start) for p in range(PARTITIONS)])
        got = []
        deadline = time.monotonic() + common.CONSUME_TIMEOUT_S
        while len(got) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                check(m.error().code() == KafkaError._PARTITION_EOF, f"consume error {m.error()}")
                continue
            got.append(as_record(m))
        return got
    finally:
        c.close()


def as_record(m):
    return {"partition": m.partition(), "offset": m.offset(), "key": m.key(),
            "value": m.value() or b"", "headers": m.headers() or [], "timestamp": m.timestamp()[1]}


def round_trip(bootstrap, topic, seed, **producer_conf):
    records = common.expected_records(seed)
    produce_all(producer(bootstrap, **producer_conf), topic, records)
    common.compare(records, consume(bootstrap, topic, len(records)))


def metadata_autocreate(bootstrap, topic):
    md = producer(bootstrap).list_topics(topic, timeout=10)
    deadline = time.monotonic() + 15
    # Auto-creation may answer LEADER_NOT_AVAILABLE first; ask again like a client would.
    while (topic not in md.topics or md.topics[topic].error is not None
           or len(md.topics[topic].partitions) != PARTITIONS) and time.monotonic() < deadline:
        time.sleep(0.3)
        md = producer(bootstrap).list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    check(t is not None, "auto-created topic missing from metadata")
    check(t.error is None, f"topic error {t.error}")
    check(len(t.partitions) == PARTITIONS, f"{len(t.partitions)} partitions")
    check(all(p.leader in md.brokers for p in t.partitions.values()), "a leader is not a broker")


def wait_partitions(a, topic, want, what):
    """Waits until metadata shows `topic` without error and with `want` partitions: a broker's
    metadata may lag an admin request that already returned."""
    deadline = time.monotonic() + 15
    while True:
        t = a.list_topics(topic, timeout=10).topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == want:
            return
        check(time.monotonic() < deadline, f"{what}: {t and t.error} {t and len(t.partitions)} partitions, expected {want}")
        time.sleep(0.2)


def admin_topics(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, 2, 1)])[topic].result(15)
    wait_partitions(a, topic, 2, "after create")
    a.create_partitions([NewPartitions(topic, 4)])[topic].result(15)
    wait_partitions(a, topic, 4, "after create_partitions")
    a.delete_topics([topic])[topic].result(15)
    deadline = time.monotonic() + 10
    while topic in a.list_topics(timeout=10).topics:
        check(time.monotonic() < deadline, "topic still listed after delete")
        time.sleep(0.2)


def codec(name):
    return lambda bootstrap, topic: round_trip(bootstrap, topic, name,
                                               **{"compression.type": name})


def max_message(bootstrap, topic):
    p = producer(bootstrap, **{"message.max.bytes": 2_000_000, "compression.type": "none"})
    results = {}
    p.produce(topic, b"n" * common.NEAR_MAX, b"near", partition=0,
              on_delivery=lambda err, _m: results.__setitem__("near", err))
    p.flush(30)
    p.produce(topic, b"o" * common.OVER_MAX, b"over", partition=0,
              on_delivery=lambda err, _m: results.__setitem__("over", err))
    p.flush(30)
    check(results.get("near", "missing") is None, f"near-max record: {results.get('near')}")
    over = results.get("over")
    check(over is not None and over.code() == KafkaError.MSG_SIZE_TOO_LARGE,
          f"over-max record: {over} (expected broker MESSAGE_TOO_LARGE)")
    got = consume(bootstrap, topic, 1, **{"fetch.max.bytes": 2_000_000})
    got = [r for r in got if r["partition"] == 0]
    check(len(got) == 1 and got[0]["value"] == b"n" * common.NEAR_MAX, "near-max record not read back")


def idempotent(bootstrap, topic):
    round_trip(bootstrap, topic, "idem", **{"enable.idempotence": True})


def earliest_latest(bootstrap, topic):
    first = common.expected_records("el-1", count=60)
    produce_all(producer(bootstrap), topic, first)
    check(len(consume(bootstrap, topic, 60)) == 60, "earliest: not all 60 records")
    c = consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_END) for p in range(PARTITIONS)])
        # Produce the later records only once every partition reported its end (EOF).
        eof, deadline = set(), time.monotonic() + 15
        while len(eof) < PARTITIONS:
            check(time.monotonic() < deadline, f"latest: end reached on {sorted(eof)} only")
            m = c.poll(0.2)
            check(m is None or m.error() is not None, "latest: an old record was delivered")
            if m is not None and m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
        later = common.expected_records("el-2", count=30)
        produce_all(producer(bootstrap), topic, later)
        got, deadline = [], time.monotonic() + common.CONSUME_TIMEOUT_S
        while len(got) < 30 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        c.poll(1.0)
        check(sorted(got) == sorted(r["value"] for r in later), f"latest: got {len(got)} records, expected the 30 new ones")
    finally:
        c.close()


def offsets_for_times(bootstrap, topic):
    base = int(time.time() * 1000) - 600_000
    records = common.expected_records("oft", count=90, base_ts=base)
    produce_all(producer(bootstrap), topic, records)
    c = consumer(bootstrap)
    try:
        # Partition 0 holds records 0, 3, 6...; timestamp base+31 is first reached by record 33,
        # the 12th of partition 0 (offset 11).
        res = c.offsets_for_times([TopicPartition(topic, 0, base + 31),
                                   TopicPartition(topic, 1, base + 10_000_000)], timeout=10)
        check(res[0].offset == 11, f"partition 0: offset {res[0].offset}, expected 11")
        check(res[1].offset == -1, f"past the last timestamp: offset {res[1].offset}, expected -1 (end)")
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 2), timeout=10)
        check((lo, hi) == (0, 30), f"watermarks {lo},{hi}, expected 0,30")
    finally:
        c.close()


def empty_eof(bootstrap, topic):
    producer(bootstrap).list_topics(topic, timeout=10)  # auto-create it
    c = consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in range(PARTITIONS)])
        eof, deadline = set(), time.monotonic() + 20
        while len(eof) < PARTITIONS and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            check(m.error() is not None, "a record came out of an empty topic")
            if m.error().code() == KafkaError._PARTITION_EOF:
                check(m.offset() == 0, f"EOF at offset {m.offset()}")
                eof.add(m.partition())
            elif m.error().code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                check(False, f"consume error {m.error()}")
        check(len(eof) == PARTITIONS, f"end of partition reached on {sorted(eof)} only")
    finally:
        c.close()


def describe_configs(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "3600000"})])[topic].result(15)
    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = common.retry(lambda: a.describe_configs([res])[res].result(15))
    rm = entries.get("retention.ms")
    check(rm is not None and rm.value == "3600000", f"retention.ms {rm}")
    check(rm.source == confluent_kafka.admin.ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
          f"retention.ms source {rm.source}")
    cp = entries.get("cleanup.policy")
    check(cp is not None and cp.value == "delete" and cp.is_default, f"cleanup.policy {cp}")


def alter_configs(bootstrap, topic):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigSource
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    res = ConfigResource(ResourceType.TOPIC, topic)

    def alter(*entries):
        r = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=list(entries))
        return a.incremental_alter_configs([r])[r].result(15)

    def describe():
        return a.describe_configs([res])[res].result(15)

    common.retry(lambda: alter(
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)))
    def after_set():
        entries = describe()
        rm, cp = entries["retention.ms"], entries["cleanup.policy"]
        check(rm.value == "7200000" and rm.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
              f"after SET: retention.ms {rm}")
        check(sorted(cp.value.split(",")) == ["compact", "delete"]
              and cp.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, f"after APPEND: {cp}")

    # Apache Kafka applies a change through its metadata log: DescribeConfigs may lag a little.
    common.retry(after_set)
    alter(ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
          ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT))
    def after_delete():
        entries = describe()
        rm, cp = entries["retention.ms"], entries["cleanup.policy"]
        check(rm.source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
              f"after DELETE: retention.ms {rm}")
        check(cp.value == "delete", f"after SUBTRACT: cleanup.policy {cp}")

    common.retry(after_delete)
    try:
        alter(ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET))
        raise common.ScenarioFailed("an invalid retention.ms was accepted")
    except confluent_kafka.KafkaException as e:
        code = e.args[0].code()
        check(code == KafkaError.INVALID_CONFIG, f"invalid value: error {e.args[0]}")


def delete_records(bootstrap, topic):
    from confluent_kafka.admin import OffsetSpec
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    records = [dict(r, partition=0) for r in common.expected_records("dr", count=50)]
    produce_all(producer(bootstrap), topic, records)
    tp = TopicPartition(topic, 0, 20)
    low = a.delete_records([tp])[tp].result(15)
    check(low.low_watermark == 20, f"low watermark {low.low_watermark}, expected 20")
    tp0 = TopicPartition(topic, 0)
    earliest = a.list_offsets({tp0: OffsetSpec.earliest()})[tp0].result(15)
    check(earliest.offset == 20, f"ListOffsets earliest {earliest.offset}, expected 20")
    c = consumer(bootstrap, **{"auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
        got, deadline = [], time.monotonic() + common.CONSUME_TIMEOUT_S
        while len(got) < 30 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.offset())
    finally:
        c.close()
    check(got[:1] == [20] and len(got) == 30, f"consumer from earliest got offsets {got[:3]}...")
    beyond = TopicPartition(topic, 0, 51)
    try:
        a.delete_records([beyond])[beyond].result(15)
        raise common.ScenarioFailed("DeleteRecords beyond the high watermark was accepted")
    except confluent_kafka.KafkaException as e:
        check(e.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE, f"beyond: {e.args[0]}")


def consumer_group(bootstrap, topic):
    records = common.expected_records("grp", count=90)
    produce_all(producer(bootstrap), topic, records)
    group = "compat-" + topic
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False}
    c = Consumer(conf)
    c.subscribe([topic])
    got, deadline = [], time.monotonic() + common.CONSUME_TIMEOUT_S
    while len(got) < 45 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m)
    check(len(got) >= 45, f"first member consumed {len(got)}")
    # Commit exactly the first 45 consumed; the resumed member must see the rest.
    last = {}
    for m in got[:45]:
        last[m.partition()] = m.offset() + 1
    c.commit(offsets=[TopicPartition(topic, p, o) for p, o in last.items()], asynchronous=False)
    c.close()
    c = Consumer(conf)
    c.subscribe([topic])
    rest, deadline = [], time.monotonic() + common.CONSUME_TIMEOUT_S
    while len(rest) < 45 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            rest.append(m)
    c.close()
    seen = sorted((m.partition(), m.offset()) for m in got[:45] + rest)
    check(len(rest) == 45 and len(set(seen)) == 90, f"resumed member got {len(rest)}, {len(set(seen))} distinct in all")


class Member:
    """A subscribed group member (see common.py's group client contract)."""

    def __init__(self, bootstrap, group, topic, name, static_id=None, cooperative=False,
                 consumer_protocol=False):
        conf = {"bootstrap.servers": bootstrap, "group.id": group,
                "auto.offset.reset": "earliest", "enable.auto.commit": False}
        if static_id:
            conf.update({"group.instance.id": static_id, "session.timeout.ms": 30000})
        if cooperative:
            conf["partition.assignment.strategy"] = "cooperative-sticky"
        if consumer_protocol:
            conf["group.protocol"] = "consumer"
        self.name, self.topic, self.seen, self.events, self.commit_each = name, topic, [], [], True
        self.c = Consumer(conf)
        self.c.subscribe([topic], on_assign=self._on("assign"), on_revoke=self._on("revoke"))

    def _on(self, kind):
        return lambda _c, parts: self.events.append((kind, {tp.partition for tp in parts}))

    def poll(self):
        batch = self.c.consume(100, 0.1)
        done = {}
        for m in batch:
            if m.error():
                check(m.error().code() == KafkaError._PARTITION_EOF, f"{self.name}: {m.error()}")
                continue
            self.seen.append((m.partition(), m.offset()))
            done[m.partition()] = m.offset() + 1
        if done and self.commit_each:
            self.commit(done)

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}

    def commit(self, offsets):
        self.c.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in offsets.items()],
                      asynchronous=False)

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
        c = consumer(bootstrap, **{"group.id": group})
        try:
            tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
            return {tp.partition: tp.offset if tp.offset >= 0 else None for tp in tps}
        finally:
            c.close()

    @staticmethod
    def watermarks(bootstrap, topic):
        c = consumer(bootstrap)
        try:
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                    for p in range(PARTITIONS)}
        finally:
            c.close()

    @staticmethod
    def offset_for_time(bootstrap, topic, partition, ts):
        c = consumer(bootstrap)
        try:
            return c.offsets_for_times([TopicPartition(topic, partition, ts)], timeout=10)[0].offset
        finally:
            c.close()

    @staticmethod
    def commit_offsets(bootstrap, group, topic, offsets):
        a = AdminClient({"bootstrap.servers": bootstrap})
        req = ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, p, o) for p, o in offsets.items()])
        res = a.alter_consumer_group_offsets([req])[group].result(15)
        errors = [tp for tp in res.topic_partitions if tp.error]
        check(not errors, f"AlterConsumerGroupOffsets: {errors}")


def versions():
    return {"confluent-kafka": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0]}


SCENARIOS = common.scenario_table(globals())

if __name__ == "__main__":
    common.main("confluent-kafka", versions, SCENARIOS)
