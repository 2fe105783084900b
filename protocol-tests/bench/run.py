#!/usr/bin/env python3
"""Side-by-side benchmarks: our broker against Apache Kafka 4.1.1 on the same machine, in one run.

    cargo build --release -p broker -p protocol-tests
    python3 protocol-tests/bench/run.py            # full run (~15 min), writes BENCHMARKS.md/.json
    python3 protocol-tests/bench/run.py --smoke    # tiny sizes (~1 min): checks every figure exists

Starts both brokers (default settings) on free ports with their data dirs under one temp dir,
then runs each workload against one broker and then the other (who goes first alternates), and
prints every figure for both with the ratio ours/Kafka. Load comes from `broker-perf` (librdkafka)
and, once, from Kafka's own kafka-producer-perf-test / kafka-consumer-perf-test. Broker CPU is
utime+stime of the broker process alone from /proc. Timings are never asserted: the smoke mode
only fails when a figure is missing. Python 3.11, stdlib only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import brokers  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def find_binary(name):
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for candidate in (target / "release" / name, target / "debug" / name):
        if candidate.is_file():
            return candidate
    sys.exit(f"no {name} under {target}/{{release,debug}}: "
             "run `cargo build --release -p broker -p protocol-tests`")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes; only checks that every figure is produced for both")
    parser.add_argument("--out", type=Path,
                        help="where BENCHMARKS.md/.json and the SVGs go (default: repo root; "
                             "with --smoke: the temp dir)")
    parser.add_argument("--tmp", type=Path, default=None,
                        help="parent of the temp dir holding both brokers' data")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--report-only", type=Path, metavar="BENCHMARKS.json",
                        help="rewrite BENCHMARKS.md and the plots from a run's JSON; no brokers")
    args = parser.parse_args()
    if args.report_only:
        doc = json.loads(args.report_only.read_text())
        results = workloads.Results(smoke=doc["smoke"], meta=doc["meta"],
                                    sections=doc["sections"], calibration=doc["calibration"])
        report.write(results, args.out or args.report_only.parent)
        return 0

    broker_bin = Path(os.environ["BROKER_BIN"]) if "BROKER_BIN" in os.environ \
        else find_binary("broker")
    perf_bin = find_binary("broker-perf")
    brokers.become_subreaper()
    root = Path(tempfile.mkdtemp(prefix="bench-", dir=args.tmp))
    sizes = workloads.SMOKE if args.smoke else workloads.FULL
    results = workloads.Results(smoke=args.smoke)
    ours = brokers.OurBroker(root, broker_bin)
    kafka = brokers.KafkaBroker(root)
    started = time.monotonic()
    results.meta["load_start"] = "%.2f %.2f %.2f" % os.getloadavg()
    try:
        bench = workloads.Bench(root, perf_bin, ours, kafka, sizes, results)
        bench.run_all()
    finally:
        for broker in (ours, kafka):
            try:
                # The data is thrown away: a clean shutdown (Kafka's takes many seconds) buys
                # nothing.
                broker.kill9()
            except Exception as e:  # noqa: BLE001 - cleanup must reach the other broker too
                print(f"stopping {broker.name}: {e}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results.meta["load_end"] = "%.2f %.2f %.2f" % os.getloadavg()
    results.meta.update(report.machine(REPO, broker_bin, root))
    results.meta["duration_s"] = round(time.monotonic() - started, 1)
    out = args.out or (root.parent / f"{root.name}-smoke-report" if args.smoke else REPO)
    out.mkdir(parents=True, exist_ok=True)
    report.write(results, out)
    print(f"\nwrote {out / 'BENCHMARKS.md'} and {out / 'BENCHMARKS.json'} "
          f"in {results.meta['duration_s']:.0f} s")
    missing = results.missing()
    if missing:
        print("missing figures:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        sys.exit(f"{e}\n{(e.stderr or b'')[-3000:]!s}")
