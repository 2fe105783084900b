//! End-to-end latency at a fixed rate, in the spirit of Kafka's `EndToEndLatency`: the time from
//! handing a record to the producer until a consumer of the same topic receives it. Unlike
//! `EndToEndLatency`, which sends one record at a time, records are sent on a fixed schedule so
//! the broker is measured under a chosen load (the harness uses 10/50/80% of the peak).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::Offset;

use crate::load::{assign_all, payload_pool, producer, reader, send_blocking};
use crate::{num, opt};

/// Bytes at the start of each value that carry its send time (nanoseconds since `epoch`).
const STAMP: usize = 8;
/// The byte after the stamp: 1 for a warm-up record, whose latency is not counted.
const WARMUP_FLAG: usize = STAMP;
/// Stamp and flag.
const HEADER: usize = STAMP + 1;
/// How long the consumer waits for the last records after the producer has flushed.
const DRAIN: Duration = Duration::from_secs(30);

/// Sends `--rate` records/s of `--record-size` bytes for `--warmup-s` plus `--seconds` to a fresh
/// `--topic` and prints p50/p99/p99.9/max latency of the records a consumer (reading from the
/// beginning, so none are missed) received after the warm-up. The warm-up keeps one-off costs
/// of a new topic (metadata, leader discovery, first fetch) out of the percentiles.
pub fn run(opts: &HashMap<String, String>) -> Result<()> {
    let rate = num(opts, "rate", 10_000)?.max(1);
    let seconds = num(opts, "seconds", 10)?.max(1);
    let size = usize::try_from(num(opts, "record-size", 1024)?)?.max(HEADER);
    let warmup = num(opts, "warmup-s", 1)?;
    let topic = opt(opts, "topic", "perf-e2e");
    let consumer: BaseConsumer = reader(opts, "broker-perf-e2e").create()?;
    assign_all(&consumer, topic, Offset::Beginning)?;
    let epoch = Instant::now();
    let sent = AtomicU64::new(0);
    let producing = AtomicBool::new(true);
    let received = std::thread::scope(|scope| {
        let consumer_thread = scope.spawn(|| receive(&consumer, epoch, &sent, &producing));
        let schedule = Schedule {
            rate,
            warmup: rate * warmup,
            total: rate * (warmup + seconds),
        };
        let produced = send_at_rate(opts, topic, epoch, &schedule, size);
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
    report(received, sent.load(Ordering::SeqCst))
}

/// How many records to send, how fast, and how many of the first are warm-up.
#[derive(Debug)]
struct Schedule {
    /// Records per second.
    rate: u64,
    /// The first `warmup` records are not measured.
    warmup: u64,
    /// Records in all.
    total: u64,
}

/// Sends records on a fixed schedule; returns how many were sent (all acknowledged).
fn send_at_rate(
    opts: &HashMap<String, String>,
    topic: &str,
    epoch: Instant,
    schedule: &Schedule,
    size: usize,
) -> Result<u64> {
    let Schedule {
        rate,
        warmup,
        total,
    } = *schedule;
    // The producer batches as in the throughput runs (linger.ms 5, the client default), so the
    // rates, taken from those runs' peaks, are within what the client can send.
    let producer = producer(opts)?;
    let pool = payload_pool();
    let start = Instant::now();
    let mut measured_start = start;
    let mut value = vec![0u8; size];
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        let now = Instant::now();
        if due > now {
            // Polling while waiting serves delivery reports without busy-spinning.
            producer.poll(due - now);
        }
        if i == warmup {
            measured_start = Instant::now();
        }
        let nanos = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let offset = (i as usize * 4099) % (pool.len() - size);
        value[HEADER..].copy_from_slice(&pool[offset + HEADER..offset + size]);
        value[..STAMP].copy_from_slice(&nanos.to_be_bytes());
        value[WARMUP_FLAG] = u8::from(i < warmup);
        send_blocking(&producer, BaseRecord::<(), [u8]>::to(topic).payload(&value))?;
    }
    // The achieved rate: below `rate` when the client or broker could not keep up.
    let rate_achieved = (total - warmup) as f64 / measured_start.elapsed().as_secs_f64();
    producer.flush(Duration::from_secs(60))?;
    println!("e2e_rate {rate_achieved:.0} rec/s");
    Ok(total)
}

/// What the consumer saw: the latency (µs) of each measured record, and how many arrived in all.
#[derive(Debug)]
struct Received {
    /// Latencies of the records sent after the warm-up.
    latencies: Vec<u64>,
    /// Records received, warm-up included.
    arrived: u64,
}

/// Collects latencies until all sent records arrived or [`DRAIN`] passed after the producer
/// finished.
fn receive(
    consumer: &BaseConsumer,
    epoch: Instant,
    sent: &AtomicU64,
    producing: &AtomicBool,
) -> Result<Received> {
    let mut latencies = Vec::new();
    let mut arrived = 0u64;
    let mut drain_deadline = None;
    loop {
        if !producing.load(Ordering::SeqCst) {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN);
            let expected = sent.load(Ordering::SeqCst);
            if arrived >= expected || Instant::now() > deadline {
                return Ok(Received { latencies, arrived });
            }
        }
        match consumer.poll(Duration::from_millis(10)) {
            Some(Ok(m)) => {
                let received = epoch.elapsed();
                arrived += 1;
                let header = m
                    .payload()
                    .and_then(|p| p.get(..HEADER))
                    .context("a record without a send stamp")?;
                if header[WARMUP_FLAG] != 0 {
                    continue;
                }
                let stamp = <[u8; STAMP]>::try_from(&header[..STAMP])?;
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
fn report(received: Received, sent: u64) -> Result<()> {
    let Received {
        mut latencies,
        arrived,
    } = received;
    if latencies.is_empty() {
        bail!("no measured record arrived ({arrived} of {sent} in all)");
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
    println!("e2e_received {arrived} records");
    println!("e2e_sent {sent} records");
    Ok(())
}
