//! The KIP-848 consumer group protocol (`group.protocol=consumer`, ConsumerGroupHeartbeat)
//! through librdkafka: three members split six partitions, one leaves, the others take its
//! partitions over, and with a synchronous commit after each record every record is read
//! exactly once; partitions added to the topic later are assigned too; after a restart of our
//! broker (which keeps membership in memory) members rejoin. Run against Apache Kafka with `KAFKA_TARGET=kafka`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use protocol_tests::clients::{admin_client, producer_config};
use protocol_tests::records::{generate, produce_all, Ack};
use protocol_tests::target::wait_until_serving;
use protocol_tests::wait::wait_for;
use protocol_tests::{unique_topic, OurBroker, Target, TestBroker};
use rdkafka::admin::{AdminOptions, NewPartitions};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureProducer;
use rdkafka::Message;

const PARTITIONS: i32 = 6;
const OURS: &[(&str, &str)] = &[("num.partitions", "6")];
const TIMEOUT: Duration = Duration::from_secs(90);

/// A member of `group` using the consumer group protocol, committing only when told to.
fn member(bootstrap: &str, group: &str) -> Result<BaseConsumer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("group.protocol", "consumer")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?)
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
fn assignments(members: &[BaseConsumer]) -> Result<Vec<BTreeSet<i32>>> {
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

#[tokio::test]
async fn members_rejoin_after_a_broker_restart() -> Result<()> {
    if !Target::ours_or_skip("members_rejoin_after_a_broker_restart")? {
        return Ok(());
    }
    let mut broker = OurBroker::start(OURS)?;
    let result = async {
        wait_until_serving(&broker.bootstrap())?;
        let topic = unique_topic("kip848-restart");
        let group = unique_topic("kip848-restart-group");
        let mut acks = produce(&broker.bootstrap(), &topic, "before", 60).await?;
        let members = vec![member(&broker.bootstrap(), &group)?];
        members[0].subscribe(&[&topic])?;
        let mut seen = BTreeMap::new();
        consume_all(&members, &acks, &mut seen, PARTITIONS)?;

        // Consumer-group membership is not persisted: the member's next heartbeat is answered
        // UNKNOWN_MEMBER_ID and it rejoins with epoch 0.
        broker.restart()?;
        wait_until_serving(&broker.bootstrap())?;
        acks.extend(produce(&broker.bootstrap(), &topic, "after", 60).await?);
        consume_all(&members, &acks, &mut seen, PARTITIONS)
    }
    .await;
    result.with_context(|| format!("broker stderr tail:\n{}", broker.stderr_tail()))
}
