//! The Kafka consumer edge: group consumers for the processor, and group-less readers that
//! assign every partition of a topic (tables loaded from compacted topics, replays from
//! offset 0, `serve` reading the whole features topic).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::error::EdgeError;

/// How long a metadata or watermark request may take.
const META_TIMEOUT: Duration = Duration::from_secs(10);

/// One record read from a topic, owned.
#[derive(Debug, Clone)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes; `None` is a tombstone.
    pub value: Option<Vec<u8>>,
}

impl Record {
    /// Copies a message out of the client's buffers.
    pub fn of<M: Message>(m: &M) -> Record {
        Record {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
        }
    }

    /// The key as a decimal id, if it is one.
    pub fn key_id(&self) -> Option<u64> {
        key_id(self.key.as_deref())
    }
}

/// A record key as a decimal id (user and title keys are written that way), if it is one.
pub fn key_id(key: Option<&[u8]>) -> Option<u64> {
    std::str::from_utf8(key?).ok()?.parse().ok()
}

fn base_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "20");
    c
}

/// A reader that assigns partitions itself. librdkafka refuses `assign` without a `group.id`,
/// so it gets a private one that never joins a group and never commits.
fn reader_config(bootstrap: &str) -> ClientConfig {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut c = base_config(bootstrap);
    c.set(
        "group.id",
        format!("recommender-reader-{}-{nanos}", std::process::id()),
    )
    .set("enable.auto.commit", "false")
    .set("enable.auto.offset.store", "false");
    c
}

/// A consumer in `group` subscribed to `topics`, offsets committed by the caller only;
/// `context` sees the rebalances. The topics are co-partitioned (keyed by user, same partition
/// count), and the range assignor gives one member partition `p` of every topic: all of a
/// user's events reach the same member, whatever topic they travel on.
pub fn group_consumer<C: ConsumerContext + 'static>(
    bootstrap: &str,
    group: &str,
    topics: &[&str],
    context: C,
) -> Result<StreamConsumer<C>, EdgeError> {
    let c: StreamConsumer<C> = base_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("partition.assignment.strategy", "range")
        .create_with_context(context)?;
    c.subscribe(topics)?;
    Ok(c)
}

/// Every partition of `topics` with its high watermark at the time of the call.
pub async fn high_watermarks(
    bootstrap: &str,
    topics: &[&str],
) -> Result<Vec<(String, i32, i64)>, EdgeError> {
    let bootstrap = bootstrap.to_string();
    let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = base_config(&bootstrap).create()?;
        let mut out = Vec::new();
        for t in &topics {
            for p in partitions(&c, t)? {
                let (_, high) = c.fetch_watermarks(t, p, META_TIMEOUT)?;
                out.push((t.clone(), p, high));
            }
        }
        Ok(out)
    })
    .await?
}

fn partitions<C: Consumer>(c: &C, topic: &str) -> Result<Vec<i32>, EdgeError> {
    let md = c.fetch_metadata(Some(topic), META_TIMEOUT)?;
    let mut ps: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    ps.sort_unstable();
    if ps.is_empty() {
        return Err(EdgeError::Timeout(format!("no partitions for {topic}")));
    }
    Ok(ps)
}

/// A group-less consumer assigned every partition of `topics` from their beginning.
pub async fn assign_from_start(
    bootstrap: &str,
    topics: &[&str],
) -> Result<StreamConsumer, EdgeError> {
    let ends = high_watermarks(bootstrap, topics).await?;
    let c: StreamConsumer = reader_config(bootstrap).create()?;
    let mut tpl = TopicPartitionList::new();
    for (t, p, _) in &ends {
        tpl.add_partition_offset(t, *p, Offset::Beginning)?;
    }
    c.assign(&tpl)?;
    Ok(c)
}

/// Reads every record of `topic` up to the high watermarks taken at the start (a table load
/// or a bounded replay), in partition order per partition.
pub async fn read_to_end(bootstrap: &str, topic: &str) -> Result<Vec<Record>, EdgeError> {
    let ends = high_watermarks(bootstrap, &[topic]).await?;
    let bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = reader_config(&bootstrap).create()?;
        let mut tpl = TopicPartitionList::new();
        let mut remaining = 0usize;
        for (t, p, high) in &ends {
            if *high > 0 {
                tpl.add_partition_offset(t, *p, Offset::Beginning)?;
                remaining += 1;
            }
        }
        let mut out = Vec::new();
        if remaining == 0 {
            return Ok(out);
        }
        c.assign(&tpl)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let end_of = |p: i32| ends.iter().find(|e| e.1 == p).map_or(0, |e| e.2);
        while remaining > 0 {
            if Instant::now() > deadline {
                return Err(EdgeError::Timeout(format!(
                    "reading {} to its end",
                    ends[0].0
                )));
            }
            let Some(m) = c.poll(Duration::from_millis(200)) else {
                continue;
            };
            let r = Record::of(&m?);
            if r.offset + 1 == end_of(r.partition) {
                remaining -= 1;
            }
            if r.offset < end_of(r.partition) {
                out.push(r);
            }
        }
        Ok(out)
    })
    .await?
}
