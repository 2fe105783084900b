//! `ReferenceKafka`: an Apache Kafka broker started by `kafka/start-kafka.sh`, the reference every
//! client-behaviour scenario must pass against before it counts.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

use crate::command::run_with_timeout;
use crate::our_broker::tail_of;

/// Start-up includes resolving the jars with Maven on a fresh machine.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// `stop-kafka.sh` escalates to SIGKILL after 30 s; this leaves it room to do so.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings every reference instance gets, matching what the tests give our broker.
pub const DEFAULT_PROPS: &[&str] = &["num.partitions=6"];

/// Where the working directory lives: owned (removed on drop) or kept for the watchdog to remove.
#[derive(Debug)]
enum WorkDir {
    /// Removed when the `ReferenceKafka` is dropped.
    Owned(TempDir),
    /// Removed by the script's watchdog once the test process exits.
    Kept(PathBuf),
}

/// A running Apache Kafka broker (KRaft, one node). Stopped on drop.
///
/// Thread-safe to share: after start-up it is only read (`bootstrap`), which is what the
/// per-binary shared instance ([`ReferenceKafka::shared`]) relies on.
#[derive(Debug)]
pub struct ReferenceKafka {
    /// The script's working directory (server.properties, data/, kafka.log, kafka.pid).
    dir: WorkDir,
    /// The PLAINTEXT port on 127.0.0.1.
    port: u16,
}

impl ReferenceKafka {
    /// Starts a private instance with [`DEFAULT_PROPS`] plus `extra_props` (`key=value`).
    pub fn start(extra_props: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("kafka-ref").tempdir()?;
        let port = launch(dir.path(), extra_props, false)?;
        Ok(ReferenceKafka {
            dir: WorkDir::Owned(dir),
            port,
        })
    }

    /// One instance per test binary, started on first use. Statics are never dropped, so the
    /// script's watchdog stops Kafka and removes its directory when this process exits.
    pub fn shared() -> Result<&'static ReferenceKafka> {
        static SHARED: OnceLock<std::result::Result<ReferenceKafka, String>> = OnceLock::new();
        let started = SHARED.get_or_init(|| {
            let start = || -> Result<ReferenceKafka> {
                let dir = tempfile::Builder::new()
                    .prefix("kafka-ref")
                    .tempdir()?
                    .keep();
                let port = launch(&dir, &[], true)?;
                Ok(ReferenceKafka {
                    dir: WorkDir::Kept(dir),
                    port,
                })
            };
            start().map_err(|e| format!("{e:#}"))
        });
        started
            .as_ref()
            .map_err(|e| anyhow!("the shared reference Kafka did not start: {e}"))
    }

    /// The address clients bootstrap from.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The last lines of Kafka's server log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail_of(&self.dir_path().join("kafka.log"), 40)
    }

    fn dir_path(&self) -> &Path {
        match &self.dir {
            WorkDir::Owned(dir) => dir.path(),
            WorkDir::Kept(dir) => dir,
        }
    }
}

impl Drop for ReferenceKafka {
    fn drop(&mut self) {
        let mut cmd = Command::new(script("stop-kafka.sh"));
        cmd.arg(self.dir_path());
        if let Err(e) = run_with_timeout(cmd, b"", STOP_TIMEOUT) {
            eprintln!("stopping the reference Kafka: {e:#}");
        }
    }
}

/// Runs `start-kafka.sh` on free ports; returns the PLAINTEXT port.
fn launch(dir: &Path, extra_props: &[&str], watchdog: bool) -> Result<u16> {
    let port = free_port()?;
    let mut cmd = Command::new(script("start-kafka.sh"));
    cmd.arg(port.to_string())
        .arg(dir)
        .args(DEFAULT_PROPS)
        .args(extra_props)
        .env("KAFKA_CONTROLLER_PORT", free_port()?.to_string());
    if watchdog {
        cmd.env("KAFKA_PARENT_PID", std::process::id().to_string())
            .env("KAFKA_REMOVE_DIR_ON_EXIT", "1");
    }
    let out = run_with_timeout(cmd, b"", START_TIMEOUT).context("running start-kafka.sh")?;
    if !out.status.success() {
        bail!(
            "start-kafka.sh {port} {} failed ({}):\n{}",
            dir.display(),
            out.status,
            out.stderr
        );
    }
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(port)
}

/// A port that was free a moment ago. The race with other processes is accepted: the script
/// refuses to start on a port that answers, so a collision fails loudly rather than silently.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a probe socket")?;
    Ok(listener.local_addr()?.port())
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("kafka")
        .join(name)
}
