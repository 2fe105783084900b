"""Unit tests of the harness's parsing and reporting (no brokers): python3 -m unittest."""

import json
import sys
import tempfile
import unittest
import xml.dom.minidom
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402
import workloads  # noqa: E402


class Parsing(unittest.TestCase):
    def test_broker_perf_lines(self):
        figs = workloads.parse_figures("produce_throughput 12.5 MB/s\nnoise here\nx y z\n")
        self.assertEqual(figs, {"produce_throughput": 12.5})

    def test_producer_perf_summary_is_the_last_line(self):
        text = ("1000 records sent, 200.0 records/sec (0.20 MB/sec), 9.0 ms avg latency, "
                "20.0 ms max latency.\n"
                "5000 records sent, 2500.5 records/sec (2.44 MB/sec), 3.50 ms avg latency, "
                "41.00 ms max latency, 3 ms 50th, 7 ms 95th, 12 ms 99th, 40 ms 99.9th.\n")
        got = workloads.parse_producer_perf(text)
        self.assertEqual(got["records/s"], 2500.5)
        self.assertEqual(got["MB/s"], 2.44)
        self.assertEqual((got["p50"], got["p99"], got["p99.9"], got["max"]), (3, 12, 40, 41))

    def test_producer_perf_without_summary_fails(self):
        with self.assertRaises(RuntimeError):
            workloads.parse_producer_perf("WARN something\n")

    def test_consumer_perf_csv(self):
        text = ("start.time, end.time, fetch.MB.sec, rebalance.time.ms\n"
                "2026-01-01 00:00:00:000, 2026-01-01 00:00:01:000, 88.5, 12\n")
        got = workloads.parse_consumer_perf(text)
        self.assertEqual(got["fetch.MB.sec"], "88.5")
        self.assertEqual(got["rebalance.time.ms"], "12")


def sample_results():
    r = workloads.Results(smoke=False)
    r.section("produce-1k", "Produce")
    r.add("produce-1k", "MB/s", "MB/s", "higher", "ours", 300.0)
    r.add("produce-1k", "MB/s", "MB/s", "higher", "kafka", 100.0)
    r.add("produce-1k", "broker CPU s per GB", "s/GB", "lower", "ours", 3.0)
    r.add("produce-1k", "broker CPU s per GB", "s/GB", "lower", "kafka", 4.0)
    r.section("e2e", "Latency")
    for p, v in (("p50", 1.0), ("p99", 5.0), ("p99.9", 9.0), ("max", 20.0)):
        r.add("e2e", f"{p} latency at 50%", "ms", "lower", "ours", v)
        r.add("e2e", f"{p} latency at 50%", "ms", "lower", "kafka", v * 3)
    return r


class Reporting(unittest.TestCase):
    def test_targets_say_met_missed_or_not_measured(self):
        rows = {t["target"]: t for t in report.targets(sample_results())}
        self.assertEqual(rows["produce 1 KiB acks=1"]["gap"], "met")
        self.assertAlmostEqual(rows["produce 1 KiB acks=1"]["ratio"], 3.0)
        self.assertEqual(rows["CPU per GB ingested"]["gap"], "missed: 1.5x the allowed ratio")
        self.assertEqual(rows["e2e p99 at 50% load"]["gap"], "met")
        self.assertEqual(rows["idle RSS"]["gap"], "not measured")

    def test_missing_lists_figures_lacking_one_broker(self):
        r = sample_results()
        self.assertEqual(r.missing(), [])
        r.add("produce-1k", "records/s", "rec/s", "higher", "ours", 1.0)
        self.assertEqual(r.missing(), ["produce-1k: records/s (kafka)"])

    def test_write_produces_markdown_json_and_well_formed_svg(self):
        with tempfile.TemporaryDirectory() as out:
            report.write(sample_results(), out)
            md = (Path(out) / "BENCHMARKS.md").read_text()
            self.assertIn("| MB/s | 300 | 100 | 3 | higher |", md)
            self.assertIn("| broker CPU s per GB (s/GB) | 3 | 4 | 0.75 | lower |", md)
            doc = json.loads((Path(out) / "BENCHMARKS.json").read_text())
            self.assertEqual(doc["sections"][0]["figures"][0]["ours"], 300.0)
            for svg in ("benchmarks-throughput.svg", "benchmarks-latency.svg"):
                dom = xml.dom.minidom.parse(str(Path(out) / svg))
                self.assertEqual(dom.documentElement.tagName, "svg")
            latency = (Path(out) / "benchmarks-latency.svg").read_text()
            self.assertEqual(latency.count("<polyline"), 2)


if __name__ == "__main__":
    unittest.main()
