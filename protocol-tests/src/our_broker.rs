//! `OurBroker`: our broker binary as a child process, on a private data directory.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

use crate::wait::wait_for;

/// How long the broker may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd broker may take to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The line prefix the broker prints on stdout once its listener is bound.
const LISTENING: &str = "listening on ";

/// One running (or stopped) instance of our broker.
///
/// The temp directory holds `data/` (its `log.dirs`) and one stdout and stderr log per start;
/// it outlives restarts, so a restarted broker recovers the same partitions. The process is
/// killed when this value is dropped. Not shared between threads: one test owns it.
#[derive(Debug)]
pub struct OurBroker {
    /// The broker executable.
    binary: PathBuf,
    /// Data directory and logs.
    dir: TempDir,
    /// Extra `--override key=value` settings, reapplied on restart.
    overrides: Vec<String>,
    /// The running process, if any.
    child: Option<Child>,
    /// Copies the broker's stdout to its log file after start-up.
    stdout_pump: Option<thread::JoinHandle<()>>,
    /// Where the broker listens (from its `listening on` line).
    addr: SocketAddr,
    /// How many times the broker was started; numbers the log files.
    starts: u32,
}

impl OurBroker {
    /// Starts the broker with `key=value` overrides in addition to the listener and log dir.
    pub fn start(overrides: &[(&str, &str)]) -> Result<Self> {
        Self::start_binary(broker_binary()?, overrides)
    }

    /// Starts `binary` as the broker (the harness's own tests use a stand-in).
    pub fn start_binary(binary: PathBuf, overrides: &[(&str, &str)]) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("our-broker").tempdir()?;
        let overrides = overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut broker = OurBroker {
            binary,
            dir,
            overrides,
            child: None,
            stdout_pump: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            starts: 0,
        };
        broker.spawn(0)?;
        Ok(broker)
    }

    /// The address clients bootstrap from, `127.0.0.1:port`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The partition data directory (`log.dirs`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Kills the broker with SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("sending SIGKILL to the broker")?;
            child.wait().context("reaping the killed broker")?;
        }
        self.join_pump();
        Ok(())
    }

    /// Sends SIGTERM and waits for the broker to exit; returns its exit status.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the broker is not running");
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", child.id());
        }
        let waited = wait_for("the broker to exit after SIGTERM", STOP_TIMEOUT, || {
            Ok(child.try_wait()?)
        });
        let exit = match waited {
            Ok(exit) => exit,
            Err(e) => {
                // Best effort: it is already failing; do not leave the process behind.
                let _ = child.kill();
                let _ = child.wait();
                self.join_pump();
                bail!("{e:#}\n{}", self.stderr_tail());
            }
        };
        self.join_pump();
        Ok(exit)
    }

    /// Starts the broker again on the same data directory, stopping it first (SIGTERM) if it
    /// still runs. Reuses the previous port when it can be bound again, else takes a new one.
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            self.stop()?;
        }
        let old_port = self.addr.port();
        if self.spawn(old_port).is_ok() {
            return Ok(());
        }
        self.spawn(0)
            .with_context(|| format!("restarting (port {old_port} could not be reused either)"))
    }

    /// The last lines the broker wrote to stderr, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let path = self.log_path("stderr");
        tail_of(&path, 40)
    }

    fn log_path(&self, stream: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("broker-{}.{stream}.log", self.starts))
    }

    fn spawn(&mut self, port: u16) -> Result<()> {
        self.starts += 1;
        let stderr = File::create(self.log_path("stderr"))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--override")
            .arg(format!("listeners=PLAINTEXT://127.0.0.1:{port}"))
            .arg("--override")
            .arg(format!("log.dirs={}", self.data_dir().display()));
        for kv in &self.overrides {
            cmd.arg("--override").arg(kv);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("broker stdout")?;
        let stdout_log = File::create(self.log_path("stdout"))?;
        let (tx, rx) = mpsc::channel();
        self.stdout_pump = Some(thread::spawn(move || pump_stdout(stdout, stdout_log, tx)));

        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                self.addr = addr;
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                let _ = child.kill();
                let exit = child.wait();
                self.join_pump();
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("no `{LISTENING}<addr>` line on stdout within {START_TIMEOUT:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        format!("the broker exited before listening ({exit:?})")
                    }
                };
                Err(anyhow!(
                    "starting {} on port {port}: {why}\nstderr tail:\n{}",
                    self.binary.display(),
                    self.stderr_tail()
                ))
            }
        }
    }

    fn join_pump(&mut self) {
        if let Some(pump) = self.stdout_pump.take() {
            // The pump ends at EOF, i.e. once the process is gone; a panic in it only loses log.
            let _ = pump.join();
        }
    }
}

