"""One adapter per Python Kafka library, behind the small interface the scenarios use.

Records are tuples (key: bytes, value: bytes, headers: tuple[(str, bytes)], timestamp_ms).
`consume` reads partition `p` with partition assignment only (no group); `start` is "earliest",
"latest" or an offset; `then` runs once the consumer's position is fixed (used for "latest").
"""

from __future__ import annotations

import asyncio
import importlib.metadata as md
import time

WAIT_S = 20


class Unsupported(Exception):
    """The library cannot express this step."""


class ProduceFailed(Exception):
    """A produce was refused; `code` is the Kafka error code."""

    def __init__(self, code: int, msg: str):
        super().__init__(f"{msg} (code {code})")
        self.code = code


def versions() -> dict[str, str]:
    import confluent_kafka

    return {
        "confluent-kafka": f"{md.version('confluent-kafka')} (librdkafka {confluent_kafka.libversion()[0]})",
        "kafka-python": md.version("kafka-python"),
        "aiokafka": md.version("aiokafka"),
        "python": __import__("sys").version.split()[0],
    }


def _rec(key, value, headers, ts) -> tuple:
    return (key, value, tuple((k, bytes(v)) for k, v in (headers or [])), ts)


# ---------------------------------------------------------------- confluent-kafka (librdkafka)
class Confluent:
    def __init__(self, bootstrap: str):
        from confluent_kafka.admin import AdminClient

        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def close(self):
        pass

    def _wait(self, futures):
        for f in futures.values():
            f.result(WAIT_S)

    def create_topic(self, topic, parts):
        from confluent_kafka.admin import NewTopic

        self._wait(self.admin.create_topics([NewTopic(topic, parts, 1)]))
        deadline = time.time() + WAIT_S
        while self.describe_partitions(topic) != parts and time.time() < deadline:
            time.sleep(0.2)

    def delete_topic(self, topic):
        self._wait(self.admin.delete_topics([topic]))

    def add_partitions(self, topic, total):
        from confluent_kafka.admin import NewPartitions

        self._wait(self.admin.create_partitions([NewPartitions(topic, total)]))

    def describe_partitions(self, topic):
        md_ = self.admin.list_topics(timeout=WAIT_S)
        t = md_.topics.get(topic)
        return None if t is None or t.error is not None else len(t.partitions)

    def metadata_partitions(self, topic):
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.bootstrap})
        t = p.list_topics(topic, timeout=WAIT_S).topics.get(topic)
        return None if t is None or t.error is not None else len(t.partitions)

    def produce(self, topic, recs, codec=None, idempotent=False):
        from confluent_kafka import Producer

        conf = {"bootstrap.servers": self.bootstrap, "linger.ms": 5}
        if codec:
            conf["compression.type"] = codec
        if idempotent:
            conf["enable.idempotence"] = True
        p = Producer(conf)
        errors = []
        for k, v, h, ts in recs:
            p.produce(topic, v, k, partition=0, timestamp=ts, headers=list(h),
                      on_delivery=lambda err, _m: err and errors.append(err))
            p.poll(0)
        left = p.flush(WAIT_S)
        if errors:
            raise ProduceFailed(errors[0].code(), str(errors[0]))
        if left:
            raise AssertionError(f"{left} records undelivered")

    def _consumer(self, extra=None):
        from confluent_kafka import Consumer

        # librdkafka wants a group.id even for assign(); nothing is committed.
        conf = {"bootstrap.servers": self.bootstrap, "group.id": "compat-assign",
                "enable.auto.commit": False, "enable.partition.eof": True}
        conf.update(extra or {})
        return Consumer(conf)

    def consume(self, topic, p, start, n, then=None):
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

        off = {"earliest": OFFSET_BEGINNING, "latest": OFFSET_END}.get(start, start)
        c = self._consumer()
        c.assign([TopicPartition(topic, p, off)])
        out = []
        try:
            if then:
                # Reaching end-of-partition proves the "latest" position is fixed.
                self._poll_until(c, lambda m: m.error() and m.error().code() == -191, out)
                then()
            self._poll_until(c, lambda m: len(out) >= n, out)
        finally:
            c.close()
        return out

    def _poll_until(self, c, done, out):
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() != -191:  # _PARTITION_EOF
                    raise AssertionError(str(m.error()))
            else:
                out.append(_rec(m.key(), m.value(), m.headers(), m.timestamp()[1]))
            if done(m):
                return
        raise AssertionError(f"timed out with {len(out)} records")

    def end_offset(self, topic, p):
        from confluent_kafka import TopicPartition

        c = self._consumer()
        try:
            return c.get_watermark_offsets(TopicPartition(topic, p), timeout=WAIT_S)[1]
        finally:
            c.close()

    def offset_for_time(self, topic, p, ts):
        from confluent_kafka import TopicPartition

        c = self._consumer()
        try:
            return c.offsets_for_times([TopicPartition(topic, p, ts)], timeout=WAIT_S)[0].offset
        finally:
            c.close()

    def consume_to_eof(self, topic, p):
        out = []
        c = self._consumer()
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
        try:
            self._poll_until(c, lambda m: m.error() is not None, out)
        finally:
            c.close()
        return out

    def group_consume(self, topic, group, n):
        c = self._consumer({"group.id": group, "auto.offset.reset": "earliest",
                            "enable.partition.eof": False})
        c.subscribe([topic])
        out = []
        try:
            self._poll_until(c, lambda m: len(out) >= n, out)
            c.commit(asynchronous=False)
        finally:
            c.close()
        return out

    def describe_configs(self, topic):
        from confluent_kafka.admin import ConfigResource

        fs = self.admin.describe_configs([ConfigResource("TOPIC", topic)])
        cfg = list(fs.values())[0].result(WAIT_S)
        return {k: v.value for k, v in cfg.items()}


