//! Tests of the cleaner: the batch rewrite, a whole pass over a log, and crash safety.

use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTs,
};
use uuid::Uuid;

use super::batch_filter::{filter_batch, Filtered};
use super::clean::{clean_log, PassLimits};
use super::policy::CleaningSettings;
use crate::storage::log::Log;
use crate::storage::log_manager::TopicPartition;
use crate::storage::record_batch::{check_header, BatchHeader};
use crate::storage::test_util::small_config;

/// (key, value; None = tombstone) records, one batch, offsets 0.., timestamps `ts`..
fn batch_of(
    records: &[(&str, Option<&str>)],
    ts: i64,
    producer: (i64, i16, i32),
    c: Compression,
) -> Bytes {
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.0,
            producer_epoch: producer.1,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            sequence: producer.2.wrapping_add(i as i32),
            timestamp: ts + i as i64,
            key: Some(Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: c,
        },
    )
    .unwrap();
    buf.freeze()
}

/// Every (offset, key, value) in `bytes`, decoded by kafka-protocol (an independent reader).
fn decode(bytes: &[u8]) -> Vec<(i64, String, Option<String>)> {
    let mut b = Bytes::copy_from_slice(bytes);
    let mut out = Vec::new();
    for set in RecordBatchDecoder::decode_all(&mut b).unwrap() {
        for r in set.records {
            let s = |x: Option<Bytes>| x.map(|v| String::from_utf8(v.to_vec()).unwrap());
            out.push((r.offset, s(r.key).unwrap(), s(r.value)));
        }
    }
    out
}

fn settings() -> CleaningSettings {
    CleaningSettings {
        compact: true,
        delete_retention_ms: 1_000,
        min_cleanable_ratio: 0.5,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
    }
}

fn limits() -> PassLimits {
    PassLimits {
        dedupe_buffer_bytes: 1 << 20,
        io_buffer_bytes: 4096,
        max_decompressed_bytes: 1 << 20,
        max_segment_bytes: 1024,
    }
}

fn open(dir: &Path, clean: bool) -> Log {
    let tp = TopicPartition {
        topic: Arc::from("t"),
        partition: 0,
    };
    Log::open(dir, tp, Uuid::nil(), small_config(), clean, 0).unwrap()
}

/// Every record of the log from its start, through `Log::read`.
fn read_all(log: &Log) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.high_watermark() {
        let info = log.read(next, 1 << 20, true).unwrap();
        let recs = decode(&info.records);
        let before = out.len();
        out.extend(recs.into_iter().filter(|(o, _, _)| *o >= next));
        match out.last() {
            Some((o, _, _)) if out.len() > before => next = o + 1,
            _ => break,
        }
    }
    out
}

#[test]
fn rewrite_keeps_latest_offsets_producer_metadata_and_crc() {
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let b = batch_of(
            &[
                ("a", Some("1")),
                ("b", Some("1")),
                ("a", Some("2")),
                ("c", None),
            ],
            1_000,
            (7, 3, 40),
            c,
        );
        // Keep offsets 1 and 2 only.
        let out = filter_batch(&b, 1 << 20, None, |r, _| {
            r.offset_delta == 1 || r.offset_delta == 2
        })
        .unwrap();
        let Filtered::Rewritten(nb) = out else {
            panic!("expected a rewrite for {c:?}")
        };
        let h = check_header(&nb).expect("valid batch with a correct CRC");
        let old = BatchHeader::new(&b).unwrap();
        assert_eq!(h.base_offset(), old.base_offset());
        assert_eq!(
            (h.producer_id(), h.producer_epoch(), h.base_sequence()),
            (7, 3, 40)
        );
        assert_eq!(h.attributes(), old.attributes(), "codec and flags kept");
        assert_eq!(h.record_count(), 2);
        assert_eq!(h.last_offset_delta(), 2);
        assert_eq!(h.max_timestamp(), 1_002);
        assert_eq!(
            decode(&nb),
            vec![
                (1, "b".into(), Some("1".into())),
                (2, "a".into(), Some("2".into()))
            ]
        );
    }
    let b = batch_of(&[("a", Some("1"))], 0, (-1, -1, -1), Compression::None);
    assert_eq!(
        filter_batch(&b, 1 << 20, None, |_, _| true).unwrap(),
        Filtered::Unchanged
    );
    assert_eq!(
        filter_batch(&b, 1 << 20, None, |_, _| false).unwrap(),
        Filtered::Empty
    );
}

