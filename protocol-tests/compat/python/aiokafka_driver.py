"""Scenarios driven by aiokafka (asyncio, pure Python)."""

import asyncio
import threading
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.structs import OffsetAndMetadata

import common
from common import PARTITIONS, check


async def producer(bootstrap, **extra):
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **extra)
    await p.start()
    return p


async def consumer(bootstrap, *topics, **extra):
    conf = {"group_id": None, "enable_auto_commit": False, "auto_offset_reset": "earliest"}
    conf.update(extra)
    c = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **conf)
    await c.start()
    return c


def tps(topic):
    return [TopicPartition(topic, p) for p in range(PARTITIONS)]


async def produce_all(bootstrap, topic, records, **conf):
    p = await producer(bootstrap, **conf)
    try:
        futures = [await p.send(topic, value=r["value"], key=r["key"], headers=r["headers"],
                                partition=r["partition"], timestamp_ms=r["timestamp"])
                   for r in records]
        await asyncio.wait_for(asyncio.gather(*futures), 30)
    finally:
        await p.stop()


def as_record(m):
    return {"partition": m.partition, "offset": m.offset, "key": m.key, "value": m.value or b"",
            "headers": list(m.headers or []), "timestamp": m.timestamp}


async def drain(c, count, timeout=common.CONSUME_TIMEOUT_S):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for batch in (await c.getmany(timeout_ms=500)).values():
            got.extend(as_record(m) for m in batch)
    return got


async def consume(bootstrap, topic, count, **extra):
    c = await consumer(bootstrap, **extra)
    try:
        c.assign(tps(topic))
        await c.seek_to_beginning()
        return await drain(c, count)
    finally:
        await c.stop()


async def round_trip(bootstrap, topic, seed, **producer_conf):
    records = common.expected_records(seed)
    await produce_all(bootstrap, topic, records, **producer_conf)
    common.compare(records, await consume(bootstrap, topic, len(records)))


async def wait_partitions(get, want, what):
    deadline = time.monotonic() + 15
    while True:
        n = await get()
        if n == want:
            return
        check(time.monotonic() < deadline, f"{what}: {n} partitions, expected {want}")
        await asyncio.sleep(0.3)


async def metadata_autocreate(bootstrap, topic):
    p = await producer(bootstrap)
    try:
        async def count():
            return len(await p.partitions_for(topic) or ())
        await wait_partitions(count, PARTITIONS, "auto-create")
    finally:
        await p.stop()


async def admin(bootstrap):
    a = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await a.start()
    return a


async def admin_topics(bootstrap, topic):
    a = await admin(bootstrap)
    try:
        await a.create_topics([NewTopic(topic, 2, 1)])

        async def count():
            d = await a.describe_topics([topic])
            return len(d[0]["partitions"]) if d and d[0]["error_code"] == 0 else -1
        await wait_partitions(count, 2, "after create")
        await a.create_partitions({topic: NewPartitions(4)})
        await wait_partitions(count, 4, "after create_partitions")
        await a.delete_topics([topic])
        deadline = time.monotonic() + 15
        while topic in await a.list_topics():
            check(time.monotonic() < deadline, "topic still listed after delete")
            await asyncio.sleep(0.3)
    finally:
        await a.close()


def codec(name):
    return lambda bootstrap, topic: round_trip(bootstrap, topic, name, compression_type=name)


async def max_message(bootstrap, topic):
    p = await producer(bootstrap, max_request_size=2_000_000)
    try:
        await p.send_and_wait(topic, value=b"n" * common.NEAR_MAX, key=b"near", partition=0)
        try:
            await p.send_and_wait(topic, value=b"o" * common.OVER_MAX, key=b"over", partition=0)
            check(False, "over-max record was accepted")
        except MessageSizeTooLargeError:
            pass
    finally:
        await p.stop()
    got = await consume(bootstrap, topic, 1, max_partition_fetch_bytes=2_000_000)
    check(len(got) == 1 and got[0]["value"] == b"n" * common.NEAR_MAX, "near-max record not read back")


async def idempotent(bootstrap, topic):
    # aiokafka does not default to idempotence: turn it on, as its docs recommend.
    await round_trip(bootstrap, topic, "idem", enable_idempotence=True)


async def earliest_latest(bootstrap, topic):
    await produce_all(bootstrap, topic, common.expected_records("el-1", count=60))
    check(len(await consume(bootstrap, topic, 60)) == 60, "earliest: not all 60 records")
    c = await consumer(bootstrap)
    try:
        c.assign(tps(topic))
        await c.seek_to_end()
        pos = [await c.position(tp) for tp in tps(topic)]
        check(pos == [20, 20, 20], f"latest: positions {pos}, expected 20 each")
        later = common.expected_records("el-2", count=30)
        await produce_all(bootstrap, topic, later)
        got = await drain(c, 30)
        got += await drain(c, 1, timeout=1.0)
        check(sorted(r["value"] for r in got) == sorted(r["value"] for r in later),
              f"latest: got {len(got)} records, expected the 30 new ones")
    finally:
        await c.stop()


