//! Consumer groups through real clients (librdkafka via rdkafka): subscription-based assignment
//! across several members, and committed offsets that a later member resumes from. Run against
//! Apache Kafka with `KAFKA_TARGET=kafka`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{ensure, Result};
use protocol_tests::clients::producer_config;
use protocol_tests::records::{end_offsets, generate, produce_all};
use protocol_tests::wait::wait_for;
use protocol_tests::{unique_topic, TestBroker};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureProducer;
use rdkafka::Message;

const PARTITIONS: usize = 6;
const OURS: &[(&str, &str)] = &[("num.partitions", "6")];
const TIMEOUT: Duration = Duration::from_secs(60);

/// A subscribing consumer in `group` that commits only when told to.
fn group_consumer(bootstrap: &str, group: &str) -> Result<BaseConsumer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .create()?)
}

/// Produces `count` records to `topic` and returns each partition's end offset.
async fn produce(
    bootstrap: &str,
    topic: &str,
    tag: &str,
    count: usize,
) -> Result<BTreeMap<i32, i64>> {
    let producer: FutureProducer = producer_config(bootstrap).create()?;
    let acks = produce_all(&producer, topic, &generate(tag, count), None).await?;
    Ok(end_offsets(&acks))
}

/// Adds the broker's log tail to a failure.
fn with_log<T>(broker: &TestBroker, result: Result<T>) -> Result<T> {
    use anyhow::Context;
    result.with_context(|| format!("broker log tail:\n{}", broker.log_tail()))
}

#[tokio::test]
async fn three_members_split_six_partitions() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("group-split");
        let ends = produce(&bootstrap, &topic, "split", 600).await?;
        ensure!(
            ends.len() == PARTITIONS,
            "records should cover all partitions: {ends:?}"
        );
        let group = unique_topic("split-group");
        let members = (0..3)
            .map(|_| group_consumer(&bootstrap, &group))
            .collect::<Result<Vec<_>>>()?;
        for m in &members {
            m.subscribe(&[&topic])?;
        }
        wait_for(
            "3 members to own disjoint sets covering 6 partitions",
            TIMEOUT,
            || {
                for m in &members {
                    if let Some(Err(e)) = m.poll(Duration::from_millis(100)) {
                        anyhow::bail!("consumer error: {e}");
                    }
                }
                let mut owned = Vec::new();
                for m in &members {
                    let a = m.assignment()?;
                    owned.push(
                        a.elements()
                            .iter()
                            .map(|e| e.partition())
                            .collect::<Vec<_>>(),
                    );
                }
                let all: BTreeSet<i32> = owned.iter().flatten().copied().collect();
                let total: usize = owned.iter().map(Vec::len).sum();
                let done = owned.iter().all(|o| !o.is_empty())
                    && total == PARTITIONS
                    && all.len() == PARTITIONS;
                Ok(done.then_some(()))
            },
        )
    }
    .await;
    with_log(&broker, result)
}

/// Polls `consumer` until every partition in `ends` has been read up to its end; returns the
/// lowest offset read per partition.
fn consume_to(consumer: &BaseConsumer, ends: &BTreeMap<i32, i64>) -> Result<BTreeMap<i32, i64>> {
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    wait_for("the consumer to reach the end offsets", TIMEOUT, || {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m?;
            first.entry(m.partition()).or_insert(m.offset());
            next.insert(m.partition(), m.offset() + 1);
        }
        Ok(ends
            .iter()
            .all(|(p, e)| next.get(p) >= Some(e))
            .then_some(()))
    })?;
    Ok(first)
}

#[tokio::test]
async fn committed_offsets_are_resumed_by_the_next_member() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("group-resume");
        let group = unique_topic("resume-group");
        let first_ends = produce(&bootstrap, &topic, "before", 300).await?;
        let consumer = group_consumer(&bootstrap, &group)?;
        consumer.subscribe(&[&topic])?;
        consume_to(&consumer, &first_ends)?;
        consumer.commit_consumer_state(CommitMode::Sync)?;
        drop(consumer);

        let second_ends = produce(&bootstrap, &topic, "after", 300).await?;
        let consumer = group_consumer(&bootstrap, &group)?;
        consumer.subscribe(&[&topic])?;
        let firsts = consume_to(&consumer, &second_ends)?;
        for (p, end) in &first_ends {
            ensure!(
                firsts.get(p) == Some(end),
                "partition {p}: resumed at {:?}, committed {end}",
                firsts.get(p)
            );
        }
        Ok(())
    }
    .await;
    with_log(&broker, result)
}