/// Appends `n` batches of updates of keys k0..k4 (value = round), rolling small segments.
fn fill(log: &Log, rounds: usize, ts: i64) {
    for round in 0..rounds {
        let v = round.to_string();
        let recs: Vec<(String, Option<&str>)> = (0..5)
            .map(|k| (format!("k{k}"), Some(v.as_str())))
            .collect();
        let refs: Vec<(&str, Option<&str>)> = recs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        log.append(
            batch_of(&refs, ts + round as i64, (-1, -1, -1), Compression::None),
            ts,
        )
        .unwrap();
    }
}

#[test]
fn pass_keeps_latest_per_key_with_offsets_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    fill(&log, 40, 1_000);
    let before = log.closed_segments().len();
    assert!(before > 3, "small segments rolled: {before}");
    let end = log.closed_segments().last().unwrap().next_offset();
    let grouping = PassLimits {
        max_segment_bytes: 8192,
        ..limits()
    };
    let stats = clean_log(&log, 0, end, &settings(), &grouping, 2_000).unwrap();
    assert_eq!(stats.cleaned_up_to, end);
    assert!(
        log.closed_segments().len() < before,
        "segments were grouped"
    );
    let all = read_all(&log);
    // Below `end` each key appears once, at its latest offset before `end`; the active segment
    // is untouched.
    let cleaned: Vec<_> = all.iter().filter(|(o, _, _)| *o < end).collect();
    assert_eq!(cleaned.len(), 5);
    for (o, k, _) in &cleaned {
        let latest = all
            .iter()
            .filter(|(_, k2, _)| k2 == k)
            .map(|(o, _, _)| *o)
            .filter(|o| *o < end)
            .max();
        assert_eq!(Some(*o), latest);
    }
    assert_eq!(all.last().unwrap().0, 199);
    assert_eq!(log.high_watermark(), 200);
    drop(log);
    // Unclean reopen: recovery CRC-checks every cleaned batch and accepts the gaps.
    let log = open(dir.path(), false);
    assert_eq!(read_all(&log), all);
}

#[test]
fn tombstones_stay_until_delete_retention_after_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    fill(&log, 10, 1_000);
    log.append(
        batch_of(&[("k0", None)], 1_100, (-1, -1, -1), Compression::None),
        1_100,
    )
    .unwrap();
    fill(&log, 30, 1_200);
    let end = log.closed_segments().last().unwrap().next_offset();
    let s = settings();
    clean_log(&log, 0, end, &s, &limits(), 1_300).unwrap();
    let has_tombstone = |log: &Log| {
        read_all(log)
            .iter()
            .any(|(_, k, v)| k == "k0" && v.is_none())
    };
    // The tombstone was superseded by later k0 values: removed as an older record anyway. Use a
    // fresh key for the tombstone rule instead.
    assert!(!has_tombstone(&log));
    log.append(
        batch_of(
            &[("gone", Some("x"))],
            1_300,
            (-1, -1, -1),
            Compression::None,
        ),
        1_300,
    )
    .unwrap();
    log.append(
        batch_of(&[("gone", None)], 1_301, (-1, -1, -1), Compression::None),
        1_301,
    )
    .unwrap();
    fill(&log, 30, 1_400);
    let tomb = |log: &Log| {
        read_all(log)
            .iter()
            .filter(|(_, k, _)| k == "gone")
            .cloned()
            .collect::<Vec<_>>()
    };
    let end2 = log.closed_segments().last().unwrap().next_offset();
    clean_log(&log, end, end2, &s, &limits(), 1_500).unwrap();
    let t = tomb(&log);
    assert_eq!(t.len(), 1, "only the tombstone is left: {t:?}");
    assert_eq!(t[0].2, None);
    if let Some(keep) = std::env::var_os("CLEANER_KEEP_DIR") {
        // For a manual kafka-dump-log check of a delete-horizon batch.
        copy_dir(dir.path(), Path::new(&keep));
    }
    // A later pass, within delete.retention.ms of the tombstone's time: kept.
    fill(&log, 30, 1_600);
    let end3 = log.closed_segments().last().unwrap().next_offset();
    clean_log(&log, end2, end3, &s, &limits(), 2_000).unwrap();
    assert_eq!(tomb(&log).len(), 1);
    // Past delete.retention.ms, cleaned past: dropped.
    fill(&log, 30, 3_000);
    let end4 = log.closed_segments().last().unwrap().next_offset();
    clean_log(&log, end3, end4, &s, &limits(), 3_000).unwrap();
    assert!(tomb(&log).is_empty());
}

