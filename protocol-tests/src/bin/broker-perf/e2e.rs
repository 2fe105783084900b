//! End-to-end latency at a fixed rate, in the spirit of Kafka's `EndToEndLatency`: the time from
//! handing a record to the producer until a consumer of the same topic receives it. Unlike
//! `EndToEndLatency`, which sends one record at a time, records are sent on a fixed schedule so
//! the broker is measured under a chosen load (the harness uses 10/50/80% of the peak).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::Offset;

use crate::load::{assign_all, payload_pool, producer, send_blocking};
use crate::{num, opt};

/// Bytes at the start of each value that carry its send time (nanoseconds since `epoch`).
const STAMP: usize = 8;
/// How long the consumer waits for the last records after the producer has flushed.
const DRAIN: Duration = Duration::from_secs(30);

/// Sends `--rate` records/s of `--record-size` bytes for `--seconds` to a fresh `--topic` and
/// prints p50/p99/p99.9/max latency of the records a consumer (reading from the beginning, so
/// none are missed) received.
pub fn run(opts: &HashMap<String, String>) -> Result<()> {
    let rate = num(opts, "rate", 10_000)?.max(1);
    let seconds = num(opts, "seconds", 10)?.max(1);
    let size = usize::try_from(num(opts, "record-size", 1024)?)?.max(STAMP);
    let topic = opt(opts, "topic", "perf-e2e");
    let consumer: BaseConsumer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            opt(opts, "bootstrap", "127.0.0.1:9092"),
        )
        .set("group.id", "broker-perf-e2e")
        .set("enable.auto.commit", "false")
        .create()?;
    assign_all(&consumer, topic, Offset::Beginning)?;
    let epoch = Instant::now();
    let sent = AtomicU64::new(0);
    let producing = AtomicBool::new(true);
    let latencies = std::thread::scope(|scope| {
        let consumer_thread = scope.spawn(|| receive(&consumer, epoch, &sent, &producing));
        let produced = send_at_rate(opts, topic, epoch, rate, seconds, size);
        if let Ok(n) = &produced {
            sent.store(*n, Ordering::SeqCst);
        }
        producing.store(false, Ordering::SeqCst);
        let received = match consumer_thread.join() {
            Ok(r) => r,
            Err(_) => bail!("the consumer thread panicked"),
        };
        produced?;
        received
    })?;
    report(latencies, sent.load(Ordering::SeqCst))
}

/// Sends records on a fixed schedule; returns how many were sent (all acknowledged).
fn send_at_rate(
    opts: &HashMap<String, String>,
    topic: &str,
    epoch: Instant,
    rate: u64,
    seconds: u64,
    size: usize,
) -> Result<u64> {
    let mut latency_opts = opts.clone();
    latency_opts
        .entry("linger-ms".into())
        .or_insert_with(|| "0".into());
    let producer = producer(&latency_opts)?;
    let pool = payload_pool();
    let total = rate * seconds;
    let start = Instant::now();
    let mut value = vec![0u8; size];
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        let now = Instant::now();
        if due > now {
            // Polling while waiting serves delivery reports without busy-spinning.
            producer.poll(due - now);
        }
        let nanos = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let offset = (i as usize * 4099) % (pool.len() - size);
        value[STAMP..].copy_from_slice(&pool[offset + STAMP..offset + size]);
        value[..STAMP].copy_from_slice(&nanos.to_be_bytes());
        send_blocking(&producer, BaseRecord::<(), [u8]>::to(topic).payload(&value))?;
    }
    // The achieved rate: below `rate` when the client or broker could not keep up.
    let rate_achieved = total as f64 / start.elapsed().as_secs_f64();
    producer.flush(Duration::from_secs(60))?;
    println!("e2e_rate {rate_achieved:.0} rec/s");
    Ok(total)
}

/// Collects the latency (µs) of every record until all sent ones arrived or [`DRAIN`] passed
/// after the producer finished.
fn receive(
    consumer: &BaseConsumer,
    epoch: Instant,
    sent: &AtomicU64,
    producing: &AtomicBool,
) -> Result<Vec<u64>> {
    let mut latencies = Vec::new();
    let mut drain_deadline = None;
    loop {
        if !producing.load(Ordering::SeqCst) {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN);
            let expected = sent.load(Ordering::SeqCst);
            if latencies.len() as u64 >= expected || Instant::now() > deadline {
                return Ok(latencies);
            }
        }
        match consumer.poll(Duration::from_millis(10)) {
            Some(Ok(m)) => {
                let received = epoch.elapsed();
                let stamp = m
                    .payload()
                    .and_then(|p| p.get(..STAMP))
                    .and_then(|s| <[u8; STAMP]>::try_from(s).ok())
                    .context("a record without a send stamp")?;
                let sent_at = Duration::from_nanos(u64::from_be_bytes(stamp));
                let micros = received.saturating_sub(sent_at).as_micros();
                latencies.push(u64::try_from(micros).unwrap_or(u64::MAX));
            }
            Some(Err(e)) => bail!("consume: {e}"),
            None => {}
        }
    }
}

/// Prints the percentiles in milliseconds, plus how many records were sent and arrived.
fn report(mut latencies: Vec<u64>, sent: u64) -> Result<()> {
    if latencies.is_empty() {
        bail!("no record arrived of {sent} sent");
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let rank = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1] as f64 / 1e3
    };
    println!("e2e_p50 {:.3} ms", at(0.50));
    println!("e2e_p99 {:.3} ms", at(0.99));
    println!("e2e_p999 {:.3} ms", at(0.999));
    println!("e2e_max {:.3} ms", at(1.0));
    println!("e2e_received {} records", latencies.len());
    println!("e2e_sent {sent} records");
    Ok(())
}
