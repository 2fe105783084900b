//! Client set-up and small helpers shared by the scenarios: configurations, blocking on admin and
//! delivery futures, polling with deadlines, and recording rebalances.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::AdminClient;
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;
use rdkafka::TopicPartitionList;

use protocol_tests::records::{self, Ack, TestRecord};

/// Partitions of every topic the runner creates.
pub const PARTITIONS: i32 = 3;
/// How long a consume loop waits for the records it expects.
pub const CONSUME_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one metadata, admin, offsets or commit request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Fails the scenario with the formatted message unless the condition holds.
macro_rules! ensure_that {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            anyhow::bail!($($msg)+);
        }
    };
}
pub(crate) use ensure_that;

/// Runs a future (an admin request, delivery reports) to completion on a one-thread runtime.
pub fn block_on<F: Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building a tokio runtime")?;
    Ok(rt.block_on(f))
}

fn config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg
}

/// A producer with a short linger; `extra` overrides.
pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Result<FutureProducer> {
    let mut cfg = config(bootstrap, &[("linger.ms", "5")]);
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().context("creating a producer")
}

/// A consumer for `assign()`: librdkafka wants a group.id even then; nothing is committed.
pub fn consumer(bootstrap: &str, extra: &[(&str, &str)]) -> Result<BaseConsumer> {
    let mut cfg = config(
        bootstrap,
        &[
            ("group.id", "compat-assign"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
        ],
    );
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().context("creating a consumer")
}

/// A consumer for `assign()` that reports no end-of-partition events (for `records::read_until`).
pub fn quiet_consumer(bootstrap: &str) -> Result<BaseConsumer> {
    consumer(bootstrap, &[("enable.partition.eof", "false")])
}

/// An admin client.
pub fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>> {
    config(bootstrap, &[])
        .create()
        .context("creating an admin client")
}

/// Produces `records` (to `partition`, else by key hash) and waits for every acknowledgement.
pub fn produce(
    producer: &FutureProducer,
    topic: &str,
    records: &[TestRecord],
    partition: Option<i32>,
) -> Result<Vec<Ack>> {
    block_on(records::produce_all(producer, topic, records, partition))?
}

/// `count` records spread round-robin over the partitions (record i to partition i % 3),
/// timestamps `base_ts + i`; returns the acknowledgements in send order.
pub fn produce_spread(
    bootstrap: &str,
    topic: &str,
    tag: &str,
    count: usize,
    base_ts: i64,
) -> Result<Vec<Ack>> {
    let p = producer(bootstrap, &[])?;
    let mut all = records::generate(tag, count);
    for (i, r) in all.iter_mut().enumerate() {
        r.timestamp = base_ts + i as i64;
    }
    let mut acks = Vec::with_capacity(count);
    for part in 0..PARTITIONS {
        let mine: Vec<TestRecord> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as i32 % PARTITIONS == part)
            .map(|(_, r)| r.clone())
            .collect();
        acks.extend(produce(&p, topic, &mine, Some(part))?);
    }
    Ok(acks)
}

/// A topic-partition list of `topic`'s partitions with no offsets.
pub fn all_partitions(topic: &str) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    tpl
}

/// The partitions in a list.
pub fn partitions_of(tpl: &TopicPartitionList) -> BTreeSet<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// One rebalance callback as a consumer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceEvent {
    /// Partitions assigned (all of them, or the added ones under cooperative rebalancing).
    Assign(BTreeSet<i32>),
    /// Partitions revoked (all of them, or the moved ones under cooperative rebalancing).
    Revoke(BTreeSet<i32>),
    /// A rebalance error.
    Error(String),
}

/// A consumer context that records every rebalance callback, in order.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    // A std mutex: pushed to from the rebalance callback, read between polls; never contended
    // for long and never held across an await.
    events: Arc<Mutex<Vec<RebalanceEvent>>>,
}

impl Recorder {
    /// The rebalance events so far.
    pub fn events(&self) -> Vec<RebalanceEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl ClientContext for Recorder {}

impl ConsumerContext for Recorder {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let event = match rebalance {
            Rebalance::Assign(tpl) => RebalanceEvent::Assign(partitions_of(tpl)),
            Rebalance::Revoke(tpl) => RebalanceEvent::Revoke(partitions_of(tpl)),
            Rebalance::Error(e) => RebalanceEvent::Error(e.to_string()),
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

/// A subscribing group member of `group` reading from earliest, with manual commits.
pub fn member(
    bootstrap: &str,
    group: &str,
    topic: &str,
    extra: &[(&str, &str)],
) -> Result<(BaseConsumer<Recorder>, Recorder)> {
    let mut cfg = config(
        bootstrap,
        &[
            ("group.id", group),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
        ],
    );
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let recorder = Recorder::default();
    let c: BaseConsumer<Recorder> = cfg
        .create_with_context(recorder.clone())
        .context("creating a group member")?;
    c.subscribe(&[topic]).context("subscribing")?;
    Ok((c, recorder))
}

/// One polled record: where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct At {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// Polls once; a record comes back as where it was, end-of-partition is `None`, other errors
/// fail the scenario.
pub fn poll_at<C: ConsumerContext>(c: &BaseConsumer<C>, timeout: Duration) -> Result<Option<At>> {
    match c.poll(timeout) {
        None | Some(Err(KafkaError::PartitionEOF(_))) => Ok(None),
        Some(Err(e)) => bail!("consume error: {e}"),
        Some(Ok(m)) => Ok(Some(At {
            partition: m.partition(),
            offset: m.offset(),
        })),
    }
}

/// The partitions currently assigned to `c`.
pub fn assigned<C: ConsumerContext>(c: &BaseConsumer<C>) -> Result<BTreeSet<i32>> {
    Ok(partitions_of(
        &c.assignment().context("reading the assignment")?,
    ))
}

/// Fails, naming what was awaited (`what()`), once `deadline` has passed; called in poll loops.
pub fn deadline_check(deadline: Instant, what: impl FnOnce() -> String) -> Result<()> {
    if Instant::now() >= deadline {
        bail!("timed out waiting for {}", what());
    }
    Ok(())
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
