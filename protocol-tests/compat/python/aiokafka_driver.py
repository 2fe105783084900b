"""Scenarios driven by aiokafka (asyncio, pure Python)."""

import asyncio
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
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


def versions():
    return {"aiokafka": aiokafka.__version__}


async def delete_records(bootstrap, topic):
    from aiokafka.admin.records_to_delete import RecordsToDelete
    a = await admin(bootstrap)
    try:
        await a.create_topics([NewTopic(topic, 1, 1)])
        records = [dict(r, partition=0) for r in common.expected_records("dr", count=50)]
        await produce_all(bootstrap, topic, records)
        tp = TopicPartition(topic, 0)
        low = await a.delete_records({tp: RecordsToDelete(before_offset=20)})
        check(low.get(tp) == 20, f"low watermark {low}")
    finally:
        await a.close()
    c = await consumer(bootstrap)
    try:
        c.assign([tp])
        earliest = (await c.beginning_offsets([tp]))[tp]
        check(earliest == 20, f"ListOffsets earliest {earliest}, expected 20")
        await c.seek_to_beginning(tp)
        got = [m["offset"] for m in await drain(c, 30)]
    finally:
        await c.stop()
    check(got[:1] == [20] and len(got) == 30, f"consumer from earliest got {got[:3]}...")


#: aiokafka retries some errors forever (a group it cannot join): bound every scenario.
SCENARIO_TIMEOUT_S = 45


def sync(fn):
    async def bounded(bootstrap, topic):
        try:
            await asyncio.wait_for(fn(bootstrap, topic), SCENARIO_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise common.ScenarioFailed(f"no result within {SCENARIO_TIMEOUT_S} s") from None
    return lambda bootstrap, topic: asyncio.run(bounded(bootstrap, topic))


SCENARIOS = {k: sync(v) for k, v in common.scenario_table(globals()).items()}

if __name__ == "__main__":
    common.main("aiokafka", versions, SCENARIOS)
