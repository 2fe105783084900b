//! Walks the records inside a v2 batch without copying or allocating per record: over the batch's
//! own bytes when uncompressed, or through a streaming decompressor with a hard output cap.
//!
//! Thread-safety: stateless functions; each walk owns its own decompressor.

use std::io::{BufRead, BufReader, Read};

use super::error::AppendError;
use super::record_batch::Codec;

/// One record's fields that callers look at.
#[derive(Debug, Clone, Copy)]
pub struct RecordInfo {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// The record's absolute timestamp (batch base timestamp + delta).
    pub timestamp: i64,
}

/// Facts gathered from a full walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordStats {
    /// The largest record timestamp.
    pub max_timestamp: i64,
    /// Offset delta of the first record carrying `max_timestamp`.
    pub offset_delta_of_max_timestamp: i32,
}

fn invalid(msg: impl Into<String>) -> AppendError {
    AppendError::InvalidRecord(msg.into())
}

/// A byte source the record parser reads from.
trait Source {
    /// The next byte.
    fn byte(&mut self) -> Result<u8, AppendError>;
    /// Skips `n` bytes.
    fn skip(&mut self, n: usize) -> Result<(), AppendError>;
    /// Bytes consumed so far.
    fn consumed(&self) -> u64;
    /// True when no byte is left.
    fn at_end(&mut self) -> Result<bool, AppendError>;
}

/// The records of an uncompressed batch, read in place.
struct SliceSource<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Source for SliceSource<'_> {
    fn byte(&mut self) -> Result<u8, AppendError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| invalid("record runs past the end of the batch"))?;
        self.pos += 1;
        Ok(b)
    }
    fn skip(&mut self, n: usize) -> Result<(), AppendError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| invalid("record field runs past the end of the batch"))?;
        self.pos = end;
        Ok(())
    }
    fn consumed(&self) -> u64 {
        self.pos as u64
    }
    fn at_end(&mut self) -> Result<bool, AppendError> {
        Ok(self.pos == self.buf.len())
    }
}

/// Decompressed records, counted against the cap as they stream out.
struct StreamSource<R: BufRead> {
    inner: R,
    consumed: u64,
    cap: u64,
}

impl<R: BufRead> StreamSource<R> {
    fn chunk(&mut self) -> Result<&[u8], AppendError> {
        self.inner.fill_buf().map_err(|e| {
            if e.kind() == std::io::ErrorKind::OutOfMemory {
                invalid(format!("decompressed batch exceeds {} bytes", self.cap))
            } else {
                AppendError::Corrupt(format!("decompression failed: {e}"))
            }
        })
    }
    fn advance(&mut self, n: usize) -> Result<(), AppendError> {
        self.inner.consume(n);
        self.consumed += n as u64;
        if self.consumed > self.cap {
            return Err(invalid(format!(
                "decompressed batch exceeds {} bytes",
                self.cap
            )));
        }
        Ok(())
    }
}

impl<R: BufRead> Source for StreamSource<R> {
    fn byte(&mut self) -> Result<u8, AppendError> {
        let b = *self
            .chunk()?
            .first()
            .ok_or_else(|| invalid("record runs past the end of the decompressed batch"))?;
        self.advance(1)?;
        Ok(b)
    }
    fn skip(&mut self, mut n: usize) -> Result<(), AppendError> {
        while n > 0 {
            let avail = self.chunk()?.len();
            if avail == 0 {
                return Err(invalid("record field runs past the decompressed batch"));
            }
            let step = avail.min(n);
            self.advance(step)?;
            n -= step;
        }
        Ok(())
    }
    fn consumed(&self) -> u64 {
        self.consumed
    }
    fn at_end(&mut self) -> Result<bool, AppendError> {
        Ok(self.chunk()?.is_empty())
    }
}

