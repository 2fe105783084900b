"""The workloads, run alternately against both brokers, and the figures they collect."""

import glob
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import brokers

KIB = 1024
#: Where start-kafka.sh keeps the Kafka jars; the perf tools come from kafka-tools beside them.
KAFKA_LIBS = Path(os.environ.get("KAFKA_COMPAT_CACHE", Path.home() / ".cache/kafka-compat")) \
    / f"kafka-{os.environ.get('KAFKA_VERSION', '4.1.1')}" / "libs"
KAFKA_TOOLS_GLOB = str(Path.home() / ".m2/repository/org/apache/kafka/kafka-tools"
                       / "*/kafka-tools-*.jar")
DURABLE = "log.flush.interval.messages=1"


@dataclass
class Sizes:
    """Record counts and durations of one run."""

    big: int  # 1 KiB records of the main produce workload, consumed and recovered later (~1 GB)
    k1: int  # 1 KiB records of the other produce workloads
    b100: int  # 100-byte records
    together: int  # records of produce+consume together
    e2e_s: int  # seconds per latency point
    warmup_s: int  # seconds at the same rate before each latency point, not counted
    durable: int  # 1 KiB records in durable mode
    cli: int  # records for kafka-producer-perf-test / kafka-consumer-perf-test
    loopback_bytes: int
    dd_mib: int
    idle_s: float  # how long a fresh broker idles before its RSS is read


FULL = Sizes(big=1_000_000, k1=500_000, b100=2_000_000, together=500_000, e2e_s=15,
             warmup_s=1, durable=200_000, cli=500_000, loopback_bytes=4_000_000_000,
             dd_mib=1024, idle_s=5)
SMOKE = Sizes(big=20_000, k1=5_000, b100=20_000, together=5_000, e2e_s=1, warmup_s=0,
              durable=1_000, cli=5_000, loopback_bytes=100_000_000, dd_mib=16, idle_s=0.5)


@dataclass
class Results:
    """Every figure, grouped in sections (one table each in BENCHMARKS.md)."""

    smoke: bool
    meta: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    calibration: dict = field(default_factory=dict)

    def section(self, sid, title, note=""):
        for s in self.sections:
            if s["id"] == sid:
                return s
        s = {"id": sid, "title": title, "note": note, "figures": []}
        self.sections.append(s)
        return s

    def add(self, sid, name, unit, better, broker, value):
        """Records `value` of figure `name` for `broker` ("ours" / "kafka"); `better` is
        "higher" or "lower"."""
        figures = self.section(sid, sid)["figures"]
        fig = next((f for f in figures if f["name"] == name), None)
        if fig is None:
            fig = {"name": name, "unit": unit, "better": better, "ours": None, "kafka": None}
            figures.append(fig)
        fig[broker] = value
        other = fig["kafka" if broker == "ours" else "ours"]
        shown = f"{value:.4g} {unit}"
        if other is not None and fig["ours"] is not None and fig["kafka"]:
            shown += f"   ours/Kafka = {fig['ours'] / fig['kafka']:.2f}"
        print(f"    {broker:5} {name}: {shown}", flush=True)

    def missing(self):
        return [f"{s['id']}: {f['name']} ({b})" for s in self.sections for f in s["figures"]
                for b in ("ours", "kafka") if f[b] is None]


