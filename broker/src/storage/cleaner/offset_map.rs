//! `OffsetMap`: key digest → latest offset, the cleaner's dedupe table, bounded in entries by
//! `log.cleaner.dedupe.buffer.size`.
//!
//! Like Kafka's `SkimpyOffsetMap`, keys are stored as 16-byte digests plus an 8-byte offset (24
//! bytes per entry) and the table is filled to at most 90% of what the buffer could hold. Two
//! independent 64-bit SipHash digests give the 128 bits: a collision would make the cleaner drop
//! a live record, so the digest is as wide as Kafka's MD5.
//!
//! Thread-safety: a plain value owned by one cleaner thread; not shared.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};

/// Bytes one entry costs in the dedupe buffer (digest + offset), as Kafka counts them.
pub const ENTRY_BYTES: usize = 24;
/// Kafka's `log.cleaner.io.buffer.load.factor` default.
const LOAD_FACTOR: f64 = 0.9;

/// The latest offset of every key seen, by key digest.
#[derive(Debug)]
pub struct OffsetMap {
    /// Digest → latest offset.
    map: HashMap<[u8; 16], i64>,
    /// Most entries allowed.
    slots: usize,
    /// The largest offset put so far (-1 when empty).
    latest_offset: i64,
}

/// The 128-bit digest of a key.
fn digest(key: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (seed, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = DefaultHasher::new();
        h.write_u8(seed as u8);
        h.write(key);
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    out
}

impl OffsetMap {
    /// A map that fits `buffer_bytes` of dedupe buffer.
    pub fn new(buffer_bytes: usize) -> OffsetMap {
        let slots = ((buffer_bytes / ENTRY_BYTES) as f64 * LOAD_FACTOR) as usize;
        OffsetMap {
            map: HashMap::new(),
            slots: slots.max(1),
            latest_offset: -1,
        }
    }

    /// True when a key not yet in the map cannot be added.
    pub fn is_full(&self) -> bool {
        self.map.len() >= self.slots
    }

    /// Records `offset` as the latest for `key`. Returns false (and changes nothing) when the
    /// key is new and the map is full.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let d = digest(key);
        if !self.map.contains_key(&d) && self.is_full() {
            return false;
        }
        self.map.insert(d, offset);
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(&digest(key)).copied()
    }

    /// Entries in the map.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The largest offset put, or -1.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_offset_wins_and_capacity_is_bounded() {
        let mut m = OffsetMap::new(ENTRY_BYTES * 10);
        assert!(m.put(b"a", 1));
        assert!(m.put(b"a", 5));
        assert_eq!(m.get(b"a"), Some(5));
        assert_eq!(m.get(b"b"), None);
        for i in 0..8 {
            assert!(m.put(format!("k{i}").as_bytes(), 10 + i));
        }
        assert!(m.is_full(), "9 entries of 9 slots");
        assert!(!m.put(b"new", 100));
        assert!(
            m.put(b"a", 101),
            "updating a present key never needs a slot"
        );
        assert_eq!(m.latest_offset(), 101);
        assert_eq!(m.len(), 9);
    }
}