fn varint<S: Source>(s: &mut S) -> Result<i32, AppendError> {
    let mut raw: u32 = 0;
    for i in 0..5 {
        let b = s.byte()?;
        raw |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32));
        }
    }
    Err(invalid("varint longer than 5 bytes"))
}

fn varlong<S: Source>(s: &mut S) -> Result<i64, AppendError> {
    let mut raw: u64 = 0;
    for i in 0..10 {
        let b = s.byte()?;
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    Err(invalid("varlong longer than 10 bytes"))
}

/// Skips a length-prefixed field; `nullable` allows the length -1.
fn skip_field<S: Source>(s: &mut S, nullable: bool) -> Result<bool, AppendError> {
    let len = varint(s)?;
    if len == -1 && nullable {
        return Ok(false);
    }
    let n = usize::try_from(len).map_err(|_| invalid(format!("field length {len}")))?;
    s.skip(n)?;
    Ok(true)
}

/// Parses one record; returns its offset delta and timestamp delta.
fn record<S: Source>(s: &mut S, compact: bool) -> Result<(i32, i64), AppendError> {
    let len = varint(s)?;
    let len = u64::try_from(len).map_err(|_| invalid(format!("record length {len}")))?;
    let start = s.consumed();
    let _attributes = s.byte()?;
    let ts_delta = varlong(s)?;
    let offset_delta = varint(s)?;
    let has_key = skip_field(s, true)?;
    if compact && !has_key {
        return Err(invalid("compacted topics require a key on every record"));
    }
    skip_field(s, true)?;
    let headers = varint(s)?;
    if headers < 0 {
        return Err(invalid(format!("header count {headers}")));
    }
    for _ in 0..headers {
        skip_field(s, false)?;
        skip_field(s, true)?;
        if s.consumed() - start > len {
            return Err(invalid("record headers run past the record length"));
        }
    }
    if s.consumed() - start != len {
        return Err(invalid(format!(
            "record length {len} does not match its {} bytes",
            s.consumed() - start
        )));
    }
    Ok((offset_delta, ts_delta))
}

fn walk<S: Source>(
    s: &mut S,
    count: i32,
    compact: bool,
    base_timestamp: i64,
    mut visit: impl FnMut(RecordInfo) -> bool,
) -> Result<RecordStats, AppendError> {
    let mut stats = RecordStats {
        max_timestamp: i64::MIN,
        offset_delta_of_max_timestamp: 0,
    };
    let mut min_delta = 0;
    for index in 0..count {
        let (offset_delta, ts_delta) = record(s, compact)?;
        // Strictly increasing, not contiguous: compaction leaves gaps inside stored batches.
        if offset_delta < min_delta {
            return Err(invalid(format!(
                "record {index} has offset delta {offset_delta}"
            )));
        }
        min_delta = offset_delta.saturating_add(1);
        let timestamp = base_timestamp.saturating_add(ts_delta);
        if timestamp > stats.max_timestamp {
            stats.max_timestamp = timestamp;
            stats.offset_delta_of_max_timestamp = offset_delta;
        }
        if visit(RecordInfo {
            offset_delta,
            timestamp,
        }) {
            return Ok(stats);
        }
    }
    if !s.at_end()? {
        return Err(invalid("bytes left after the last record"));
    }
    Ok(stats)
}

/// Walks `count` records in `payload` (the bytes after the batch header), checking each record's
/// framing, that offset deltas strictly increase, that the records fill the payload exactly and,
/// with `compact`, that every record has a key. `visit` sees each record and may stop the walk
/// early by returning true. Compressed payloads are streamed and may not expand past `cap`.
pub fn walk_records(
    codec: Codec,
    payload: &[u8],
    count: i32,
    cap: usize,
    compact: bool,
    base_timestamp: i64,
    visit: impl FnMut(RecordInfo) -> bool,
) -> Result<RecordStats, AppendError> {
    const BUF: usize = 16 * 1024;
    let cap = cap as u64;
    let corrupt = |e: std::io::Error| AppendError::Corrupt(format!("bad compressed data: {e}"));
    match codec {
        Codec::None => walk(
            &mut SliceSource {
                buf: payload,
                pos: 0,
            },
            count,
            compact,
            base_timestamp,
            visit,
        ),
        Codec::Gzip => {
            let r = BufReader::with_capacity(BUF, flate2::read::MultiGzDecoder::new(payload));
            walk_stream(r, cap, count, compact, base_timestamp, visit)
        }
        Codec::Snappy => {
            let r = BufReader::with_capacity(BUF, SnappyReader::new(payload, cap)?);
            walk_stream(r, cap, count, compact, base_timestamp, visit)
        }
        Codec::Lz4 => {
            let d = lz4::Decoder::new(payload).map_err(corrupt)?;
            walk_stream(
                BufReader::with_capacity(BUF, d),
                cap,
                count,
                compact,
                base_timestamp,
                visit,
            )
        }
        Codec::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(payload).map_err(corrupt)?;
            walk_stream(
                BufReader::with_capacity(BUF, d),
                cap,
                count,
                compact,
                base_timestamp,
                visit,
            )
        }
    }
}