#[test]
fn a_producers_newest_batch_is_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    log.append(
        batch_of(&[("p", Some("1")); 3], 1_000, (9, 0, 0), Compression::None),
        1_000,
    )
    .unwrap();
    fill(&log, 40, 1_000);
    let end = log.closed_segments().last().unwrap().next_offset();
    clean_log(&log, 0, end, &settings(), &limits(), 2_000).unwrap();
    let p: Vec<_> = read_all(&log)
        .into_iter()
        .filter(|(_, k, _)| k == "p")
        .collect();
    assert_eq!(
        p.len(),
        1,
        "the newest of the three survives, in a rewritten batch: {p:?}"
    );
    assert_eq!(p[0].0, 2);
    drop(log);
    let log = open(dir.path(), false);
    let info = log.read(0, 1 << 20, true).unwrap();
    let h = BatchHeader::new(&info.records).unwrap();
    assert_eq!(
        (h.producer_id(), h.base_sequence(), h.base_offset()),
        (9, 0, 0)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn seg_file(dir: &Path, base: i64, ext: &str) -> std::path::PathBuf {
    dir.join(format!("{base:020}.{ext}"))
}

/// Leaves on disk the files of each step of a swap, as a kill -9 right after that step would,
/// and reopens with recovery: the log reads exactly as before cleaning or exactly as after,
/// never a mix and never with a key lost.
#[test]
fn a_crash_after_any_swap_step_recovers_old_or_new() {
    let root = tempfile::tempdir().unwrap();
    let old_dir = root.path().join("old");
    let log = open(&old_dir, true);
    fill(&log, 40, 1_000);
    let old_bases: Vec<i64> = log
        .closed_segments()
        .iter()
        .map(|s| s.base_offset())
        .collect();
    let end = log.closed_segments().last().unwrap().next_offset();
    let old_all = read_all(&log);
    log.close().unwrap();
    drop(log);
    // The same log cleaned to completion gives the new state and the cleaned bytes.
    let new_dir = root.path().join("new");
    copy_dir(&old_dir, &new_dir);
    let log = open(&new_dir, true);
    let one_group = PassLimits {
        max_segment_bytes: 1 << 20,
        ..limits()
    };
    clean_log(&log, 0, end, &settings(), &one_group, 2_000).unwrap();
    assert_eq!(log.closed_segments().len(), 1);
    let new_all = read_all(&log);
    assert_ne!(new_all, old_all);
    log.close().unwrap();
    drop(log);
    let cleaned = std::fs::read(seg_file(&new_dir, 0, "log")).unwrap();
    let remove_old = |dir: &Path, keep_first_log: bool| {
        for b in &old_bases {
            for ext in ["log", "index", "timeindex"] {
                if *b != 0 || ext != "log" || !keep_first_log {
                    let _ = std::fs::remove_file(seg_file(dir, *b, ext));
                }
            }
        }
    };
    type Step<'a> = (&'static str, bool, Box<dyn Fn(&Path) + 'a>);
    let steps: Vec<Step> = vec![
        (
            "partial .cleaned",
            false,
            Box::new(|d: &Path| {
                std::fs::write(seg_file(d, 0, "log.cleaned"), &cleaned[..cleaned.len() / 2])
                    .unwrap();
            }),
        ),
        (
            "whole .cleaned",
            false,
            Box::new(|d: &Path| {
                std::fs::write(seg_file(d, 0, "log.cleaned"), &cleaned).unwrap();
            }),
        ),
        (
            "renamed to .swap",
            true,
            Box::new(|d: &Path| {
                std::fs::write(seg_file(d, 0, "log.swap"), &cleaned).unwrap();
            }),
        ),
        (
            "some old files deleted",
            true,
            Box::new(|d: &Path| {
                std::fs::write(seg_file(d, 0, "log.swap"), &cleaned).unwrap();
                std::fs::remove_file(seg_file(d, 0, "index")).unwrap();
                std::fs::remove_file(seg_file(d, old_bases[1], "log")).unwrap();
            }),
        ),
        (
            "all old files deleted",
            true,
            Box::new(|d: &Path| {
                std::fs::write(seg_file(d, 0, "log.swap"), &cleaned).unwrap();
                remove_old(d, true);
            }),
        ),
        (
            "swap renamed, indexes not built",
            true,
            Box::new(|d: &Path| {
                remove_old(d, false);
                std::fs::write(seg_file(d, 0, "log"), &cleaned).unwrap();
            }),
        ),
    ];
    for (i, (name, expect_new, apply)) in steps.iter().enumerate() {
        let d = root.path().join(format!("crash{i}"));
        copy_dir(&old_dir, &d);
        let _ = std::fs::remove_file(d.join(".kafka_cleanshutdown"));
        apply(&d);
        let log = open(&d, false);
        let got = read_all(&log);
        let want = if *expect_new { &new_all } else { &old_all };
        assert_eq!(&got, want, "after a crash at '{name}'");
        assert_eq!(log.high_watermark(), 200, "after a crash at '{name}'");
        let leftovers: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".swap") || n.ends_with(".cleaned"))
            .collect();
        assert!(leftovers.is_empty(), "'{name}' left {leftovers:?}");
    }
}

