"""The benchmark in order: each phase runs one workload against both brokers (see Bench)."""

import re
import subprocess
import threading
import time

import brokers
from workloads import DURABLE, KIB, parse_consumer_perf, parse_producer_perf


def calibration(b):
    b.progress("calibration: loopback TCP and raw sequential write (dd conv=fdatasync)")
    figs = b.perf("loopback", None, bytes=b.sizes.loopback_bytes)
    b.r.calibration["loopback TCP (MB/s)"] = figs["loopback_throughput"]
    target = b.root / "dd.bin"
    out = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={b.sizes.dd_mib}",
                          "conv=fdatasync"], capture_output=True, check=True, timeout=600)
    target.unlink()
    m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", out.stderr.decode())
    if m:
        b.r.calibration["sequential write, fdatasync (MB/s)"] = int(m[1]) / 1e6 / float(m[2])
    print(f"    {b.r.calibration}", flush=True)


def startup(b):
    b.progress("start-up to first answered ApiVersions (first start, then a clean restart), "
               "idle RSS")
    sid = "startup"
    b.r.section(sid, "Start-up and memory",
                "Start-up: from spawning the broker (Kafka: running start-kafka.sh) to the first "
                "answered ApiVersions request; first on an empty data dir (Kafka: including "
                "formatting the storage, a second JVM), then restarted after a clean stop. Idle "
                "RSS: VmRSS after the restarted broker idled a few seconds. Kafka runs with "
                "start-kafka.sh's 512 MB heap (-Xms = -Xmx).")
    for broker in b.alternate():
        first = broker.start()
        broker.stop()
        took = broker.start()
        time.sleep(b.sizes.idle_s)
        b.r.add(sid, "first start, empty data dir", "ms", "lower", broker.name, first * 1e3)
        b.r.add(sid, "start-up to first answer", "ms", "lower", broker.name, took * 1e3)
        b.r.add(sid, "idle RSS", "MB", "lower", broker.name,
                brokers.memory_kib(broker.pid, "VmRSS") / 1024)


def produce_big(b):
    b.progress(f"produce {b.sizes.big} x 1 KiB, acks=1, no compression (the data set for "
               "recovery and consume)")
    b.r.section("produce-1k", "Produce 1 KiB, acks=1, no compression, 1 producer, 6 partitions")
    for broker in b.alternate():
        b.produce("produce-1k", broker, "big", b.sizes.big, KIB, acks=1)


def recovery(b):
    b.progress("kill -9, then time until the broker answers again")
    sid = "recovery"
    b.r.section(sid, "Recovery after kill -9",
                "Both brokers are killed with SIGKILL right after the 1 KiB produce run (data in "
                "the page cache, not flushed), then restarted on the same data dir; the time is "
                "from spawn to the first answered ApiVersions.")
    for broker in b.alternate():
        gb = broker.disk_bytes() / 1e9
        broker.kill9()
        took = broker.start()
        b.r.add(sid, "data on disk", "GB", "higher", broker.name, gb)
        b.r.add(sid, "recovery to first answer", "s", "lower", broker.name, took)


def consume(b):
    for sid, title, cold in (
            ("consume-cold", "Consume from the start, not in the page cache", True),
            ("consume-hot", "Consume from the start again, in the page cache", False)):
        b.progress(title)
        b.r.section(sid, title, "The topic of the 1 KiB produce run (after the kill -9 "
                    "recovery), 6 partitions, one librdkafka consumer." if cold else "")
        for broker in b.alternate():
            if cold:
                b.evict(broker, "big")
            figs, cpu = b.measured(broker, lambda: b.perf("consume", broker, topic="big",
                                                          records=b.sizes.big))
            b.record_throughput(sid, broker, figs, cpu, "consume")


#: Produce variants: (id, title, record size, records attr, broker-perf options).
PRODUCE_VARIANTS = (
    ("produce-1k-3p", "Produce 1 KiB, acks=1, 3 producers", KIB, "k1", {"producers": 3}),
    ("produce-1k-all", "Produce 1 KiB, acks=all", KIB, "k1", {"acks": "all"}),
    ("produce-1k-lz4", "Produce 1 KiB, acks=1, lz4", KIB, "k1", {"compression": "lz4"}),
    ("produce-1k-zstd", "Produce 1 KiB, acks=1, zstd", KIB, "k1", {"compression": "zstd"}),
    ("produce-100", "Produce 100 B, acks=1, no compression", 100, "b100", {}),
    ("produce-100-all", "Produce 100 B, acks=all, no compression", 100, "b100", {"acks": "all"}),
    ("produce-100-zstd", "Produce 100 B, acks=1, zstd", 100, "b100", {"compression": "zstd"}),
)


def produce_variants(b):
    for sid, title, size, attr, opts in PRODUCE_VARIANTS:
        b.progress(title)
        b.r.section(sid, title)
        for broker in b.alternate():
            b.produce(sid, broker, sid, getattr(b.sizes, attr), size, **opts)


def together(b):
    title = "Produce and consume together, 1 KiB, acks=1"
    b.progress(title)
    sid = "together"
    b.r.section(sid, title, "One producer and one consumer (from the start of the same fresh "
                "topic, so it reads the tail as it is written) run at the same time; CPU per GB "
                "counts bytes in plus bytes out.")
    for broker in b.alternate():
        b.perf("create-topic", broker, topic=sid, partitions=6)
        n = b.sizes.together
        consumed = {}

        def consumer():
            consumed.update(b.perf("consume", broker, topic=sid, records=n))

        def run():
            thread = threading.Thread(target=consumer)
            thread.start()
            figs = b.perf("produce", broker, topic=sid, records=n, record_size=KIB, acks=1)
            thread.join(timeout=900)
            return figs

        figs, cpu = b.measured(broker, run)
        b.r.add(sid, "produce records/s", "rec/s", "higher", broker.name,
                figs["produce_records_per_sec"])
        b.r.add(sid, "produce MB/s", "MB/s", "higher", broker.name, figs["produce_throughput"])
        b.r.add(sid, "consume MB/s", "MB/s", "higher", broker.name,
                consumed["consume_throughput"])
        gb = (figs["produce_bytes"] + consumed["consume_bytes"]) / 1e9
        b.r.add(sid, "broker CPU s per GB (in + out)", "s/GB", "lower", broker.name, cpu / gb)


