//! `OffsetIndex`: the sparse `.index` file of a segment.
//!
//! Format (Kafka's): a sequence of 8-byte entries, each a big-endian 4-byte offset relative to the
//! segment's base offset followed by a big-endian 4-byte position in the `.log` file. Entries are
//! strictly increasing in both fields. While the segment is active the file is preallocated to
//! `segment.index.bytes` (rounded down to a multiple of 8) and memory-mapped; when the segment is
//! rolled or closed it is trimmed to the entries in use. The file carries no checksum: after an
//! unclean shutdown, or when it fails [`OffsetIndex::sanity_check`], it is rebuilt from the log.
//!
//! Thread-safety: lookups take `&self`, changes take `&mut self`; the owning `LogSegment` keeps it
//! behind an `RwLock`, so readers may look up concurrently while the single writer is excluded.

use std::path::Path;

use super::error::StorageError;
use super::index_file::IndexFile;

/// Bytes per entry.
pub const ENTRY_SIZE: usize = 8;

/// A segment's offset → file position index.
#[derive(Debug)]
pub struct OffsetIndex {
    /// The segment's base offset; entries store offsets relative to it.
    base_offset: i64,
    /// The mapped file.
    file: IndexFile,
}

impl OffsetIndex {
    /// Opens (or creates) the index at `path`. The flag is false when the file's length is not a
    /// multiple of the entry size (it must then be rebuilt).
    pub fn open(path: &Path, base_offset: i64) -> Result<(OffsetIndex, bool), StorageError> {
        let (file, aligned) = IndexFile::open(path, ENTRY_SIZE)?;
        Ok((OffsetIndex { base_offset, file }, aligned))
    }

    fn decode(&self, e: &[u8]) -> (i64, u32) {
        let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
        (self.base_offset + i64::from(rel), pos)
    }

    /// Entry `i` as (absolute offset, position).
    pub fn entry(&self, i: usize) -> (i64, u32) {
        self.decode(self.file.entry(i))
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

    /// The entry with the largest offset `<= target`, or (base offset, 0) when there is none.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        match self.file.last_matching(|e| self.decode(e).0 <= target) {
            Some(i) => self.entry(i),
            None => (self.base_offset, 0),
        }
    }

    /// The position of the last entry at or before `position` (entries grow in position too),
    /// or `None` when every entry lies past it.
    pub fn last_position_at_or_before(&self, position: u64) -> Option<u32> {
        let i = self
            .file
            .last_matching(|e| u64::from(self.decode(e).1) <= position)?;
        Some(self.entry(i).1)
    }

    /// Adds an entry; ignored when `offset` does not grow, does not fit in 32 bits relative to the
    /// base, or the file is full (the segment then rolls).
    pub fn append(&mut self, offset: i64, position: u32) {
        if let Some(i) = self.file.len().checked_sub(1) {
            let (last, last_pos) = self.entry(i);
            if offset <= last || position <= last_pos {
                return;
            }
        }
        let Ok(rel) = u32::try_from(offset - self.base_offset) else {
            return;
        };
        let mut e = [0u8; ENTRY_SIZE];
        e[..4].copy_from_slice(&rel.to_be_bytes());
        e[4..].copy_from_slice(&position.to_be_bytes());
        self.file.push(&e);
    }

    /// True when the entries are strictly increasing and every position lies inside a log of
    /// `log_size` bytes.
    pub fn sanity_check(&self, log_size: u64) -> bool {
        let mut prev: Option<(i64, u32)> = None;
        for i in 0..self.len() {
            let (off, pos) = self.entry(i);
            if u64::from(pos) >= log_size.max(1) {
                return false;
            }
            if let Some((po, pp)) = prev {
                if off <= po || pos <= pp {
                    return false;
                }
            }
            prev = Some((off, pos));
        }
        true
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.file.truncate_entries(0);
    }

    /// Drops the entries whose position is `>= position` (used when the log is truncated).
    pub fn truncate_to_position(&mut self, position: u64) {
        let keep = self
            .file
            .last_matching(|e| u64::from(self.decode(e).1) < position)
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
    fn lookup_finds_largest_entry_at_or_below() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let (mut idx, aligned) = OffsetIndex::open(&path, 100).unwrap();
        assert!(aligned);
        idx.resize(8 * 4 + 5).unwrap();
        assert_eq!(idx.lookup(150), (100, 0));
        idx.append(110, 4096);
        idx.append(120, 8192);
        idx.append(120, 9000); // not increasing: ignored
        idx.append(130, 12288);
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.lookup(99), (100, 0));
        assert_eq!(idx.lookup(110), (110, 4096));
        assert_eq!(idx.lookup(125), (120, 8192));
        assert_eq!(idx.lookup(1000), (130, 12288));
        idx.append(140, 20000);
        assert!(idx.is_full());
        idx.append(150, 30000);
        assert_eq!(idx.len(), 4);
        assert!(idx.sanity_check(30000));
        assert!(!idx.sanity_check(20000));
        idx.truncate_to_position(12288);
        assert_eq!(idx.len(), 2);
        idx.trim().unwrap();
        drop(idx);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        let (idx, aligned) = OffsetIndex::open(&path, 100).unwrap();
        assert!(aligned);
        assert_eq!(idx.lookup(125), (120, 8192));
        assert_eq!(
            std::fs::read(&path).unwrap()[..8],
            [0, 0, 0, 10, 0, 0, 16, 0]
        );
    }

    #[test]
    fn unaligned_or_decreasing_files_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        std::fs::write(&path, [0u8; 12]).unwrap();
        assert!(!OffsetIndex::open(&path, 0).unwrap().1);
        std::fs::write(&path, [0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 10]).unwrap();
        let (idx, aligned) = OffsetIndex::open(&path, 0).unwrap();
        assert!(aligned);
        assert!(!idx.sanity_check(100));
    }
}
