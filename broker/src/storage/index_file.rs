//! `IndexFile`: a memory-mapped file of fixed-size entries, the shared machinery under
//! [`OffsetIndex`](super::offset_index::OffsetIndex) and [`TimeIndex`](super::time_index::TimeIndex).
//!
//! Thread-safety: `IndexFile` needs `&mut self` to change anything (append, resize, truncate);
//! owners wrap it in a lock. It is `Send + Sync`.

// Mapping a file is `unsafe` in memmap2 because another process could change the file under us.
// Only this broker writes its index files, and the mapping is always dropped before the file is
// shrunk, so no access can fall past the end of the file.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::error::StorageError;

/// A file of `entry_size`-byte entries; the first `entries` entries are in use, the file may be
/// longer (preallocated while the segment is active).
#[derive(Debug)]
pub struct IndexFile {
    /// The file's path, for errors and renames.
    path: PathBuf,
    /// The open file (read-write).
    file: File,
    /// The mapping of the whole file.
    mmap: MmapMut,
    /// Bytes per entry.
    entry_size: usize,
    /// Entries in use.
    entries: usize,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl IndexFile {
    /// Opens (or creates, empty) the file at `path`; every whole entry in it counts as used.
    /// Returns the index and whether the file's length was a multiple of `entry_size`.
    pub fn open(path: &Path, entry_size: usize) -> Result<(IndexFile, bool), StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open", path))?;
        let len = file.metadata().map_err(io("stat", path))?.len();
        let len = usize::try_from(len).map_err(|_| StorageError::Corrupt {
            path: path.to_path_buf(),
            reason: "index larger than the address space".into(),
        })?;
        let aligned = len % entry_size == 0;
        let mmap = Self::map(&file, path)?;
        Ok((
            IndexFile {
                path: path.to_path_buf(),
                file,
                mmap,
                entry_size,
                entries: len / entry_size,
            },
            aligned,
        ))
    }

    fn map(file: &File, path: &Path) -> Result<MmapMut, StorageError> {
        // SAFETY: the file is ours alone (see the module comment) and the mapping is replaced
        // whenever the file's length changes, so it never covers bytes past the end.
        unsafe { MmapMut::map_mut(file) }.map_err(io("mmap", path))
    }

    /// Sets the file's length to `bytes` (keeping the used entries that fit) and remaps it.
    pub fn resize(&mut self, bytes: usize) -> Result<(), StorageError> {
        let bytes = bytes - bytes % self.entry_size;
        if bytes == self.mmap.len() {
            return Ok(());
        }
        // Drop the old mapping first: shrinking a mapped file would fault on its tail.
        self.mmap = MmapMut::map_anon(0).map_err(io("mmap", &self.path))?;
        self.file
            .set_len(bytes as u64)
            .map_err(io("resize", &self.path))?;
        self.mmap = Self::map(&self.file, &self.path)?;
        self.entries = self.entries.min(bytes / self.entry_size);
        Ok(())
    }

    /// Shrinks the file to the entries in use.
    pub fn trim(&mut self) -> Result<(), StorageError> {
        self.resize(self.entries * self.entry_size)
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// True when no further entry fits in the file.
    pub fn is_full(&self) -> bool {
        (self.entries + 1) * self.entry_size > self.mmap.len()
    }

    /// Entry `i`'s bytes; `i` must be below [`len`](Self::len).
    pub fn entry(&self, i: usize) -> &[u8] {
        let at = i * self.entry_size;
        &self.mmap[at..at + self.entry_size]
    }

    /// Appends one entry; returns false (and writes nothing) when the file is full.
    pub fn push(&mut self, bytes: &[u8]) -> bool {
        if self.is_full() || bytes.len() != self.entry_size {
            return false;
        }
        let at = self.entries * self.entry_size;
        self.mmap[at..at + self.entry_size].copy_from_slice(bytes);
        self.entries += 1;
        true
    }

    /// Forgets every entry from `n` on.
    pub fn truncate_entries(&mut self, n: usize) {
        self.entries = self.entries.min(n);
    }

    /// Index of the last entry for which `le(entry)` holds, assuming `le` is true on a prefix.
    pub fn last_matching(&self, le: impl Fn(&[u8]) -> bool) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if le(self.entry(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }

    /// Writes dirty pages of the mapping back to the file.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.mmap.flush().map_err(io("msync", &self.path))
    }
}
