//! `LogSegment`: one `.log` file of record batches and its `.index` / `.timeindex`, all named by
//! the segment's base offset as 20 zero-padded digits (`00000000000000000000.log`).
//!
//! Thread-safety: `LogSegment` is `Send + Sync` and used through `Arc`. Exactly one appender at a
//! time (the owning `Log` serialises appends with its mutex) may call the `&self` write methods
//! (`append`, `track_batch`, `truncate_to`, `make_active`, `make_inactive`); any number of readers
//! may call `read`, `find_position`, `read_header`, `whole_batches_end` and `file_range`
//! concurrently with it. Readers use positional reads and never touch the file cursor; the
//! indexes sit behind an `RwLock` held only for one lookup or one entry. Readers must bound
//! themselves by a published visible end, never by [`LogSegment::size`] alone. Only recovery,
//! before any reader exists, truncates the `.log` file, so a [`FileRange`] handed out stays valid.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use super::error::StorageError;
use super::file_range::FileRange;
use super::log::LogConfig;
use super::offset_index::OffsetIndex;
use super::record_batch::{BatchHeader, PatchedHeader, HEADER_LEN, LOG_OVERHEAD};
use super::time_index::TimeIndex;

/// A batch's size and offsets, as read from its header on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLocation {
    /// Position of the batch in the `.log` file.
    pub position: u64,
    /// The batch's total size in bytes.
    pub size: u64,
    /// The batch's base offset.
    pub base_offset: i64,
    /// The batch's last offset.
    pub last_offset: i64,
}

/// The two indexes, changed together.
#[derive(Debug)]
pub struct SegmentIndexes {
    /// The `.index` file.
    pub offset: OffsetIndex,
    /// The `.timeindex` file.
    pub time: TimeIndex,
}

/// One segment of a partition.
#[derive(Debug)]
pub struct LogSegment {
    /// Offset of the first record this segment may hold.
    base_offset: i64,
    /// Path of the `.log` file.
    log_path: PathBuf,
    /// The `.log` file, opened for append (writes always land at the end) and positional reads;
    /// shared with the [`FileRange`]s readers hand to the connection.
    log: Arc<File>,
    /// Bytes written to the `.log` file.
    size: AtomicU64,
    /// Offset after the last batch (the base offset when empty).
    next_offset: AtomicI64,
    /// Largest batch max timestamp (`i64::MIN` when empty).
    max_timestamp: AtomicI64,
    /// Last offset of the batch that set `max_timestamp`.
    offset_of_max_timestamp: AtomicI64,
    /// Broker time of the first append (or first batch's timestamp when loaded); `i64::MIN` when
    /// empty. Drives `segment.ms`.
    rolling_base_ms: AtomicI64,
    /// Batch bytes appended since the last index entry.
    bytes_since_index_entry: AtomicU64,
    /// `index.interval.bytes`.
    index_interval_bytes: u64,
    /// The indexes.
    indexes: RwLock<SegmentIndexes>,
}

