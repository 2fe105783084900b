#!/usr/bin/env python3
"""Compatibility matrix: real client libraries against Apache Kafka, then against our broker.

    BROKER_BIN=target/release/broker python3 protocol-tests/compat/run.py [--only CLIENT,...]

Every (client, scenario) pair of scenarios.json runs as its own driver subprocess, first against
a reference Apache Kafka (a failure there means the scenario itself is broken), then against our
broker. Writes COMPATIBILITY.md at the repository root and prints `N passed, M failed, K skipped`
for our broker (skipped = scenarios waiting on an issue). Exits non-zero if anything failed on
Apache Kafka, or a scenario not waiting on an issue failed on ours. Run install.sh first.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KAFKA_DIR = HERE.parent / "kafka"
VENV_PY = Path(os.environ.get("COMPAT_VENV", HERE / "python" / ".venv")) / "bin" / "python"
GO_DRIVER = HERE / "go" / "compat-franz"
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.1.1")
# Per driver run; a scenario is small, so this only bounds a hang.
SCENARIO_TIMEOUT_S = 90
# A scenario waiting on an unbuilt feature usually hangs on ours until the client gives up.
NOT_YET_TIMEOUT_S = 40
WORKERS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReferenceKafka:
    """Apache Kafka started by kafka/start-kafka.sh; stopped (and its dir removed) on exit."""

    def __init__(self, settings: dict[str, str]):
        self.dir = Path(tempfile.mkdtemp(prefix="compat-kafka-"))
        self.port = free_port()
        # The watchdog stops Kafka and removes its dir even if this process is killed.
        env = dict(os.environ, KAFKA_PARENT_PID=str(os.getpid()), KAFKA_REMOVE_DIR_ON_EXIT="1")
        kv = [f"{k}={v}" for k, v in settings.items()]
        try:
            subprocess.run([str(KAFKA_DIR / "start-kafka.sh"), str(self.port), str(self.dir),
                            *kv], env=env, check=True, stdout=subprocess.DEVNULL)
        except BaseException:
            self.stop()
            raise
        self.bootstrap = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        subprocess.run([str(KAFKA_DIR / "stop-kafka.sh"), str(self.dir)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class OurBroker:
    """Our broker binary on a temp data dir, on a port it picks; SIGTERM, then SIGKILL, on exit."""

    def __init__(self, binary: str, settings: dict[str, str]):
        self.dir = Path(tempfile.mkdtemp(prefix="compat-ours-"))
        args = [binary, "--override", "listeners=PLAINTEXT://127.0.0.1:0",
                "--override", f"log.dirs={self.dir / 'data'}"]
        for k, v in settings.items():
            args += ["--override", f"{k}={v}"]
        self.stderr = open(self.dir / "stderr.log", "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        self.bootstrap = ""
        assert self.proc.stdout is not None
        # The binary prints `listening on ip:port` once the listener is bound.
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (\S+)", line)
            if m:
                self.bootstrap = m.group(1)
                break
        if not self.bootstrap:
            self.stop()
            raise RuntimeError(f"our broker ({binary}) printed no `listening on` line")
        # Keep draining stdout so the broker never blocks on a full pipe.
        self.pump = concurrent.futures.ThreadPoolExecutor(1)
        self.pump.submit(lambda: [None for _ in self.proc.stdout])  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def driver_cmd(client: dict) -> list[str]:
    if client["driver"] == "python":
        return [str(VENV_PY), str(HERE / "python" / "driver.py"), "--client", client["id"]]
    return [str(GO_DRIVER)]


def run_one(client: dict, scenario: str, bootstrap: str, timeout: int) -> dict:
    """Runs one driver subprocess; its last JSON line on stdout is the result."""
    topic = f"compat-{client['id']}-{scenario}-{uuid.uuid4().hex[:8]}"
    cmd = driver_cmd(client) + ["--bootstrap", bootstrap, "--scenario", scenario, "--topic", topic]
    start = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "fail", "detail": f"timed out after {timeout}s", "secs": timeout}
    secs = round(time.monotonic() - start, 1)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            res["secs"] = secs
            return res
    tail = (out.stderr.strip().splitlines() or ["no output"])[-3:]
    return {"status": "fail", "detail": f"exit {out.returncode}: " + " | ".join(tail), "secs": secs}


def run_matrix(clients: list[dict], scenarios: list[dict], bootstrap: str,
               ours: bool) -> dict[tuple[str, str], dict]:
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for c in clients:
            for s in scenarios:
                timeout = NOT_YET_TIMEOUT_S if ours and s["waits_on"] else SCENARIO_TIMEOUT_S
                jobs[(c["id"], s["id"])] = pool.submit(run_one, c, s["id"], bootstrap, timeout)
    return {k: f.result() for k, f in jobs.items()}


def versions(clients: list[dict]) -> dict[str, str]:
    """Library versions as the drivers report them (`--scenario versions`)."""
    found: dict[str, str] = {"Apache Kafka (reference broker)": KAFKA_VERSION}
    seen = set()
    for c in clients:
        cmd = tuple(driver_cmd(c)[:2])
        if cmd in seen:
            continue
        seen.add(cmd)
        out = subprocess.run(list(cmd) + ["--scenario", "versions"], capture_output=True,
                             text=True, timeout=60)
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                found.update(json.loads(line))
    return found


def cell(kafka: dict, ours: dict | None, waits_on: str | None) -> str:
    if kafka["status"] == "n/a":
        return "n/a"
    if kafka["status"] != "pass":
        return "broken test (fails on Apache Kafka)"
    assert ours is not None
    if waits_on:
        return (f"pass (unexpected: {waits_on} not marked done)" if ours["status"] == "pass"
                else f"not-yet ({waits_on})")
    return ours["status"]


def write_report(path: Path, clients, scenarios, kafka_res, ours_res, vers, summary) -> None:
    lines = [
        "# Compatibility matrix",
        "",
        "Generated by `protocol-tests/compat/run.py` (see `protocol-tests/compat/README.md`).",
        "Each scenario runs first against Apache Kafka (it must pass there), then against our",
        "broker. `not-yet (issue)`: the feature is not built yet; `n/a`: the client cannot "
        "express the scenario.",
        "",
        f"Our broker: **{summary}**",
        "",
        "| scenario | " + " | ".join(c["id"] for c in clients) + " |",
        "| --- | " + " | ".join("---" for _ in clients) + " |",
    ]
    for s in scenarios:
        row = [cell(kafka_res[(c["id"], s["id"])], ours_res.get((c["id"], s["id"])),
                    s["waits_on"]) for c in clients]
        lines.append(f"| `{s['id']}` | " + " | ".join(row) + " |")
    lines += ["", "## Scenarios", ""]
    lines += [f"- `{s['id']}`: {s['description']}"
              + (f" (waits on issue `{s['waits_on']}`)" if s["waits_on"] else "")
              for s in scenarios]
    lines += ["", "## Versions", ""]
    lines += [f"- {k}: {v}" for k, v in vers.items()]
    fails = [(k, r) for k, r in sorted(ours_res.items()) if r["status"] == "fail"]
    if fails:
        lines += ["", "## What our broker answered where it did not pass (last run)", ""]
        lines += [f"- {c} / `{s}`: {r.get('detail', '')}" for (c, s), r in fails]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop both brokers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated client ids")
    ap.add_argument("--scenarios", help="comma-separated scenario ids")
    ap.add_argument("--report", default=str(REPO / "COMPATIBILITY.md"))
    args = ap.parse_args()
    catalogue = json.loads((HERE / "scenarios.json").read_text())
    clients = [c for c in catalogue["clients"]
               if not args.only or c["id"] in args.only.split(",")]
    scenarios = [s for s in catalogue["scenarios"]
                 if not args.scenarios or s["id"] in args.scenarios.split(",")]
    settings = catalogue["broker_settings"]
    binary = os.environ.get("BROKER_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "broker")
    if not Path(binary).is_file():
        print(f"our broker binary {binary} not found (set BROKER_BIN)", file=sys.stderr)
        return 2
    if not VENV_PY.exists() or not GO_DRIVER.exists():
        print("drivers not installed: run protocol-tests/compat/install.sh", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    kafka = ReferenceKafka(settings)
    try:
        kafka_res = run_matrix(clients, scenarios, kafka.bootstrap, ours=False)
    finally:
        kafka.stop()
    t1 = time.monotonic()
    ours_broker = OurBroker(binary, settings)
    try:
        ours_res = run_matrix(clients, scenarios, ours_broker.bootstrap, ours=True)
    finally:
        ours_broker.stop()
    t2 = time.monotonic()

    broken = [(k, r) for k, r in sorted(kafka_res.items()) if r["status"] == "fail"]
    passed = failed = skipped = 0
    waits = {s["id"]: s["waits_on"] for s in scenarios}
    for (c, s), r in sorted(ours_res.items()):
        if kafka_res[(c, s)]["status"] != "pass":
            continue
        if waits[s] and r["status"] != "pass":
            skipped += 1
        elif r["status"] == "pass":
            passed += 1
            if waits[s]:
                print(f"note: {c} / {s} passes on ours although it waits on {waits[s]}")
        else:
            failed += 1
            print(f"FAIL on ours: {c} / {s}: {r.get('detail', '')}")
    for (c, s), r in broken:
        print(f"BROKEN (fails on Apache Kafka): {c} / {s}: {r.get('detail', '')}")
    summary = f"{passed} passed, {failed} failed, {skipped} skipped"
    write_report(Path(args.report), clients, scenarios, kafka_res, ours_res, versions(clients),
                 summary)
    print(f"Apache Kafka: {len(kafka_res) - len(broken)} of {len(kafka_res)} ran clean "
          f"in {t1 - t0:.0f}s; ours in {t2 - t1:.0f}s; report {args.report}")
    print(summary)
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
