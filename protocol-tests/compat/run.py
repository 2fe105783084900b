#!/usr/bin/env python3
"""Runs the client x scenario compatibility matrix: first against Apache Kafka, then ours.

    BROKER_BIN=target/release/broker protocol-tests/compat/run.py [--jobs N] [--client ID]
                                                                   [--scenario ID]

Starts a reference Apache Kafka (kafka/start-kafka.sh) and our broker on free ports and temp
dirs, runs every (client, scenario) driver as a subprocess against each, writes
COMPATIBILITY.md at the repository root and prints `N passed, M failed, K skipped` for our broker.
Exits 1 if a scenario failed on Apache Kafka (the scenario is broken) or on ours (not-yet
scenarios excluded). Drivers find the running broker's log dir in the environment variable
COMPAT_LOG_DIR (kafka-dump-log reads segment files there). Run install.sh first. Python 3.11,
stdlib only.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KAFKA_DIR = HERE.parent / "kafka"
#: Partitions of auto-created topics on both brokers; the drivers assume it.
NUM_PARTITIONS = 3
SCENARIO_TIMEOUT_S = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReferenceKafka:
    """Apache Kafka via start-kafka.sh in a temp dir; stopped (and the dir removed) on exit."""

    def __enter__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="compat-kafka-"))
        port = free_port()
        env = dict(os.environ, KAFKA_PARENT_PID=str(os.getpid()), KAFKA_REMOVE_DIR_ON_EXIT="1")
        try:
            subprocess.run([str(KAFKA_DIR / "start-kafka.sh"), str(port), str(self.dir),
                            f"num.partitions={NUM_PARTITIONS}"], env=env, check=True,
                           stdout=subprocess.DEVNULL, timeout=180)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.bootstrap = f"127.0.0.1:{port}"
        #: Where the partition directories live: drivers get it as COMPAT_LOG_DIR (kafka-dump-log).
        self.log_dir = self.dir / "data"
        return self

    def __exit__(self, *_):
        subprocess.run([str(KAFKA_DIR / "stop-kafka.sh"), str(self.dir)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class OurBroker:
    """Our broker binary on a temp data dir; SIGTERM then SIGKILL on exit."""

    def __init__(self, binary):
        self.binary = binary

    def __enter__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="compat-ours-"))
        self.log = open(self.dir / "broker.log", "w")
        self.proc = subprocess.Popen(
            [self.binary, "--override", "listeners=PLAINTEXT://127.0.0.1:0",
             "--override", f"log.dirs={self.dir / 'data'}",
             "--override", f"num.partitions={NUM_PARTITIONS}",
             # The same setting start-kafka.sh gives the reference broker.
             "--override", "group.initial.rebalance.delay.ms=0"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, text=True)
        found = {}

        def pump():
            for line in self.proc.stdout:
                m = re.search(r"listening on (\d+\.\d+\.\d+\.\d+:\d+)", line)
                if m and "addr" not in found:
                    found["addr"] = m.group(1)
                    ready.set()
                self.log.write(line)
            ready.set()

        ready = threading.Event()
        threading.Thread(target=pump, daemon=True).start()
        ready.wait(30)
        if "addr" not in found:
            self.__exit__(None, None, None)
            raise RuntimeError(f"our broker did not print `listening on`; log in {self.dir}")
        self.bootstrap = found["addr"]
        self.log_dir = self.dir / "data"
        return self

    def __exit__(self, *_):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_driver(client, scenario, bootstrap):
    """Runs one driver; returns {"result", "detail", "seconds"}."""
    topic = f"compat-{client['id']}-{scenario['id']}-{secrets.token_hex(3)}"
    cmd = [str(HERE / client["cmd"][0])] + [str(HERE / a) for a in client["cmd"][1:]]
    cmd += ["--bootstrap", bootstrap, "--scenario", scenario["id"], "--topic", topic]
    started = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S, cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"result": "fail", "detail": f"timed out after {SCENARIO_TIMEOUT_S} s",
                "seconds": SCENARIO_TIMEOUT_S}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    try:
        out = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return {"result": "fail", "detail": f"no result line (exit {p.returncode}): {tail}",
                "seconds": round(time.monotonic() - started, 2)}
    if out.get("result") not in ("pass", "fail", "unsupported"):
        out = {"result": "fail", "detail": f"bad result line {lines[-1]}"}
    return out


def run_cell(client, scenario, bootstrap):
    """Runs one cell; a failure is retried once on a fresh topic, and a pass on the retry is
    kept with the first failure in `flaky`. Group scenarios of some libraries (kafka-python's
    rebalance, on Apache Kafka too) occasionally miss their deadline on this 2-core machine;
    a cell that fails twice is a real failure."""
    first = run_driver(client, scenario, bootstrap)
    if first["result"] != "fail":
        return first
    second = run_driver(client, scenario, bootstrap)
    if second["result"] == "pass":
        second["flaky"] = first["detail"]
    return second


def run_matrix(catalogue, bootstrap, jobs):
    """Runs every (client, scenario) against bootstrap; returns {(client, scenario): result}."""
    pairs = [(c, s) for c in catalogue["clients"] for s in catalogue["scenarios"]]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(run_cell, c, s, bootstrap): (c["id"], s["id"]) for c, s in pairs}
        for f in concurrent.futures.as_completed(futures):
            results[futures[f]] = f.result()
    return results


def client_versions(catalogue):
    out = {}
    for c in catalogue["clients"]:
        cmd = [str(HERE / c["cmd"][0])] + [str(HERE / a) for a in c["cmd"][1:]] + ["--versions"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=HERE)
        try:
            out[c["id"]] = json.loads(p.stdout.strip().splitlines()[-1])["versions"]
        except (IndexError, json.JSONDecodeError, KeyError):
            out[c["id"]] = {"?": "unknown"}
    return out


def ours_cell(res, scenario):
    """Classifies a result on our broker: pass / fail / not-yet / not-yet-passes / n/a."""
    if res["result"] == "unsupported":
        return "n/a"
    if scenario["not_yet"]:
        return "not-yet-passes" if res["result"] == "pass" else "not-yet"
    return res["result"]


def build_rdkafka_driver():
    """Builds the Rust rdkafka driver (protocol-tests' compat-rdkafka binary) in the workspace
    target dir (CARGO_TARGET_DIR if set) and links it where scenarios.json expects it."""
    # The debug profile: `cargo test --workspace` has already built librdkafka there.
    subprocess.run(["cargo", "build", "--quiet", "-p", "protocol-tests",
                    "--bin", "compat-rdkafka"], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")).resolve()
    link = HERE / "rdkafka" / "compat-rdkafka"
    link.parent.mkdir(exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target / "debug" / "compat-rdkafka")


def on_sigterm(_sig, _frame):
    # SystemExit unwinds the `with` blocks, so both brokers are stopped.
    sys.exit(143)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=3, help="drivers run at once (default 3)")
    ap.add_argument("--client", action="append", help="only this client (repeatable)")
    ap.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    ap.add_argument("--no-write", action="store_true", help="do not write COMPATIBILITY.md")
    ap.add_argument("--results", help="also write every raw result (both brokers) to this JSON file")
    args = ap.parse_args()

    catalogue = json.loads((HERE / "scenarios.json").read_text())
    if args.client:
        catalogue["clients"] = [c for c in catalogue["clients"] if c["id"] in args.client]
    if args.scenario:
        catalogue["scenarios"] = [s for s in catalogue["scenarios"] if s["id"] in args.scenario]
    binary = os.environ.get("BROKER_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "broker")
    if not Path(binary).is_file():
        sys.exit(f"no broker binary at {binary}: build it (cargo build --release -p broker) or set BROKER_BIN")
    if not (HERE / "python/.venv/bin/python").exists() or not shutil.which("go"):
        sys.exit("drivers not installed: run protocol-tests/compat/install.sh")
    subprocess.run(["go", "build", "-o", "compat-go", "."], cwd=HERE / "go", check=True)
    for name in ("sarama", "kafka-go"):
        subprocess.run(["go", "build", "-o", f"{name}/compat-{name}", f"./{name}"], cwd=HERE / "goclients",
                       check=True)
    wants_node = any(c["id"] == "kafkajs" for c in catalogue["clients"])
    if wants_node and not (HERE / "kafkajs/node_modules/kafkajs").is_dir():
        sys.exit("kafkajs driver not installed: run protocol-tests/compat/install.sh")
    if any(c["id"] == "rdkafka" for c in catalogue["clients"]):
        build_rdkafka_driver()

    started = time.monotonic()
    versions = client_versions(catalogue)
    print("starting Apache Kafka ...", flush=True)
    with ReferenceKafka() as kafka:
        t = time.monotonic()
        os.environ["COMPAT_LOG_DIR"] = str(kafka.log_dir)
        ref = run_matrix(catalogue, kafka.bootstrap, args.jobs)
        print(f"Apache Kafka: {sum(r['result'] == 'pass' for r in ref.values())} of {len(ref)} "
              f"passed in {time.monotonic() - t:.0f} s", flush=True)
    with OurBroker(binary) as ours:
        t = time.monotonic()
        os.environ["COMPAT_LOG_DIR"] = str(ours.log_dir)
        res = run_matrix(catalogue, ours.bootstrap, args.jobs)
        print(f"our broker: done in {time.monotonic() - t:.0f} s", flush=True)

    scen = {s["id"]: s for s in catalogue["scenarios"]}
    ref_fail = sorted(k for k, r in ref.items() if r["result"] == "fail")
    cells = {k: ours_cell(r, scen[k[1]]) for k, r in res.items()}
    for k in ref_fail:
        print(f"BROKEN on Apache Kafka: {k[0]} / {k[1]}: {ref[k]['detail']}")
    for broker, rs in (("Apache Kafka", ref), ("ours", res)):
        for k, r in sorted(rs.items()):
            if "flaky" in r:
                print(f"passed on retry on {broker}: {k[0]} / {k[1]} (first try: {r['flaky']})")
    for k, cell in sorted(cells.items()):
        if cell == "fail":
            print(f"FAIL on ours: {k[0]} / {k[1]}: {res[k]['detail']}")
        elif cell == "not-yet-passes":
            print(f"not-yet but PASSES on ours: {k[0]} / {k[1]} (waits on {scen[k[1]]['not_yet']})")
    if args.results:
        raw = [{"broker": b, "client": k[0], "scenario": k[1], **r}
               for b, rs in (("kafka", ref), ("ours", res)) for k, r in sorted(rs.items())]
        Path(args.results).write_text(json.dumps(raw, indent=1) + "\n")
    if not args.no_write:
        write_markdown(catalogue, versions, ref, res, cells, time.monotonic() - started)
    passed = sum(c == "pass" for c in cells.values())
    failed = sum(c == "fail" for c in cells.values())
    skipped = sum(c.startswith("not-yet") for c in cells.values())
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed or ref_fail else 0)


def write_markdown(catalogue, versions, ref, res, cells, seconds):
    """Writes COMPATIBILITY.md: the matrix for ours, with Apache Kafka as the reference."""
    kafka_version = os.environ.get("KAFKA_VERSION", "4.1.1")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    clients = [c["id"] for c in catalogue["clients"]]
    mark = {"pass": "pass", "fail": "**FAIL**", "n/a": "n/a"}
    lines = [
        "# Client compatibility matrix",
        "",
        "Generated by `protocol-tests/compat/run.py` (do not edit by hand). Every scenario first "
        f"runs against Apache Kafka {kafka_version} (KRaft, single node), where it must pass, then "
        f"against our broker (commit `{commit}`). `not-yet (issue)` marks a feature our broker "
        "does not serve yet; it still runs against both. A failed cell is run once more; "
        "`(on retry)` marks a pass on the second try.",
        "",
        f"Run on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s.",
        "",
        "## Versions",
        "",
        f"- Apache Kafka {kafka_version} (reference broker, jars from Maven Central)",
    ]
    for c in catalogue["clients"]:
        v = ", ".join(f"{k} {val}" for k, val in versions[c["id"]].items())
        lines.append(f"- {c['id']} ({c['language']}): {v}")
    lines += ["", "## Our broker", "", "| scenario | " + " | ".join(clients) + " |",
              "|---" * (len(clients) + 1) + "|"]
    for s in catalogue["scenarios"]:
        row = []
        for c in clients:
            cell = cells[(c, s["id"])]
            if cell == "not-yet":
                row.append(f"not-yet ({s['not_yet']})")
            elif cell == "not-yet-passes":
                row.append(f"pass (marked not-yet: {s['not_yet']})")
            else:
                row.append(mark[cell])
            if ref[(c, s["id"])]["result"] == "fail":
                row[-1] += " (broken on Kafka)"
            if "flaky" in res[(c, s["id"])]:
                row[-1] += " (on retry)"
        lines.append(f"| `{s['id']}` | " + " | ".join(row) + " |")
    passed = sum(c == "pass" for c in cells.values())
    failed = sum(c == "fail" for c in cells.values())
    skipped = sum(c.startswith("not-yet") for c in cells.values())
    ref_pass = sum(r["result"] == "pass" for r in ref.values())
    lines += ["", f"Ours: {passed} passed, {failed} failed, {skipped} not-yet. "
              f"Apache Kafka: {ref_pass} of {len(ref)} passed.", ""]
    failures = [(k, res[k]["detail"]) for k, c in sorted(cells.items()) if c == "fail"]
    if failures:
        lines += ["### Failures on our broker", ""]
        lines += [f"- {c} / `{s}`: {d}" for (c, s), d in failures]
        lines.append("")
    gaps = [(k, res[k]["detail"]) for k, c in sorted(cells.items()) if c == "not-yet"]
    if gaps:
        lines += ["### What not-yet scenarios do on our broker today", ""]
        lines += [f"- {c} / `{s}`: {d}" for (c, s), d in gaps]
        lines.append("")
    lines += ["## Scenarios", ""]
    lines += [f"- `{s['id']}`: {s['description']}" for s in catalogue["scenarios"]]
    lines += ["", "## Issues", ""]
    lines += [f"- `{k}`: {v}" for k, v in catalogue["issues"].items()]
    (REPO / "COMPATIBILITY.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
