//! librdkafka (through rdkafka) against the target broker: every codec, the idempotent producer,
//! the admin API and ListOffsets. Run against Apache Kafka with `KAFKA_TARGET=kafka`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use protocol_tests::clients::{admin_client, consumer_config, producer_config};
use protocol_tests::records::{
    end_offsets, generate, now_ms, produce_all, read_until, verify_round_trip, TestRecord,
};
use protocol_tests::wait::wait_for;
use protocol_tests::{unique_topic, TestBroker};
use rdkafka::admin::{AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

/// `num.partitions` for auto-created topics, on both brokers (see `reference::DEFAULT_PROPS`).
const PARTITIONS: i32 = 6;
const OURS: &[(&str, &str)] = &[("num.partitions", "6")];
const TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Adds the broker's log tail to a failure.
fn with_log<T>(broker: &TestBroker, result: Result<T>) -> Result<T> {
    result.with_context(|| format!("broker log tail:\n{}", broker.log_tail()))
}

/// Partition count of `topic` per Metadata, once the topic has no error and `want` partitions.
fn wait_for_partitions(consumer: &BaseConsumer, topic: &str, want: usize) -> Result<()> {
    wait_for(
        &format!("Metadata to show {topic} with {want} partitions, each led by a broker"),
        TIMEOUT,
        || {
            let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
            let broker_ids: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
            let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
                return Ok(None);
            };
            let ready = t.error().is_none()
                && t.partitions().len() == want
                && t.partitions()
                    .iter()
                    .all(|p| broker_ids.contains(&p.leader()));
            Ok(ready.then_some(()))
        },
    )
}

/// 100,000 keyed records with headers and timestamps through one codec, read back identical.
async fn codec_round_trip(codec: &str) -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic(&format!("codec-{codec}"));
        let producer: FutureProducer = producer_config(&bootstrap)
            .set("compression.type", codec)
            .create()?;
        let records = generate(codec, 100_000);
        let acks = produce_all(&producer, &topic, &records, None).await?;

        let consumer: BaseConsumer = consumer_config(&bootstrap).create()?;
        wait_for_partitions(&consumer, &topic, PARTITIONS as usize)?;
        let ends = end_offsets(&acks);
        ensure!(
            ends.len() == PARTITIONS as usize,
            "keys should spread over all {PARTITIONS} partitions, got {ends:?}"
        );
        let consumed = read_until(&consumer, &topic, &ends, READ_TIMEOUT)?;
        verify_round_trip(&records, &acks, &consumed)
    }
    .await;
    with_log(&broker, result)
}

#[tokio::test]
async fn codec_none_round_trip() -> Result<()> {
    codec_round_trip("none").await
}

#[tokio::test]
async fn codec_gzip_round_trip() -> Result<()> {
    codec_round_trip("gzip").await
}

#[tokio::test]
async fn codec_snappy_round_trip() -> Result<()> {
    codec_round_trip("snappy").await
}

#[tokio::test]
async fn codec_lz4_round_trip() -> Result<()> {
    codec_round_trip("lz4").await
}

#[tokio::test]
async fn codec_zstd_round_trip() -> Result<()> {
    codec_round_trip("zstd").await
}

#[tokio::test]
async fn idempotent_producer_writes_each_record_once_in_order() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("idempotent");
        let producer: FutureProducer = producer_config(&bootstrap)
            .set("enable.idempotence", "true")
            .set("retries", "2147483647")
            .create()?;
        let records = generate("idem", 20_000);
        let acks = produce_all(&producer, &topic, &records, None).await?;

        // No duplicates and no gaps: each partition's offsets are exactly 0..count.
        let mut per_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for a in &acks {
            per_partition.entry(a.partition).or_default().push(a.offset);
        }
        for (p, offsets) in &mut per_partition {
            offsets.sort_unstable();
            let expected: Vec<i64> = (0..offsets.len() as i64).collect();
            ensure!(
                *offsets == expected,
                "partition {p}: offsets are not 0..{}",
                offsets.len()
            );
        }

        let consumer: BaseConsumer = consumer_config(&bootstrap).create()?;
        let consumed = read_until(&consumer, &topic, &end_offsets(&acks), READ_TIMEOUT)?;
        verify_round_trip(&records, &acks, &consumed)
    }
    .await;
    with_log(&broker, result)
}