async def offsets_for_times(bootstrap, topic):
    base = int(time.time() * 1000) - 600_000
    await produce_all(bootstrap, topic, common.expected_records("oft", count=90, base_ts=base))
    c = await consumer(bootstrap)
    try:
        t0, t1, t2 = tps(topic)
        res = await c.offsets_for_times({t0: base + 31, t1: base + 10_000_000})
        check(res[t0] is not None and res[t0].offset == 11, f"partition 0: {res[t0]}, expected 11")
        check(res[t1] is None, f"past the last timestamp: {res[t1]}, expected none")
        lo, hi = (await c.beginning_offsets([t2]))[t2], (await c.end_offsets([t2]))[t2]
        check((lo, hi) == (0, 30), f"offsets {lo},{hi}, expected 0,30")
    finally:
        await c.stop()


async def empty_eof(bootstrap, topic):
    await metadata_autocreate(bootstrap, topic)
    c = await consumer(bootstrap)
    try:
        c.assign(tps(topic))
        await c.seek_to_beginning()
        check(await drain(c, 1, timeout=3.0) == [], "a record came out of an empty topic")
        ends = await c.end_offsets(tps(topic))
        check(all(v == 0 for v in ends.values()), f"end offsets {ends}")
        check([await c.position(tp) for tp in tps(topic)] == [0, 0, 0], "positions not 0")
    finally:
        await c.stop()


async def describe_configs(bootstrap, topic):
    a = await admin(bootstrap)
    try:
        await a.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})])
        deadline = time.monotonic() + 10
        while True:
            # A broker's metadata may lag the CreateTopics answer: retry a resource error.
            responses = await a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            entries, errors = {}, []
            for resp in responses:
                for res in resp.resources:
                    # (error_code, error_message, resource_type, resource_name, configs)
                    if res[0] != 0:
                        errors.append((res[0], res[1]))
                    for cfg in res[4]:
                        entries[cfg[0]] = cfg[1]
            if not errors:
                break
            check(time.monotonic() < deadline, f"resource errors {errors}")
            await asyncio.sleep(0.3)
        check(entries.get("retention.ms") == "3600000", f"retention.ms {entries.get('retention.ms')}")
        check(entries.get("cleanup.policy") == "delete", f"cleanup.policy {entries.get('cleanup.policy')}")
    finally:
        await a.close()


async def consumer_group(bootstrap, topic):
    await produce_all(bootstrap, topic, common.expected_records("grp", count=90))
    group = "compat-" + topic
    c = await consumer(bootstrap, topic, group_id=group)
    got = await drain(c, 45)
    check(len(got) >= 45, f"first member consumed {len(got)}")
    last = {}
    for r in got[:45]:
        last[r["partition"]] = r["offset"] + 1
    await c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in last.items()})
    await c.stop()
    c = await consumer(bootstrap, topic, group_id=group)
    rest = await drain(c, 45)
    await c.stop()
    seen = {(r["partition"], r["offset"]) for r in got[:45] + rest}
    check(len(rest) == 45 and len(seen) == 90, f"resumed member got {len(rest)}, {len(seen)} distinct")


async def alter_configs(bootstrap, topic):
    # aiokafka speaks AlterConfigs (not the incremental API): a SET is an alter with the key, a
    # DELETE an alter without it (the request replaces the topic's whole override set).
    a = await admin(bootstrap)
    try:
        await a.create_topics([NewTopic(topic, 1, 1)])

        async def alter(configs):
            errors = []
            for resp in await a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)]):
                # (error_code, error_message, resource_type, resource_name)
                errors += [(r[0], r[1]) for r in resp.resources if r[0] != 0]
            return errors

        async def describe():
            entries = {}
            for resp in await a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)]):
                for res in resp.resources:
                    for cfg in res[4]:
                        # (name, value, read_only, config_source, is_sensitive, synonyms...)
                        entries[cfg[0]] = (cfg[1], cfg[3])
            return entries

        deadline = time.monotonic() + 10
        while errors := await alter({"retention.ms": "7200000", "cleanup.policy": "compact"}):
            check(time.monotonic() < deadline, f"SET: {errors}")
            await asyncio.sleep(0.3)
        entries = await describe()
        for k, v in (("retention.ms", "7200000"), ("cleanup.policy", "compact")):
            check(entries.get(k) == (v, DYNAMIC_TOPIC_CONFIG), f"after SET: {k} {entries.get(k)}")
        errors = await alter({"cleanup.policy": "delete"})
        check(not errors, f"DELETE retention.ms: {errors}")
        entries = await describe()
        check(entries.get("retention.ms") == ("604800000", DEFAULT_CONFIG),
              f"after DELETE: retention.ms {entries.get('retention.ms')}")
        errors = await alter({"retention.ms": "not-a-number"})
        check([e[0] for e in errors] == [INVALID_CONFIG], f"invalid value: {errors}, expected INVALID_CONFIG")
    finally:
        await a.close()


#: DescribeConfigs config_source values and the INVALID_CONFIG error code (Kafka protocol).
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, INVALID_CONFIG = 1, 5, 40


