//! The KIP-848 consumer group protocol (`group.protocol=consumer`, ConsumerGroupHeartbeat)
//! through librdkafka: three members split six partitions, one leaves, the others take its
//! partitions over, and with a synchronous commit after each record every record is read
//! exactly once; partitions added to the topic later are assigned too; after a restart of our
//! broker members carry on without rejoining, since the group is replayed from
//! `__consumer_offsets` as Kafka does. Run against Apache Kafka with `KAFKA_TARGET=kafka`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use protocol_tests::clients::{admin_client, producer_config};
use protocol_tests::records::{generate, produce_all, Ack};
use protocol_tests::target::wait_until_serving;
use protocol_tests::wait::wait_for;
use protocol_tests::{unique_topic, OurBroker, Target, TestBroker};
use rdkafka::admin::{AdminOptions, NewPartitions};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset};

const PARTITIONS: i32 = 6;
const OURS: &[(&str, &str)] = &[("num.partitions", "6")];
const TIMEOUT: Duration = Duration::from_secs(90);

/// The config of a member of `group` using the consumer group protocol, committing only when
/// told to.
fn member_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("group.protocol", "consumer")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    config
}

/// A member of `group` using the consumer group protocol, committing only when told to.
fn member(bootstrap: &str, group: &str) -> Result<BaseConsumer> {
    Ok(member_config(bootstrap, group).create()?)
}

/// Produces `count` records and returns where they landed.
async fn produce(bootstrap: &str, topic: &str, tag: &str, count: usize) -> Result<Vec<Ack>> {
    let producer: FutureProducer = producer_config(bootstrap).create()?;
    produce_all(&producer, topic, &generate(tag, count), None).await
}

/// How long a failed commit is retried before the member polls again.
const COMMIT_RETRY: Duration = Duration::from_secs(5);

/// Polls every member once, committing its position after each record read before reading the
/// next; counts the records read by (partition, offset).
fn poll_all(members: &[BaseConsumer], seen: &mut BTreeMap<Ack, u32>) -> Result<()> {
    for m in members {
        if let Some(message) = m.poll(Duration::from_millis(50)) {
            let message = message.context("consumer error")?;
            let at = Ack {
                partition: message.partition(),
                offset: message.offset(),
            };
            *seen.entry(at).or_default() += 1;
            // A commit racing a heartbeat that bumps the member epoch gets STALE_MEMBER_EPOCH
            // (on Kafka too) until the client has read that heartbeat's response, so it is
            // retried. A member that must rejoin (fenced, or our broker restarted) only does so
            // from inside poll, so after COMMIT_RETRY it polls again and its next commit, of
            // all its positions, covers this record.
            let _ = wait_for("a synchronous commit to succeed", COMMIT_RETRY, || {
                m.commit_consumer_state(CommitMode::Sync)
                    .with_context(|| format!("committing after {at:?}"))?;
                Ok(Some(()))
            });
        }
    }
    Ok(())
}

/// Each member's assigned partitions.
fn assignments<C: ConsumerContext>(members: &[BaseConsumer<C>]) -> Result<Vec<BTreeSet<i32>>> {
    members
        .iter()
        .map(|m| {
            Ok(m.assignment()?
                .elements()
                .iter()
                .map(|e| e.partition())
                .collect())
        })
        .collect()
}

/// Whether the members own non-empty, disjoint sets covering partitions `0..partitions`.
fn disjoint_cover(owned: &[BTreeSet<i32>], partitions: i32) -> bool {
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    let all: BTreeSet<i32> = owned.iter().flatten().copied().collect();
    owned.iter().all(|o| !o.is_empty())
        && total == all.len()
        && all == (0..partitions).collect::<BTreeSet<_>>()
}

/// Polls until every record in `acks` was read and the members cover `partitions`.
fn consume_all(
    members: &[BaseConsumer],
    acks: &[Ack],
    seen: &mut BTreeMap<Ack, u32>,
    partitions: i32,
) -> Result<()> {
    let what = format!(
        "{} members to cover {partitions} partitions and read all {} records",
        members.len(),
        acks.len()
    );
    wait_for(&what, TIMEOUT, || {
        poll_all(members, seen)?;
        let owned = assignments(members)?;
        let read = acks.iter().filter(|a| seen.contains_key(a)).count();
        if disjoint_cover(&owned, partitions) && read == acks.len() {
            return Ok(Some(()));
        }
        anyhow::bail!("assignments {owned:?}, {read} of {} read", acks.len())
    })
}

