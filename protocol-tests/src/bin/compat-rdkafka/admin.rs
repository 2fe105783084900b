//! Metadata and admin scenarios: auto-creation, topic admin, DescribeConfigs, AlterConfigs and
//! DeleteRecords.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::{
    AdminOptions, AlterConfig, ConfigEntry, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::consumer::Consumer;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use crate::util::{self, admin, block_on, deadline_check, ensure_that, REQUEST_TIMEOUT};

/// Asks for `topic`'s metadata until it has `want` partitions, no error and live leaders (a
/// request also auto-creates it); a broker's metadata may lag an admin request that returned.
pub fn wait_topic(bootstrap: &str, topic: &str, want: usize) -> Result<()> {
    let p = util::producer(bootstrap, &[])?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = match p.client().fetch_metadata(Some(topic), REQUEST_TIMEOUT) {
            Err(e) => format!("metadata error {e}"),
            Ok(md) => {
                let brokers: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
                match md.topics().iter().find(|t| t.name() == topic) {
                    None => "topic missing".into(),
                    Some(t) if t.error().is_some() => format!("topic error {:?}", t.error()),
                    Some(t) if t.partitions().len() != want => {
                        format!("{} partitions", t.partitions().len())
                    }
                    Some(t)
                        if t.partitions()
                            .iter()
                            .any(|p| !brokers.contains(&p.leader())) =>
                    {
                        "a leader that is not a broker".into()
                    }
                    Some(_) => return Ok(()),
                }
            }
        };
        deadline_check(deadline, || {
            format!("{topic} with {want} partitions: {seen}")
        })?;
        std::thread::sleep(Duration::from_millis(200)); // metadata refresh interval, not sync
    }
}

/// Metadata for an unknown topic auto-creates it with 3 partitions and live leaders.
pub fn metadata_autocreate(bootstrap: &str, topic: &str) -> Result<()> {
    wait_topic(bootstrap, topic, util::PARTITIONS as usize)
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)))
}

/// Creates a 1-partition topic with `configs`, waiting until metadata shows it.
fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<()> {
    let mut nt = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        nt = nt.set(k, v);
    }
    for r in block_on(admin(bootstrap)?.create_topics([&nt], &opts()))?? {
        r.map_err(|(t, e)| anyhow::anyhow!("create {t}: {e}"))?;
    }
    wait_topic(bootstrap, topic, partitions as usize)
}

/// Create a 2-partition topic, grow it to 4, delete it.
pub fn admin_topics(bootstrap: &str, topic: &str) -> Result<()> {
    create_topic(bootstrap, topic, 2, &[])?;
    let a = admin(bootstrap)?;
    for r in block_on(a.create_partitions([&NewPartitions::new(topic, 4)], &opts()))?? {
        r.map_err(|(t, e)| anyhow::anyhow!("create_partitions {t}: {e}"))?;
    }
    wait_topic(bootstrap, topic, 4).context("after create_partitions")?;
    for r in block_on(a.delete_topics(&[topic], &opts()))?? {
        r.map_err(|(t, e)| anyhow::anyhow!("delete {t}: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let md = a.inner().fetch_metadata(None, REQUEST_TIMEOUT)?;
        if !md.topics().iter().any(|t| t.name() == topic) {
            return Ok(());
        }
        deadline_check(deadline, || {
            format!("{topic} to leave the topic list after delete")
        })?;
        std::thread::sleep(Duration::from_millis(200)); // metadata refresh interval, not sync
    }
}

/// Describes `topic`'s configs, retrying while the broker does not know the topic yet.
fn describe(bootstrap: &str, topic: &str) -> Result<Vec<ConfigEntry>> {
    let a = admin(bootstrap)?;
    let spec = ResourceSpecifier::Topic(topic);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = block_on(a.describe_configs([&spec], &opts()))?;
        match res.map(|mut v| v.pop()) {
            Ok(Some(Ok(r))) => return Ok(r.entries),
            other => deadline_check(deadline, || {
                format!("DescribeConfigs of {topic}: {other:?}")
            })?,
        }
        std::thread::sleep(Duration::from_millis(200)); // metadata propagation, not sync
    }
}

fn entry<'a>(entries: &'a [ConfigEntry], name: &str) -> Result<&'a ConfigEntry> {
    entries
        .iter()
        .find(|e| e.name == name)
        .with_context(|| format!("{name} missing from DescribeConfigs"))
}

/// DescribeConfigs: the retention.ms override (dynamic topic source) and the cleanup.policy
/// default.
pub fn describe_configs(bootstrap: &str, topic: &str) -> Result<()> {
    create_topic(bootstrap, topic, 1, &[("retention.ms", "3600000")])?;
    let entries = describe(bootstrap, topic)?;
    let rm = entry(&entries, "retention.ms")?;
    ensure_that!(
        rm.value.as_deref() == Some("3600000") && rm.source == ConfigSource::DynamicTopic,
        "retention.ms {rm:?}"
    );
    let cp = entry(&entries, "cleanup.policy")?;
    ensure_that!(
        cp.value.as_deref() == Some("delete") && cp.is_default,
        "cleanup.policy {cp:?}"
    );
    Ok(())
}

