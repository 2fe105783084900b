//! Storage error types. Handlers map them to Kafka error codes; nothing here names a wire code.

use std::path::PathBuf;

/// An I/O or format failure of the storage layer itself.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system call failed on `path`.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "fsync", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's contents are not what its format requires and cannot be repaired.
    #[error("corrupt {path}: {reason}")]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An earlier fsync or write failed, so this partition refuses writes until restarted.
    #[error("log {0} is offline after an earlier I/O failure")]
    Offline(String),
}

/// Why an append was refused. Each variant maps to one Kafka error code in the produce handler.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The bytes are not a valid v2 record batch (bad length, magic, CRC, count). CORRUPT_MESSAGE.
    #[error("corrupt record batch: {0}")]
    Corrupt(String),
    /// A batch is well formed but its records break a rule (offset deltas, keyless records on a
    /// compacted topic, decompressed size over the cap). INVALID_RECORD.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// One batch is larger than `max.message.bytes`. MESSAGE_TOO_LARGE.
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// The batch's size in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The producer's sequence number is not the next one expected. OUT_OF_ORDER_SEQUENCE_NUMBER.
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    /// The producer's epoch is older than the one the log has seen. INVALID_PRODUCER_EPOCH.
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// A non-zero sequence from a producer the log has no state for. UNKNOWN_PRODUCER_ID.
    #[error("unknown producer id {0}")]
    UnknownProducerId(i64),
    /// The write or flush failed; the log is now offline. KAFKA_STORAGE_ERROR.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a read was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The offset lies before the log start offset or after the high watermark.
    /// OFFSET_OUT_OF_RANGE.
    #[error("offset {offset} out of range [{log_start_offset}, {high_watermark}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The first offset still in the log.
        log_start_offset: i64,
        /// The offset after the last readable record.
        high_watermark: i64,
    },
    /// Reading the files failed. KAFKA_STORAGE_ERROR.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