/// Throughput of one pass (MB/s of log read and rewritten). Run it with:
/// `cargo test -p broker --release --lib cleaner_throughput -- --ignored --nocapture`
/// (set `CLEANER_KEEP_DIR=/some/dir` to keep the cleaned partition for `kafka-dump-log`, and
/// `CLEANER_MIXED_CODECS=1` to rotate the five codecs).
#[test]
#[ignore = "a measurement, not a check"]
fn cleaner_throughput() {
    let keep = std::env::var_os("CLEANER_KEEP_DIR").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.unwrap_or_else(|| tmp.path().join("t-0"));
    let cfg = crate::storage::log::LogConfig {
        segment_bytes: 1 << 20,
        segment_index_bytes: 1 << 20,
        index_interval_bytes: 4096,
        ..small_config()
    };
    let tp = TopicPartition {
        topic: Arc::from("t"),
        partition: 0,
    };
    let log = Log::open(&dir, tp, Uuid::nil(), cfg, true, 0).unwrap();
    let value = "v".repeat(1000);
    let (keys, total) = (2_000usize, 64 << 20);
    let mut written = 0usize;
    let mut i = 0usize;
    let mixed = std::env::var_os("CLEANER_MIXED_CODECS").is_some();
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    while written < total {
        let recs: Vec<(String, Option<&str>)> = (0..10)
            // Consecutive batches share 7 of their 10 keys: most batches are partly rewritten.
            .map(|j| (format!("key-{}", (i * 3 + j) % keys), Some(value.as_str())))
            .collect();
        let refs: Vec<(&str, Option<&str>)> = recs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let codec = if mixed {
            codecs[i % codecs.len()]
        } else {
            Compression::None
        };
        let b = batch_of(&refs, 1_000, (-1, -1, -1), codec);
        written += b.len();
        log.append(b, 1_000).unwrap();
        i += 1;
    }
    let end = log.closed_segments().last().unwrap().next_offset();
    let start = std::time::Instant::now();
    let big = PassLimits {
        max_segment_bytes: 1 << 20,
        dedupe_buffer_bytes: 128 << 20,
        io_buffer_bytes: 512 << 10,
        ..limits()
    };
    let stats = clean_log(&log, 0, end, &settings(), &big, 2_000).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let mb = stats.bytes_read as f64 / 1e6;
    println!(
        "cleaned {mb:.1} MB into {:.1} MB in {secs:.2} s: {:.1} MB/s",
        stats.bytes_written as f64 / 1e6,
        mb / secs
    );
    assert_eq!(
        read_all(&log).len(),
        keys + (log.high_watermark() - end) as usize
    );
    log.close().unwrap();
}

/// Kafka's LZ4 reader refuses dependent blocks ("Dependent block stream is unsupported", seen
/// with kafka-dump-log): the frame descriptor must set block independence.
#[test]
fn lz4_frames_use_independent_blocks() {
    let out =
        super::batch_filter::compress(crate::storage::record_batch::Codec::Lz4, &[7u8; 100_000])
            .unwrap();
    assert_eq!(&out[..4], &[0x04, 0x22, 0x4d, 0x18], "LZ4 frame magic");
    assert_eq!(out[4] & 0xc0, 0x40, "frame version 1");
    assert_ne!(out[4] & 0x20, 0, "block independence");
}

