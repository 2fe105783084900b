//! Rewriting one stored v2 batch with only the records the cleaner keeps.
//!
//! Facts followed (from Kafka's `MemoryRecords.filterTo` and the v2 format): a batch none of
//! whose records are removed is copied byte for byte; otherwise the survivors are written into a
//! batch that keeps the original base offset, base timestamp, partition leader epoch, attributes
//! (codec included) and producer id / epoch / base sequence, with a new record count,
//! lastOffsetDelta (the last survivor's delta), max timestamp and CRC-32C. Record bytes are
//! copied verbatim: their offset and timestamp deltas stay relative to the unchanged base. The
//! one exception is KIP-534's delete horizon: a batch that keeps a tombstone and has no horizon
//! yet gets one as its base timestamp (attribute bit 6), its records' timestamp deltas
//! re-expressed against it.
//!
//! Thread-safety: stateless functions over borrowed bytes.

use std::io::{Read, Write};

use super::super::error::AppendError;
use super::super::record_batch::{check_header, compute_crc, BatchHeader, Codec, HEADER_LEN};
use super::super::record_walk::SnappyReader;

/// One record's position in the decompressed payload and the fields the cleaner looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView {
    /// Start of the record (its length varint) in the payload.
    pub start: usize,
    /// End of the record in the payload.
    pub end: usize,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The record's attributes byte.
    pub attributes: u8,
    /// Where the fields after the timestamp delta (offset delta onwards) start.
    pub after_timestamp: usize,
    /// The key's bytes in the payload, `None` for a null key.
    pub key: Option<(usize, usize)>,
    /// True for a tombstone (null value).
    pub tombstone: bool,
}

fn corrupt(msg: impl Into<String>) -> AppendError {
    AppendError::Corrupt(msg.into())
}

/// A cursor over a decompressed payload.
struct Cursor<'a> {
    /// The decompressed payload.
    buf: &'a [u8],
    /// Read position.
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, AppendError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| corrupt("record past the payload"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varlong(&mut self) -> Result<i64, AppendError> {
        let mut raw: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err(corrupt("varlong too long"))
    }

    fn varint(&mut self) -> Result<i32, AppendError> {
        i32::try_from(self.varlong()?).map_err(|_| corrupt("varint out of range"))
    }

    /// A length-prefixed field: its range, or `None` for length -1.
    fn field(&mut self) -> Result<Option<(usize, usize)>, AppendError> {
        let len = self.varint()?;
        if len == -1 {
            return Ok(None);
        }
        let n = usize::try_from(len).map_err(|_| corrupt(format!("field length {len}")))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| corrupt("field past the payload"))?;
        let range = (self.pos, end);
        self.pos = end;
        Ok(Some(range))
    }
}

/// Parses `count` records of a decompressed payload. Allocation grows with records actually
/// parsed, never with the claimed count.
pub fn parse_records(payload: &[u8], count: i32) -> Result<Vec<RecordView>, AppendError> {
    let mut out = Vec::new();
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    for _ in 0..count {
        let start = c.pos;
        let len = usize::try_from(c.varint()?).map_err(|_| corrupt("negative record length"))?;
        let body = c.pos;
        let end = body
            .checked_add(len)
            .filter(|e| *e <= payload.len())
            .ok_or_else(|| corrupt("record past the payload"))?;
        let attributes = c.byte()?;
        let timestamp_delta = c.varlong()?;
        let after_timestamp = c.pos;
        let offset_delta = c.varint()?;
        let key = c.field()?;
        let tombstone = c.field()?.is_none();
        c.pos = end;
        out.push(RecordView {
            start,
            end,
            offset_delta,
            timestamp_delta,
            attributes,
            after_timestamp,
            key,
            tombstone,
        });
    }
    Ok(out)
}

/// The payload after the header, decompressed, refusing to grow past `cap` bytes.
pub fn decompress(codec: Codec, payload: &[u8], cap: usize) -> Result<Vec<u8>, AppendError> {
    let limit = cap as u64 + 1;
    let mut out = Vec::new();
    let read = match codec {
        Codec::None => {
            out.extend_from_slice(payload);
            Ok(payload.len())
        }
        Codec::Gzip => flate2::read::MultiGzDecoder::new(payload)
            .take(limit)
            .read_to_end(&mut out),
        Codec::Snappy => SnappyReader::new(payload, cap as u64)?
            .take(limit)
            .read_to_end(&mut out),
        Codec::Lz4 => lz4::Decoder::new(payload).and_then(|d| d.take(limit).read_to_end(&mut out)),
        Codec::Zstd => zstd::stream::read::Decoder::with_buffer(payload)
            .and_then(|d| d.take(limit).read_to_end(&mut out)),
    };
    read.map_err(|e| corrupt(format!("decompression failed: {e}")))?;
    if out.len() > cap {
        return Err(AppendError::InvalidRecord(format!(
            "decompressed batch exceeds {cap} bytes"
        )));
    }
    Ok(out)
}

/// snappy-java's stream header and block size, the framing Kafka's clients write.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
const XERIAL_BLOCK: usize = 32 * 1024;

