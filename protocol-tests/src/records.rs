//! Test records: generating varied ones, producing them with delivery reports, reading them back
//! with `assign()`, and checking that what came back is byte-identical to what was sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

/// Records in flight at once while producing: enough to keep batches full, bounded so the
/// producer queue (100,000 messages by default) never fills.
const WINDOW: usize = 20_000;

/// One record as the tests send it and expect it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord {
    /// Record key (`None` = null key).
    pub key: Option<Vec<u8>>,
    /// Record value (`None` = null value).
    pub value: Option<Vec<u8>>,
    /// Headers in order, duplicates kept; a `None` value is a null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The producer-set CreateTime, in ms since the epoch.
    pub timestamp: i64,
}

/// Where the broker acknowledged a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ack {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// A record as read back.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Where it was read.
    pub at: Ack,
    /// Its content; `timestamp` is the message timestamp of whichever type.
    pub record: TestRecord,
    /// The timestamp with its type, to check it stayed CreateTime.
    pub timestamp: Timestamp,
}

/// `count` keyed records tagged `tag`: unique keys, values of varied size and content (text that
/// compresses, random bytes that do not, empty ones), headers in several shapes (none, duplicate
/// keys, null and empty values, non-ASCII keys) and timestamps within the last ten minutes that
/// are not monotonic.
pub fn generate(tag: &str, count: usize) -> Vec<TestRecord> {
    let now = now_ms();
    let base = now - 600_000;
    (0..count)
        .map(|i| {
            let mut rng = SplitMix(i as u64 ^ 0x005e_ed0f_7e57);
            let value = match i % 97 {
                0 => Vec::new(),
                _ => {
                    let mut v = format!("{tag} record {i} ").repeat(1 + i % 7).into_bytes();
                    v.extend((0..rng.next() % 64).map(|_| rng.next() as u8));
                    v
                }
            };
            TestRecord {
                key: Some(format!("{tag}-key-{i:07}").into_bytes()),
                value: Some(value),
                headers: headers_for(i, &mut rng),
                timestamp: base + ((i as i64 * 7919) % 600_000),
            }
        })
        .collect()
}

fn headers_for(i: usize, rng: &mut SplitMix) -> Vec<(String, Option<Vec<u8>>)> {
    let h = |k: &str, v: Option<&[u8]>| (k.to_string(), v.map(<[u8]>::to_vec));
    match i % 5 {
        0 => Vec::new(),
        1 => vec![h("trace-id", Some(format!("{i:016x}").as_bytes()))],
        2 => vec![
            h("dup", Some(b"a")),
            h("dup", Some(b"b")),
            h("empty", Some(b"")),
        ],
        3 => vec![h("null-value", None)],
        _ => {
            let random: Vec<u8> = (0..rng.next() % 32).map(|_| rng.next() as u8).collect();
            vec![
                h("clé-ключ", Some(&random)),
                h("dup", Some(b"x")),
                h("dup", Some(b"x")),
            ]
        }
    }
}

/// Produces `records` to `topic` (to `partition`, else by the key's hash) and returns each
/// record's acknowledgement, in send order. Fails on the first delivery error.
pub async fn produce_all(
    producer: &FutureProducer,
    topic: &str,
    records: &[TestRecord],
    partition: Option<i32>,
) -> Result<Vec<Ack>> {
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut acks = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        loop {
            match producer.send_result(future_record(topic, r, partition)) {
                Ok(future) => {
                    pending.push_back(future);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    let oldest = pending
                        .pop_front()
                        .context("queue full with nothing queued")?;
                    acks.push(await_delivery(oldest).await?);
                }
                Err((e, _)) => bail!("enqueueing record {i}: {e}"),
            }
        }
        if pending.len() >= WINDOW {
            if let Some(oldest) = pending.pop_front() {
                acks.push(await_delivery(oldest).await?);
            }
        }
    }
    for future in pending {
        acks.push(await_delivery(future).await?);
    }
    Ok(acks)
}

/// Builds the rdkafka record for `r`.
pub fn future_record<'a>(
    topic: &'a str,
    r: &'a TestRecord,
    partition: Option<i32>,
) -> FutureRecord<'a, [u8], [u8]> {
    let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
    for (key, value) in &r.headers {
        headers = headers.insert(Header {
            key,
            value: value.as_deref(),
        });
    }
    let mut rec = FutureRecord::to(topic)
        .headers(headers)
        .timestamp(r.timestamp);
    rec.key = r.key.as_deref();
    rec.payload = r.value.as_deref();
    rec.partition = partition;
    rec
}

/// Waits for one delivery report.
pub async fn await_delivery(future: DeliveryFuture) -> Result<Ack> {
    match future.await {
        Ok(Ok(d)) => Ok(Ack {
            partition: d.partition,
            offset: d.offset,
        }),
        Ok(Err((e, _))) => Err(anyhow!("delivery failed: {e}")),
        Err(_) => Err(anyhow!("delivery report lost: the producer was dropped")),
    }
}

/// The end offset (last acknowledged offset + 1) of every partition in `acks`.
pub fn end_offsets(acks: &[Ack]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for a in acks {
        let end = ends.entry(a.partition).or_insert(0);
        *end = (a.offset + 1).max(*end);
    }
    ends
}