def latency(b, sid="e2e", peak_of="together", label_prefix="", config=""):
    peaks = [f for f in b.r.section(peak_of, peak_of)["figures"]
             if f["name"] in ("produce records/s", "records/s")][0]
    peak = min(peaks["ours"], peaks["kafka"])
    title = "End-to-end latency, 1 KiB records at fixed rates"
    b.r.section(sid, f"{label_prefix}{title}",
                f"Rates are {'50%' if label_prefix else '10/50/80%'} of {peak:.0f} rec/s, "
                "the lower of the two brokers' peaks "
                f"in '{peak_of}', so both carry the same load. Producer linger.ms=5 (the client "
                "default, as in the throughput runs), acks=1; "
                "latency from send() to the consumer's poll(), same process and clock, after a "
                f"{b.sizes.warmup_s} s warm-up at the same rate that is not counted. "
                "Fixed-rate version of Kafka's EndToEndLatency.")
    for pct in (10, 50, 80) if not label_prefix else (50,):
        rate = max(1, int(peak * pct / 100))
        b.progress(f"{label_prefix}end-to-end latency at {pct}% of peak ({rate} rec/s)")
        for broker in b.alternate():
            b.e2e(sid, broker, rate, b.sizes.e2e_s, f"{pct}%", config)


def kafka_tools(b):
    b.progress("Kafka's own kafka-producer-perf-test and kafka-consumer-perf-test")
    sid = "kafka-tools"
    b.r.section(sid, "Kafka's kafka-producer-perf-test / kafka-consumer-perf-test",
                f"{b.sizes.cli} x 1 KiB, acks=1, the tools' defaults otherwise (Java client, "
                "linger.ms=5, batch.size=16384). Consumer rates are the tool's fetch.MB.sec / "
                "fetch.nMsg.sec, which leave out the group join.")
    for broker in b.alternate():
        b.perf("create-topic", broker, topic=sid, partitions=6)
        cpu0 = brokers.cpu_seconds(broker.pid)
        prod = parse_producer_perf(b.kafka_tool("ProducerPerformance", [
            "--topic", sid, "--num-records", str(b.sizes.cli), "--record-size", str(KIB),
            "--throughput", "-1", "--producer-props", f"bootstrap.servers={broker.bootstrap}",
            "acks=1"]))
        cpu1 = brokers.cpu_seconds(broker.pid)
        cons = parse_consumer_perf(b.kafka_tool("ConsumerPerformance", [
            "--bootstrap-server", broker.bootstrap, "--topic", sid,
            "--messages", str(b.sizes.cli), "--timeout", "60000"]))
        cpu2 = brokers.cpu_seconds(broker.pid)
        gb = b.sizes.cli * KIB / 1e9
        for name in ("records/s", "MB/s"):
            b.r.add(sid, f"producer-perf-test {name}", name.split()[0], "higher", broker.name,
                    prod[name])
        for name in ("p50", "p99", "p99.9", "max"):
            b.r.add(sid, f"producer-perf-test {name} latency", "ms", "lower", broker.name,
                    prod[name])
        b.r.add(sid, "producer: broker CPU s per GB", "s/GB", "lower", broker.name,
                (cpu1 - cpu0) / gb)
        b.r.add(sid, "consumer-perf-test MB/s", "MB/s", "higher", broker.name,
                float(cons["fetch.MB.sec"]))
        b.r.add(sid, "consumer-perf-test records/s", "rec/s", "higher", broker.name,
                float(cons["fetch.nMsg.sec"]))
        b.r.add(sid, "consumer-perf-test group join", "ms", "lower", broker.name,
                float(cons["rebalance.time.ms"]))
        b.r.add(sid, "consumer: broker CPU s per GB", "s/GB", "lower", broker.name,
                (cpu2 - cpu1) / gb)


def durable(b):
    sid = "durable"
    config = ""
    if b.r.smoke:
        # Two broker restarts are most of a smoke run's time; the topic-level form of the
        # setting exercises the same code paths.
        config = "flush.messages=1"
        setting = f"topic config {config}"
    else:
        setting = DURABLE
        b.progress(f"restart both with {DURABLE}")
        for broker in b.alternate():
            broker.stop()
            broker.start([DURABLE])
    title = f"Durable mode ({setting}): produce 1 KiB, acks=all"
    b.progress(title)
    b.r.section(sid, title, "Every append is on disk before it is acknowledged.")
    for broker in b.alternate():
        b.produce(sid, broker, sid, b.sizes.durable, KIB, config=config, acks="all")
    latency(b, sid="durable-e2e", peak_of="durable", label_prefix="Durable mode: ",
            config=config)


def final_memory(b):
    sid = "startup"
    for broker in b.brokers:
        broker.note_peak()
    for broker in b.alternate():
        b.r.add(sid, "peak RSS (VmHWM, whole run)", "MB", "lower", broker.name,
                broker.peak_rss_kib / 1024)


PHASES = (calibration, startup, produce_big, recovery, consume, produce_variants, together,
          latency, kafka_tools, durable, final_memory)