/// Compresses `data` with `codec`, as the batch it came from was.
pub fn compress(codec: Codec, data: &[u8]) -> Result<Vec<u8>, AppendError> {
    let fail = |e: std::io::Error| corrupt(format!("compression failed: {e}"));
    match codec {
        Codec::None => Ok(data.to_vec()),
        Codec::Gzip => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            w.write_all(data).map_err(fail)?;
            w.finish().map_err(fail)
        }
        Codec::Snappy => {
            let mut out = XERIAL_HEADER.to_vec();
            let mut enc = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK) {
                let block = enc
                    .compress_vec(chunk)
                    .map_err(|e| corrupt(format!("snappy: {e}")))?;
                let len = u32::try_from(block.len()).map_err(|_| corrupt("snappy block"))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Codec::Lz4 => {
            // Kafka's LZ4 reader accepts only independent blocks (and ignores content
            // checksums): write what its own writer writes.
            let mut w = lz4::EncoderBuilder::new()
                .block_mode(lz4::BlockMode::Independent)
                .block_size(lz4::BlockSize::Max64KB)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .build(Vec::new())
                .map_err(fail)?;
            w.write_all(data).map_err(fail)?;
            let (out, result) = w.finish();
            result.map_err(fail)?;
            Ok(out)
        }
        Codec::Zstd => zstd::stream::encode_all(data, 3).map_err(fail),
    }
}

/// What [`filter_batch`] decided for one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Filtered {
    /// Every record stays: write the original bytes.
    Unchanged,
    /// Some records stay: write these bytes (a new, valid batch).
    Rewritten(Vec<u8>),
    /// No record stays.
    Empty,
}

/// Attribute bit 6: the base timestamp holds the batch's delete horizon (KIP-534).
const DELETE_HORIZON_BIT: i16 = 0x40;

/// The delete horizon a cleaner wrote into the batch, if any: once the clock passes it, the
/// batch's tombstones may be removed.
pub fn delete_horizon(h: &BatchHeader<'_>) -> Option<i64> {
    (h.attributes() & DELETE_HORIZON_BIT != 0).then(|| h.base_timestamp())
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut raw = ((v << 1) ^ (v >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// Copies a record with its timestamp delta re-expressed against `new_base`.
fn rebase_record(out: &mut Vec<u8>, payload: &[u8], r: &RecordView, old_base: i64, new_base: i64) {
    let timestamp = old_base.saturating_add(r.timestamp_delta);
    let mut body = Vec::with_capacity(r.end - r.start + 10);
    body.push(r.attributes);
    put_varlong(&mut body, timestamp.saturating_sub(new_base));
    body.extend_from_slice(&payload[r.after_timestamp..r.end]);
    put_varlong(out, body.len() as i64);
    out.extend_from_slice(&body);
}

/// Keeps the records of `batch` for which `keep` (given the record and the decompressed
/// payload) returns true. `cap` bounds decompression. When `set_horizon` is given and a kept
/// record is a tombstone in a batch without a delete horizon, the batch is rewritten with that
/// horizon as its base timestamp (delete-horizon attribute set, record timestamp deltas
/// re-expressed), as Kafka's cleaner does on its first pass over a tombstone.
pub fn filter_batch(
    batch: &[u8],
    cap: usize,
    set_horizon: Option<i64>,
    mut keep: impl FnMut(&RecordView, &[u8]) -> bool,
) -> Result<Filtered, AppendError> {
    let h = check_header(batch)?;
    let codec = h
        .codec()
        .ok_or_else(|| corrupt(format!("unknown codec in {:#x}", h.attributes())))?;
    let payload = decompress(codec, &batch[HEADER_LEN..], cap)?;
    let records = parse_records(&payload, h.record_count())?;
    let survivors: Vec<&RecordView> = records.iter().filter(|r| keep(r, &payload)).collect();
    let horizon = set_horizon
        .filter(|_| delete_horizon(&h).is_none() && survivors.iter().any(|r| r.tombstone));
    if survivors.len() == records.len() && horizon.is_none() {
        return Ok(Filtered::Unchanged);
    }
    let Some(last) = survivors.last() else {
        return Ok(Filtered::Empty);
    };
    let mut kept = Vec::with_capacity(payload.len());
    for r in &survivors {
        match horizon {
            Some(new_base) => rebase_record(&mut kept, &payload, r, h.base_timestamp(), new_base),
            None => kept.extend_from_slice(&payload[r.start..r.end]),
        }
    }
    let body = compress(codec, &kept)?;
    let max_timestamp = if h.is_log_append_time() {
        h.max_timestamp()
    } else {
        survivors
            .iter()
            .map(|r| h.base_timestamp().saturating_add(r.timestamp_delta))
            .max()
            .unwrap_or(h.max_timestamp())
    };
    let mut out = build(&h, &body, last.offset_delta, survivors.len(), max_timestamp)?;
    if let Some(new_base) = horizon {
        let attributes = h.attributes() | DELETE_HORIZON_BIT;
        out[21..23].copy_from_slice(&attributes.to_be_bytes());
        out[27..35].copy_from_slice(&new_base.to_be_bytes());
        let crc = compute_crc(&out);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(Filtered::Rewritten(out))
}

/// A new batch: `h`'s header with the given counts, max timestamp and payload; CRC recomputed.
fn build(
    h: &BatchHeader<'_>,
    body: &[u8],
    last_offset_delta: i32,
    count: usize,
    max_timestamp: i64,
) -> Result<Vec<u8>, AppendError> {
    let total = HEADER_LEN + body.len();
    let batch_length = i32::try_from(total - 12).map_err(|_| corrupt("batch too large"))?;
    let count = i32::try_from(count).map_err(|_| corrupt("too many records"))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&h.base_offset().to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&h.partition_leader_epoch().to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&h.attributes().to_be_bytes());
    out.extend_from_slice(&last_offset_delta.to_be_bytes());
    out.extend_from_slice(&h.base_timestamp().to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&h.producer_id().to_be_bytes());
    out.extend_from_slice(&h.producer_epoch().to_be_bytes());
    out.extend_from_slice(&h.base_sequence().to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(body);
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}