def parse_figures(text):
    """`name value unit` lines from broker-perf."""
    figures = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            try:
                figures[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return figures


class Bench:
    """Runs the workloads in order; each against both brokers, alternating who goes first."""

    def __init__(self, root, perf_bin, ours, kafka, sizes, results):
        self.root, self.perf_bin, self.sizes, self.r = root, perf_bin, sizes, results
        self.brokers = [ours, kafka]
        self.step = 0
        self.started = time.monotonic()

    def progress(self, what):
        self.step += 1
        print(f"[{time.monotonic() - self.started:6.1f} s] {self.step:2}. {what}", flush=True)

    def alternate(self):
        """Both brokers, the first one changing every call so neither always runs warm."""
        self.brokers.reverse()
        return list(self.brokers)

    def perf_cmd(self, mode, broker, **opts):
        cmd = [str(self.perf_bin), mode] + (["--bootstrap", broker.bootstrap] if broker else [])
        for k, v in opts.items():
            cmd += [f"--{k.replace('_', '-')}", str(v)]
        return cmd

    def perf(self, mode, broker, **opts):
        out = subprocess.run(self.perf_cmd(mode, broker, **opts), capture_output=True,
                             check=True, timeout=900)
        return parse_figures(out.stdout.decode())

    def measured(self, broker, run):
        """Runs `run()` and returns (its figures, broker CPU seconds spent meanwhile)."""
        cpu0 = brokers.cpu_seconds(broker.pid)
        figures = run()
        return figures, brokers.cpu_seconds(broker.pid) - cpu0

    def run_all(self):
        from phases import PHASES  # the workload order lives beside the workloads themselves
        for phase in PHASES:
            phase(self)

    # -- building blocks used by the phases ------------------------------------------------

    def produce(self, sid, broker, topic, records, size, config="", **opts):
        self.perf("create-topic", broker, topic=topic, partitions=6,
                  **({"config": config} if config else {}))
        figs, cpu = self.measured(broker, lambda: self.perf(
            "produce", broker, topic=topic, records=records, record_size=size, **opts))
        self.record_throughput(sid, broker, figs, cpu, "produce")
        return figs

    def record_throughput(self, sid, broker, figs, cpu, kind):
        self.r.add(sid, "records/s", "rec/s", "higher", broker.name,
                   figs[f"{kind}_records_per_sec"])
        self.r.add(sid, "MB/s", "MB/s", "higher", broker.name, figs[f"{kind}_throughput"])
        gb = figs[f"{kind}_bytes"] / 1e9
        self.r.add(sid, "broker CPU s per GB", "s/GB", "lower", broker.name, cpu / gb)

    def evict(self, broker, topic):
        """Drops `topic`'s segment files from the page cache (written back first), so a read
        comes from the disk; targeted rather than `drop_caches`, which would slow every other
        process on a shared machine."""
        for path in broker.data_files():
            if path.parent.name.startswith(topic + "-"):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)

    def e2e(self, sid, broker, rate, seconds, label, config=""):
        topic = f"{sid}-{label.rstrip('%')}"
        self.perf("create-topic", broker, topic=topic, partitions=6,
                  **({"config": config} if config else {}))
        figs, _ = self.measured(broker, lambda: self.perf(
            "e2e", broker, topic=topic, rate=rate, seconds=seconds, warmup_s=self.sizes.warmup_s,
            record_size=KIB, acks=1))
        for key, name in (("e2e_p50", "p50"), ("e2e_p99", "p99"), ("e2e_p999", "p99.9"),
                          ("e2e_max", "max")):
            self.r.add(sid, f"{name} latency at {label}", "ms", "lower", broker.name, figs[key])
        self.r.add(sid, f"rate achieved at {label}", "rec/s", "higher", broker.name,
                   figs["e2e_rate"])
        return figs

    def kafka_tool(self, main_class, args):
        jars = sorted(glob.glob(KAFKA_TOOLS_GLOB))
        if not jars:
            raise RuntimeError(f"no kafka-tools jar matching {KAFKA_TOOLS_GLOB}: "
                               "run protocol-tests/compat/install.sh")
        # In a smoke run the JVM's start-up is most of the time; C1 alone starts faster.
        fast_start = ["-XX:TieredStopAtLevel=1"] if self.r.smoke else []
        cmd = ["java", "-Xmx512m", *fast_start, "-cp", f"{KAFKA_LIBS}/*:{jars[-1]}",
               f"org.apache.kafka.tools.{main_class}", *args]
        out = subprocess.run(cmd, capture_output=True, check=True, timeout=900)
        return out.stdout.decode()


PRODUCER_PERF_LINE = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")


def parse_producer_perf(text):
    """The summary line of kafka-producer-perf-test."""
    found = PRODUCER_PERF_LINE.findall(text)
    if not found:
        raise RuntimeError(f"no summary line in kafka-producer-perf-test output:\n{text[-2000:]}")
    sent, rps, mbps, _avg, mx, p50, _p95, p99, p999 = found[-1]
    return {"records/s": float(rps), "MB/s": float(mbps), "p50": float(p50),
            "p99": float(p99), "p99.9": float(p999), "max": float(mx)}


def parse_consumer_perf(text):
    """The CSV line of kafka-consumer-perf-test, keyed by its header."""
    lines = [line for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("start.time"):
            keys = [k.strip() for k in line.split(",")]
            values = [v.strip() for v in lines[i + 1].split(",")]
            return dict(zip(keys, values))
    raise RuntimeError(f"no CSV in kafka-consumer-perf-test output:\n{text[-2000:]}")
