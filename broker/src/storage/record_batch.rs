//! A zero-copy view over one v2 record batch, the checks made before a batch is appended, and the
//! in-place patches the broker makes (base offset, leader epoch, LogAppendTime).
//!
//! Thread-safety: every type here is a plain value or a borrowed view; they are `Send + Sync`
//! and hold no lock.

use bytes::Bytes;

use super::error::AppendError;
use super::record_walk::{walk_records, RecordStats};

/// Bytes before `batchLength`'s counted region: baseOffset (8) + batchLength (4).
pub const LOG_OVERHEAD: usize = 12;
/// Size of the v2 batch header; records start here.
pub const HEADER_LEN: usize = 61;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORD_COUNT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// The compression codec named by attribute bits 0–2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy, in snappy-java's framed ("xerial") layout or raw.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

/// A borrowed view over the first [`HEADER_LEN`] bytes of a v2 batch. Accessors read big-endian
/// fields in place; nothing is copied.
#[derive(Debug, Clone, Copy)]
pub struct BatchHeader<'a> {
    /// At least [`HEADER_LEN`] bytes, starting at the batch's baseOffset.
    buf: &'a [u8],
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl<'a> BatchHeader<'a> {
    /// A view over `buf`, or `None` when it is shorter than a batch header.
    pub fn new(buf: &'a [u8]) -> Option<Self> {
        (buf.len() >= HEADER_LEN).then_some(BatchHeader { buf })
    }
    /// The offset of the first record.
    pub fn base_offset(&self) -> i64 {
        be_i64(self.buf, BASE_OFFSET)
    }
    /// The `batchLength` field: the batch's size minus [`LOG_OVERHEAD`].
    pub fn batch_length(&self) -> i32 {
        be_i32(self.buf, BATCH_LENGTH)
    }
    /// The whole batch's size in bytes, or `None` when `batchLength` is too small to be valid.
    pub fn total_size(&self) -> Option<usize> {
        let len = usize::try_from(self.batch_length()).ok()?;
        let total = len.checked_add(LOG_OVERHEAD)?;
        (total >= HEADER_LEN).then_some(total)
    }
    /// The leader epoch the batch was written under.
    pub fn partition_leader_epoch(&self) -> i32 {
        be_i32(self.buf, LEADER_EPOCH)
    }
    /// The format version; only 2 is accepted.
    pub fn magic(&self) -> i8 {
        i8::from_be_bytes([self.buf[MAGIC]])
    }
    /// The stored CRC-32C.
    pub fn crc(&self) -> u32 {
        u32::from_be_bytes([
            self.buf[CRC],
            self.buf[CRC + 1],
            self.buf[CRC + 2],
            self.buf[CRC + 3],
        ])
    }
    /// The attribute bits.
    pub fn attributes(&self) -> i16 {
        be_i16(self.buf, ATTRIBUTES)
    }
    /// The codec named by the attributes, or `None` for the unused codes 5–7.
    pub fn codec(&self) -> Option<Codec> {
        match self.attributes() & COMPRESSION_MASK {
            0 => Some(Codec::None),
            1 => Some(Codec::Gzip),
            2 => Some(Codec::Snappy),
            3 => Some(Codec::Lz4),
            4 => Some(Codec::Zstd),
            _ => None,
        }
    }
    /// True when the batch is stamped with LogAppendTime.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes() & TIMESTAMP_TYPE_BIT != 0
    }
    /// True for a transactional batch.
    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL_BIT != 0
    }
    /// True for a control batch (transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL_BIT != 0
    }
    /// Offset of the last record relative to the base offset.
    pub fn last_offset_delta(&self) -> i32 {
        be_i32(self.buf, LAST_OFFSET_DELTA)
    }
    /// The offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .saturating_add(i64::from(self.last_offset_delta()))
    }
    /// The first record's timestamp.
    pub fn base_timestamp(&self) -> i64 {
        be_i64(self.buf, BASE_TIMESTAMP)
    }
    /// The largest record timestamp (or the append time under LogAppendTime).
    pub fn max_timestamp(&self) -> i64 {
        be_i64(self.buf, MAX_TIMESTAMP)
    }
    /// The idempotent producer's id, or -1.
    pub fn producer_id(&self) -> i64 {
        be_i64(self.buf, PRODUCER_ID)
    }
    /// The producer's epoch.
    pub fn producer_epoch(&self) -> i16 {
        be_i16(self.buf, PRODUCER_EPOCH)
    }
    /// The first record's sequence number.
    pub fn base_sequence(&self) -> i32 {
        be_i32(self.buf, BASE_SEQUENCE)
    }
    /// The last record's sequence number; sequences wrap from `i32::MAX` to 0.
    pub fn last_sequence(&self) -> i32 {
        let seq = i64::from(self.base_sequence()) + i64::from(self.last_offset_delta());
        // Kafka wraps sequence numbers modulo 2^31, never into negative values.
        i32::try_from(seq.rem_euclid(i64::from(i32::MAX) + 1)).unwrap_or(0)
    }
    /// The number of records the header claims.
    pub fn record_count(&self) -> i32 {
        be_i32(self.buf, RECORD_COUNT)
    }
}