#[tokio::test]
async fn members_split_hand_over_and_read_every_record_once() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("kip848");
        let group = unique_topic("kip848-group");
        let mut acks = produce(&bootstrap, &topic, "first", 600).await?;
        let partitions: BTreeSet<i32> = acks.iter().map(|a| a.partition).collect();
        ensure!(partitions.len() == 6, "records on {partitions:?}");
        let mut members = (0..3)
            .map(|_| member(&bootstrap, &group))
            .collect::<Result<Vec<_>>>()?;
        for m in &members {
            m.subscribe(&[&topic])?;
        }
        let mut seen = BTreeMap::new();
        consume_all(&members, &acks, &mut seen, PARTITIONS)?;

        // One member leaves; the other two take its partitions over.
        let leaving = members.pop().context("three members")?;
        leaving.unsubscribe();
        drop(leaving);
        acks.extend(produce(&bootstrap, &topic, "second", 600).await?);
        consume_all(&members, &acks, &mut seen, PARTITIONS)?;

        let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        ensure!(duplicates.is_empty(), "records read twice: {duplicates:?}");
        let unexpected: Vec<_> = seen.keys().filter(|a| !acks.contains(a)).collect();
        ensure!(
            unexpected.is_empty(),
            "records never produced: {unexpected:?}"
        );
        Ok(())
    }
    .await;
    result.with_context(|| format!("broker log tail:\n{}", broker.log_tail()))
}

#[tokio::test]
async fn partitions_added_later_are_assigned() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("kip848-grow");
        let group = unique_topic("kip848-grow-group");
        let mut acks = produce(&bootstrap, &topic, "before", 60).await?;
        let members = (0..2)
            .map(|_| member(&bootstrap, &group))
            .collect::<Result<Vec<_>>>()?;
        for m in &members {
            m.subscribe(&[&topic])?;
        }
        let mut seen = BTreeMap::new();
        consume_all(&members, &acks, &mut seen, PARTITIONS)?;

        let admin = admin_client(&bootstrap)?;
        let opts = AdminOptions::new();
        let grown = admin
            .create_partitions([&NewPartitions::new(&topic, 8)], &opts)
            .await?;
        ensure!(
            grown == vec![Ok(topic.clone())],
            "CreatePartitions: {grown:?}"
        );
        let producer: FutureProducer = producer_config(&bootstrap).create()?;
        let record = &generate("after", 1)[0];
        acks.extend(produce_all(&producer, &topic, std::slice::from_ref(record), Some(7)).await?);
        consume_all(&members, &acks, &mut seen, 8)?;
        let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        ensure!(duplicates.is_empty(), "records read twice: {duplicates:?}");
        Ok(())
    }
    .await;
    result.with_context(|| format!("broker log tail:\n{}", broker.log_tail()))
}

/// Counts the rebalance callbacks (assignments and revocations) librdkafka makes.
#[derive(Clone, Default)]
struct Rebalances(Arc<AtomicUsize>);

