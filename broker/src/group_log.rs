//! `__consumer_offsets`: the internal topic where the group coordinator's records live.
//!
//! - Start-up: [`ensure_topic`] creates the topic (compacted, `offsets.topic.num.partitions`
//!   partitions) when absent; [`load`] reads every partition from its log start offset and
//!   replays each decodable record into the [`GroupCoordinator`], skipping (with a warning naming
//!   partition and offset) anything corrupt.
//! - Serving: [`encode_batch`] turns one call's `Effects::records` into one uncompressed magic-2
//!   batch (CreateTime = now), which the service appends to [`partition_for`] the group.
//!
//! Thread-safety: stateless functions; the `Log`s they use are `Sync`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::group::record_codec::{self, DecodedRecord};
use crate::group::{GroupCoordinator, GroupRecord, TopicInfo, TopicsSnapshot};
use crate::storage::record_batch::{compute_crc, BatchHeader, Codec, HEADER_LEN};
use crate::storage::{Log, LogManager, TopicError};

/// The topic's name, as Kafka spells it.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How many bytes one read during load asks for.
const LOAD_READ_BYTES: usize = 1 << 20;

/// Kafka's placement of a group: `Utils.abs(groupId.hashCode()) % partitions`, where
/// `hashCode` is Java's `String.hashCode` over UTF-16 code units and `Utils.abs` masks the sign
/// bit (so `i32::MIN` maps to 0, not to itself).
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let hash = group_id.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    (hash & 0x7fff_ffff) % partitions.max(1)
}