impl Drop for OurBroker {
    fn drop(&mut self) {
        // Nothing to report from a destructor: the test's own result already says what failed.
        let _ = self.kill9();
    }
}

/// Copies the broker's stdout to `log`, reporting the address of the first `listening on` line.
fn pump_stdout(stdout: impl std::io::Read, mut log: File, tx: mpsc::Sender<SocketAddr>) {
    let mut announced = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if !announced {
            if let Some(addr) = parse_listening(&line) {
                announced = true;
                let _ = tx.send(addr);
            }
        }
    }
}

/// Extracts `ip:port` from a line containing `listening on <ip:port>`. Stops at the first
/// character that cannot be part of an address, so colour codes from a logger do not matter.
fn parse_listening(line: &str) -> Option<SocketAddr> {
    let line = strip_ansi(line);
    let rest = &line[line.find(LISTENING)? + LISTENING.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), which loggers add when colouring.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip up to and including the sequence's final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Finds the broker executable: `BROKER_BIN`, then release and debug builds in the target dir.
fn broker_binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("BROKER_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("BROKER_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut target_dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        target_dirs.push(PathBuf::from(dir));
    }
    target_dirs.push(workspace.join("target"));
    let candidates: Vec<PathBuf> = target_dirs
        .iter()
        .flat_map(|t| [t.join("release/broker"), t.join("debug/broker")])
        .collect();
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "no broker binary found (looked at {candidates:?}); run `cargo build -p broker` \
             or set BROKER_BIN"
            )
        })
}

/// The last `lines` lines of a text file, or a note saying why there are none.
pub(crate) fn tail_of(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in broker: binds the `listeners` port (0 = any), announces it like ours does,
    /// exits 0 on SIGTERM.
    const FAKE_BROKER: &str = r#"#!/usr/bin/env python3
import signal, socket, sys
port = 0
for arg in sys.argv[1:]:
    if arg.startswith("listeners="):
        port = int(arg.rsplit(":", 1)[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("INFO broker: listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
while True:
    signal.pause()
"#;

    fn fake_broker(dir: &Path) -> PathBuf {
        let path = dir.join("fake-broker");
        std::fs::write(&path, FAKE_BROKER).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn start_stop_kill_and_restart_on_the_same_port() {
        let bin_dir = tempfile::tempdir().unwrap();
        let mut broker = OurBroker::start_binary(fake_broker(bin_dir.path()), &[]).unwrap();
        let first = broker.bootstrap();
        TcpStream::connect(&first).unwrap();

        assert!(broker.stop().unwrap().success());
        assert!(
            TcpStream::connect(&first).is_err(),
            "stopped broker still listens"
        );
        broker.restart().unwrap();
        assert_eq!(broker.bootstrap(), first, "restart should reuse the port");
        TcpStream::connect(&first).unwrap();

        broker.kill9().unwrap();
        assert!(
            TcpStream::connect(&first).is_err(),
            "killed broker still listens"
        );
        broker.restart().unwrap();
        TcpStream::connect(broker.bootstrap()).unwrap();
        let stdout = std::fs::read_to_string(broker.log_path("stdout")).unwrap();
        assert!(stdout.contains("listening on"), "stdout log: {stdout:?}");
    }

    #[test]
    fn a_broker_that_exits_early_is_reported_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failing-broker");
        std::fs::write(&path, "#!/bin/sh\necho 'bad config: nope' >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = OurBroker::start_binary(path, &[]).unwrap_err().to_string();
        assert!(err.contains("exited before listening"), "{err}");
        assert!(err.contains("bad config: nope"), "{err}");
    }

    #[test]
    fn parses_the_listening_line() {
        let addr = parse_listening("2025 INFO broker: listening on 127.0.0.1:40123 (PLAINTEXT)");
        assert_eq!(addr, Some("127.0.0.1:40123".parse().unwrap()));
        let colored =
            parse_listening("\u{1b}[2mlistening on\u{1b}[0m \u{1b}[3m127.0.0.1:9\u{1b}[0m");
        assert_eq!(colored, Some("127.0.0.1:9".parse().unwrap()));
        let trailing = parse_listening("listening on [::1]:9092\u{1b}[0m");
        assert_eq!(trailing, Some("[::1]:9092".parse().unwrap()));
        assert_eq!(parse_listening("listening on"), None);
        assert_eq!(parse_listening("starting up"), None);
    }
}
