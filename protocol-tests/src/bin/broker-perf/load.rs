//! Throughput workloads: topic creation, produce with one or several producers, consume.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::{num, opt};

/// Bytes of generated text that record values are cut from.
const PAYLOAD_POOL: usize = 1 << 20;

/// Creates `--topic` with `--partitions` and any `--config k=v,k=v`, waiting for the answer.
/// A topic that already exists is an error: every workload wants a fresh one.
pub fn create_topic(opts: &HashMap<String, String>) -> Result<()> {
    let topic = opt(opts, "topic", "perf");
    let partitions = i32::try_from(num(opts, "partitions", 6)?).context("--partitions")?;
    let admin: AdminClient<DefaultClientContext> = client(opts).create()?;
    let configs: Vec<(&str, &str)> = opt(opts, "config", "")
        .split(',')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').context("--config wants k=v,k=v"))
        .collect::<Result<_>>()?;
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in &configs {
        new_topic = new_topic.set(k, v);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = runtime.block_on(admin.create_topics([&new_topic], &options))?;
    for result in results {
        if let Err((name, code)) = result {
            bail!("creating {name}: {code}");
        }
    }
    Ok(())
}

/// Record values: text-like bytes (lowercase letters and spaces, pseudo-random), so that lz4 and
/// zstd do real work and compress about as well as they would on log lines, not 100×.
pub fn payload_pool() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..PAYLOAD_POOL)
        .map(|_| {
            // xorshift64: reproducible, and far cheaper than the broker work it feeds.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 32 {
                0..=4 => b' ',
                n => b'a' + (n as u8 - 5),
            }
        })
        .collect()
}

/// A producer configured from the common options (`--bootstrap --acks --compression
/// --linger-ms --batch-size`).
pub fn producer(opts: &HashMap<String, String>) -> Result<BaseProducer> {
    Ok(client(opts)
        .set("acks", opt(opts, "acks", "1"))
        .set("compression.type", opt(opts, "compression", "none"))
        .set("linger.ms", opt(opts, "linger-ms", "5"))
        .set("batch.size", opt(opts, "batch-size", "1000000"))
        .set("queue.buffering.max.kbytes", "1048576")
        .set("queue.buffering.max.messages", "1000000")
        .create()?)
}

/// Sends `record`, waiting for room in the producer's queue while it is full.
pub fn send_blocking(producer: &BaseProducer, mut record: BaseRecord<'_, (), [u8]>) -> Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                producer.poll(Duration::from_millis(1));
                record = r;
            }
            Err((e, _)) => bail!("send: {e}"),
        }
    }
}

/// Produces `--records` values of `--record-size` bytes, split over `--producers` producer
/// instances on their own threads (like several client processes), and prints the rate once
/// every producer has flushed.
pub fn produce(opts: &HashMap<String, String>) -> Result<()> {
    let records = num(opts, "records", 1_000_000)?;
    let size = usize::try_from(num(opts, "record-size", 1024)?)?;
    let producers = num(opts, "producers", 1)?.max(1);
    if size > PAYLOAD_POOL / 2 {
        bail!("--record-size at most {}", PAYLOAD_POOL / 2);
    }
    let topic = opt(opts, "topic", "perf");
    let pool = payload_pool();
    let started = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..producers)
            .map(|p| {
                let share = records / producers + u64::from(p < records % producers);
                let pool = &pool;
                scope.spawn(move || produce_share(opts, topic, pool, size, share, p))
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(result) => result?,
                Err(_) => bail!("a producer thread panicked"),
            }
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    let mb = (records as f64 * size as f64) / 1e6;
    println!("produce_records_per_sec {:.0} rec/s", records as f64 / secs);
    println!("produce_throughput {:.1} MB/s", mb / secs);
    println!("produce_bytes {} B", records * size as u64);
    Ok(())
}

/// One producer's part of [`produce`].
fn produce_share(
    opts: &HashMap<String, String>,
    topic: &str,
    pool: &[u8],
    size: usize,
    records: u64,
    seed: u64,
) -> Result<()> {
    let producer = producer(opts)?;
    let mut offset = (seed as usize * 7919) % (pool.len() - size);
    for i in 0..records {
        // Stepping by a prime that is not a multiple of the record size gives varied values.
        offset = (offset + 4099) % (pool.len() - size);
        let record = BaseRecord::<(), [u8]>::to(topic).payload(&pool[offset..offset + size]);
        send_blocking(&producer, record)?;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(())
}

/// A client configuration for `--bootstrap`.
pub fn client(opts: &HashMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set(
        "bootstrap.servers",
        opt(opts, "bootstrap", "127.0.0.1:9092"),
    );
    c
}

/// A consumer configuration that assigns partitions itself: librdkafka refuses `assign()`
/// without a group id, so it gets `group`, which is never joined or committed to.
pub fn reader(opts: &HashMap<String, String>, group: &str) -> ClientConfig {
    let mut c = client(opts);
    c.set("group.id", group).set("enable.auto.commit", "false");
    c
}

/// Reads `--records` records of `--topic` from the start of every partition.
pub fn consume(opts: &HashMap<String, String>) -> Result<()> {
    let records = num(opts, "records", 1_000_000)?;
    let timeout = Duration::from_secs(num(opts, "timeout-s", 300)?);
    let topic = opt(opts, "topic", "perf");
    let consumer: BaseConsumer = reader(opts, "broker-perf")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .set("queued.min.messages", "1000000")
        .create()?;
    assign_all(&consumer, topic, Offset::Beginning)?;
    let started = Instant::now();
    let (mut count, mut bytes) = (0u64, 0u64);
    while count < records {
        if started.elapsed() > timeout {
            bail!("consumed only {count} of {records} records in {timeout:?}");
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
    println!("consume_bytes {bytes} B");
    Ok(())
}

/// Assigns every partition of `topic` to `consumer`, starting at `offset`.
pub fn assign_all(consumer: &BaseConsumer, topic: &str, offset: Offset) -> Result<()> {
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
    for p in 0..partitions {
        tpl.add_partition_offset(topic, i32::try_from(p)?, offset)?;
    }
    consumer.assign(&tpl)?;
    Ok(())
}
