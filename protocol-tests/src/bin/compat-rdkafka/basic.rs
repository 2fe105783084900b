//! Produce and consume scenarios: round trips (plain, codecs, idempotent), the maximum message
//! size, earliest/latest, offsets by time and an empty topic's end of partition.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

use protocol_tests::records::{self, now_ms};

use crate::util::{
    self, block_on, consumer, deadline_check, ensure_that, producer, PARTITIONS, REQUEST_TIMEOUT,
};

/// 300 keyed records with headers and explicit timestamps, read back byte-identical by an
/// assigned consumer; `producer_conf` picks the codec or idempotence.
pub fn round_trip(
    bootstrap: &str,
    topic: &str,
    tag: &str,
    producer_conf: &[(&str, &str)],
) -> Result<()> {
    let sent = records::generate(tag, 300);
    let acks = util::produce(&producer(bootstrap, producer_conf)?, topic, &sent, None)?;
    let ends = records::end_offsets(&acks);
    ensure_that!(
        ends.len() == PARTITIONS as usize,
        "records went to partitions {:?} only",
        ends.keys()
    );
    let read = records::read_until(
        &util::quiet_consumer(bootstrap)?,
        topic,
        &ends,
        util::CONSUME_TIMEOUT,
    )?;
    records::verify_round_trip(&sent, &acks, &read)
}

/// A 1,000,000-byte record is stored and read back; a 1,100,000-byte one is refused by the broker
/// with MESSAGE_TOO_LARGE (the client's own limit is raised above it).
pub fn max_message(bootstrap: &str, topic: &str) -> Result<()> {
    let p = producer(
        bootstrap,
        &[
            ("message.max.bytes", "2000000"),
            ("compression.type", "none"),
        ],
    )?;
    let near = vec![b'n'; 1_000_000];
    let over = vec![b'o'; 1_100_000];
    // The delivery result: Ok, or the error the producer reported.
    let send = |value: &[u8], key: &str| -> Result<Result<(), KafkaError>> {
        let rec = FutureRecord::to(topic).key(key).payload(value).partition(0);
        let future = p.send_result(rec).map_err(|(e, _)| e)?;
        match block_on(future)? {
            Ok(r) => Ok(r.map(|_| ()).map_err(|(e, _)| e)),
            Err(_) => bail!("delivery report lost"),
        }
    };
    match send(&near, "near")? {
        Ok(()) => {}
        other => bail!("near-max record: {other:?}"),
    }
    match send(&over, "over")? {
        Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)) => {}
        other => bail!("over-max record: {other:?} (expected the broker's MESSAGE_TOO_LARGE)"),
    }
    let c = consumer(bootstrap, &[("fetch.max.bytes", "2000000")])?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    c.assign(&tpl)?;
    let deadline = Instant::now() + util::CONSUME_TIMEOUT;
    loop {
        deadline_check(deadline, || "the near-max record".into())?;
        match c.poll(Duration::from_millis(200)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => bail!("consume error: {e}"),
            Some(Ok(m)) => {
                ensure_that!(
                    m.payload() == Some(&near[..]),
                    "near-max record read back with {} bytes",
                    m.payload().map_or(0, <[u8]>::len)
                );
                return Ok(());
            }
        }
    }
}

fn assign_all(c: &BaseConsumer, topic: &str, offset: Offset) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, offset)?;
    }
    c.assign(&tpl).context("assign")
}

/// Polls until every partition reported end-of-partition; a record fails the scenario.
fn wait_all_eof(c: &BaseConsumer, what: &str) -> Result<()> {
    let mut eof = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while eof.len() < PARTITIONS as usize {
        deadline_check(deadline, || {
            format!("{what}: end of partition (seen on {eof:?})")
        })?;
        match c.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            // Right after auto-creation the first fetches may not know the topic yet.
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::UnknownTopicOrPartition,
            ))) => {}
            Some(Err(e)) => bail!("{what}: consume error {e}"),
            Some(Ok(m)) => bail!(
                "{what}: a record came out at partition {} offset {}",
                m.partition(),
                m.offset()
            ),
        }
    }
    Ok(())
}

/// From earliest every record is seen; from latest only those produced after the consumer
/// reached the end of every partition.
pub fn earliest_latest(bootstrap: &str, topic: &str) -> Result<()> {
    let p = producer(bootstrap, &[])?;
    let first = records::generate("el-1", 60);
    let acks = util::produce(&p, topic, &first, None)?;
    let read = records::read_until(
        &util::quiet_consumer(bootstrap)?,
        topic,
        &records::end_offsets(&acks),
        util::CONSUME_TIMEOUT,
    )?;
    records::verify_round_trip(&first, &acks, &read).context("earliest")?;
    let c = consumer(bootstrap, &[])?;
    assign_all(&c, topic, Offset::End)?;
    wait_all_eof(&c, "latest")?;
    let later = records::generate("el-2", 30);
    util::produce(&p, topic, &later, None)?;
    let want: BTreeSet<Vec<u8>> = later.iter().filter_map(|r| r.value.clone()).collect();
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + util::CONSUME_TIMEOUT;
    while got.len() < later.len() {
        deadline_check(deadline, || {
            format!("latest: 30 new records ({} read)", got.len())
        })?;
        match c.poll(Duration::from_millis(200)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => bail!("latest: consume error {e}"),
            Some(Ok(m)) => {
                let v = m.payload().unwrap_or_default().to_vec();
                ensure_that!(
                    want.contains(&v),
                    "latest: an old record at offset {}",
                    m.offset()
                );
                got.insert(v);
            }
        }
    }
    Ok(())
}

/// ListOffsets by timestamp (a hit and past the end) and the watermarks.
pub fn offsets_for_times(bootstrap: &str, topic: &str) -> Result<()> {
    let base = now_ms() - 600_000;
    util::produce_spread(bootstrap, topic, "oft", 90, base)?;
    let c = consumer(bootstrap, &[])?;
    let mut query = TopicPartitionList::new();
    // Partition 0 holds records 0, 3, 6...; base+31 is first reached by record 33 (offset 11).
    query.add_partition_offset(topic, 0, Offset::Offset(base + 31))?;
    query.add_partition_offset(topic, 1, Offset::Offset(base + 10_000_000))?;
    let res = c.offsets_for_times(query, REQUEST_TIMEOUT)?;
    let offset = |p| res.find_partition(topic, p).map(|e| e.offset());
    ensure_that!(
        offset(0) == Some(Offset::Offset(11)),
        "partition 0 by time: {:?}, expected offset 11",
        offset(0)
    );
    ensure_that!(
        offset(1) == Some(Offset::End),
        "partition 1 past the last timestamp: {:?}, expected the end (-1)",
        offset(1)
    );
    let marks = c.fetch_watermarks(topic, 2, REQUEST_TIMEOUT)?;
    ensure_that!(
        marks == (0, 30),
        "partition 2 watermarks {marks:?}, expected (0, 30)"
    );
    Ok(())
}

/// An empty (auto-created) topic: end offsets 0, end of partition reached without records.
pub fn empty_eof(bootstrap: &str, topic: &str) -> Result<()> {
    crate::admin::wait_topic(bootstrap, topic, PARTITIONS as usize)?;
    let c = consumer(bootstrap, &[])?;
    assign_all(&c, topic, Offset::Beginning)?;
    wait_all_eof(&c, "empty topic")?;
    for p in 0..PARTITIONS {
        let marks = c.fetch_watermarks(topic, p, REQUEST_TIMEOUT)?;
        ensure_that!(
            marks == (0, 0),
            "partition {p} watermarks {marks:?}, expected (0, 0)"
        );
    }
    Ok(())
}
