"""Compatibility scenarios driven by a Python Kafka client; prints one JSON result line.

    driver.py --client {confluent-kafka,kafka-python,aiokafka} --bootstrap H:P --scenario ID --topic T
    driver.py --scenario versions

Scenarios are written once against the small `Client` interface (clients.py); each library gets an
adapter there. A scenario raises on a failed check; an adapter raises `Unsupported` where its
library cannot express a step, which reports `n/a`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

from clients import ADAPTERS, ProduceFailed, Unsupported, versions

MESSAGE_MAX_BYTES = 100_000  # scenarios.json broker_settings
NUM_PARTITIONS = 2
MESSAGE_TOO_LARGE = 10


def records(n: int, tag: str, value_size: int = 40, ts0: int | None = None) -> list[tuple]:
    """Keyed records with binary headers and distinct explicit timestamps (ms)."""
    ts0 = ts0 if ts0 is not None else int(time.time() * 1000) - 60_000
    out = []
    for i in range(n):
        key = f"{tag}-key-{i}".encode()
        value = bytes((i * 7 + j) % 256 for j in range(value_size))
        headers = (("h-str", f"v{i}".encode()), ("h-bin", bytes([0, 255, i % 256])))
        out.append((key, value, headers, ts0 + i * 10))
    return out


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def same(got: list[tuple], want: list[tuple], what: str) -> None:
    check(len(got) == len(want), f"{what}: got {len(got)} records, want {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        check(g == w, f"{what}: record {i} differs: got {g!r:.200} want {w!r:.200}")


def roundtrip(c, topic: str, n: int, codec: str | None = None, **kw) -> None:
    c.create_topic(topic, 1)
    want = records(n, topic)
    c.produce(topic, want, codec=codec, **kw)
    same(c.consume(topic, 0, "earliest", n), want, "consumed back")


def sc_metadata_autocreate(c, topic):
    deadline = time.time() + 20
    parts = None
    while time.time() < deadline:
        parts = c.metadata_partitions(topic)
        if parts:
            break
        time.sleep(0.3)
    check(parts == NUM_PARTITIONS, f"auto-created topic has {parts} partitions, want {NUM_PARTITIONS}")


def sc_admin_topics(c, topic):
    c.create_topic(topic, 1)
    check(c.describe_partitions(topic) == 1, "describe after create: want 1 partition")
    c.add_partitions(topic, 3)
    deadline = time.time() + 15
    while c.describe_partitions(topic) != 3 and time.time() < deadline:
        time.sleep(0.3)
    check(c.describe_partitions(topic) == 3, "describe after create partitions: want 3")
    c.delete_topic(topic)
    deadline = time.time() + 15
    while c.describe_partitions(topic) is not None and time.time() < deadline:
        time.sleep(0.3)
    check(c.describe_partitions(topic) is None, "topic still listed after delete")


def sc_produce_consume_headers(c, topic):
    roundtrip(c, topic, 200)


def codec_scenario(codec):
    return lambda c, topic: roundtrip(c, topic, 300, codec=codec)


def sc_max_message(c, topic):
    c.create_topic(topic, 1)
    # Batch overhead (61 bytes) + record framing stay well under the 1,000 bytes of slack.
    near = records(1, topic, value_size=MESSAGE_MAX_BYTES - 1000)
    c.produce(topic, near)
    same(c.consume(topic, 0, "earliest", 1), near, "near-limit record")
    over = records(1, topic, value_size=MESSAGE_MAX_BYTES + 20_000)
    try:
        c.produce(topic, over)
    except ProduceFailed as e:
        check(e.code == MESSAGE_TOO_LARGE, f"over-limit record: error {e}, want MESSAGE_TOO_LARGE")
        return
    raise AssertionError("over-limit record was accepted")


def sc_idempotent_producer(c, topic):
    roundtrip(c, topic, 300, idempotent=True)


def sc_consume_offsets(c, topic):
    c.create_topic(topic, 1)
    ts0 = int(time.time() * 1000) - 600_000
    want = records(50, topic, ts0=ts0)
    c.produce(topic, want)
    same(c.consume(topic, 0, "earliest", 50), want, "from earliest")
    check(c.end_offset(topic, 0) == 50, "end offset (latest) != 50")
    # Records at or after ts0+205 ms start at offset 21 (timestamps step by 10 ms).
    off = c.offset_for_time(topic, 0, ts0 + 205)
    check(off == 21, f"offset for timestamp: got {off}, want 21")
    same(c.consume(topic, 0, off, 29), want[21:], "from offset for timestamp")
    later = records(5, topic + "-later")
    got = c.consume(topic, 0, "latest", 5, then=lambda: c.produce(topic, later))
    same(got, later, "from latest")


def sc_empty_topic_eof(c, topic):
    c.create_topic(topic, 1)
    check(c.end_offset(topic, 0) == 0, "end offset of an empty topic != 0")
    check(c.consume_to_eof(topic, 0) == [], "records read from an empty topic")


def sc_consumer_group(c, topic):
    c.create_topic(topic, 1)
    want = records(40, topic)
    c.produce(topic, want)
    group = topic + "-group"
    same(c.group_consume(topic, group, 15), want[:15], "first member")
    same(c.group_consume(topic, group, 25), want[15:], "second member resumes at commit")


def sc_describe_configs(c, topic):
    c.create_topic(topic, 1)
    cfg = c.describe_configs(topic)
    check(cfg.get("cleanup.policy") == "delete", f"cleanup.policy = {cfg.get('cleanup.policy')}")
    check("retention.ms" in cfg, "retention.ms missing")


SCENARIOS = {
    "metadata-autocreate": sc_metadata_autocreate,
    "admin-topics": sc_admin_topics,
    "produce-consume-headers": sc_produce_consume_headers,
    "codec-gzip": codec_scenario("gzip"),
    "codec-snappy": codec_scenario("snappy"),
    "codec-lz4": codec_scenario("lz4"),
    "codec-zstd": codec_scenario("zstd"),
    "max-message": sc_max_message,
    "idempotent-producer": sc_idempotent_producer,
    "consume-offsets": sc_consume_offsets,
    "empty-topic-eof": sc_empty_topic_eof,
    "consumer-group": sc_consumer_group,
    "describe-configs": sc_describe_configs,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client")
    ap.add_argument("--bootstrap")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--topic")
    a = ap.parse_args()
    if a.scenario == "versions":
        print(json.dumps(versions()))
        return 0
    res = {"client": a.client, "scenario": a.scenario}
    client = ADAPTERS[a.client](a.bootstrap)
    try:
        SCENARIOS[a.scenario](client, a.topic)
        res["status"] = "pass"
    except Unsupported as e:
        res.update(status="n/a", detail=str(e))
    except Exception as e:  # any failure of the library or of a check fails the scenario
        traceback.print_exc()
        res.update(status="fail", detail=f"{type(e).__name__}: {e}"[:300])
    finally:
        client.close()
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