/// Creates `__consumer_offsets` with `partitions` partitions, `cleanup.policy=compact` and
/// 100 MiB segments if it does not exist; an existing topic is kept as it is (Kafka never changes
/// its partition count either). Blocking file-system work.
pub fn ensure_topic(manager: &LogManager, partitions: i32) -> Result<(), TopicError> {
    if manager.topic(OFFSETS_TOPIC).is_some() {
        return Ok(());
    }
    // Kafka creates it with these overrides (`segment.bytes` from `offsets.topic.segment.bytes`).
    let configs = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact".to_string()),
        ("segment.bytes".to_string(), "104857600".to_string()),
    ]);
    match manager.create_topic(OFFSETS_TOPIC, partitions, configs) {
        Ok(_) | Err(TopicError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What [`load`] found, for the start-up log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadStats {
    /// Records replayed.
    pub replayed: u64,
    /// Records of other coordinators (share and streams groups...) skipped.
    pub other: u64,
    /// Records or batches skipped because they could not be decoded.
    pub corrupt: u64,
}

/// Replays every partition of `__consumer_offsets` into `coordinator`, from each log start
/// offset to its high watermark, then hands it the topics as they are now (KIP-848 groups keep
/// their subscribed topics' metadata in memory only). Does not call `complete_load`. Blocking
/// file I/O.
pub fn load(manager: &LogManager, coordinator: &mut GroupCoordinator) -> LoadStats {
    let mut stats = LoadStats::default();
    let Some(topic) = manager.topic(OFFSETS_TOPIC) else {
        return stats;
    };
    for log in topic.partitions() {
        load_partition(&log, coordinator, &mut stats);
    }
    coordinator.load_topic_metadata(&topics_snapshot(manager));
    stats
}

/// Every topic's id and partition count, as Metadata would report them now: the topic input
/// of the KIP-848 consumer-group state machine.
pub fn topics_snapshot(manager: &LogManager) -> TopicsSnapshot {
    manager
        .topics()
        .iter()
        .map(|t| {
            let partitions = i32::try_from(t.partitions().len()).unwrap_or(i32::MAX);
            let info = TopicInfo {
                id: t.id(),
                partitions,
            };
            (t.name().to_string(), info)
        })
        .collect()
}

fn load_partition(log: &Arc<Log>, coordinator: &mut GroupCoordinator, stats: &mut LoadStats) {
    let tp = log.topic_partition().clone();
    let end = log.high_watermark();
    let mut offset = log.log_start_offset();
    while offset < end {
        let data = match log.read(offset, LOAD_READ_BYTES, true) {
            Ok(d) => d,
            Err(error) => {
                tracing::warn!(partition = %tp, offset, %error, "cannot read; rest of partition skipped");
                stats.corrupt += 1;
                return;
            }
        };
        let mut buf = &data.records[..];
        let mut progressed = false;
        while let Some(header) = BatchHeader::new(buf) {
            let Some(size) = header.total_size().filter(|s| *s <= buf.len()) else {
                break;
            };
            let batch = &buf[..size];
            buf = &buf[size..];
            progressed = true;
            offset = header.last_offset().saturating_add(1);
            if header.is_control() {
                continue;
            }
            replay_batch(&tp, batch, &header, coordinator, stats);
        }
        if !progressed {
            tracing::warn!(partition = %tp, offset, "no readable batch; rest of partition skipped");
            stats.corrupt += 1;
            return;
        }
    }
}

fn replay_batch(
    tp: &crate::storage::TopicPartition,
    batch: &[u8],
    header: &BatchHeader<'_>,
    coordinator: &mut GroupCoordinator,
    stats: &mut LoadStats,
) {
    let base = header.base_offset();
    if header.codec() != Some(Codec::None) {
        // We only ever write uncompressed batches; a compressed one came from elsewhere.
        tracing::warn!(partition = %tp, offset = base, "compressed group batch skipped");
        stats.corrupt += 1;
        return;
    }
    let mut records = RecordReader {
        buf: &batch[HEADER_LEN..],
        pos: 0,
    };
    for _ in 0..header.record_count().max(0) {
        let Some((delta, key, value)) = records.next() else {
            tracing::warn!(partition = %tp, offset = base, "malformed record; rest of batch skipped");
            stats.corrupt += 1;
            return;
        };
        let offset = base.saturating_add(i64::from(delta));
        let Some(key) = key else {
            tracing::warn!(partition = %tp, offset, "record without a key skipped");
            stats.corrupt += 1;
            continue;
        };
        match record_codec::decode(key, value) {
            Ok(DecodedRecord::Group(record)) => {
                coordinator.replay(record);
                stats.replayed += 1;
            }
            Ok(DecodedRecord::Other { .. }) => stats.other += 1,
            Err(error) => {
                tracing::warn!(partition = %tp, offset, %error, "undecodable group record skipped");
                stats.corrupt += 1;
            }
        }
    }
}

/// Reads the records of an uncompressed v2 batch in place.
struct RecordReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> RecordReader<'a> {
    /// The next record's offset delta, key and value; `None` when malformed.
    #[allow(clippy::type_complexity)]
    fn next(&mut self) -> Option<(i32, Option<&'a [u8]>, Option<&'a [u8]>)> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len).filter(|e| *e <= self.buf.len())?;
        let mut r = RecordReader {
            buf: &self.buf[..end],
            pos: self.pos,
        };
        self.pos = end;
        r.pos += 1; // attributes
        r.varint()?; // timestamp delta
        let delta = i32::try_from(r.varint()?).ok()?;
        let key = r.field()?;
        let value = r.field()?;
        Some((delta, key, value))
    }

    /// A zigzag varint/varlong as Kafka writes record fields.
    fn varint(&mut self) -> Option<i64> {
        let mut raw = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        None
    }

    /// A length-prefixed key or value; `Some(None)` for null.
    fn field(&mut self) -> Option<Option<&'a [u8]>> {
        let len = self.varint()?;
        if len < 0 {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        let end = self.pos.checked_add(len).filter(|e| *e <= self.buf.len())?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Some(Some(out))
    }
}

/// One uncompressed magic-2 batch holding `records` in order, CreateTime `now_ms`, no producer
/// id, base offset 0 (the log assigns offsets). `None` when there is nothing to write.
pub fn encode_batch(records: &[GroupRecord], now_ms: i64) -> Option<Bytes> {
    if records.is_empty() {
        return None;
    }
    let mut body = BytesMut::new();
    for (delta, record) in records.iter().enumerate() {
        let key = record_codec::encode_key(record);
        let value = record_codec::encode_value(record);
        let mut r = BytesMut::new();
        r.put_i8(0); // attributes
        put_varint(&mut r, 0); // timestamp delta
        put_varint(&mut r, delta as i64);
        put_varint(&mut r, key.len() as i64);
        r.put_slice(&key);
        match &value {
            Some(v) => {
                put_varint(&mut r, v.len() as i64);
                r.put_slice(v);
            }
            None => put_varint(&mut r, -1),
        }
        put_varint(&mut r, 0); // headers
        put_varint(&mut body, r.len() as i64);
        body.put_slice(&r);
    }
    let count = i32::try_from(records.len()).ok()?;
    let mut b = BytesMut::with_capacity(HEADER_LEN + body.len());
    b.put_i64(0); // base offset
    b.put_i32(i32::try_from(HEADER_LEN - 12 + body.len()).ok()?); // batch length
    b.put_i32(-1); // partition leader epoch (set by the log)
    b.put_i8(2); // magic
    b.put_u32(0); // crc, filled below
    b.put_i16(0); // attributes: no compression, CreateTime
    b.put_i32(count - 1); // last offset delta
    b.put_i64(now_ms); // base timestamp
    b.put_i64(now_ms); // max timestamp
    b.put_i64(-1); // producer id
    b.put_i16(-1); // producer epoch
    b.put_i32(-1); // base sequence
    b.put_i32(count);
    b.put_slice(&body);
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Some(b.freeze())
}

