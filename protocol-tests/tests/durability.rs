//! Our broker only: data survives a clean restart (SIGTERM) and acknowledged data survives
//! `kill -9`. Skipped, with a printed reason, when `KAFKA_TARGET` is not `ours`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use protocol_tests::clients::{consumer_config, producer_config};
use protocol_tests::records::{
    await_delivery, end_offsets, future_record, generate, produce_all, read_until,
    verify_round_trip, Ack, TestRecord,
};
use protocol_tests::target::wait_until_serving;
use protocol_tests::wait::wait_for_async;
use protocol_tests::{unique_topic, OurBroker, Target};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{DeliveryFuture, FutureProducer, Producer, PurgeConfig};

const TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Acknowledgements to collect before the crash: enough that the kill lands mid-stream.
const ACKS_BEFORE_KILL: usize = 3_000;
/// Records in flight while the crash test produces.
const CRASH_WINDOW: usize = 2_000;

/// Adds the broker's stderr tail to a failure.
fn with_log<T>(broker: &OurBroker, result: Result<T>) -> Result<T> {
    result.with_context(|| format!("broker stderr tail:\n{}", broker.stderr_tail()))
}

#[tokio::test]
async fn records_survive_a_clean_restart() -> Result<()> {
    if !Target::ours_or_skip("records_survive_a_clean_restart")? {
        return Ok(());
    }
    let mut broker = OurBroker::start(&[("num.partitions", "3")])?;
    let result = async {
        wait_until_serving(&broker.bootstrap())?;
        let topic = unique_topic("restart");
        let records = generate("restart", 10_000);
        let producer: FutureProducer = producer_config(&broker.bootstrap()).create()?;
        let acks = produce_all(&producer, &topic, &records, None).await?;
        drop(producer);

        let status = broker.stop()?;
        ensure!(
            status.success(),
            "the broker exited with {status} after SIGTERM"
        );
        broker.restart()?;
        let bootstrap = broker.bootstrap();
        wait_until_serving(&bootstrap)?;

        let consumer: BaseConsumer = consumer_config(&bootstrap).create()?;
        let ends = end_offsets(&acks);
        for (&p, &end) in &ends {
            let marks = consumer.fetch_watermarks(&topic, p, TIMEOUT)?;
            ensure!(
                marks == (0, end),
                "partition {p} after restart: watermarks {marks:?}"
            );
        }
        let consumed = read_until(&consumer, &topic, &ends, READ_TIMEOUT)?;
        verify_round_trip(&records, &acks, &consumed)?;

        // The log end offset was recovered: the next record goes right after the old ones.
        let producer: FutureProducer = producer_config(&bootstrap).create()?;
        let more = generate("after-restart", 1);
        let ack = produce_all(&producer, &topic, &more, Some(0)).await?;
        let end0 = ends.get(&0).copied().unwrap_or(0);
        ensure!(
            ack[0].offset == end0,
            "next offset {} after {end0}",
            ack[0].offset
        );
        Ok(())
    }
    .await;
    with_log(&broker, result)
}

/// What the producing task saw: each acknowledged record and how many it enqueued.
#[derive(Debug, Default)]
struct Produced {
    /// (where acknowledged, value) for every record whose delivery report said success.
    acked: Vec<(Ack, Vec<u8>)>,
    /// Records handed to the producer.
    enqueued: usize,
}

