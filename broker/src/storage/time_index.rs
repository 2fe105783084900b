//! `TimeIndex`: the sparse `.timeindex` file of a segment.
//!
//! Format (Kafka's): 12-byte entries, a big-endian 8-byte timestamp followed by a big-endian
//! 4-byte offset relative to the segment's base offset. Timestamps are strictly increasing: an
//! entry is only added when the segment's max timestamp grows. The last entry (added on roll and
//! close) holds the segment's largest timestamp. Same lifecycle as the offset index: preallocated
//! while active, trimmed when rolled or closed, rebuilt from the log when suspect.
//!
//! Thread-safety: lookups take `&self`, changes take `&mut self`; the owning `LogSegment` keeps it
//! behind an `RwLock`.

use std::path::Path;

use super::error::StorageError;
use super::index_file::IndexFile;

/// Bytes per entry.
pub const ENTRY_SIZE: usize = 12;

/// A segment's timestamp → offset index.
#[derive(Debug)]
pub struct TimeIndex {
    /// The segment's base offset; entries store offsets relative to it.
    base_offset: i64,
    /// The mapped file.
    file: IndexFile,
}

impl TimeIndex {
    /// Opens (or creates) the index at `path`; the flag is false when the length is not a
    /// multiple of the entry size.
    pub fn open(path: &Path, base_offset: i64) -> Result<(TimeIndex, bool), StorageError> {
        let (file, aligned) = IndexFile::open(path, ENTRY_SIZE)?;
        Ok((TimeIndex { base_offset, file }, aligned))
    }

    fn decode(&self, e: &[u8]) -> (i64, i64) {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&e[..8]);
        let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
        (i64::from_be_bytes(ts), self.base_offset + i64::from(rel))
    }

    /// Entry `i` as (timestamp, absolute offset).
    pub fn entry(&self, i: usize) -> (i64, i64) {
        self.decode(self.file.entry(i))
    }

    /// The last entry, holding the largest timestamp indexed so far.
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.file.len().checked_sub(1).map(|i| self.entry(i))
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.file.len()
    }

    /// True when no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }

    /// True when no further entry fits.
    pub fn is_full(&self) -> bool {
        self.file.is_full()
    }

    /// The entry with the largest timestamp `<= target`, as (timestamp, offset); `None` when every
    /// entry is later (the search then starts at the segment's beginning).
    pub fn lookup(&self, target: i64) -> Option<(i64, i64)> {
        self.file
            .last_matching(|e| self.decode(e).0 <= target)
            .map(|i| self.entry(i))
    }

    /// Adds (timestamp, offset) when the timestamp is larger than the last entry's; returns
    /// whether it was written.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> bool {
        if let Some((last_ts, last_off)) = self.last_entry() {
            if timestamp <= last_ts || offset < last_off {
                return false;
            }
        }
        let Ok(rel) = u32::try_from(offset - self.base_offset) else {
            return false;
        };
        let mut e = [0u8; ENTRY_SIZE];
        e[..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..].copy_from_slice(&rel.to_be_bytes());
        self.file.push(&e)
    }

    /// True when timestamps strictly increase, offsets never decrease and all offsets are below
    /// `next_offset`.
    pub fn sanity_check(&self, next_offset: i64) -> bool {
        let mut prev: Option<(i64, i64)> = None;
        for i in 0..self.len() {
            let (ts, off) = self.entry(i);
            if off >= next_offset.max(self.base_offset + 1) {
                return false;
            }
            if let Some((pt, po)) = prev {
                if ts <= pt || off < po {
                    return false;
                }
            }
            prev = Some((ts, off));
        }
        true
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.file.truncate_entries(0);
    }

    /// Drops the entries whose offset is `>= offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) {
        let keep = self
            .file
            .last_matching(|e| self.decode(e).1 < offset)
            .map_or(0, |i| i + 1);
        self.file.truncate_entries(keep);
    }

    /// Sets the file length to `bytes` (rounded down to whole entries), for preallocation.
    pub fn resize(&mut self, bytes: usize) -> Result<(), StorageError> {
        self.file.resize(bytes)
    }

    /// Shrinks the file to the used entries.
    pub fn trim(&mut self) -> Result<(), StorageError> {
        self.file.trim()
    }

    /// Writes the mapping's dirty pages back.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.file.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn appends_only_growing_timestamps_and_looks_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let (mut idx, _) = TimeIndex::open(&path, 50).unwrap();
        idx.resize(12 * 10).unwrap();
        assert!(idx.maybe_append(1000, 52));
        assert!(!idx.maybe_append(900, 55));
        assert!(!idx.maybe_append(1000, 56));
        assert!(idx.maybe_append(2000, 60));
        assert_eq!(idx.lookup(999), None);
        assert_eq!(idx.lookup(1500), Some((1000, 52)));
        assert_eq!(idx.lookup(5000), Some((2000, 60)));
        assert_eq!(idx.last_entry(), Some((2000, 60)));
        assert!(idx.sanity_check(61));
        assert!(!idx.sanity_check(60));
        idx.truncate_to_offset(60);
        assert_eq!(idx.len(), 1);
        idx.trim().unwrap();
        drop(idx);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 12);
    }
}