/// A reader that took its segments before the swap keeps reading the old bytes; appends run
/// while a pass is in progress; an idempotent producer continues after a restart.
#[test]
fn readers_and_appenders_are_safe_during_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), true));
    log.append(
        batch_of(&[("p", Some("1")); 3], 1_000, (9, 0, 0), Compression::None),
        1_000,
    )
    .unwrap();
    fill(&log, 40, 1_000);
    let old = log.closed_segments();
    let before: Vec<Bytes> = old
        .iter()
        .map(|s| s.read(0, s.size() as usize).unwrap())
        .collect();
    let end = old.last().unwrap().next_offset();
    let appender = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || fill(&log, 20, 1_500))
    };
    clean_log(&log, 0, end, &settings(), &limits(), 2_000).unwrap();
    appender.join().unwrap();
    for (seg, bytes) in old.iter().zip(&before) {
        assert_eq!(
            &seg.read(0, bytes.len()).unwrap(),
            bytes,
            "old segment still readable"
        );
    }
    assert_eq!(log.high_watermark(), 3 + 60 * 5);
    let all = read_all(&log);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(all.last().unwrap().0, 302);
    drop(all);
    let log = Arc::into_inner(log).unwrap();
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), false);
    // The producer's sequence state came back from its kept batch: seq 3 follows, seq 5 does not.
    let next = batch_of(&[("p", Some("2"))], 2_000, (9, 0, 3), Compression::None);
    log.append(next, 2_000).unwrap();
    let gap = batch_of(&[("p", Some("3"))], 2_000, (9, 0, 5), Compression::None);
    assert!(log.append(gap, 2_000).is_err());
}

/// A producer's newest batch whose records are all superseded stays whole (Kafka keeps an empty
/// batch header instead): after a restart the producer's next sequence is still accepted.
#[test]
fn a_superseded_newest_producer_batch_is_kept_for_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    log.append(
        batch_of(
            &[("k0", Some("p")), ("k1", Some("p"))],
            1_000,
            (9, 0, 0),
            Compression::None,
        ),
        1_000,
    )
    .unwrap();
    fill(&log, 40, 1_000);
    let end = log.closed_segments().last().unwrap().next_offset();
    clean_log(&log, 0, end, &settings(), &limits(), 2_000).unwrap();
    let first = log.read(0, 1 << 20, true).unwrap();
    let h = BatchHeader::new(&first.records).unwrap();
    assert_eq!(
        (h.base_offset(), h.producer_id(), h.record_count()),
        (0, 9, 2)
    );
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), false);
    let next = batch_of(&[("k0", Some("q"))], 2_000, (9, 0, 2), Compression::None);
    log.append(next, 2_000).unwrap();
}

/// Transactional and control batches are copied whole, whatever the map says of their keys.
#[test]
fn transactional_and_control_batches_are_left_alone() {
    use super::clean::{clean_batch, Retention};
    use super::offset_map::OffsetMap;
    let mut map = OffsetMap::new(1 << 20);
    map.put(b"k", 1_000);
    let producers = std::collections::HashMap::new();
    let r = Retention {
        map: &map,
        now_ms: i64::MAX,
        delete_retention_ms: 0,
        producer_last: &producers,
        cap: 1 << 20,
    };
    for (transactional, control) in [(true, false), (true, true)] {
        let rec = Record {
            transactional,
            control,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: 5,
            producer_epoch: 0,
            timestamp_type: KTs::Creation,
            offset: 0,
            sequence: 0,
            timestamp: 1,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: Default::default(),
        };
        let mut buf = BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, &[rec], &opts).unwrap();
        let h = BatchHeader::new(&buf).unwrap();
        assert_eq!(
            (h.is_transactional(), h.is_control()),
            (transactional, control)
        );
        let mut out = Vec::new();
        clean_batch(&buf, &r, &mut out).unwrap();
        assert_eq!(&out[..], &buf[..], "kept byte for byte");
    }
    // The same record in a plain batch is superseded and goes.
    let plain = batch_of(&[("k", None)], 1, (-1, -1, -1), Compression::None);
    let mut out = Vec::new();
    clean_batch(&plain, &r, &mut out).unwrap();
    assert!(out.is_empty());
}