/// Reads `topic` from the beginning of each partition in `ends` until its offset `end - 1` has
/// been read; fails on any consumer error (a corrupt batch, a CRC mismatch) or after `timeout`.
pub fn read_until(
    consumer: &BaseConsumer,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
    timeout: Duration,
) -> Result<Vec<Consumed>> {
    let mut tpl = TopicPartitionList::new();
    for &p in ends.keys() {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut remaining: BTreeMap<i32, i64> = ends
        .iter()
        .filter(|(_, &e)| e > 0)
        .map(|(&p, &e)| (p, e))
        .collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while !remaining.is_empty() {
        if Instant::now() >= deadline {
            bail!(
                "gave up after {timeout:?} reading {topic}: {} records read, partitions not yet \
                 at their end offset (partition: end): {remaining:?}",
                out.len()
            );
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg.with_context(|| format!("consuming {topic} after {} records", out.len()))?;
        let at = Ack {
            partition: msg.partition(),
            offset: msg.offset(),
        };
        if remaining
            .get(&at.partition)
            .is_some_and(|&end| at.offset + 1 >= end)
        {
            remaining.remove(&at.partition);
        }
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        let timestamp = msg.timestamp();
        out.push(Consumed {
            at,
            record: TestRecord {
                key: msg.key().map(<[u8]>::to_vec),
                value: msg.payload().map(<[u8]>::to_vec),
                headers,
                timestamp: timestamp.to_millis().unwrap_or(-1),
            },
            timestamp,
        });
    }
    Ok(out)
}

/// Checks that `consumed` is exactly `sent` (acknowledged at `acks`, same order): every record
/// once, at its acknowledged offset, byte-identical with the same CreateTime, and each
/// partition read in offset order matching send order.
pub fn verify_round_trip(sent: &[TestRecord], acks: &[Ack], consumed: &[Consumed]) -> Result<()> {
    if acks.len() != sent.len() {
        bail!(
            "{} records sent but {} acknowledged",
            sent.len(),
            acks.len()
        );
    }
    let mut by_ack: HashMap<Ack, usize> = HashMap::with_capacity(acks.len());
    for (i, a) in acks.iter().enumerate() {
        if let Some(prev) = by_ack.insert(*a, i) {
            bail!("records {prev} and {i} were both acknowledged at {a:?}");
        }
    }
    let mut problems = Vec::new();
    let mut seen = vec![false; sent.len()];
    let mut last_in_partition: HashMap<i32, (i64, usize)> = HashMap::new();
    for c in consumed {
        let Some(&i) = by_ack.get(&c.at) else {
            problems.push(format!(
                "read a record at {:?} that nobody produced there",
                c.at
            ));
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            problems.push(format!("record {i} at {:?} read twice", c.at));
        }
        if c.record != sent[i] {
            problems.push(format!(
                "record {i} at {:?} differs:\n  sent {:?}\n  read {:?}",
                c.at, sent[i], c.record
            ));
        }
        if !matches!(c.timestamp, Timestamp::CreateTime(_)) {
            problems.push(format!(
                "record {i}: timestamp {:?}, not CreateTime",
                c.timestamp
            ));
        }
        if let Some((off, idx)) = last_in_partition.insert(c.at.partition, (c.at.offset, i)) {
            if off >= c.at.offset || idx >= i {
                problems.push(format!(
                    "partition {} out of order: offset {off} (record {idx}) then offset {} \
                     (record {i})",
                    c.at.partition, c.at.offset
                ));
            }
        }
    }
    let missing: Vec<usize> = (0..sent.len()).filter(|&i| !seen[i]).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} records never read back, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
    bail!(
        "{} problems, first ones:\n{}",
        problems.len(),
        shown.join("\n")
    )
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A tiny deterministic generator (SplitMix64), so failures reproduce.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    fn consumed(at: Ack, record: &TestRecord) -> Consumed {
        Consumed {
            at,
            record: record.clone(),
            timestamp: Timestamp::CreateTime(record.timestamp),
        }
    }

    #[test]
    fn verify_accepts_an_exact_copy_and_rejects_changes() {
        let sent = generate("t", 6);
        let acks: Vec<Ack> = (0..6i32)
            .map(|i| Ack {
                partition: i % 2,
                offset: i64::from(i / 2),
            })
            .collect();
        let good: Vec<Consumed> = sent
            .iter()
            .zip(&acks)
            .map(|(r, a)| consumed(*a, r))
            .collect();
        verify_round_trip(&sent, &acks, &good).unwrap();

        let mut changed = good.clone();
        changed[3].record.headers.reverse();
        changed[3].record.headers.push(("extra".into(), None));
        assert!(verify_round_trip(&sent, &acks, &changed).is_err());

        let mut missing = good.clone();
        missing.pop();
        assert!(verify_round_trip(&sent, &acks, &missing).is_err());

        let mut twice = good.clone();
        twice.push(good[0].clone());
        assert!(verify_round_trip(&sent, &acks, &twice).is_err());

        let mut log_append = good;
        log_append[0].timestamp = Timestamp::LogAppendTime(sent[0].timestamp);
        assert!(verify_round_trip(&sent, &acks, &log_append).is_err());
    }

    #[test]
    fn generated_records_cover_the_interesting_shapes() {
        let records = generate("t", 200);
        assert!(records.iter().any(|r| r.value.as_deref() == Some(&b""[..])));
        assert!(records.iter().any(|r| r.headers.is_empty()));
        assert!(records
            .iter()
            .any(|r| r.headers.iter().any(|(_, v)| v.is_none())));
        assert!(records
            .iter()
            .any(|r| r.headers.len() == 3 && r.headers[0].0 == r.headers[1].0));
        let ts: Vec<i64> = records.iter().map(|r| r.timestamp).collect();
        assert!(
            ts.windows(2).any(|w| w[0] > w[1]),
            "timestamps should not be monotonic"
        );
    }
}