/// The file name stem of a segment: its base offset as 20 zero-padded digits.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl LogSegment {
    /// Opens (creating when absent) the segment at `base_offset` in `dir`. Returns the segment
    /// and whether both index files existed with a whole number of entries. Its counters start empty;
    /// loading fills them through [`track_batch`](Self::track_batch).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
    ) -> Result<(LogSegment, bool), StorageError> {
        let stem = file_stem(base_offset);
        let log_path = dir.join(format!("{stem}.log"));
        let log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(io("open", &log_path))?;
        let size = log.metadata().map_err(io("stat", &log_path))?.len();
        let offset_path = dir.join(format!("{stem}.index"));
        let time_path = dir.join(format!("{stem}.timeindex"));
        // A missing index of a non-empty log must be rebuilt, not trusted as "no entries".
        let existed = size == 0 || (offset_path.exists() && time_path.exists());
        let (offset, a1) = OffsetIndex::open(&offset_path, base_offset)?;
        let (time, a2) = TimeIndex::open(&time_path, base_offset)?;
        let seg = LogSegment {
            base_offset,
            log_path,
            log: Arc::new(log),
            size: AtomicU64::new(size),
            next_offset: AtomicI64::new(base_offset),
            max_timestamp: AtomicI64::new(i64::MIN),
            offset_of_max_timestamp: AtomicI64::new(base_offset),
            rolling_base_ms: AtomicI64::new(i64::MIN),
            bytes_since_index_entry: AtomicU64::new(0),
            index_interval_bytes: u64::from(config.index_interval_bytes),
            indexes: RwLock::new(SegmentIndexes { offset, time }),
        };
        Ok((seg, existed && a1 && a2))
    }

    /// The segment's base offset.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// The offset after the segment's last batch.
    pub fn next_offset(&self) -> i64 {
        self.next_offset.load(Ordering::Acquire)
    }

    /// The largest batch max timestamp and the last offset of that batch, if any batch.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let ts = self.max_timestamp.load(Ordering::Acquire);
        (ts != i64::MIN).then(|| (ts, self.offset_of_max_timestamp.load(Ordering::Acquire)))
    }

    /// Path of the `.log` file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Read access to the indexes (short: one lookup).
    pub fn indexes(&self) -> RwLockReadGuard<'_, SegmentIndexes> {
        // A panic while holding this lock cannot leave the indexes half-changed in a way that
        // matters (they are rebuilt on recovery), so a poisoned lock is used as is.
        self.indexes.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the indexes, for the single appender or for recovery.
    pub fn indexes_mut(&self) -> RwLockWriteGuard<'_, SegmentIndexes> {
        self.indexes.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a batch written at `loc` in the counters and, every `index.interval.bytes`, in the
    /// indexes (`indexes` is `None` when the existing index files are kept as they are).
    pub fn track_batch(
        &self,
        loc: &BatchLocation,
        max_timestamp: i64,
        rolling_ms: i64,
        indexes: Option<&mut SegmentIndexes>,
    ) {
        let _ = self.rolling_base_ms.compare_exchange(
            i64::MIN,
            rolling_ms,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if max_timestamp > self.max_timestamp.load(Ordering::Acquire) {
            self.offset_of_max_timestamp
                .store(loc.last_offset, Ordering::Release);
            self.max_timestamp.store(max_timestamp, Ordering::Release);
        }
        let since = self.bytes_since_index_entry.load(Ordering::Acquire);
        if since > self.index_interval_bytes {
            if let (Some(idx), Ok(pos)) = (indexes, u32::try_from(loc.position)) {
                idx.offset.append(loc.last_offset, pos);
                if let Some((ts, off)) = self.max_timestamp() {
                    idx.time.maybe_append(ts, off);
                }
            }
            self.bytes_since_index_entry.store(0, Ordering::Release);
        }
        self.bytes_since_index_entry
            .fetch_add(loc.size, Ordering::AcqRel);
        self.next_offset
            .store(loc.last_offset + 1, Ordering::Release);
    }

    /// Appends one batch: its patched header, then its payload straight from the producer's
    /// buffer, in one vectored write; then updates counters and indexes.
    pub fn append(
        &self,
        header: &PatchedHeader,
        payload: &[u8],
        last_offset: i64,
        max_timestamp: i64,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let position = self.size();
        let mut bufs = [IoSlice::new(&header.0), IoSlice::new(payload)];
        let mut slices = &mut bufs[..];
        while !slices.is_empty() {
            let n = (&*self.log)
                .write_vectored(slices)
                .map_err(io("write", &self.log_path))?;
            if n == 0 {
                return Err(StorageError::Io {
                    op: "write",
                    path: self.log_path.clone(),
                    source: std::io::ErrorKind::WriteZero.into(),
                });
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        let size = (HEADER_LEN + payload.len()) as u64;
        let loc = BatchLocation {
            position,
            size,
            base_offset: BatchHeader::new(&header.0).map_or(last_offset, |h| h.base_offset()),
            last_offset,
        };
        let needs_entry =
            self.bytes_since_index_entry.load(Ordering::Acquire) > self.index_interval_bytes;
        if needs_entry {
            let mut idx = self.indexes_mut();
            self.track_batch(&loc, max_timestamp, now_ms, Some(&mut idx));
        } else {
            self.track_batch(&loc, max_timestamp, now_ms, None);
        }
        self.size.store(position + size, Ordering::Release);
        Ok(())
    }

    /// True when a batch of `batch_size` bytes ending at `last_offset` must go to a new segment:
    /// this one is non-empty and would pass `segment.bytes`, is older than `segment.ms`, has a
    /// full index, or cannot express the offset relative to its base in 32 bits.
    pub fn should_roll(
        &self,
        batch_size: u64,
        last_offset: i64,
        now_ms: i64,
        config: &LogConfig,
    ) -> bool {
        let size = self.size();
        if size == 0 {
            return false;
        }
        let first = self.rolling_base_ms.load(Ordering::Acquire);
        let idx = self.indexes();
        size.saturating_add(batch_size) > config.segment_bytes
            || (first != i64::MIN && now_ms.saturating_sub(first) >= config.segment_ms)
            || idx.offset.is_full()
            || idx.time.is_full()
            || last_offset - self.base_offset > i64::from(i32::MAX)
    }

    /// Reads `len` bytes at `position`, with a positional read.
    pub fn read(&self, position: u64, len: usize) -> Result<Bytes, StorageError> {
        let buf = super::read_buf::read_exact_at(&self.log, position, len)
            .map_err(io("read", &self.log_path))?;
        Ok(Bytes::from(buf))
    }

    /// Names `len` bytes at `position` of the `.log` file, for sending without a copy.
    pub fn file_range(&self, position: u64, len: usize) -> FileRange {
        FileRange::new(self.log.clone(), position, len)
    }

    /// The end of the whole batches that start at `start` (a batch boundary) and end at or
    /// before `end`, found without reading the data: the offset index gives a batch start at
    /// or before `end`, then batch headers (offset and length) are walked from there. Nothing at
    /// or past `end` is read, so the caller bounds `end` by the visible end of the segment.
    pub fn whole_batches_end(&self, start: u64, end: u64) -> Result<u64, StorageError> {
        let indexed = self
            .indexes()
            .offset
            .last_position_at_or_before(end)
            .map_or(0, u64::from);
        let mut pos = start.max(indexed);
        let mut h = [0u8; LOG_OVERHEAD];
        while pos + LOG_OVERHEAD as u64 <= end {
            self.read_into(pos, &mut h)?;
            let len = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            let Some(next) = u64::try_from(len)
                .ok()
                .map(|l| pos + LOG_OVERHEAD as u64 + l)
                .filter(|n| *n <= end)
            else {
                break;
            };
            pos = next;
        }
        Ok(pos)
    }

    /// Fills `buf` from `position`, with a positional read.
    pub fn read_into(&self, position: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        self.log
            .read_exact_at(buf, position)
            .map_err(io("read", &self.log_path))
    }

    /// Restarts the index-interval count, before the indexes are rebuilt from the start.
    pub fn reset_tracking(&self) {
        self.bytes_since_index_entry.store(0, Ordering::Release);
    }

    /// Reads the batch header at `position`, or `None` when fewer than a header's bytes remain
    /// before `limit`.
    pub fn read_header(
        &self,
        position: u64,
        limit: u64,
    ) -> Result<Option<[u8; HEADER_LEN]>, StorageError> {
        if position + HEADER_LEN as u64 > limit {
            return Ok(None);
        }
        let mut h = [0u8; HEADER_LEN];
        self.log
            .read_exact_at(&mut h, position)
            .map_err(io("read", &self.log_path))?;
        Ok(Some(h))
    }

    /// The location of the batch at `position`, if a whole, plausible one lies before `limit`.
    pub fn batch_at(
        &self,
        position: u64,
        limit: u64,
    ) -> Result<Option<BatchLocation>, StorageError> {
        let Some(h) = self.read_header(position, limit)? else {
            return Ok(None);
        };
        let Some(view) = BatchHeader::new(&h) else {
            return Ok(None);
        };
        let Some(size) = view.total_size() else {
            return Ok(None);
        };
        if position + size as u64 > limit {
            return Ok(None);
        }
        Ok(Some(BatchLocation {
            position,
            size: size as u64,
            base_offset: view.base_offset(),
            last_offset: view.last_offset(),
        }))
    }

    /// The first batch before `limit` whose last offset is `>= offset`: an index lookup, then a
    /// scan of batch headers.
    pub fn find_batch(
        &self,
        offset: i64,
        limit: u64,
    ) -> Result<Option<BatchLocation>, StorageError> {
        let mut pos = u64::from(self.indexes().offset.lookup(offset).1);
        while let Some(loc) = self.batch_at(pos, limit)? {
            if loc.last_offset >= offset {
                return Ok(Some(loc));
            }
            pos += loc.size;
        }
        Ok(None)
    }

    /// Cuts the `.log` file to `position` bytes and drops index entries past it.
    pub fn truncate_to(&self, position: u64, next_offset: i64) -> Result<(), StorageError> {
        self.log
            .set_len(position)
            .map_err(io("truncate", &self.log_path))?;
        self.size.store(position, Ordering::Release);
        self.next_offset.store(next_offset, Ordering::Release);
        let mut idx = self.indexes_mut();
        idx.offset.truncate_to_position(position);
        idx.time.truncate_to_offset(next_offset);
        Ok(())
    }

    /// Preallocates both indexes to `segment.index.bytes` so appends can add entries.
    pub fn make_active(&self, config: &LogConfig) -> Result<(), StorageError> {
        let mut idx = self.indexes_mut();
        let bytes = config.segment_index_bytes as usize;
        idx.offset.resize(bytes)?;
        idx.time.resize(bytes)
    }

    /// Ends the segment's active life: the time index gets a last entry with the segment's max
    /// timestamp, and both indexes are trimmed to their used size.
    pub fn make_inactive(&self) -> Result<(), StorageError> {
        let mut idx = self.indexes_mut();
        if let Some((ts, off)) = self.max_timestamp() {
            if idx.time.is_full() {
                // Make room: the final entry matters more than the file's preallocated size.
                let len = idx.time.len();
                idx.time.resize((len + 1) * super::time_index::ENTRY_SIZE)?;
            }
            idx.time.maybe_append(ts, off);
        }
        idx.offset.trim()?;
        idx.time.trim()
    }

    /// Fsyncs the `.log` data (fdatasync) and writes back the index mappings.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.log.sync_data().map_err(io("fsync", &self.log_path))?;
        let idx = self.indexes();
        idx.offset.flush()?;
        idx.time.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "segment_tests.rs"]
mod tests;