/// The first pass over a tombstone stamps its batch with a delete horizon (KIP-534): attribute
/// bit 6 set, the horizon as base timestamp, record timestamps unchanged for readers.
#[test]
fn first_pass_over_a_tombstone_sets_the_delete_horizon() {
    for c in [Compression::None, Compression::Zstd] {
        let b = batch_of(&[("a", Some("1")), ("b", None)], 1_000, (3, 0, 0), c);
        let Filtered::Rewritten(nb) = filter_batch(&b, 1 << 20, Some(50_000), |_, _| true).unwrap()
        else {
            panic!("a batch with a tombstone and no horizon is rewritten")
        };
        let h = check_header(&nb).expect("valid CRC");
        assert_eq!(super::batch_filter::delete_horizon(&h), Some(50_000));
        assert_eq!(h.max_timestamp(), 1_001);
        assert_eq!(
            (h.record_count(), h.last_offset_delta(), h.producer_id()),
            (2, 1, 3)
        );
        let mut bytes = Bytes::from(nb.clone());
        let sets = RecordBatchDecoder::decode_all(&mut bytes).unwrap();
        let ts: Vec<i64> = sets[0].records.iter().map(|r| r.timestamp).collect();
        assert_eq!(
            ts,
            vec![1_000, 1_001],
            "record timestamps survive the new base"
        );
        assert_eq!(decode(&nb), decode(&b));
        // A later pass does not move the horizon.
        let again = filter_batch(&nb, 1 << 20, Some(90_000), |_, _| true).unwrap();
        assert_eq!(again, Filtered::Unchanged);
    }
    let plain = batch_of(&[("a", Some("1"))], 1_000, (-1, -1, -1), Compression::None);
    let out = filter_batch(&plain, 1 << 20, Some(50_000), |_, _| true).unwrap();
    assert_eq!(out, Filtered::Unchanged, "no tombstone, no horizon");
}

/// The scheduler cleans only compacted topics, picks them by dirty ratio, writes Kafka's
/// checkpoint and then has nothing left to do.
#[test]
fn scheduler_cleans_compacted_topics_and_checkpoints() {
    use super::{CleanerConfig, LogCleaner};
    use crate::storage::log_manager::{LogManager, LogManagerConfig};
    let dir = tempfile::tempdir().unwrap();
    let manager = Arc::new(
        LogManager::open(LogManagerConfig {
            log_dirs: vec![dir.path().to_path_buf()],
            node_id: 1,
            default_log_config: small_config(),
        })
        .unwrap(),
    );
    let compacted: std::collections::BTreeMap<String, String> =
        [("cleanup.policy".to_string(), "compact".to_string())].into();
    let c = manager.create_topic("c", 1, compacted).unwrap();
    let d = manager.create_topic("d", 1, Default::default()).unwrap();
    fill(&c.partition(0).unwrap(), 40, 1_000);
    fill(&d.partition(0).unwrap(), 40, 1_000);
    let config = CleanerConfig {
        enable: false,
        ..CleanerConfig::default()
    };
    let cleaner = LogCleaner::start(Arc::clone(&manager), config, || 10_000);
    let (tp, stats) = cleaner.clean_once().expect("the compacted topic is dirty");
    assert_eq!(&*tp.topic, "c");
    assert!(stats.bytes_written < stats.bytes_read);
    assert!(
        cleaner.clean_once().is_none(),
        "nothing dirty is left; 'd' is not compacted"
    );
    let text = std::fs::read_to_string(dir.path().join("cleaner-offset-checkpoint")).unwrap();
    assert_eq!(text, format!("0\n1\nc 0 {}\n", stats.cleaned_up_to));
    assert_eq!(read_all(&d.partition(0).unwrap()).len(), 200);
    cleaner.shutdown();
}

/// A pass stopped by shutdown replaces nothing further and does not advance the checkpoint.
#[test]
fn a_stopped_pass_leaves_the_log_and_checkpoint_alone() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    fill(&log, 40, 1_000);
    let before = read_all(&log);
    let end = log.closed_segments().last().unwrap().next_offset();
    let stats =
        super::clean::clean_log_until_stopped(&log, 0, end, &settings(), &limits(), 2_000, &|| {
            true
        })
        .unwrap();
    assert_eq!((stats.cleaned_up_to, stats.segments_replaced), (0, 0));
    assert_eq!(read_all(&log), before);
}
