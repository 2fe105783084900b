use super::*;
use crate::storage::log::Log;
use crate::storage::log_manager::TopicPartition;
use crate::storage::test_util::{simple, small_config};
use std::io::Write;
use uuid::Uuid;

fn open(dir: &Path, clean: bool, rp: i64) -> Log {
    let tp = TopicPartition {
        topic: "t".into(),
        partition: 0,
    };
    Log::open(dir, tp, Uuid::nil(), small_config(), clean, rp).unwrap()
}

/// A log of 30 two-record batches over several segments, closed cleanly.
fn build(dir: &Path) -> Vec<i64> {
    let log = open(dir, true, 0);
    for i in 0..30 {
        log.append(simple(2, 1_000 + i), 0).unwrap();
    }
    log.close().unwrap();
    let segs: Vec<i64> = list_segments(dir).unwrap();
    assert!(segs.len() >= 3, "{segs:?}");
    segs
}

fn seg_path(dir: &Path, base: i64, ext: &str) -> std::path::PathBuf {
    dir.join(format!("{}.{ext}", file_stem(base)))
}

fn all_readable(log: &Log) {
    for o in log.log_start_offset()..log.high_watermark() {
        let r = log.read(o, 1 << 20, true).unwrap();
        check_header(&r.records[..BatchHeader::new(&r.records).unwrap().total_size().unwrap()])
            .unwrap();
    }
}

#[test]
fn appended_garbage_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let last = *segs.last().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(seg_path(dir.path(), last, "log"))
        .unwrap();
    f.write_all(&[0xAB; 100]).unwrap();
    drop(f);
    let log = open(dir.path(), false, 0);
    assert_eq!(log.log_end_offset(), 60);
    all_readable(&log);
    assert_eq!(log.append(simple(1, 0), 0).unwrap().base_offset, 60);
}

#[test]
fn torn_tail_batch_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let last = *segs.last().unwrap();
    let p = seg_path(dir.path(), last, "log");
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let log = open(dir.path(), false, last);
    assert_eq!(log.log_end_offset(), 58);
    all_readable(&log);
    assert_eq!(
        std::fs::metadata(&p).unwrap().len(),
        len - simple(2, 0).len() as u64
    );
}

#[test]
fn clean_shutdown_torn_tail_is_still_never_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let last = *segs.last().unwrap();
    let p = seg_path(dir.path(), last, "log");
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let log = open(dir.path(), true, 60);
    assert_eq!(log.log_end_offset(), 58);
    all_readable(&log);
}

#[test]
fn corruption_in_a_middle_segment_drops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let mid = segs[1];
    let p = seg_path(dir.path(), mid, "log");
    let mut bytes = std::fs::read(&p).unwrap();
    let b = simple(2, 0).len();
    bytes[b + 70] ^= 0xff; // inside the second batch's records: CRC mismatch
    std::fs::write(&p, &bytes).unwrap();
    // The recovery point is before the damage: the segment is re-checked.
    let log = open(dir.path(), false, mid);
    assert_eq!(log.log_end_offset(), mid + 2);
    all_readable(&log);
    for later in &segs[2..] {
        assert!(!seg_path(dir.path(), *later, "log").exists());
    }
}

#[test]
fn segments_below_the_recovery_point_are_not_rechecked() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let p = seg_path(dir.path(), segs[0], "log");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[70] ^= 0xff; // CRC damage in segment 0, whose headers stay intact
    std::fs::write(&p, &bytes).unwrap();
    let log = open(dir.path(), false, *segs.last().unwrap());
    assert_eq!(log.log_end_offset(), 60, "trusted below the recovery point");
    drop(log);
    let log = open(dir.path(), false, 0);
    assert_eq!(
        log.log_end_offset(),
        0,
        "recovery point 0 re-checks everything"
    );
}

#[test]
fn deleted_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let before = std::fs::read(seg_path(dir.path(), segs[0], "index")).unwrap();
    assert!(!before.is_empty());
    for s in &segs {
        std::fs::remove_file(seg_path(dir.path(), *s, "index")).unwrap();
        std::fs::remove_file(seg_path(dir.path(), *s, "timeindex")).unwrap();
    }
    let log = open(dir.path(), true, 60);
    all_readable(&log);
    assert_eq!(log.offset_for_timestamp(1_010).unwrap(), Some((19, 1_010)));
    log.close().unwrap();
    assert_eq!(
        std::fs::read(seg_path(dir.path(), segs[0], "index")).unwrap(),
        before
    );
}

#[test]
fn corrupted_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path());
    let idx = seg_path(dir.path(), segs[0], "index");
    let good = std::fs::read(&idx).unwrap();
    // Entries pointing past the log.
    std::fs::write(&idx, [0, 0, 0, 1, 0x7f, 0, 0, 0]).unwrap();
    let log = open(dir.path(), true, 60);
    all_readable(&log);
    log.close().unwrap();
    assert_eq!(std::fs::read(&idx).unwrap(), good);
    drop(log);
    // A length that is not a multiple of the entry size.
    std::fs::write(&idx, [0u8; 5]).unwrap();
    let log = open(dir.path(), true, 60);
    all_readable(&log);
    log.close().unwrap();
    assert_eq!(std::fs::read(&idx).unwrap(), good);
}

#[test]
fn leftovers_and_orphans_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    for name in [
        "00000000000000000000.log.swap",
        "x.cleaned",
        "00000000000000000005.log.deleted",
    ] {
        std::fs::write(dir.path().join(name), b"junk").unwrap();
    }
    std::fs::write(seg_path(dir.path(), 999_999, "index"), b"").unwrap();
    let log = open(dir.path(), true, 60);
    assert_eq!(log.log_end_offset(), 60);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names
        .iter()
        .all(|n| !n.contains("swap") && !n.contains("cleaned") && !n.contains("deleted")));
    assert!(!seg_path(dir.path(), 999_999, "index").exists());
}
