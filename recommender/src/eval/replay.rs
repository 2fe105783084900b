//! The evaluation's trip through Kafka: a data set's rating events are produced, in stream
//! order, to a fresh topic, consumed back, and decoded, so that the models learn from what the
//! broker delivered rather than from the file.
//!
//! The topic has one partition: a partition is the only unit Kafka keeps in order, so one
//! partition makes the consumed order the produced (timestamp, file row) order with no merge
//! step that could itself be wrong. The producer is the pipeline's idempotent [`Producer`],
//! which keeps that order through retries; the reader is the pipeline's group-less
//! [`assign_from_start`]; each record is decoded by [`Event::from_json`], as the processor does.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use thiserror::Error;

use crate::consumer::{assign_from_start, high_watermarks};
use crate::error::EdgeError;
use crate::event::{Event, EventError};
use crate::producer::Producer;

/// How long the consumer may go without a record before the replay gives up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an admin request may take, so that a wrong `--bootstrap` fails in seconds rather
/// than after librdkafka's default minute.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the final flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// How often progress is reported, in records.
const PROGRESS_EVERY: u64 = 1000;

/// Why a replay through the broker failed.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// A Kafka client operation failed.
    #[error(transparent)]
    Edge(#[from] EdgeError),
    /// A consumed record was not a valid event (so not what was produced).
    #[error("record at offset {offset} of {topic} is not a valid event: {source}")]
    Malformed {
        /// The replay topic.
        topic: String,
        /// The record's offset.
        offset: i64,
        /// Why it was rejected.
        source: EventError,
    },
    /// A record came at another offset than the next one (a gap or a duplicate).
    #[error("{topic} delivered offset {got} where {expected} was next")]
    OutOfOrder {
        /// The replay topic.
        topic: String,
        /// The offset after the last one delivered.
        expected: i64,
        /// The offset delivered.
        got: i64,
    },
    /// The topic ended with another number of records than was produced.
    #[error("{topic} holds {held} records after producing {produced}")]
    Count {
        /// The replay topic.
        topic: String,
        /// Records produced and acknowledged.
        produced: u64,
        /// The topic's high watermark after the flush.
        held: i64,
    },
}

/// The phase a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Producing the events to the topic.
    Produce,
    /// Consuming them back.
    Consume,
}

/// A topic name no earlier run can have used: the data set's name (restricted to the
/// characters Kafka allows), this process, and the time.
pub fn fresh_topic_name(dataset: &str) -> String {
    let clean: String = dataset
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("eval-ratings-{clean}-{}-{nanos}", std::process::id())
}

/// Produces `events` to a fresh one-partition topic named after `dataset`, consumes them back
/// and returns the decoded events in offset order. The topic is deleted afterwards, whether the
/// replay succeeded or not (a failed delete is logged, not returned: the numbers are still good).
pub async fn round_trip(
    bootstrap: &str,
    dataset: &str,
    events: &[Event],
    progress: &mut dyn FnMut(Phase, u64),
) -> Result<Vec<Event>, ReplayError> {
    let topic = fresh_topic_name(dataset);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(EdgeError::from)?;
    create_topic(&admin, &topic).await?;
    let result = produce_then_consume(bootstrap, &topic, events, progress).await;
    if let Err(error) = delete_topic(&admin, &topic).await {
        tracing::warn!(%topic, %error, "replay topic not deleted");
    }
    result
}

async fn produce_then_consume(
    bootstrap: &str,
    topic: &str,
    events: &[Event],
    progress: &mut dyn FnMut(Phase, u64),
) -> Result<Vec<Event>, ReplayError> {
    produce(bootstrap, topic, events, progress).await?;
    let produced = events.len() as u64;
    let held = high_watermarks(bootstrap, &[topic])
        .await?
        .iter()
        .map(|(_, _, high)| *high)
        .sum::<i64>();
    if u64::try_from(held).ok() != Some(produced) {
        return Err(ReplayError::Count {
            topic: topic.to_string(),
            produced,
            held,
        });
    }
    consume(bootstrap, topic, produced, progress).await
}

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT))
}

async fn create_topic(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<(), EdgeError> {
    let spec = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let opts = admin_options();
    for result in admin.create_topics([&spec], &opts).await? {
        // An existing topic is an error too: the name is meant to be fresh.
        if let Err((topic, code)) = result {
            return Err(EdgeError::CreateTopic { topic, code });
        }
    }
    Ok(())
}

async fn delete_topic(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<(), EdgeError> {
    let opts = admin_options();
    for result in admin.delete_topics(&[topic], &opts).await? {
        if let Err((topic, code)) = result {
            return Err(EdgeError::Broker(format!("deleting {topic}: {code:?}")));
        }
    }
    Ok(())
}

/// Queues every event in order, keyed by user as on the live topics, then waits for all the
/// acknowledgements.
async fn produce(
    bootstrap: &str,
    topic: &str,
    events: &[Event],
    progress: &mut dyn FnMut(Phase, u64),
) -> Result<(), EdgeError> {
    let producer = Producer::new(bootstrap)?;
    for (n, ev) in (1u64..).zip(events) {
        let json = serde_json::to_vec(ev)?;
        producer
            .enqueue(topic, &ev.user_id.to_string(), &json)
            .await?;
        if n % PROGRESS_EVERY == 0 {
            progress(Phase::Produce, n);
        }
    }
    producer.flush(FLUSH_TIMEOUT).await?;
    progress(Phase::Produce, events.len() as u64);
    Ok(())
}

/// Reads `count` records from the start of the topic's only partition and decodes them.
async fn consume(
    bootstrap: &str,
    topic: &str,
    count: u64,
    progress: &mut dyn FnMut(Phase, u64),
) -> Result<Vec<Event>, ReplayError> {
    let consumer = assign_from_start(bootstrap, &[topic]).await?;
    // `count` equals the high watermark checked by the caller, not a number from the wire.
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut n = 0u64;
    while n < count {
        let m = match tokio::time::timeout(IDLE_TIMEOUT, consumer.recv()).await {
            Ok(m) => m.map_err(EdgeError::from)?,
            Err(_) => {
                return Err(EdgeError::Timeout(format!(
                    "record {n} of {count} from {topic} ({}s without one)",
                    IDLE_TIMEOUT.as_secs()
                ))
                .into())
            }
        };
        // A fresh topic written by one idempotent producer holds offsets 0, 1, 2, ...
        let expected = i64::try_from(n).unwrap_or(i64::MAX);
        if m.offset() != expected {
            return Err(ReplayError::OutOfOrder {
                topic: topic.to_string(),
                expected,
                got: m.offset(),
            });
        }
        let ev = Event::from_json(m.payload().unwrap_or_default()).map_err(|source| {
            ReplayError::Malformed {
                topic: topic.to_string(),
                offset: m.offset(),
                source,
            }
        })?;
        out.push(ev);
        n += 1;
        if n % PROGRESS_EVERY == 0 {
            progress(Phase::Consume, n);
        }
    }
    progress(Phase::Consume, count);
    Ok(out)
}