/// Sends one AlterConfigs request for `topic` with `entries`; the per-resource result.
fn alter(
    bootstrap: &str,
    topic: &str,
    entries: &[(&str, &str)],
) -> Result<Result<(), RDKafkaErrorCode>> {
    let mut ac = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in entries {
        ac = ac.set(k, v);
    }
    let mut res = block_on(admin(bootstrap)?.alter_configs([&ac], &opts()))??;
    match res.pop() {
        Some(r) => Ok(r.map(|_| ()).map_err(|(_, e)| e)),
        None => bail!("AlterConfigs answered no resource"),
    }
}

/// The rdkafka crate offers AlterConfigs (not the incremental API): a SET is an alter with the
/// key, a DELETE an alter without it (the request replaces the topic's whole override set).
pub fn alter_configs(bootstrap: &str, topic: &str) -> Result<()> {
    create_topic(bootstrap, topic, 1, &[])?;
    alter(
        bootstrap,
        topic,
        &[("retention.ms", "7200000"), ("cleanup.policy", "compact")],
    )?
    .map_err(|e| anyhow::anyhow!("SET retention.ms, cleanup.policy: {e}"))?;
    let entries = describe(bootstrap, topic)?;
    for (name, value) in [("retention.ms", "7200000"), ("cleanup.policy", "compact")] {
        let e = entry(&entries, name)?;
        ensure_that!(
            e.value.as_deref() == Some(value) && e.source == ConfigSource::DynamicTopic,
            "after SET: {e:?}, expected {value} from the dynamic topic config"
        );
    }
    alter(bootstrap, topic, &[("cleanup.policy", "delete")])?
        .map_err(|e| anyhow::anyhow!("DELETE retention.ms: {e}"))?;
    let entries = describe(bootstrap, topic)?;
    let rm = entry(&entries, "retention.ms")?;
    ensure_that!(
        rm.value.as_deref() == Some("604800000") && rm.is_default,
        "after DELETE: {rm:?}, expected the default 604800000"
    );
    let cp = entry(&entries, "cleanup.policy")?;
    ensure_that!(
        cp.value.as_deref() == Some("delete") && cp.source == ConfigSource::DynamicTopic,
        "after DELETE: {cp:?}"
    );
    // The rdkafka crate drops AlterConfigs' per-resource error codes (it reports every resource
    // as altered), so the INVALID_CONFIG refusal is checked by its effect: nothing changed.
    alter(
        bootstrap,
        topic,
        &[
            ("retention.ms", "not-a-number"),
            ("cleanup.policy", "compact"),
        ],
    )?
    .map_err(|e| anyhow::anyhow!("invalid retention.ms: {e}"))?;
    let entries = describe(bootstrap, topic)?;
    let (rm, cp) = (
        entry(&entries, "retention.ms")?,
        entry(&entries, "cleanup.policy")?,
    );
    ensure_that!(
        rm.value.as_deref() == Some("604800000") && cp.value.as_deref() == Some("delete"),
        "retention.ms=not-a-number was applied: {rm:?}, {cp:?} (expected INVALID_CONFIG)"
    );
    Ok(())
}

/// DeleteRecords moves partition 0's log start offset to 10; ListOffsets earliest reports it and
/// a consumer from earliest starts there.
pub fn delete_records(bootstrap: &str, topic: &str) -> Result<()> {
    util::produce_spread(
        bootstrap,
        topic,
        "dr",
        90,
        protocol_tests::records::now_ms() - 60_000,
    )?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(10))?;
    let res = block_on(admin(bootstrap)?.delete_records(&tpl, &opts()))??;
    let e = res
        .find_partition(topic, 0)
        .context("DeleteRecords answered no partition 0")?;
    e.error().context("DeleteRecords partition 0")?;
    ensure_that!(
        e.offset() == Offset::Offset(10),
        "DeleteRecords low watermark {:?}, expected 10",
        e.offset()
    );
    let c = util::consumer(bootstrap, &[])?;
    let marks = c.fetch_watermarks(topic, 0, REQUEST_TIMEOUT)?;
    ensure_that!(marks == (10, 30), "watermarks {marks:?}, expected (10, 30)");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    c.assign(&tpl)?;
    let mut offsets = Vec::new();
    let deadline = Instant::now() + util::CONSUME_TIMEOUT;
    while offsets.len() < 20 {
        deadline_check(deadline, || {
            format!("offsets 10..30 from earliest (read {offsets:?})")
        })?;
        if let Some(at) = util::poll_at(&c, Duration::from_millis(200))? {
            offsets.push(at.offset);
        }
    }
    ensure_that!(
        offsets == (10..30).collect::<Vec<i64>>(),
        "from earliest read offsets {offsets:?}, expected 10..30"
    );
    Ok(())
}
