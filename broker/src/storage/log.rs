//! `Log`: one partition on disk. CONTRACT (to be implemented): signatures are fixed, bodies are not.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use uuid::Uuid;

use super::error::{AppendError, ReadError, StorageError};
use super::log_manager::TopicPartition;

/// Which timestamp a partition keeps for its batches (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    #[default]
    CreateTime,
    /// Overwrite each batch's max timestamp with the broker's clock at append.
    LogAppendTime,
}

/// Per-partition settings, from the broker defaults and the topic's overrides.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `segment.index.bytes`: the preallocated size of each `.index` / `.timeindex`.
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: bytes of batches between two index entries.
    pub index_interval_bytes: u32,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: usize,
    /// Cap on a batch's decompressed size, so a compression bomb cannot exhaust memory.
    pub max_decompressed_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `flush.messages`: fsync after this many unflushed records (1 = before every ack).
    pub flush_messages: u64,
    /// `flush.ms`: fsync when the oldest unflushed append is older than this.
    pub flush_ms: i64,
    /// `cleanup.policy` contains `compact`: keyless records are refused.
    pub compact: bool,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// The broker time written under LogAppendTime, or -1 under CreateTime.
    pub log_append_time: i64,
    /// The partition's log start offset after the append.
    pub log_start_offset: i64,
    /// True when every record must be fsynced before the append is acknowledged
    /// (`flush.messages` reached); the caller then awaits [`Log::flush_up_to`].
    pub needs_flush: bool,
}

/// What a read returns.
#[derive(Debug, Clone)]
pub struct FetchDataInfo {
    /// Whole record batches, verbatim from the segment files; empty when nothing is readable.
    pub records: Bytes,
    /// The high watermark at the time of the read.
    pub high_watermark: i64,
    /// The log start offset at the time of the read.
    pub log_start_offset: i64,
}

/// One partition.
#[derive(Debug)]
pub struct Log {
    _todo: (),
}

#[allow(unused_variables, clippy::missing_errors_doc)]
impl Log {
    /// Opens the partition directory `dir`, creating it if needed, and recovers it.
    pub fn open(
        dir: &Path,
        tp: TopicPartition,
        topic_id: Uuid,
        config: LogConfig,
        clean_shutdown: bool,
        recovery_point: i64,
    ) -> Result<Log, StorageError> {
        todo!()
    }
    /// The partition this log stores.
    pub fn topic_partition(&self) -> &TopicPartition {
        todo!()
    }
    /// The partition directory.
    pub fn dir(&self) -> PathBuf {
        todo!()
    }
    /// Validates and appends the record batches in `records` (a produce request's bytes for this
    /// partition) at the log end, assigning offsets. `now_ms` is the broker clock.
    pub fn append(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, AppendError> {
        todo!()
    }
    /// Reads whole batches from the first batch containing `offset`, up to `max_bytes`, bounded
    /// by the high watermark. With `min_one_batch` (KIP-74) the first batch is returned whole
    /// even when larger than `max_bytes`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<FetchDataInfo, ReadError> {
        todo!()
    }
    /// The offset after the last record visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        todo!()
    }
    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        todo!()
    }
    /// The offset the next appended record will get.
    pub fn log_end_offset(&self) -> i64 {
        todo!()
    }
    /// The leader epoch this broker writes into batches (constant 0 on a single node).
    pub fn leader_epoch(&self) -> i32 {
        todo!()
    }
    /// The first offset whose batch max timestamp is >= `timestamp`, with that batch's timestamp,
    /// found through the time index; `None` when every batch is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError> {
        todo!()
    }
    /// The offset and timestamp of the record with the largest timestamp (ListOffsets -3).
    pub fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
        todo!()
    }
    /// Fsyncs everything up to at least `offset`. Concurrent callers share one fsync (group
    /// commit). A failed fsync takes the log offline and returns the error.
    pub async fn flush_up_to(&self, offset: i64) -> Result<(), StorageError> {
        todo!()
    }
    /// Fsyncs everything now (periodic flush and shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        todo!()
    }
    /// Flushes if `flush.ms` has passed since the oldest unflushed append.
    pub fn maybe_flush_by_time(&self, now_ms: i64) -> Result<(), StorageError> {
        todo!()
    }
    /// Flushes, trims the active indexes to their used size and closes the files.
    pub fn close(&self) -> Result<(), StorageError> {
        todo!()
    }
}
