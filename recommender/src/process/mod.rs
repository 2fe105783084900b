//! `process`: the stream processor. A member of a consumer group over the activity topics; it
//! folds each event into the user's signals (enriched with the catalogue table) and writes the
//! user's new features to the compacted `user-behavior-features` topic, which is also its
//! changelog: whenever it is assigned partitions, it restores state from that topic before the
//! first record. Offsets are committed only after the feature records they produced are
//! acknowledged, so a crash replays, and the per-user input positions skip what was already
//! folded in. Events are enriched with the catalogue and the `user-profiles` table (both
//! reloaded with the state).

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

use crate::consumer::group_consumer;
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
    let consumer = group_consumer(
        &cfg.bootstrap,
        &cfg.group,
        &topics::ACTIVITY_TOPICS,
        context,
    )?;
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
                    restore(&cfg.bootstrap, &mut state, &counters).await?;
                }
                let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
                let value = m.payload().unwrap_or_default();
                handle(&producer, &mut state, &counters, (&topic, partition, offset), value).await?;
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
    bootstrap: &str,
    state: &mut ProcessorState,
    counters: &ProcessCounters,
) -> Result<(), EdgeError> {
    let records = tables::load_features(bootstrap).await?;
    counters
        .restored
        .store(records.len() as u64, Ordering::Relaxed);
    for r in records {
        state.restore(r);
    }
    for p in tables::load_profiles(bootstrap).await? {
        state.set_profile(p);
    }
    tracing::info!(
        users = state.users(),
        "state restored from the features topic"
    );
    Ok(())
}

async fn handle(
    producer: &Producer,
    state: &mut ProcessorState,
    counters: &ProcessCounters,
    (topic, partition, offset): (&str, i32, i64),
    value: &[u8],
) -> Result<(), EdgeError> {
    match state.apply(topic, partition, offset, value) {
        Outcome::Applied(rec) => {
            counters.applied.fetch_add(1, Ordering::Relaxed);
            let json = serde_json::to_vec(&rec)?;
            producer
                .enqueue(
                    topics::USER_BEHAVIOR_FEATURES,
                    &rec.user_id.to_string(),
                    &json,
                )
                .await?;
        }
        Outcome::Duplicate => {
            counters.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        Outcome::Malformed(error) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic, partition, offset, %error, "malformed event skipped");
            let origin = format!("{topic}/{partition}/{offset}");
            producer
                .enqueue(topics::DEAD_LETTERS, &origin, value)
                .await?;
        }
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