/// The CRC-32C of a whole batch's covered region (attributes to the end).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES..).unwrap_or_default())
}

/// Splits a produce request's record bytes into whole batches, sharing `records`' buffer.
/// Checks only the framing (each `batchLength` fits the buffer); [`validate_batch`] does the rest.
pub fn split_batches(records: &Bytes) -> Result<Vec<Bytes>, AppendError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        if rest.len() < LOG_OVERHEAD {
            return Err(AppendError::Corrupt(format!(
                "{} trailing bytes are not a batch",
                rest.len()
            )));
        }
        let len = be_i32(rest, BATCH_LENGTH);
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(LOG_OVERHEAD))
            .filter(|t| *t >= HEADER_LEN)
            .ok_or_else(|| AppendError::Corrupt(format!("invalid batchLength {len}")))?;
        if total > rest.len() {
            return Err(AppendError::Corrupt(format!(
                "batchLength {len} exceeds the {} bytes left",
                rest.len()
            )));
        }
        out.push(records.slice(pos..pos + total));
        pos += total;
    }
    if out.is_empty() {
        return Err(AppendError::Corrupt("no record batch".into()));
    }
    Ok(out)
}

/// The limits a batch is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ValidationLimits {
    /// `max.message.bytes`.
    pub max_message_bytes: usize,
    /// Cap on the decompressed size of a compressed batch.
    pub max_decompressed_bytes: usize,
    /// Compacted topic: every record needs a key.
    pub compact: bool,
}

/// What validation learned about a batch that the append needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatedBatch {
    /// Number of records.
    pub record_count: i32,
    /// The header's lastOffsetDelta.
    pub last_offset_delta: i32,
    /// The header's maxTimestamp.
    pub max_timestamp: i64,
    /// Offset delta of the first record carrying the largest timestamp.
    pub offset_delta_of_max_timestamp: i32,
    /// Producer id, -1 for a non-idempotent producer.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// First sequence number.
    pub base_sequence: i32,
    /// Last sequence number.
    pub last_sequence: i32,
}

/// Checks one whole batch (as produced by [`split_batches`]) before it is appended: framing,
/// magic, CRC, record count, size, unsupported attributes, then every record.
pub fn validate_batch(
    batch: &[u8],
    limits: &ValidationLimits,
) -> Result<ValidatedBatch, AppendError> {
    let h = check_header(batch)?;
    if batch.len() > limits.max_message_bytes {
        return Err(AppendError::MessageTooLarge {
            size: batch.len(),
            max: limits.max_message_bytes,
        });
    }
    if h.is_transactional() || h.is_control() {
        return Err(AppendError::InvalidRecord(
            "transactions are not supported yet".into(),
        ));
    }
    let codec = h.codec().ok_or_else(|| {
        AppendError::Corrupt(format!("unknown codec in attributes {:#x}", h.attributes()))
    })?;
    let (mut contiguous, mut next_delta) = (true, 0i32);
    let stats = walk_records(
        codec,
        &batch[HEADER_LEN..],
        h.record_count(),
        limits.max_decompressed_bytes,
        limits.compact,
        h.base_timestamp(),
        |r| {
            // A producer's batch has contiguous offset deltas 0, 1, 2...; only compaction
            // leaves gaps, in stored batches.
            contiguous &= r.offset_delta == next_delta;
            next_delta = next_delta.saturating_add(1);
            !contiguous
        },
    )?;
    if !contiguous {
        return Err(AppendError::InvalidRecord(
            "record offset deltas must run 0, 1, 2...".into(),
        ));
    }
    if i64::from(h.last_offset_delta()) != i64::from(h.record_count()) - 1 {
        return Err(AppendError::Corrupt(format!(
            "record count {} does not match lastOffsetDelta {}",
            h.record_count(),
            h.last_offset_delta()
        )));
    }
    Ok(ValidatedBatch {
        record_count: h.record_count(),
        last_offset_delta: h.last_offset_delta(),
        max_timestamp: h.max_timestamp(),
        offset_delta_of_max_timestamp: stats.offset_delta_of_max_timestamp,
        producer_id: h.producer_id(),
        producer_epoch: h.producer_epoch(),
        base_sequence: h.base_sequence(),
        last_sequence: h.last_sequence(),
    })
}