# ---------------------------------------------------------------- kafka-python
class KafkaPython:
    def __init__(self, bootstrap: str):
        from kafka.admin import KafkaAdminClient

        self.bootstrap = bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)

    def close(self):
        self.admin.close()

    def create_topic(self, topic, parts):
        from kafka.admin import NewTopic

        self.admin.create_topics([NewTopic(topic, parts, 1)])
        deadline = time.time() + WAIT_S
        while self.describe_partitions(topic) != parts and time.time() < deadline:
            time.sleep(0.2)

    def delete_topic(self, topic):
        self.admin.delete_topics([topic])

    def add_partitions(self, topic, total):
        from kafka.admin import NewPartitions

        self.admin.create_partitions({topic: NewPartitions(total)})

    def describe_partitions(self, topic):
        if topic not in self.admin.list_topics():
            return None
        (t,) = self.admin.describe_topics([topic])
        return len(t["partitions"])

    def metadata_partitions(self, topic):
        from kafka import KafkaProducer

        # The producer asks for this one topic (auto-create allowed); the consumer lists all.
        p = KafkaProducer(bootstrap_servers=self.bootstrap)
        try:
            parts = p.partitions_for(topic)
            return len(parts) if parts else None
        finally:
            p.close(5)

    def produce(self, topic, recs, codec=None, idempotent=None):
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        # kafka-python 3 is idempotent by default; `idempotent` keeps that default.
        p = KafkaProducer(bootstrap_servers=self.bootstrap, compression_type=codec, linger_ms=5)
        try:
            futs = [p.send(topic, value=v, key=k, headers=list(h), partition=0, timestamp_ms=ts)
                    for k, v, h, ts in recs]
            for f in futs:
                try:
                    f.get(WAIT_S)
                except KafkaError as e:
                    raise ProduceFailed(getattr(e, "errno", -1) or -1, repr(e)) from e
        finally:
            p.close(5)

    def _consumer(self, **kw):
        from kafka import KafkaConsumer

        return KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **kw)

    def consume(self, topic, p, start, n, then=None):
        from kafka import TopicPartition

        tp = TopicPartition(topic, p)
        c = self._consumer()
        try:
            c.assign([tp])
            if start == "earliest":
                c.seek_to_beginning(tp)
            elif start == "latest":
                c.seek_to_end(tp)
                c.position(tp)  # resolves the end offset now
            else:
                c.seek(tp, start)
            if then:
                then()
            return self._poll(c, n)
        finally:
            c.close()

    def _poll(self, c, n):
        out = []
        deadline = time.time() + WAIT_S
        while len(out) < n and time.time() < deadline:
            for batch in c.poll(500, max_records=n - len(out)).values():
                out += [_rec(m.key, m.value, m.headers, m.timestamp) for m in batch]
        return out

    def end_offset(self, topic, p):
        from kafka import TopicPartition

        c = self._consumer()
        try:
            return c.end_offsets([TopicPartition(topic, p)])[TopicPartition(topic, p)]
        finally:
            c.close()

    def offset_for_time(self, topic, p, ts):
        from kafka import TopicPartition

        tp = TopicPartition(topic, p)
        c = self._consumer()
        try:
            return c.offsets_for_times({tp: ts})[tp].offset
        finally:
            c.close()

    def consume_to_eof(self, topic, p):
        from kafka import TopicPartition

        tp = TopicPartition(topic, p)
        c = self._consumer()
        try:
            c.assign([tp])
            c.seek_to_beginning(tp)
            out = []
            for _ in range(4):
                for batch in c.poll(500).values():
                    out += batch
            if c.position(tp) != c.end_offsets([tp])[tp]:
                raise AssertionError("position did not reach the end offset")
            return out
        finally:
            c.close()

    def group_consume(self, topic, group, n):
        c = self._consumer(group_id=group, auto_offset_reset="earliest")
        try:
            c.subscribe([topic])
            out = self._poll(c, n)
            c.commit()
            return out
        finally:
            c.close()

    def describe_configs(self, topic):
        from kafka.admin import ConfigResource, ConfigResourceType

        res = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                          config_filter="all")
        return {k: v["value"] for k, v in res["topic"][topic].items()}


