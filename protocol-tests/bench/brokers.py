"""The two brokers under benchmark as processes: start, time to first answer, kill -9, /proc.

Both run on 127.0.0.1 on free ports with their data under one temp dir (same disk). Our broker is
a child of this process; Apache Kafka is started by kafka/start-kafka.sh (setsid, with a watchdog
that stops it if this process dies), so it is tracked by its pid file.
"""

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KAFKA_SCRIPTS = HERE.parent / "kafka"
START_TIMEOUT_S = 180
#: ApiVersions v0, correlation id 7, null client id: the cheapest request every broker answers.
API_VERSIONS_V0 = bytes([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xFF, 0xFF])
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: start-kafka.sh gives Kafka this (the compatibility suite wants prompt group joins); ours gets
#: it too so that both run with the same settings.
OUR_PROPS = ("group.initial.rebalance.delay.ms=0",)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers_api_versions(port):
    """True once the broker on `port` answers an ApiVersions request with a response frame."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(2)
            s.sendall(API_VERSIONS_V0)
            return len(s.recv(4)) > 0
    except OSError:
        return False


def wait_until_answering(port, alive, started, what):
    """Polls until `port` answers; returns seconds since `started`. Fails if `alive()` turns
    false or START_TIMEOUT_S passes."""
    deadline = started + START_TIMEOUT_S
    while not answers_api_versions(port):
        if not alive():
            raise RuntimeError(f"{what} exited before answering ApiVersions on port {port}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer ApiVersions within {START_TIMEOUT_S} s")
        time.sleep(0.002)
    return time.monotonic() - started


def cpu_seconds(pid):
    """utime + stime of one process (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name, which is in parentheses and may contain spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid, key):
    """A `VmRSS` / `VmHWM` line of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def pid_alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def become_subreaper():
    """Makes orphaned descendants (Kafka, once start-kafka.sh exits) children of this process,
    so that a killed Kafka can be reaped here at once. Otherwise it stays a zombie until the
    system's init gets to it, and start-kafka.sh (kill -0) refuses to start while it does."""
    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pid, timeout_s=60):
    """Waits for a killed `pid` to be gone entirely: reaps it if it is a child of this process
    (a JVM stays a zombie until all its threads exit, so the wait blocks), else waits until
    /proc no longer lists it."""
    if pid is None:
        return
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {pid} still listed {timeout_s} s after being killed")
        time.sleep(0.01)


def wait_gone(pid, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {pid} still alive {timeout_s} s after being killed")
        time.sleep(0.01)


class Broker:
    """Common bookkeeping: the peak RSS over every incarnation (VmHWM dies with the process)."""

    name = "?"

    def __init__(self, root):
        self.dir = root / self.name
        self.dir.mkdir(parents=True)
        self.port = None
        self.pid = None
        self.peak_rss_kib = 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def note_peak(self):
        if self.pid and pid_alive(self.pid):
            self.peak_rss_kib = max(self.peak_rss_kib, memory_kib(self.pid, "VmHWM"))

    def data_files(self):
        data = self.dir / "data"
        return [p for p in data.rglob("*.log") if p.is_file()] if data.exists() else []

    def disk_bytes(self):
        """Bytes in log segments (index files are preallocated and sparse, so not counted)."""
        return sum(p.stat().st_size for p in self.data_files())


class OurBroker(Broker):
    """Our broker binary, a child process; default settings apart from listener and log dir."""

    name = "ours"

    def __init__(self, root, binary):
        super().__init__(root)
        self.binary = binary
        self.proc = None
        self.starts = 0

    def start(self, props=()):
        """Starts the broker; returns seconds from spawn to the first answered ApiVersions."""
        self.port = free_port()
        self.starts += 1
        args = [str(self.binary), "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"log.dirs={self.dir / 'data'}"]
        for kv in (*OUR_PROPS, *props):
            args += ["--override", kv]
        out = open(self.dir / f"broker-{self.starts}.log", "wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        self.pid = self.proc.pid
        return wait_until_answering(self.port, lambda: self.proc.poll() is None, started,
                                    "our broker")

    def kill9(self):
        self.note_peak()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)
        self.proc = None

    def stop(self):
        self.note_peak()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=60)
        self.proc = None


class KafkaBroker(Broker):
    """Apache Kafka 4.x (KRaft, one node) from kafka/start-kafka.sh, default settings."""

    name = "kafka"

    def start(self, props=()):
        """Starts Kafka; returns seconds from running start-kafka.sh to the first answered
        ApiVersions (the JVM start and Kafka's own start-up; the storage is formatted on the
        first start only, which the harness does not time)."""
        self.port = free_port()
        env = dict(os.environ, KAFKA_CONTROLLER_PORT=str(free_port()),
                   KAFKA_PARENT_PID=str(os.getpid()))
        started = time.monotonic()
        script = subprocess.Popen(
            [str(KAFKA_SCRIPTS / "start-kafka.sh"), str(self.port), str(self.dir), *props],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            took = wait_until_answering(
                self.port, lambda: script.poll() in (None, 0), started, "start-kafka.sh")
        except RuntimeError as e:
            _, err = script.communicate(timeout=START_TIMEOUT_S)
            raise RuntimeError(f"{e}: {err.decode(errors='replace')}") from None
        script.communicate(timeout=START_TIMEOUT_S)
        self.pid = int((self.dir / "kafka.pid").read_text())
        return took

    def _stop_watchdog(self):
        # The watchdog would run stop-kafka.sh on this dir once Kafka dies, racing a restart.
        watchdog = self.dir / "watchdog.pid"
        if watchdog.exists():
            try:
                os.kill(int(watchdog.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
            watchdog.unlink()

    def kill9(self):
        self.note_peak()
        self._stop_watchdog()
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            wait_gone(self.pid)
        reap(self.pid)
        self.pid = None

    def stop(self):
        self.note_peak()
        if self.pid and pid_alive(self.pid):
            subprocess.run([str(KAFKA_SCRIPTS / "stop-kafka.sh"), str(self.dir)],
                           stdout=subprocess.DEVNULL, timeout=120, check=False)
            wait_gone(self.pid)
        reap(self.pid)
        self.pid = None