/// Runs Debian's kcat with `args`, requiring success; returns stdout.
fn kcat_ok(bootstrap: &str, args: &[&str], stdin: &[u8]) -> Result<String> {
    let bin = std::env::var("KCAT").unwrap_or_else(|_| "/usr/bin/kcat".to_string());
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["-b", bootstrap]).args(args);
    let out = protocol_tests::command::run_with_timeout(cmd, stdin, TIMEOUT)?;
    ensure!(
        out.status.success(),
        "kcat {args:?} exited with {}; stderr:\n{}",
        out.status,
        out.stderr
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test]
async fn kcat_group_consumer_resumes_where_it_committed() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("kcat-group");
        let group = unique_topic("kcat-group");
        let produce = ["-P", "-t", topic.as_str(), "-p", "0"];
        kcat_ok(&bootstrap, &produce, b"a1\na2\na3\n")?;
        let consume = [
            "-G",
            group.as_str(),
            "-X",
            "auto.offset.reset=earliest",
            "-e",
            "-f",
            "%p:%o:%s\\n",
            topic.as_str(),
        ];
        let first = kcat_ok(&bootstrap, &consume, b"")?;
        ensure!(
            first == "0:0:a1\n0:1:a2\n0:2:a3\n",
            "first run read {first:?}"
        );
        kcat_ok(&bootstrap, &produce, b"b1\nb2\n")?;
        let second = kcat_ok(&bootstrap, &consume, b"")?;
        ensure!(second == "0:3:b1\n0:4:b2\n", "second run read {second:?}");
        Ok(())
    }
    .await;
    with_log(&broker, result)
}

/// Offsets live in `__consumer_offsets`: librdkafka and kcat resume from their commits after a
/// kill -9 and after a clean restart of our broker (restarts need our process, so ours only).
#[tokio::test]
async fn commits_survive_kill_9_and_clean_restart() -> Result<()> {
    use protocol_tests::target::wait_until_serving;
    use protocol_tests::{OurBroker, Target};
    if !Target::ours_or_skip("commits_survive_kill_9_and_clean_restart")? {
        return Ok(());
    }
    let mut broker = OurBroker::start(OURS)?;
    let result = async {
        let topic = unique_topic("group-restart");
        let group = unique_topic("restart-group");
        let first_ends = produce(&broker.bootstrap(), &topic, "before", 300).await?;
        let consumer = group_consumer(&broker.bootstrap(), &group)?;
        consumer.subscribe(&[&topic])?;
        consume_to(&consumer, &first_ends)?;
        consumer.commit_consumer_state(CommitMode::Sync)?;
        drop(consumer);

        broker.kill9()?;
        broker.restart()?;
        wait_until_serving(&broker.bootstrap())?;
        let bootstrap = broker.bootstrap();
        let second_ends = produce(&bootstrap, &topic, "after", 300).await?;
        let consumer = group_consumer(&bootstrap, &group)?;
        consumer.subscribe(&[&topic])?;
        let firsts = consume_to(&consumer, &second_ends)?;
        ensure!(
            firsts == first_ends,
            "resumed at {firsts:?} after kill -9, committed {first_ends:?}"
        );
        drop(consumer);

        // kcat -G twice across a clean restart.
        let produce_args = ["-P", "-t", topic.as_str(), "-p", "0"];
        let kgroup = unique_topic("kcat-restart");
        let consume = [
            "-G",
            kgroup.as_str(),
            "-X",
            "auto.offset.reset=earliest",
            "-e",
            "-f",
            "%p:%o\\n",
            topic.as_str(),
        ];
        kcat_ok(&bootstrap, &consume, b"")?;
        let end0 = second_ends.get(&0).copied().unwrap_or(0);
        broker.restart()?;
        let bootstrap = broker.bootstrap();
        wait_until_serving(&bootstrap)?;
        kcat_ok(&bootstrap, &produce_args, b"c1\n")?;
        let after = kcat_ok(&bootstrap, &consume, b"")?;
        ensure!(
            after == format!("0:{end0}\n"),
            "kcat after a clean restart read {after:?}, expected only offset {end0}"
        );
        Ok(())
    }
    .await;
    result.map_err(|e| e.context(format!("broker stderr tail:\n{}", broker.stderr_tail())))
}