/// Kafka's zigzag varint (for values that fit an int64).
fn put_varint(out: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.put_u8(z as u8);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::group::{GroupConfig, OffsetCommitKey, OffsetCommitValue};

    fn committed(c: &GroupCoordinator, partition: i32) -> Option<i64> {
        let group = c.groups.get("g")?;
        Some(group.offsets.get("t")?.get(&partition)?.offset)
    }

    #[test]
    fn partition_for_matches_java_string_hash_code() {
        // "".hashCode() == 0; "a".hashCode() == 97; "group".hashCode() == 98629247.
        assert_eq!(partition_for("", 50), 0);
        assert_eq!(partition_for("a", 50), 97 % 50);
        assert_eq!(partition_for("group", 50), 98_629_247 % 50);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE; Utils.abs maps it to 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // A negative hash: "my-group".hashCode() == -1906497762, masked: 240_985_886 % 50.
        assert_eq!(partition_for("my-group", 50), 36);
    }

    fn commit(partition: i32, offset: i64) -> GroupRecord {
        GroupRecord::OffsetCommit {
            key: OffsetCommitKey {
                group_id: "g".into(),
                topic: "t".into(),
                partition,
            },
            value: Some(OffsetCommitValue {
                offset,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp: 5,
                expire_timestamp: None,
            }),
        }
    }

    #[test]
    fn encoded_batch_is_valid_and_replays_in_order() {
        let records = vec![commit(0, 10), commit(1, 20), commit(0, 30)];
        let batch = encode_batch(&records, 1_234).unwrap();
        let limits = crate::storage::record_batch::ValidationLimits {
            max_message_bytes: 1 << 20,
            max_decompressed_bytes: 1 << 20,
            compact: true,
        };
        crate::storage::record_batch::validate_batch(&batch, &limits).unwrap();
        let header = BatchHeader::new(&batch).unwrap();
        assert_eq!((header.record_count(), header.max_timestamp()), (3, 1_234));
        let mut coordinator = GroupCoordinator::new(GroupConfig::default());
        let mut stats = LoadStats::default();
        let tp = crate::storage::TopicPartition {
            topic: OFFSETS_TOPIC.into(),
            partition: 0,
        };
        replay_batch(&tp, &batch, &header, &mut coordinator, &mut stats);
        assert_eq!(stats.replayed, 3);
        assert_eq!(committed(&coordinator, 0), Some(30));
        assert_eq!(committed(&coordinator, 1), Some(20));
    }

    #[test]
    fn tombstones_and_garbage_do_not_panic() {
        let mut records = vec![commit(0, 10)];
        records.push(GroupRecord::OffsetCommit {
            key: OffsetCommitKey {
                group_id: "g".into(),
                topic: "t".into(),
                partition: 0,
            },
            value: None,
        });
        let batch = encode_batch(&records, 1).unwrap();
        let header = BatchHeader::new(&batch).unwrap();
        let mut coordinator = GroupCoordinator::new(GroupConfig::default());
        let mut stats = LoadStats::default();
        let tp = crate::storage::TopicPartition {
            topic: OFFSETS_TOPIC.into(),
            partition: 0,
        };
        replay_batch(&tp, &batch, &header, &mut coordinator, &mut stats);
        assert_eq!(committed(&coordinator, 0), None);
        // Flip bytes inside the records: every outcome is a count, never a panic.
        for at in HEADER_LEN..batch.len() {
            let mut bad = batch.to_vec();
            bad[at] ^= 0xff;
            let header = BatchHeader::new(&bad).unwrap();
            let mut c = GroupCoordinator::new(GroupConfig::default());
            replay_batch(&tp, &bad, &header, &mut c, &mut LoadStats::default());
        }
    }
}
