//! `FileRange`: whole record batches named by where they lie in a segment file, so the
//! connection can hand them to the socket with `sendfile(2)` instead of copying them through a
//! buffer.
//!
//! The range holds its own handle to the `.log` file: a segment deleted by retention or
//! DeleteRecords, or replaced by the cleaner, after the read only loses its name, and the open
//! descriptor keeps the bytes readable. Segment files are never cut in place while the broker
//! serves reads (only recovery truncates, before the listener opens), and appends land past the
//! range, so its bytes stay what they were when the read found them.
//!
//! Thread-safety: immutable and `Send + Sync`; positional reads never move the file cursor, so
//! any number of ranges over one file may be read or sent at once.

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;

/// `len` bytes at `position` of a segment's `.log` file, all whole batches.
#[derive(Debug, Clone)]
pub struct FileRange {
    /// The segment's `.log` file, shared with the segment.
    file: Arc<File>,
    /// Where the first batch starts.
    position: u64,
    /// Bytes in the range.
    len: usize,
}

impl FileRange {
    /// A range of `file`; the caller vouches that it covers whole batches below the visible end.
    pub fn new(file: Arc<File>, position: u64, len: usize) -> FileRange {
        FileRange {
            file,
            position,
            len,
        }
    }

    /// The file the bytes live in.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Position of the first byte in the file.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Bytes in the range.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part of the range from file position `from` on (empty past its end, the whole
    /// range before its start).
    pub fn rest(&self, from: u64) -> FileRange {
        let end = self.position + self.len as u64;
        let start = from.clamp(self.position, end);
        FileRange::new(self.file.clone(), start, (end - start) as usize)
    }

    /// Copies the bytes into memory, for the paths that need them there (encodings that cannot
    /// carry a file range, tests).
    pub fn read_bytes(&self) -> std::io::Result<Bytes> {
        super::read_buf::read_exact_at(&self.file, self.position, self.len).map(Bytes::from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn the_rest_of_a_range_reads_its_tail() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let range = FileRange::new(Arc::new(file), 2, 6);
        assert_eq!(range.read_bytes().unwrap(), &b"234567"[..]);
        assert_eq!(range.rest(5).read_bytes().unwrap(), &b"567"[..]);
        assert_eq!(range.rest(0).len(), 6, "before the start: the whole range");
        assert!(range.rest(99).is_empty(), "past the end: nothing");
    }
}
