use std::path::Path;

use uuid::Uuid;

use super::*;
use crate::storage::error::ReadError;
use crate::storage::log_manager::TopicPartition;
use crate::storage::test_util::{simple, small_config};

fn open(dir: &Path, cfg: LogConfig) -> Log {
    let tp = TopicPartition {
        topic: "t".into(),
        partition: 0,
    };
    Log::open(dir, tp, Uuid::nil(), cfg, true, 0).unwrap()
}

/// Appends `batches` batches of 3 records, the i-th with timestamp `ts(i)`; returns the
/// segment base offsets afterwards.
fn fill(log: &Log, batches: i64, ts: impl Fn(i64) -> i64) -> Vec<i64> {
    for i in 0..batches {
        log.append(simple(3, ts(i)), 0).unwrap();
    }
    segment_bases(log)
}

fn segment_bases(log: &Log) -> Vec<i64> {
    log.lock_inner().segments.keys().copied().collect()
}

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

#[test]
fn retention_by_time_deletes_old_closed_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    // The first 20 batches are old (t = 1000..), the last 20 recent (t = 100_000..).
    let before = fill(&log, 40, |i| if i < 20 { 1_000 + i } else { 100_000 + i });
    assert!(before.len() >= 4, "{before:?}");
    let mut cfg = small_config();
    cfg.retention_ms = 50_000;
    log.set_config(cfg);
    let renamed = log.delete_old_segments(100_100).unwrap();
    let after = segment_bases(&log);
    assert!(!renamed.is_empty());
    assert!(after.len() < before.len() && !after.is_empty());
    // Every remaining segment holds a recent record; every deleted one only old records.
    let start = log.log_start_offset();
    assert_eq!(start, after[0]);
    assert!(
        start <= 60,
        "offsets 60.. are recent and must stay: {start}"
    );
    assert!(matches!(
        log.read(0, 1 << 20, true),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    assert!(!log.read(start, 1 << 20, true).unwrap().records.is_empty());
    // A second pass at the same time deletes nothing more.
    assert!(log.delete_old_segments(100_100).unwrap().is_empty());
}

#[test]
fn expired_active_segment_is_rolled_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 10, |_| 1_000);
    let mut cfg = small_config();
    cfg.retention_ms = 10;
    log.set_config(cfg);
    log.delete_old_segments(1_000_000).unwrap();
    assert_eq!(segment_bases(&log), vec![30]);
    assert_eq!(log.log_start_offset(), 30);
    assert_eq!(log.log_end_offset(), 30);
    // The new empty active segment is never deleted, and appends continue at 30.
    assert!(log.delete_old_segments(2_000_000).unwrap().is_empty());
    assert_eq!(log.append(simple(1, 5), 0).unwrap().base_offset, 30);
}

#[test]
fn retention_by_bytes_keeps_the_partition_under_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let before = fill(&log, 40, |i| 1_000 + i);
    let size = |log: &Log| -> u64 { log.lock_inner().segments.values().map(|s| s.size()).sum() };
    let total = size(&log);
    let mut cfg = small_config();
    cfg.retention_bytes = 2_500;
    log.set_config(cfg);
    log.delete_old_segments(2_000).unwrap();
    let after = segment_bases(&log);
    assert!(
        after.len() < before.len(),
        "{total} bytes, {before:?} -> {after:?}"
    );
    // Kafka deletes a segment only if the partition stays at or above the limit without it.
    let first_size = log.lock_inner().segments.values().next().unwrap().size();
    assert!(size(&log) >= 2_500, "{}", size(&log));
    assert!(size(&log) - first_size < 2_500, "{}", size(&log));
    assert_eq!(log.log_start_offset(), after[0]);
    // The delete policy off (compact only): nothing goes.
    let mut cfg = small_config();
    cfg.retention_bytes = 0;
    cfg.delete = false;
    log.set_config(cfg);
    assert!(log.delete_old_segments(2_000).unwrap().is_empty());
    assert_eq!(segment_bases(&log), after);
}

#[test]
fn deleted_files_are_renamed_then_removed_and_recovery_clears_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 30, |i| 1_000 + i);
    let reader_view = log.snapshot();
    let (low, renamed) = log.delete_records(45).unwrap();
    assert_eq!(low, 45);
    assert!(!renamed.is_empty());
    assert!(renamed.iter().all(|p| p.exists()));
    let deleted = files_with_suffix(dir.path(), ".deleted");
    assert!(
        deleted.iter().any(|n| n.ends_with(".log.deleted")),
        "{deleted:?}"
    );
    // A reader holding an older view still reads the renamed segment through its descriptor.
    let first = reader_view.segments.values().next().unwrap();
    assert!(first.read(0, 61).unwrap().len() == 61);
    // Remove half now (as the delayed removal would) and leave the rest for recovery.
    let (now, later) = renamed.split_at(renamed.len() / 2);
    crate::storage::retention::remove_files(now);
    assert!(now.iter().all(|p| !p.exists()));
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), small_config());
    assert!(later.iter().all(|p| !p.exists()));
    assert!(files_with_suffix(dir.path(), ".deleted").is_empty());
    assert_eq!(log.log_end_offset(), 90);
}

#[test]
fn delete_records_moves_the_start_and_checks_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 10, |i| 1_000 + i);
    assert!(matches!(
        log.delete_records(31),
        Err(DeleteRecordsError::OffsetOutOfRange {
            high_watermark: 30,
            ..
        })
    ));
    assert!(matches!(
        log.delete_records(-2),
        Err(DeleteRecordsError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records(4).unwrap().0, 4);
    // Never backwards.
    assert_eq!(log.delete_records(2).unwrap().0, 4);
    assert!(matches!(
        log.read(3, 1 << 20, true),
        Err(ReadError::OffsetOutOfRange {
            log_start_offset: 4,
            ..
        })
    ));
    // The batch holding offset 4 (3..5) is still returned whole, as Kafka does.
    assert!(!log.read(4, 1 << 20, true).unwrap().records.is_empty());
    assert_eq!(log.delete_records(HIGH_WATERMARK_OFFSET).unwrap().0, 30);
    assert_eq!(log.append(simple(1, 5), 0).unwrap().log_start_offset, 30);
    let mut cfg = small_config();
    cfg.delete = false;
    log.set_config(cfg);
    assert!(matches!(
        log.delete_records(30),
        Err(DeleteRecordsError::PolicyViolation(_))
    ));
}

#[test]
fn restored_start_offset_is_clamped() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 10, |i| 1_000 + i);
    log.restore_log_start_offset(7).unwrap();
    assert_eq!(log.log_start_offset(), 7);
    log.restore_log_start_offset(3).unwrap();
    assert_eq!(log.log_start_offset(), 7);
    log.restore_log_start_offset(1_000).unwrap();
    assert_eq!(log.log_start_offset(), 30);
}

#[test]
fn segment_timestamps_survive_reopen_for_retention() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let before = fill(&log, 20, |i| if i < 10 { 1_000 } else { 500_000 });
    log.close().unwrap();
    drop(log);
    let mut cfg = small_config();
    cfg.retention_ms = 100_000;
    let log = open(dir.path(), cfg);
    assert_eq!(segment_bases(&log), before);
    assert!(!log.delete_old_segments(500_000).unwrap().is_empty());
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 30, "{start}");
}