# ---------------------------------------------------------------- aiokafka
class AioKafka:
    """Each call runs its own event loop: the scenarios are synchronous."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap

    def close(self):
        pass

    def _admin(self, fn):
        from aiokafka.admin import AIOKafkaAdminClient

        async def go():
            a = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await a.start()
            try:
                return await fn(a)
            finally:
                await a.close()

        return asyncio.run(go())

    def create_topic(self, topic, parts):
        from aiokafka.admin import NewTopic

        self._admin(lambda a: a.create_topics([NewTopic(topic, parts, 1)]))
        deadline = time.time() + WAIT_S
        while self.describe_partitions(topic) != parts and time.time() < deadline:
            time.sleep(0.2)

    def delete_topic(self, topic):
        self._admin(lambda a: a.delete_topics([topic]))

    def add_partitions(self, topic, total):
        from aiokafka.admin import NewPartitions

        self._admin(lambda a: a.create_partitions({topic: NewPartitions(total)}))

    def describe_partitions(self, topic):
        async def fn(a):
            if topic not in await a.list_topics():
                return None
            (t,) = await a.describe_topics([topic])
            return len(t["partitions"])

        return self._admin(fn)

    def metadata_partitions(self, topic):
        from aiokafka import AIOKafkaProducer

        async def go():
            p = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
            await p.start()
            try:
                parts = await p.partitions_for(topic)
                return len(parts) if parts else None
            finally:
                await p.stop()

        return asyncio.run(go())

    def produce(self, topic, recs, codec=None, idempotent=False):
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        async def go():
            p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, compression_type=codec,
                                 linger_ms=5, enable_idempotence=bool(idempotent))
            await p.start()
            try:
                futs = [await p.send(topic, value=v, key=k, headers=list(h), partition=0,
                                     timestamp_ms=ts) for k, v, h, ts in recs]
                for f in futs:
                    try:
                        await asyncio.wait_for(f, WAIT_S)
                    except KafkaError as e:
                        raise ProduceFailed(getattr(e, "errno", -1) or -1, repr(e)) from e
            finally:
                await p.stop()

        asyncio.run(go())

    def _with_consumer(self, fn, **kw):
        from aiokafka import AIOKafkaConsumer

        async def go():
            c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **kw)
            await c.start()
            try:
                return await fn(c)
            finally:
                await c.stop()

        return asyncio.run(go())

    async def _poll(self, c, n):
        out = []
        deadline = time.time() + WAIT_S
        while len(out) < n and time.time() < deadline:
            for batch in (await c.getmany(timeout_ms=500, max_records=n - len(out))).values():
                out += [_rec(m.key, m.value, m.headers, m.timestamp) for m in batch]
        return out

    def consume(self, topic, p, start, n, then=None):
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, p)

        async def fn(c):
            c.assign([tp])
            if start == "earliest":
                await c.seek_to_beginning(tp)
            elif start == "latest":
                await c.seek_to_end(tp)
                await c.position(tp)
            else:
                c.seek(tp, start)
            if then:
                await asyncio.to_thread(then)
            return await self._poll(c, n)

        return self._with_consumer(fn)

    def end_offset(self, topic, p):
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, p)
        return self._with_consumer(lambda c: _first(c.end_offsets([tp]), tp))

    def offset_for_time(self, topic, p, ts):
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, p)

        async def fn(c):
            return (await c.offsets_for_times({tp: ts}))[tp].offset

        return self._with_consumer(fn)

    def consume_to_eof(self, topic, p):
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, p)

        async def fn(c):
            c.assign([tp])
            await c.seek_to_beginning(tp)
            out = []
            for _ in range(4):
                for batch in (await c.getmany(timeout_ms=500)).values():
                    out += batch
            if await c.position(tp) != (await c.end_offsets([tp]))[tp]:
                raise AssertionError("position did not reach the end offset")
            return out

        return self._with_consumer(fn)

    def group_consume(self, topic, group, n):
        async def fn(c):
            c.subscribe([topic])
            out = await self._poll(c, n)
            await c.commit()
            return out

        return self._with_consumer(fn, group_id=group, auto_offset_reset="earliest")

    def describe_configs(self, topic):
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        async def fn(a):
            res = await a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            found = {}
            for r in res:
                for resource in r.to_object()["resources"]:
                    if resource["error_code"]:
                        raise AssertionError(f"DescribeConfigs error {resource['error_code']}")
                    for e in resource["config_entries"]:
                        found[e["config_names"]] = e["config_value"]
            return found

        return self._admin(fn)


async def _first(coro, key):
    return (await coro)[key]


ADAPTERS = {"confluent-kafka": Confluent, "kafka-python": KafkaPython, "aiokafka": AioKafka}