impl Rebalances {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl ClientContext for Rebalances {}

impl ConsumerContext for Rebalances {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, _: &Rebalance<'_>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// [`member`] with a rebalance counter.
fn counted_member(bootstrap: &str, group: &str) -> Result<BaseConsumer<Rebalances>> {
    Ok(member_config(bootstrap, group).create_with_context(Rebalances::default())?)
}

#[tokio::test]
async fn members_carry_on_after_a_broker_restart() -> Result<()> {
    if !Target::ours_or_skip("members_carry_on_after_a_broker_restart")? {
        return Ok(());
    }
    let mut broker = OurBroker::start(OURS)?;
    let result = async {
        wait_until_serving(&broker.bootstrap())?;
        let topic = unique_topic("kip848-restart");
        let group = unique_topic("kip848-restart-group");
        let acks = produce(&broker.bootstrap(), &topic, "before", 60).await?;
        let members = (0..2)
            .map(|_| counted_member(&broker.bootstrap(), &group))
            .collect::<Result<Vec<_>>>()?;
        for m in &members {
            m.subscribe(&[&topic])?;
        }
        let mut read = BTreeSet::new();
        let owned = consume_counted(&members, &acks, &mut read)?;
        let rebalances: Vec<usize> = members.iter().map(|m| m.context().count()).collect();

        // The group is replayed from `__consumer_offsets`: the members' next heartbeats are
        // accepted at the epochs they hold, so librdkafka sees no revocation and no new
        // assignment, and every member keeps its partitions.
        broker.restart()?;
        wait_until_serving(&broker.bootstrap())?;
        let after = produce(&broker.bootstrap(), &topic, "after", 60).await?;
        let owned_after = consume_counted(&members, &after, &mut read)?;
        // Their commits, carrying the member epochs from before the restart, were accepted.
        for (m, owned) in members.iter().zip(&owned_after) {
            let committed = m.committed(TIMEOUT)?;
            for p in owned {
                let want = after
                    .iter()
                    .chain(&acks)
                    .filter(|a| a.partition == *p)
                    .map(|a| a.offset + 1)
                    .max()
                    .unwrap_or(0);
                let got = committed.find_partition(&topic, *p).map(|e| e.offset());
                ensure!(
                    got == Some(Offset::Offset(want)),
                    "partition {p}: committed {got:?}, want {want}"
                );
            }
        }
        let rebalances_after: Vec<usize> = members.iter().map(|m| m.context().count()).collect();
        ensure!(
            owned_after == owned,
            "assignments changed: {owned:?} -> {owned_after:?}"
        );
        ensure!(
            rebalances_after == rebalances,
            "rebalance callbacks after the restart: {rebalances:?} -> {rebalances_after:?}"
        );
        Ok(())
    }
    .await;
    result.with_context(|| format!("broker stderr tail:\n{}", broker.stderr_tail()))
}

/// Polls the members (committing each record, retrying for at most COMMIT_RETRY) until they
/// cover every partition and have read every record of `acks`; returns their assignments.
fn consume_counted(
    members: &[BaseConsumer<Rebalances>],
    acks: &[Ack],
    read: &mut BTreeSet<Ack>,
) -> Result<Vec<BTreeSet<i32>>> {
    let what = format!(
        "2 members to cover {PARTITIONS} partitions and read {} records",
        acks.len()
    );
    wait_for(&what, TIMEOUT, || {
        for m in members {
            if let Some(message) = m.poll(Duration::from_millis(50)) {
                let message = message.context("consumer error")?;
                read.insert(Ack {
                    partition: message.partition(),
                    offset: message.offset(),
                });
                let at = format!("a commit at {}:{}", message.partition(), message.offset());
                let _ = wait_for(&at, COMMIT_RETRY, || {
                    m.commit_message(&message, CommitMode::Sync)?;
                    Ok(Some(()))
                });
            }
        }
        let owned = assignments(members)?;
        let missing = acks.iter().filter(|a| !read.contains(a)).count();
        if disjoint_cover(&owned, PARTITIONS) && missing == 0 {
            return Ok(Some(owned));
        }
        anyhow::bail!("assignments {owned:?}, {missing} records not read yet")
    })
}

#[tokio::test]
async fn a_regex_subscription_reads_every_matching_topic() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let prefix = unique_topic("kip848-regex");
        let (first, second) = (format!("{prefix}-a"), format!("{prefix}-b"));
        let mut want = BTreeSet::new();
        for topic in [&first, &second] {
            for ack in produce(&bootstrap, topic, "regex", 12).await? {
                want.insert((topic.clone(), ack.partition, ack.offset));
            }
        }
        // Not matched: the pattern must match the whole name.
        produce(&bootstrap, &format!("x{prefix}-a"), "other", 6).await?;
        let consumer = member(&bootstrap, &unique_topic("kip848-regex-group"))?;
        consumer.subscribe(&[&format!("^{prefix}-.*")])?;
        let mut got = BTreeSet::new();
        let what = format!("the {} records of {first} and {second}", want.len());
        wait_for(&what, TIMEOUT, || {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.context("consumer error")?;
                got.insert((
                    message.topic().to_string(),
                    message.partition(),
                    message.offset(),
                ));
            }
            ensure!(got.is_subset(&want), "records of other topics: {got:?}");
            Ok((got == want).then_some(()))
        })
    }
    .await;
    result.with_context(|| format!("broker log tail:\n{}", broker.log_tail()))
}
