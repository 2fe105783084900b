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

/// A segment of batches of mixed sizes, indexed every `interval` bytes; returns it with the
/// batch boundaries (0 and every batch end).
fn mixed_segment(dir: &std::path::Path, interval: u32) -> (LogSegment, Vec<u64>) {
    let mut cfg = small_config();
    cfg.index_interval_bytes = interval;
    cfg.segment_index_bytes = 1 << 16;
    let (seg, _) = LogSegment::open(dir, 0, &cfg).unwrap();
    seg.make_active(&cfg).unwrap();
    let mut bounds = vec![0];
    let mut next = 0;
    for i in 0..24 {
        let b = simple([1, 7, 2, 13, 1, 4][i % 6], 1_000 + i as i64);
        next = put(&seg, &b, next, 1_000) + 1;
        bounds.push(seg.size());
    }
    (seg, bounds)
}

#[test]
fn whole_batches_end_is_the_last_boundary_before_the_end() {
    for interval in [0, 100, 700, 1 << 20] {
        let dir = tempfile::tempdir().unwrap();
        let (seg, bounds) = mixed_segment(dir.path(), interval);
        let entries = seg.indexes().offset.len();
        assert_eq!(entries > 0, interval < 1 << 20, "interval {interval}");
        let size = seg.size();
        for &start in &bounds {
            for end in start..=size {
                let expected = *bounds.iter().rfind(|b| **b <= end).unwrap();
                assert_eq!(
                    seg.whole_batches_end(start, end).unwrap(),
                    expected,
                    "interval {interval}, start {start}, end {end}"
                );
            }
        }
    }
}

#[test]
fn whole_batches_end_never_reads_a_torn_tail() {
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let (seg, bounds) = mixed_segment(dir.path(), 100);
    let good = seg.size();
    let last = *bounds.iter().rev().nth(1).unwrap();
    // Half of a copy of the last batch, then a header whose length is negative.
    let copy = seg.read(last, (good - last) as usize).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(seg.log_path())
        .unwrap();
    file.write_all(&copy[..copy.len() / 2]).unwrap();
    let full = std::fs::metadata(seg.log_path()).unwrap().len();
    for end in [good, good + 5, full] {
        assert_eq!(seg.whole_batches_end(0, end).unwrap(), good, "end {end}");
        assert_eq!(seg.whole_batches_end(last, end).unwrap(), good, "end {end}");
    }
    let mut bad = [0u8; 12];
    bad[8..].copy_from_slice(&(-5i32).to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    let (seg, _) = mixed_segment(dir.path(), 100);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(seg.log_path())
        .unwrap();
    file.write_all(&bad).unwrap();
    assert_eq!(seg.whole_batches_end(0, good + 12).unwrap(), good);
}