#[tokio::test]
async fn admin_creates_grows_and_deletes_a_topic() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let admin = admin_client(&bootstrap)?;
        let consumer: BaseConsumer = consumer_config(&bootstrap).create()?;
        let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        let topic = unique_topic("admin");

        let new_topic =
            NewTopic::new(&topic, 3, TopicReplication::Fixed(1)).set("retention.ms", "86400000");
        let created = admin.create_topics([&new_topic], &opts).await?;
        ensure!(
            created == vec![Ok(topic.clone())],
            "CreateTopics: {created:?}"
        );
        let again = admin.create_topics([&new_topic], &opts).await?;
        ensure!(
            again == vec![Err((topic.clone(), RDKafkaErrorCode::TopicAlreadyExists))],
            "creating {topic} twice: {again:?}"
        );
        wait_for_partitions(&consumer, &topic, 3)?;

        let grown = admin
            .create_partitions([&NewPartitions::new(&topic, 5)], &opts)
            .await?;
        ensure!(
            grown == vec![Ok(topic.clone())],
            "CreatePartitions: {grown:?}"
        );
        wait_for_partitions(&consumer, &topic, 5)?;

        // A new partition takes writes.
        let producer: FutureProducer = producer_config(&bootstrap).create()?;
        let record = &generate("admin", 1)[0];
        let acks = produce_all(&producer, &topic, std::slice::from_ref(record), Some(4)).await?;
        ensure!(
            acks[0].partition == 4 && acks[0].offset == 0,
            "ack {:?}",
            acks[0]
        );

        let deleted = admin.delete_topics(&[&topic], &opts).await?;
        ensure!(
            deleted == vec![Ok(topic.clone())],
            "DeleteTopics: {deleted:?}"
        );
        wait_for(
            &format!("{topic} to vanish from the all-topics Metadata"),
            TIMEOUT,
            || {
                let md = consumer.fetch_metadata(None, Duration::from_secs(5))?;
                Ok((!md.topics().iter().any(|t| t.name() == topic)).then_some(()))
            },
        )?;
        let twice = admin.delete_topics(&[&topic], &opts).await?;
        ensure!(
            twice
                == vec![Err((
                    topic.clone(),
                    RDKafkaErrorCode::UnknownTopicOrPartition
                ))],
            "deleting {topic} twice: {twice:?}"
        );
        Ok(())
    }
    .await;
    with_log(&broker, result)
}

#[tokio::test]
async fn admin_describe_configs_shows_the_topic_override() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let admin = admin_client(&broker.bootstrap())?;
        let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        let topic = unique_topic("configs");
        let new_topic =
            NewTopic::new(&topic, 1, TopicReplication::Fixed(1)).set("retention.ms", "86400000");
        let created = admin.create_topics([&new_topic], &opts).await?;
        ensure!(
            created == vec![Ok(topic.clone())],
            "CreateTopics: {created:?}"
        );
        // CreateTopics returns before the broker has the topic; until then it describes nothing.
        let consumer: BaseConsumer = consumer_config(&broker.bootstrap()).create()?;
        wait_for_partitions(&consumer, &topic, 1)?;

        let described = admin
            .describe_configs([&ResourceSpecifier::Topic(&topic)], &opts)
            .await?;
        let resource = match described.as_slice() {
            [Ok(resource)] => resource,
            other => anyhow::bail!("DescribeConfigs: {other:?}"),
        };
        let entry = resource
            .get("retention.ms")
            .with_context(|| format!("no retention.ms entry in {resource:?}"))?;
        ensure!(
            entry.value.as_deref() == Some("86400000"),
            "retention.ms: {entry:?}"
        );
        Ok(())
    }
    .await;
    with_log(&broker, result)
}

#[tokio::test]
async fn list_offsets_watermarks_and_times() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let result = async {
        let bootstrap = broker.bootstrap();
        let topic = unique_topic("list-offsets");
        // Increasing timestamps one second apart, all on partition 0; partition 1 stays empty.
        let t0 = now_ms() - 300_000;
        let records: Vec<TestRecord> = generate("lo", 50)
            .into_iter()
            .enumerate()
            .map(|(i, r)| TestRecord {
                timestamp: t0 + i as i64 * 1000,
                ..r
            })
            .collect();
        let producer: FutureProducer = producer_config(&bootstrap).create()?;
        produce_all(&producer, &topic, &records, Some(0)).await?;

        let consumer: BaseConsumer = consumer_config(&bootstrap).create()?;
        wait_for_partitions(&consumer, &topic, PARTITIONS as usize)?;
        let marks = consumer.fetch_watermarks(&topic, 0, TIMEOUT)?;
        ensure!(marks == (0, 50), "partition 0 watermarks {marks:?}");
        let empty = consumer.fetch_watermarks(&topic, 1, TIMEOUT)?;
        ensure!(empty == (0, 0), "empty partition 1 watermarks {empty:?}");

        let cases = [
            (0, t0 - 1, Offset::Offset(0)),
            (0, t0, Offset::Offset(0)),
            (0, t0 + 10_000 - 1, Offset::Offset(10)),
            (0, t0 + 10_000, Offset::Offset(10)),
            (0, t0 + 49_000, Offset::Offset(49)),
            (0, t0 + 49_001, Offset::End),
            (1, t0, Offset::End),
        ];
        for (partition, ts, want) in cases {
            let mut query = TopicPartitionList::new();
            query.add_partition_offset(&topic, partition, Offset::Offset(ts))?;
            let answer = consumer.offsets_for_times(query, TIMEOUT)?;
            let got = answer
                .find_partition(&topic, partition)
                .context("partition missing from the answer")?;
            ensure!(
                got.error().is_ok(),
                "partition {partition}: {:?}",
                got.error()
            );
            ensure!(
                got.offset() == want,
                "offsets_for_times(partition {partition}, t0{:+}): got {:?}, want {want:?}",
                ts - t0,
                got.offset()
            );
        }
        Ok(())
    }
    .await;
    with_log(&broker, result)
}
