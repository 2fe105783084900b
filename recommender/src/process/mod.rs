//! `process`: the stream processor. A member of a consumer group over the activity topics; it
//! folds each event into the user's signals (enriched with the catalogue table) and writes the
//! user's new features to the compacted `user-behavior-features` topic, which is also its
//! changelog: whenever it is assigned partitions, it restores state from that topic before the
//! first record. Offsets are committed only after the feature records they produced are
//! acknowledged, so a crash replays, and the per-user input positions skip what was already
//! folded in. Events are enriched with the catalogue (loaded at start) and the `user-profiles`
//! table, which the group also consumes, co-partitioned with the activity topics, so that it
//! stays current.

pub mod state;
pub mod tables;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::consumer::{group_consumer, key_id};
use crate::error::EdgeError;
use crate::producer::Producer;
use crate::signals::SignalConfig;
use crate::topics;
use state::{Outcome, ProcessorState};

/// The default consumer group of the processors.
pub const GROUP: &str = "recommender-process";

/// How to run one processor.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// Consumer group.
    pub group: String,
    /// How often offsets are committed.
    pub commit_interval: Duration,
    /// Where features are written and state is restored from: normally
    /// [`topics::USER_BEHAVIOR_FEATURES`]. A new topic with a new group rebuilds every user's
    /// features from offset 0 while `serve` keeps reading the old one.
    pub features_topic: String,
}

impl ProcessConfig {
    /// The production settings: the default group and features topic.
    pub fn new(bootstrap: &str) -> ProcessConfig {
        ProcessConfig {
            bootstrap: bootstrap.to_string(),
            group: GROUP.to_string(),
            commit_interval: Duration::from_millis(500),
            features_topic: topics::USER_BEHAVIOR_FEATURES.to_string(),
        }
    }
}

/// Counters a caller (tests, the status line) can read while the processor runs.
#[derive(Debug, Default)]
pub struct ProcessCounters {
    /// Events folded in.
    pub applied: AtomicU64,
    /// Records skipped because they were already folded in.
    pub duplicates: AtomicU64,
    /// Malformed records skipped (and sent to the dead-letter topic).
    pub malformed: AtomicU64,
    /// Records of `user-profiles` taken into the profile table.
    pub profiles: AtomicU64,
    /// Users restored from the changelog at the last (re)load.
    pub restored: AtomicU64,
    /// Partitions currently assigned to this member.
    pub assigned: AtomicU64,
}

/// Runs until `stop` turns true.
pub async fn run(
    cfg: ProcessConfig,
    mut stop: watch::Receiver<bool>,
    counters: Arc<ProcessCounters>,
) -> Result<(), EdgeError> {
    let catalogue =
        Arc::new(tables::load_catalogue(&cfg.bootstrap, Duration::from_secs(30)).await?);
    let producer = Producer::new(&cfg.bootstrap)?;
    let mut state = ProcessorState::new(catalogue.clone(), SignalConfig::default());
    let reassigned = Arc::new(AtomicBool::new(false));
    let context = RebalanceHooks {
        producer: producer.clone(),
        reassigned: reassigned.clone(),
        counters: counters.clone(),
    };
    // The profile table is co-partitioned with the activity topics, so each member reads the
    // profiles of exactly its users and keeps them current (a table, as in a stream-table join).
    let mut inputs = topics::ACTIVITY_TOPICS.to_vec();
    inputs.push(topics::USER_PROFILES);
    let consumer = group_consumer(&cfg.bootstrap, &cfg.group, &inputs, context)?;
    let mut pending: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut tick = tokio::time::interval(cfg.commit_interval);
    tracing::info!(group = %cfg.group, "processor started");
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {
                commit(&consumer, &producer, &mut pending, CommitMode::Async).await?;
            }
            m = consumer.recv() => {
                let m = match m {
                    Ok(m) => m,
                    Err(error) => {
                        tracing::warn!(%error, "consumer error");
                        continue;
                    }
                };
                if reassigned.swap(false, Ordering::SeqCst) {
                    // A new assignment: before the first record of it, take the state of its
                    // users from the changelog, where the previous owners flushed it.
                    commit(&consumer, &producer, &mut pending, CommitMode::Async).await?;
                    state = ProcessorState::new(catalogue.clone(), SignalConfig::default());
                    restore(&cfg, &mut state, &counters).await?;
                }
                let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
                let origin = (topic.as_str(), partition, offset);
                let payload = m.payload();
                let value = payload.unwrap_or_default();
                let outcome = if topic == topics::USER_PROFILES {
                    state.apply_profile(key_id(m.key()), payload)
                } else {
                    state.apply(&topic, partition, offset, value)
                };
                handle(&producer, &cfg.features_topic, &counters, origin, outcome, value).await?;
                pending.insert((topic, partition), offset + 1);
            }
        }
    }
    commit(&consumer, &producer, &mut pending, CommitMode::Sync).await?;
    tracing::info!("processor stopped");
    Ok(())
}