/// Produces unique values to `topic` until `stop` is set, recording acknowledgements in
/// `produced`; then purges what is still queued or in flight and collects the last reports.
async fn produce_until_stopped(
    producer: FutureProducer,
    topic: String,
    produced: Arc<Mutex<Produced>>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut pending: std::collections::VecDeque<(DeliveryFuture, Vec<u8>)> = Default::default();
    let mut i = 0usize;
    let record_ack = |ack: Result<Ack>, value: Vec<u8>| {
        if let Ok(ack) = ack {
            // Test-only std mutex: pushes are short and never held across an await.
            let mut p = produced.lock().unwrap_or_else(|e| e.into_inner());
            p.acked.push((ack, value));
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let value = format!("crash-value-{i:09}").into_bytes();
        let record = TestRecord {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(value.clone()),
            headers: Vec::new(),
            timestamp: protocol_tests::records::now_ms(),
        };
        // The window is far below librdkafka's queue limit, so enqueueing cannot fail.
        let future = producer
            .send_result(future_record(&topic, &record, None))
            .map_err(|(e, _)| anyhow::anyhow!("enqueueing record {i}: {e}"))?;
        pending.push_back((future, value));
        i += 1;
        produced.lock().unwrap_or_else(|e| e.into_inner()).enqueued = i;
        if pending.len() >= CRASH_WINDOW {
            if let Some((future, value)) = pending.pop_front() {
                // A failed delivery here (broker gone) just means "not acknowledged".
                record_ack(await_delivery(future).await, value);
            }
        }
    }
    producer.purge(PurgeConfig::default().queue().inflight());
    for (future, value) in pending {
        record_ack(await_delivery(future).await, value);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() -> Result<()> {
    if !Target::ours_or_skip("acknowledged_records_survive_kill_9")? {
        return Ok(());
    }
    let overrides = [
        ("num.partitions", "3"),
        ("log.flush.interval.messages", "1"),
    ];
    let mut broker = OurBroker::start(&overrides)?;
    let result = async {
        wait_until_serving(&broker.bootstrap())?;
        let topic = unique_topic("crash");
        let producer: FutureProducer = producer_config(&broker.bootstrap())
            .set("message.timeout.ms", "10000")
            .create()?;
        let produced = Arc::new(Mutex::new(Produced::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(produce_until_stopped(
            producer,
            topic.clone(),
            produced.clone(),
            stop.clone(),
        ));
        let acks_so_far = || {
            produced
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .acked
                .len()
        };
        wait_for_async(
            &format!("{ACKS_BEFORE_KILL} acknowledgements before the kill"),
            Duration::from_secs(60),
            || async { Ok((acks_so_far() >= ACKS_BEFORE_KILL).then_some(())) },
        )
        .await?;
        broker.kill9()?;
        stop.store(true, Ordering::Relaxed);
        task.await??;
        let produced = std::mem::take(&mut *produced.lock().unwrap_or_else(|e| e.into_inner()));
        println!(
            "killed after {} acknowledgements of {} enqueued records",
            produced.acked.len(),
            produced.enqueued
        );

        broker.restart()?;
        let bootstrap = broker.bootstrap();
        wait_until_serving(&bootstrap)?;
        check_after_crash(&bootstrap, &topic, &produced.acked)
    }
    .await;
    with_log(&broker, result)
}

/// Reads the whole topic after the crash: offsets contiguous from 0 to the high watermark (so
/// every stored record parsed), no value twice, every acknowledged value at its offset.
fn check_after_crash(bootstrap: &str, topic: &str, acked: &[(Ack, Vec<u8>)]) -> Result<()> {
    let consumer: BaseConsumer = consumer_config(bootstrap).create()?;
    let mut ends = BTreeMap::new();
    for p in 0..3 {
        let (low, high) = consumer.fetch_watermarks(topic, p, TIMEOUT)?;
        ensure!(
            low == 0,
            "partition {p}: log start offset {low} after the crash"
        );
        ends.insert(p, high);
    }
    let consumed = read_until(&consumer, topic, &ends, READ_TIMEOUT)?;

    let mut stored: HashMap<Ack, Vec<u8>> = HashMap::with_capacity(consumed.len());
    let mut next_offset: BTreeMap<i32, i64> = BTreeMap::new();
    let mut seen_values: HashMap<Vec<u8>, Ack> = HashMap::with_capacity(consumed.len());
    for c in &consumed {
        let expected = next_offset.entry(c.at.partition).or_insert(0);
        ensure!(
            c.at.offset == *expected,
            "partition {}: read offset {} where {expected} was next",
            c.at.partition,
            c.at.offset
        );
        *expected += 1;
        let value = c.record.value.clone().unwrap_or_default();
        if let Some(first) = seen_values.insert(value.clone(), c.at) {
            anyhow::bail!(
                "value {:?} stored twice, at {first:?} and {:?}",
                String::from_utf8_lossy(&value),
                c.at
            );
        }
        stored.insert(c.at, value);
    }
    for (p, &end) in &ends {
        let read = next_offset.get(p).copied().unwrap_or(0);
        ensure!(
            read == end,
            "partition {p}: read up to {read}, high watermark {end}"
        );
    }
    for (ack, value) in acked {
        match stored.get(ack) {
            Some(v) if v == value => {}
            Some(v) => anyhow::bail!(
                "acknowledged {:?} at {ack:?} but {:?} is stored there",
                String::from_utf8_lossy(value),
                String::from_utf8_lossy(v)
            ),
            None => anyhow::bail!(
                "acknowledged {:?} at {ack:?} is lost ({} records survived)",
                String::from_utf8_lossy(value),
                consumed.len()
            ),
        }
    }
    Ok(())
}