fn walk_stream<R: BufRead>(
    inner: R,
    cap: u64,
    count: i32,
    compact: bool,
    base_timestamp: i64,
    visit: impl FnMut(RecordInfo) -> bool,
) -> Result<RecordStats, AppendError> {
    let mut s = StreamSource {
        inner,
        consumed: 0,
        cap,
    };
    walk(&mut s, count, compact, base_timestamp, visit)
}

/// snappy-java's stream header: magic, then two big-endian i32 (version, compatible version).
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

/// Decompresses Kafka's snappy payloads: snappy-java's framing (blocks of a 4-byte big-endian
/// length and a raw snappy block), or a single raw snappy block when the magic is absent.
pub(crate) struct SnappyReader<'a> {
    /// Compressed bytes not yet decoded.
    input: &'a [u8],
    /// True when `input` is a sequence of framed blocks.
    framed: bool,
    /// The current decompressed block; reused between blocks.
    block: Vec<u8>,
    /// Read position in `block`.
    pos: usize,
    /// Decompressed bytes still allowed.
    budget: u64,
}

impl<'a> SnappyReader<'a> {
    /// A reader over `input` that refuses to produce more than `cap` bytes.
    pub(crate) fn new(input: &'a [u8], cap: u64) -> Result<Self, AppendError> {
        let framed = input.len() >= XERIAL_HEADER_LEN && &input[..8] == XERIAL_MAGIC;
        Ok(SnappyReader {
            input: if framed {
                &input[XERIAL_HEADER_LEN..]
            } else {
                input
            },
            framed,
            block: Vec::new(),
            pos: 0,
            budget: cap,
        })
    }

    fn next_block(&mut self) -> std::io::Result<bool> {
        use std::io::{Error, ErrorKind};
        if self.input.is_empty() {
            return Ok(false);
        }
        let compressed = if self.framed {
            if self.input.len() < 4 {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "torn snappy block length",
                ));
            }
            let len =
                u32::from_be_bytes([self.input[0], self.input[1], self.input[2], self.input[3]])
                    as usize;
            let rest = &self.input[4..];
            if len > rest.len() {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "snappy block past the end",
                ));
            }
            let (block, after) = rest.split_at(len);
            self.input = after;
            block
        } else {
            std::mem::take(&mut self.input)
        };
        let n = snap::raw::decompress_len(compressed)
            .map_err(|e| Error::new(ErrorKind::InvalidData, e))?;
        if n as u64 > self.budget {
            // Fail before allocating the block; the caller maps OutOfMemory to the cap error.
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                "snappy block exceeds the cap",
            ));
        }
        self.budget -= n as u64;
        self.block.resize(n, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|e| Error::new(ErrorKind::InvalidData, e))?;
        self.pos = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.block.len() - self.pos);
        out[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