/// The processor's rebalance hooks. Before partitions are taken away, it waits for every
/// feature record already produced, so that the next owner restores state that includes
/// everything this member folded in (the committed offsets may lag; the per-user positions in
/// the records make the replay harmless). After an assignment, it flags the main loop to reload
/// the state before the first record. librdkafka calls these on the thread that polls, so the
/// flush blocks that thread for at most its timeout.
struct RebalanceHooks {
    /// The processor's producer.
    producer: Producer,
    /// Set on each assignment, cleared by the main loop when it has reloaded.
    reassigned: Arc<AtomicBool>,
    /// Where the number of assigned partitions is published.
    counters: Arc<ProcessCounters>,
}

impl ClientContext for RebalanceHooks {}

impl ConsumerContext for RebalanceHooks {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            if let Err(error) = self.producer.flush_blocking(Duration::from_secs(10)) {
                tracing::warn!(%error, "flush before giving up partitions failed");
            }
            tracing::info!(partitions = partitions.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(partitions = partitions.count(), "partitions assigned");
            self.counters
                .assigned
                .store(partitions.count() as u64, Ordering::Relaxed);
            self.reassigned.store(true, Ordering::SeqCst);
        }
    }
}

async fn restore(
    cfg: &ProcessConfig,
    state: &mut ProcessorState,
    counters: &ProcessCounters,
) -> Result<(), EdgeError> {
    let records = tables::load_features(&cfg.bootstrap, &cfg.features_topic).await?;
    counters
        .restored
        .store(records.len() as u64, Ordering::Relaxed);
    for r in records {
        state.restore(r);
    }
    for p in tables::load_profiles(&cfg.bootstrap).await? {
        state.set_profile(p);
    }
    tracing::info!(
        users = state.users(),
        "state restored from the features topic"
    );
    Ok(())
}

/// Acts on what one input record did: writes the user's new features, counts, and copies a
/// malformed record (`value`) to the dead-letter topic.
async fn handle(
    producer: &Producer,
    features_topic: &str,
    counters: &ProcessCounters,
    (topic, partition, offset): (&str, i32, i64),
    outcome: Outcome,
    value: &[u8],
) -> Result<(), EdgeError> {
    let features = match outcome {
        Outcome::Applied(rec) => {
            counters.applied.fetch_add(1, Ordering::Relaxed);
            Some(rec)
        }
        Outcome::Profile(rec) => {
            counters.profiles.fetch_add(1, Ordering::Relaxed);
            rec
        }
        Outcome::Duplicate => {
            counters.duplicates.fetch_add(1, Ordering::Relaxed);
            None
        }
        Outcome::Malformed(error) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic, partition, offset, %error, "malformed record skipped");
            let origin = format!("{topic}/{partition}/{offset}");
            producer
                .enqueue(topics::DEAD_LETTERS, &origin, value)
                .await?;
            None
        }
    };
    if let Some(rec) = features {
        let json = serde_json::to_vec(&rec)?;
        producer
            .enqueue(features_topic, &rec.user_id.to_string(), &json)
            .await?;
    }
    Ok(())
}

/// Waits for every feature record produced so far, then commits the positions after the input
/// records that produced them.
async fn commit<C: ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    producer: &Producer,
    pending: &mut BTreeMap<(String, i32), i64>,
    mode: CommitMode,
) -> Result<(), EdgeError> {
    if pending.is_empty() {
        return Ok(());
    }
    producer.flush(Duration::from_secs(30)).await?;
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in std::mem::take(pending) {
        tpl.add_partition_offset(&topic, partition, Offset::Offset(next))?;
    }
    if let Err(error) = consumer.commit(&tpl, mode) {
        // Not fatal: the next commit carries later positions, and replays are deduplicated.
        tracing::warn!(%error, "offset commit failed");
    }
    Ok(())
}
