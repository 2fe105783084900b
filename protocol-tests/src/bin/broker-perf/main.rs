//! `broker-perf`: load generator for benchmarking a Kafka broker with a librdkafka client, in the
//! style of Kafka's `ProducerPerformance` / `ConsumerPerformance` / `EndToEndLatency`.
//!
//! ```text
//! broker-perf startup  --broker-bin target/release/broker        # start-up time and idle RSS
//! broker-perf create-topic --bootstrap 127.0.0.1:9092 --topic t --partitions 6
//! broker-perf produce  --bootstrap 127.0.0.1:9092 --topic t --records 1000000 --record-size 1024
//!                      [--producers 1] [--acks 1] [--compression none] [--linger-ms 5]
//! broker-perf consume  --bootstrap 127.0.0.1:9092 --topic t --records 1000000
//! broker-perf e2e      --bootstrap 127.0.0.1:9092 --topic t --rate 10000 --seconds 10
//! broker-perf loopback --bytes 2000000000                         # TCP calibration, no broker
//! ```
//!
//! Figures are printed as one line each, `name value unit`, so scripts can collect them
//! (`protocol-tests/bench/run.py` does).

mod calibrate;
mod e2e;
mod load;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().context(
        "usage: broker-perf startup|create-topic|produce|consume|e2e|loopback [--key value]...",
    )?;
    let opts = parse_opts(args)?;
    match mode.as_str() {
        "startup" => startup(&opts),
        "create-topic" => load::create_topic(&opts),
        "produce" => load::produce(&opts),
        "consume" => load::consume(&opts),
        "e2e" => e2e::run(&opts),
        "loopback" => calibrate::loopback(&opts),
        other => bail!("unknown mode {other}"),
    }
}

fn parse_opts(mut args: impl Iterator<Item = String>) -> Result<HashMap<String, String>> {
    let mut opts = HashMap::new();
    while let Some(key) = args.next() {
        let name = key
            .strip_prefix("--")
            .with_context(|| format!("expected --option, got {key}"))?;
        let value = args
            .next()
            .with_context(|| format!("--{name} needs a value"))?;
        opts.insert(name.to_string(), value);
    }
    Ok(opts)
}

/// The value of `--key`, or `default`.
fn opt<'a>(opts: &'a HashMap<String, String>, key: &str, default: &'a str) -> &'a str {
    opts.get(key).map(String::as_str).unwrap_or(default)
}

/// The value of `--key` as a number, or `default`.
fn num(opts: &HashMap<String, String>, key: &str, default: u64) -> Result<u64> {
    match opts.get(key) {
        Some(v) => v.parse().with_context(|| format!("--{key} {v}")),
        None => Ok(default),
    }
}

/// Starts the broker binary on a free port with an empty data dir, and measures the time from
/// spawn to the first answered ApiVersions request, then the resident set size while idle.
fn startup(opts: &HashMap<String, String>) -> Result<()> {
    let bin = opt(opts, "broker-bin", "target/release/broker");
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args([
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0",
            "--override",
        ])
        .arg(format!("log.dirs={}", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawning {bin}"))?;
    let stdout = child.stdout.take().context("broker stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .context("no 'listening on' line")?;
    let answered = loop {
        if api_versions_answers(addr) {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("broker at {addr} did not answer ApiVersions within 10 s");
        }
    };
    std::thread::sleep(Duration::from_millis(500));
    let rss_kib = rss_kib(child.id())?;
    child.kill()?;
    child.wait()?;
    println!(
        "startup_to_first_answer {:.1} ms",
        answered.as_secs_f64() * 1e3
    );
    println!("idle_rss {:.1} MB", rss_kib as f64 / 1024.0);
    Ok(())
}

/// Sends one ApiVersions v0 request by hand and checks that a response frame comes back.
fn api_versions_answers(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    // size, api key 18, version 0, correlation id 7, null client id
    let request: [u8; 14] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];
    let mut size = [0u8; 4];
    stream.write_all(&request).is_ok() && stream.read_exact(&mut size).is_ok()
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kib = line.split_whitespace().nth(1).context("VmRSS value")?;
    Ok(kib.parse()?)
}
