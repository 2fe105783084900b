//! `broker-perf`: first-figure benchmark of a Kafka broker with a librdkafka client, in the style
//! of Kafka's `ProducerPerformance` / `ConsumerPerformance`.
//!
//! ```text
//! broker-perf startup  --broker-bin target/release/broker        # start-up time and idle RSS
//! broker-perf produce  --bootstrap 127.0.0.1:9092 --topic t --records 1000000 --record-size 1024
//! broker-perf consume  --bootstrap 127.0.0.1:9092 --topic t --records 1000000
//! ```
//!
//! Figures are printed as one line each, `name value unit`, so scripts can collect them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args
        .next()
        .context("usage: broker-perf startup|produce|consume [--key value]...")?;
    let opts = parse_opts(args)?;
    match mode.as_str() {
        "startup" => startup(&opts),
        "produce" => produce(&opts),
        "consume" => consume(&opts),
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

fn opt<'a>(opts: &'a HashMap<String, String>, key: &str, default: &'a str) -> &'a str {
    opts.get(key).map(String::as_str).unwrap_or(default)
}

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

fn produce(opts: &HashMap<String, String>) -> Result<()> {
    let records = num(opts, "records", 1_000_000)?;
    let size = num(opts, "record-size", 1024)? as usize;
    let topic = opt(opts, "topic", "perf");
    let producer: BaseProducer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            opt(opts, "bootstrap", "127.0.0.1:9092"),
        )
        .set("acks", opt(opts, "acks", "1"))
        .set("compression.type", opt(opts, "compression", "none"))
        .set("linger.ms", opt(opts, "linger-ms", "5"))
        .set("batch.size", opt(opts, "batch-size", "1000000"))
        .set("queue.buffering.max.kbytes", "1048576")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    // Values differ per record so that compression has real work, yet stay cheap to make.
    let payload: Vec<u8> = (0..size + 256).map(|i| (i * 31 % 251) as u8).collect();
    let started = Instant::now();
    for i in 0..records {
        let start = (i % 256) as usize;
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(&payload[start..start + size]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r))
                    if e.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    producer.poll(Duration::from_millis(1));
                    record = r;
                }
                Err((e, _)) => bail!("send: {e}"),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let secs = started.elapsed().as_secs_f64();
    let mb = (records as f64 * size as f64) / 1e6;
    println!("produce_records_per_sec {:.0} rec/s", records as f64 / secs);
    println!("produce_throughput {:.1} MB/s", mb / secs);
    Ok(())
}

fn consume(opts: &HashMap<String, String>) -> Result<()> {
    let records = num(opts, "records", 1_000_000)?;
    let topic = opt(opts, "topic", "perf");
    let consumer: BaseConsumer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            opt(opts, "bootstrap", "127.0.0.1:9092"),
        )
        // librdkafka refuses assign() without a group id; the group is never joined.
        .set("group.id", "broker-perf")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .set("queued.min.messages", "1000000")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    if partitions == 0 {
        bail!("topic {topic} has no partitions");
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let started = Instant::now();
    let (mut count, mut bytes) = (0u64, 0u64);
    while count < records {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("consumed only {count} of {records} records in 300 s");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                count += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => bail!("consume: {e}"),
            None => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("consume_records_per_sec {:.0} rec/s", count as f64 / secs);
    println!("consume_throughput {:.1} MB/s", bytes as f64 / 1e6 / secs);
    Ok(())
}
