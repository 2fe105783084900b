//! Helpers shared by the storage tests: real v2 batches (built with kafka-protocol's encoder,
//! tests only) and a small `LogConfig`.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType as KTs,
};

use super::log::{LogConfig, TimestampType};

/// How to build a test batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchSpec {
    /// Records in the batch.
    pub count: usize,
    /// Timestamp of the first record; later records add 1 ms each.
    pub timestamp: i64,
    /// Codec.
    pub compression: Compression,
    /// (producer id, epoch, base sequence), or -1s.
    pub producer: (i64, i16, i32),
    /// Bytes per value.
    pub value_len: usize,
    /// Records carry a key.
    pub keyed: bool,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            count: 3,
            timestamp: 1_000,
            compression: Compression::None,
            producer: (-1, -1, -1),
            value_len: 10,
            keyed: true,
        }
    }
}

/// Encodes one batch as a producer would send it (base offset 0).
pub fn batch(spec: BatchSpec) -> Bytes {
    let records: Vec<Record> = (0..spec.count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: spec.producer.0,
            producer_epoch: spec.producer.1,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            // The encoder groups records whose offset - sequence is constant into one batch.
            sequence: spec.producer.2.wrapping_add(i as i32),
            timestamp: spec.timestamp + i as i64,
            key: spec.keyed.then(|| Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'v'; spec.value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: spec.compression,
        },
    )
    .unwrap();
    buf.freeze()
}

/// A batch of `count` small uncompressed records with the given first timestamp.
pub fn simple(count: usize, timestamp: i64) -> Bytes {
    batch(BatchSpec {
        count,
        timestamp,
        ..Default::default()
    })
}

/// A config with small segments and indexes so tests roll and index often.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        segment_ms: i64::MAX,
        segment_index_bytes: 1024,
        index_interval_bytes: 128,
        max_message_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 20,
        timestamp_type: TimestampType::CreateTime,
        flush_messages: u64::MAX,
        flush_ms: i64::MAX,
        compact: false,
        delete: true,
        retention_ms: -1,
        retention_bytes: -1,
        file_delete_delay_ms: 60_000,
    }
}
