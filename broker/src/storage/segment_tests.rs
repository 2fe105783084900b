use super::*;
use crate::storage::record_batch::{BatchHeader, PatchedHeader, HEADER_LEN};
use crate::storage::test_util::{simple, small_config};

/// Appends `b` at `base` the way `Log` does; returns its last offset.
fn put(seg: &LogSegment, b: &[u8], base: i64, now: i64) -> i64 {
    let h = BatchHeader::new(b).unwrap();
    let last = base + i64::from(h.last_offset_delta());
    let p = PatchedHeader::new(b, base, 0, None);
    seg.append(&p, &b[HEADER_LEN..], last, h.max_timestamp(), now)
        .unwrap();
    last
}

#[test]
fn append_read_and_find() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let (seg, aligned) = LogSegment::open(dir.path(), 100, &cfg).unwrap();
    assert!(aligned);
    seg.make_active(&cfg).unwrap();
    assert!(dir.path().join("00000000000000000100.log").exists());
    let b = simple(2, 5_000);
    let mut next = 100;
    for i in 0..10 {
        next = put(&seg, &b, next, 1_000 + i) + 1;
    }
    assert_eq!(seg.next_offset(), 120);
    assert_eq!(seg.size(), 10 * b.len() as u64);
    // index.interval.bytes is 128 and batches are larger: entries get written.
    assert!(seg.indexes().offset.len() >= 3);
    let loc = seg.find_batch(113, seg.size()).unwrap().unwrap();
    assert_eq!((loc.base_offset, loc.last_offset), (112, 113));
    assert_eq!(loc.position, 6 * b.len() as u64);
    let bytes = seg.read(loc.position, loc.size as usize).unwrap();
    assert_eq!(&bytes[HEADER_LEN..], &b[HEADER_LEN..]);
    assert_eq!(BatchHeader::new(&bytes).unwrap().base_offset(), 112);
    // A limit hides batches past it.
    assert!(seg.find_batch(119, 9 * b.len() as u64).unwrap().is_none());
    assert_eq!(seg.max_timestamp(), Some((5_001, 101)));
}

#[test]
fn rolls_on_size_time_and_offset_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.segment_ms = 10_000;
    let (seg, _) = LogSegment::open(dir.path(), 0, &cfg).unwrap();
    seg.make_active(&cfg).unwrap();
    let b = simple(1, 0);
    assert!(
        !seg.should_roll(5_000, 0, 0, &cfg),
        "an empty segment never rolls"
    );
    put(&seg, &b, 0, 50_000);
    assert!(!seg.should_roll(b.len() as u64, 1, 50_001, &cfg));
    assert!(seg.should_roll(1_000, 1, 50_001, &cfg), "size");
    assert!(
        seg.should_roll(10, 1, 60_000, &cfg),
        "segment.ms since the first append"
    );
    assert!(
        seg.should_roll(10, i64::from(i32::MAX) + 1, 50_001, &cfg),
        "offset range"
    );
}

#[test]
fn rolls_when_index_full_and_trims_on_inactive() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.segment_index_bytes = 16; // two offset entries, one time entry
    cfg.index_interval_bytes = 0;
    cfg.segment_bytes = u64::MAX;
    let (seg, _) = LogSegment::open(dir.path(), 0, &cfg).unwrap();
    seg.make_active(&cfg).unwrap();
    let mut next = 0;
    for i in 0..4 {
        next = put(&seg, &simple(1, i), next, 0) + 1;
    }
    assert!(seg.should_roll(10, next, 0, &cfg));
    seg.make_inactive().unwrap();
    let idx_len = std::fs::metadata(dir.path().join("00000000000000000000.index"))
        .unwrap()
        .len();
    assert_eq!(idx_len, 8 * seg.indexes().offset.len() as u64);
    let t = seg.indexes().time.last_entry().unwrap();
    assert_eq!(
        t,
        (3, 3),
        "the last time entry holds the segment's max timestamp"
    );
}

#[test]
fn truncate_drops_bytes_and_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.index_interval_bytes = 0;
    let (seg, _) = LogSegment::open(dir.path(), 0, &cfg).unwrap();
    seg.make_active(&cfg).unwrap();
    let b = simple(1, 0);
    for i in 0..5 {
        put(&seg, &b, i, 0);
    }
    seg.truncate_to(2 * b.len() as u64, 2).unwrap();
    assert_eq!(seg.size(), 2 * b.len() as u64);
    assert_eq!(seg.next_offset(), 2);
    assert!(seg.indexes().offset.lookup(10).1 < 2 * b.len() as u32);
    put(&seg, &b, 2, 0);
    assert_eq!(
        seg.find_batch(2, seg.size()).unwrap().unwrap().position,
        2 * b.len() as u64
    );
}