async def delete_records(bootstrap, topic):
    await produce_all(bootstrap, topic, common.expected_records("dr", count=90))
    a = await admin(bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        res = await a.delete_records({tp: RecordsToDelete(before_offset=10)})
        check(res.get(tp) == 10, f"DeleteRecords: {res}, expected low watermark 10")
    finally:
        await a.close()
    c = await consumer(bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        marks = ((await c.beginning_offsets([tp]))[tp], (await c.end_offsets([tp]))[tp])
        check(marks == (10, 30), f"earliest, latest {marks}, expected (10, 30)")
        c.assign([tp])
        await c.seek_to_beginning()
        got = await drain(c, 20)
        check([r["offset"] for r in got] == list(range(10, 30)),
              f"from earliest read offsets {[r['offset'] for r in got]}, expected 10..29")
    finally:
        await c.stop()


class Loop:
    """An event loop on its own thread, so the shared (synchronous) group scenarios can drive
    aiokafka while its background tasks (heartbeats, fetches) keep running between calls."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout=60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


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

    def __init__(self, loop, bootstrap, group, topic, name, static_id=None, cooperative=False,
                 consumer_protocol=False):
        if cooperative:
            raise common.Unsupported("aiokafka has no cooperative (incremental) assignor")
        if consumer_protocol:
            raise common.Unsupported("aiokafka has no KIP-848 consumer group protocol")
        conf = {"group_id": group, "enable_auto_commit": False, "auto_offset_reset": "earliest"}
        if static_id:
            conf.update(group_instance_id=static_id, session_timeout_ms=30000)
        self.loop, self.name, self.topic = loop, name, topic
        self.seen, self.events, self.commit_each = [], [], True

        async def start():
            c = AIOKafkaConsumer(bootstrap_servers=bootstrap, **conf)
            await c.start()
            c.subscribe([topic], listener=Listener(self.events))
            return c
        self.c = loop.run(start())

    def poll(self):
        done = {}
        for tp, batch in self.loop.run(self.c.getmany(timeout_ms=100)).items():
            for m in batch:
                self.seen.append((tp.partition, m.offset))
                done[tp.partition] = m.offset + 1
        if done and self.commit_each:
            self.commit(done)

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}

    def commit(self, offsets):
        self.loop.run(self.c.commit({TopicPartition(self.topic, p): OffsetAndMetadata(o, "")
                                     for p, o in offsets.items()}))

    def close(self):
        self.loop.run(self.c.stop())


class GroupClient:
    """The group client of common.py's shared group scenarios, over one background loop."""

    def __init__(self):
        self.loop = Loop()

    def member(self, *args, **kwargs):
        return Member(self.loop, *args, **kwargs)

    def ensure_topic(self, bootstrap, topic):
        self.loop.run(metadata_autocreate(bootstrap, topic))

    def produce(self, bootstrap, topic, records):
        self.loop.run(produce_all(bootstrap, topic, records))

    def _with_consumer(self, bootstrap, fn, **conf):
        async def run():
            c = await consumer(bootstrap, **conf)
            try:
                return await fn(c)
            finally:
                await c.stop()
        return self.loop.run(run())

    def committed(self, bootstrap, group, topic):
        async def fn(c):
            return {tp.partition: await c.committed(tp) for tp in tps(topic)}
        return self._with_consumer(bootstrap, fn, group_id=group)

    def watermarks(self, bootstrap, topic):
        async def fn(c):
            lo, hi = await c.beginning_offsets(tps(topic)), await c.end_offsets(tps(topic))
            return {tp.partition: (lo[tp], hi[tp]) for tp in tps(topic)}
        return self._with_consumer(bootstrap, fn)

    def offset_for_time(self, bootstrap, topic, partition, ts):
        async def fn(c):
            tp = TopicPartition(topic, partition)
            return (await c.offsets_for_times({tp: ts}))[tp].offset
        return self._with_consumer(bootstrap, fn)

    def commit_offsets(self, bootstrap, group, topic, offsets):
        # An assigned (not subscribed) consumer of the group commits with no generation, which
        # a group without members accepts.
        async def fn(c):
            c.assign(tps(topic))
            await c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "")
                            for p, o in offsets.items()})
        self._with_consumer(bootstrap, fn, group_id=group)


def versions():
    return {"aiokafka": aiokafka.__version__}


#: aiokafka retries some errors forever (a group it cannot join): bound every scenario.
SCENARIO_TIMEOUT_S = 45


def sync(fn):
    async def bounded(bootstrap, topic):
        try:
            await asyncio.wait_for(fn(bootstrap, topic), SCENARIO_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise common.ScenarioFailed(f"no result within {SCENARIO_TIMEOUT_S} s") from None
    return lambda bootstrap, topic: asyncio.run(bounded(bootstrap, topic))


# The group scenarios are synchronous (shared with the other drivers); GroupClient runs the
# aiokafka side on its own loop, so only the others go through sync().
SCENARIOS = {k: sync(v) for k, v in common.scenario_table(
    {k: v for k, v in globals().items() if k != "GroupClient"}).items()}
SCENARIOS |= common.group_scenarios(GroupClient)

if __name__ == "__main__":
    common.main("aiokafka", versions, SCENARIOS)