/// The batch-level checks shared by validation before append and recovery: exact length, magic 2,
/// CRC-32C, a record count of at least 1 that fits lastOffsetDelta (equal for a producer's batch,
/// smaller after compaction).
pub fn check_header(batch: &[u8]) -> Result<BatchHeader<'_>, AppendError> {
    let h = BatchHeader::new(batch).ok_or_else(|| {
        AppendError::Corrupt(format!("batch of {} bytes is too short", batch.len()))
    })?;
    if h.total_size() != Some(batch.len()) {
        return Err(AppendError::Corrupt(format!(
            "batchLength {} does not match {} bytes",
            h.batch_length(),
            batch.len()
        )));
    }
    if h.magic() != 2 {
        return Err(AppendError::Corrupt(format!(
            "unsupported magic {}",
            h.magic()
        )));
    }
    let crc = compute_crc(batch);
    if crc != h.crc() {
        return Err(AppendError::Corrupt(format!(
            "CRC mismatch: stored {:#010x}, computed {crc:#010x}",
            h.crc()
        )));
    }
    let count = h.record_count();
    if count < 1 {
        return Err(AppendError::Corrupt(format!("record count {count}")));
    }
    // Compacted batches keep fewer records than their offset range (gaps), never more.
    if i64::from(h.last_offset_delta()) < i64::from(count) - 1 {
        return Err(AppendError::Corrupt(format!(
            "record count {count} exceeds lastOffsetDelta {}",
            h.last_offset_delta()
        )));
    }
    Ok(h)
}

/// Reads the timestamps of a stored batch's records: returns the offset delta and timestamp of the
/// first record whose timestamp is `>= target`, if any. Used by `offset_for_timestamp`.
pub fn find_timestamp_in_batch(
    batch: &[u8],
    target: i64,
    max_decompressed_bytes: usize,
) -> Result<Option<(i32, i64)>, AppendError> {
    let h = check_header(batch)?;
    if h.is_log_append_time() {
        return Ok((h.max_timestamp() >= target).then_some((0, h.max_timestamp())));
    }
    let codec = h
        .codec()
        .ok_or_else(|| AppendError::Corrupt("unknown codec".into()))?;
    let mut found = None;
    walk_records(
        codec,
        &batch[HEADER_LEN..],
        h.record_count(),
        max_decompressed_bytes,
        false,
        h.base_timestamp(),
        |r| {
            if r.timestamp >= target {
                found = Some((r.offset_delta, r.timestamp));
                return true;
            }
            false
        },
    )?;
    Ok(found)
}

/// The record stats of a stored batch (used to rebuild the max-timestamp offset on load).
pub fn batch_stats(
    batch: &[u8],
    max_decompressed_bytes: usize,
) -> Result<RecordStats, AppendError> {
    let h = check_header(batch)?;
    let codec = h
        .codec()
        .ok_or_else(|| AppendError::Corrupt("unknown codec".into()))?;
    walk_records(
        codec,
        &batch[HEADER_LEN..],
        h.record_count(),
        max_decompressed_bytes,
        false,
        h.base_timestamp(),
        |_| false,
    )
}

/// A copy of a batch's header, patched for storage; the payload after it is written from the
/// producer's buffer untouched.
#[derive(Debug, Clone, Copy)]
pub struct PatchedHeader(pub [u8; HEADER_LEN]);

impl PatchedHeader {
    /// Copies `batch`'s header, sets baseOffset and partitionLeaderEpoch (both outside the CRC)
    /// and, when `log_append_time` is given, sets the timestamp-type bit and maxTimestamp and
    /// recomputes the CRC over the new header and the unchanged payload.
    pub fn new(
        batch: &[u8],
        base_offset: i64,
        leader_epoch: i32,
        log_append_time: Option<i64>,
    ) -> Self {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&batch[..HEADER_LEN]);
        h[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
        h[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&leader_epoch.to_be_bytes());
        if let Some(now) = log_append_time {
            let attrs = be_i16(&h, ATTRIBUTES) | TIMESTAMP_TYPE_BIT;
            h[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attrs.to_be_bytes());
            h[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now.to_be_bytes());
            let crc = crc32c::crc32c_append(crc32c::crc32c(&h[ATTRIBUTES..]), &batch[HEADER_LEN..]);
            h[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        }
        PatchedHeader(h)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "record_batch_tests.rs"]
mod tests;
