use super::*;
use crate::storage::record_batch::split_batches;
use crate::storage::test_util::{batch, simple, small_config, BatchSpec};

fn tp() -> TopicPartition {
    TopicPartition {
        topic: "t".into(),
        partition: 0,
    }
}

fn open(dir: &Path, cfg: LogConfig, clean: bool, rp: i64) -> Log {
    Log::open(dir, tp(), Uuid::nil(), cfg, clean, rp).unwrap()
}

fn bases(records: &Bytes) -> Vec<i64> {
    split_batches(records)
        .unwrap()
        .iter()
        .map(|b| BatchHeader::new(b).unwrap().base_offset())
        .collect()
}

#[test]
fn append_and_read_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    let b = simple(3, 1_000);
    for i in 0..20 {
        let info = log.append(b.clone(), 10).unwrap();
        assert_eq!((info.base_offset, info.last_offset), (i * 3, i * 3 + 2));
        assert_eq!(info.log_append_time, -1);
        assert!(!info.needs_flush);
    }
    assert_eq!(
        (
            log.log_end_offset(),
            log.high_watermark(),
            log.log_start_offset()
        ),
        (60, 60, 0)
    );
    let segs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert!(segs >= 3, "1 KiB segments must have rolled: {segs}");
    // Every offset is readable, starting with the batch that contains it.
    for off in 0..60 {
        let r = log.read(off, 1 << 20, true).unwrap();
        assert_eq!(bases(&r.records)[0], off - off % 3);
        assert_eq!(r.high_watermark, 60);
    }
    let r = log.read(4, b.len() * 2 + 5, true).unwrap();
    assert_eq!(bases(&r.records), vec![3, 6]);
    assert!(log.read(4, 10, false).unwrap().records.is_empty());
    assert_eq!(log.read(4, 10, true).unwrap().records.len(), b.len());
    assert!(log.read(60, 100, true).unwrap().records.is_empty());
    assert!(matches!(
        log.read(61, 100, true),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        log.read(-1, 100, true),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    // Batches are stored with leader epoch 0 and the producer's payload untouched.
    let r = log.read(30, 1 << 20, true).unwrap();
    let h = BatchHeader::new(&r.records).unwrap();
    assert_eq!(h.partition_leader_epoch(), 0);
    assert_eq!(&r.records[HEADER_LEN..b.len()], &b[HEADER_LEN..]);
}

#[test]
fn timestamps_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    for i in 0..10 {
        log.append(simple(2, 1_000 + i * 100), 0).unwrap();
    }
    log.append(simple(1, 500), 0).unwrap(); // out-of-order timestamp at offset 20
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 1_000)));
    assert_eq!(log.offset_for_timestamp(1_001).unwrap(), Some((1, 1_001)));
    assert_eq!(log.offset_for_timestamp(1_350).unwrap(), Some((8, 1_400)));
    assert_eq!(log.offset_for_timestamp(1_902).unwrap(), None);
    assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((19, 1_901)));
    drop(log);
    let log = open(dir.path(), small_config(), true, 0);
    assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((19, 1_901)));
    assert_eq!(log.offset_for_timestamp(1_350).unwrap(), Some((8, 1_400)));
}

#[test]
fn log_append_time_rewrites_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.timestamp_type = TimestampType::LogAppendTime;
    let log = open(dir.path(), cfg, true, 0);
    let info = log.append(simple(2, 5), 777).unwrap();
    assert_eq!(info.log_append_time, 777);
    let r = log.read(0, 1 << 20, true).unwrap();
    let h = crate::storage::record_batch::check_header(&r.records).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp(), 777);
    assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((0, 777)));
}

#[test]
fn idempotent_producer_rules_through_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    let spec = |seq| BatchSpec {
        producer: (42, 1, seq),
        count: 2,
        ..Default::default()
    };
    log.append(simple(1, 0), 0).unwrap();
    let first = log.append(batch(spec(0)), 0).unwrap();
    assert_eq!((first.base_offset, first.last_offset), (1, 2));
    log.append(batch(spec(2)), 0).unwrap();
    let dup = log.append(batch(spec(0)), 0).unwrap();
    assert_eq!((dup.base_offset, dup.last_offset), (1, 2));
    assert_eq!(log.log_end_offset(), 5, "a duplicate writes nothing");
    assert!(matches!(
        log.append(batch(spec(9)), 0),
        Err(AppendError::OutOfOrderSequence(_))
    ));
    let old_epoch = BatchSpec {
        producer: (42, 0, 4),
        ..spec(4)
    };
    assert!(matches!(
        log.append(batch(old_epoch), 0),
        Err(AppendError::InvalidProducerEpoch(_))
    ));
    let unknown = BatchSpec {
        producer: (43, 0, 4),
        ..spec(4)
    };
    assert!(matches!(
        log.append(batch(unknown), 0),
        Err(AppendError::UnknownProducerId(43))
    ));
    // State survives a reopen (rebuilt from batch headers).
    drop(log);
    let log = open(dir.path(), small_config(), false, 0);
    let dup = log.append(batch(spec(2)), 0).unwrap();
    assert_eq!((dup.base_offset, dup.last_offset), (3, 4));
    assert_eq!(log.append(batch(spec(4)), 0).unwrap().base_offset, 5);
}

#[test]
fn bad_batches_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    let mut bad = simple(2, 0).to_vec();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let mut req = simple(1, 0).to_vec();
    req.extend_from_slice(&bad);
    assert!(matches!(
        log.append(Bytes::from(req), 0),
        Err(AppendError::Corrupt(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn clean_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    for i in 0..30 {
        log.append(simple(2, i), 0).unwrap();
    }
    let before: Vec<Bytes> = (0..60)
        .map(|o| log.read(o, 1 << 20, true).unwrap().records)
        .collect();
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), small_config(), true, 0);
    assert_eq!(log.log_end_offset(), 60);
    for (o, b) in before.iter().enumerate() {
        assert_eq!(&log.read(o as i64, 1 << 20, true).unwrap().records, b);
    }
    assert_eq!(log.append(simple(1, 0), 0).unwrap().base_offset, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_up_to_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.flush_messages = 1;
    cfg.segment_bytes = 1 << 20;
    let log = Arc::new(open(dir.path(), cfg, true, 0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let info = log.append(simple(1, 0), 0).unwrap();
            assert!(info.needs_flush);
            log.flush_up_to(info.last_offset).await.unwrap();
            assert!(log.recovery_point() > info.last_offset);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(log.recovery_point(), 16);
    let fsyncs = log.fsyncs.load(Ordering::Acquire);
    assert!(
        (1..16).contains(&fsyncs),
        "waiters must share fsyncs: {fsyncs}"
    );
    // Already durable: returns at once without another fsync.
    log.flush_up_to(3).await.unwrap();
    assert_eq!(log.fsyncs.load(Ordering::Acquire), fsyncs);
}

#[tokio::test]
async fn failed_flush_takes_the_log_offline() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    log.append(simple(1, 0), 0).unwrap();
    log.offline.store(true, Ordering::Release);
    assert!(matches!(
        log.flush_up_to(0).await,
        Err(StorageError::Offline(_))
    ));
    assert!(matches!(
        log.append(simple(1, 0), 0),
        Err(AppendError::Storage(StorageError::Offline(_)))
    ));
}

#[test]
fn readers_never_see_past_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.segment_bytes = 1 << 30;
    let log = Arc::new(open(dir.path(), cfg, true, 0));
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for _ in 0..2_000 {
                log.append(simple(3, 0), 0).unwrap();
            }
        })
    };
    let mut seen = 0;
    while seen < 6_000 {
        let hw = log.high_watermark();
        if hw > seen {
            let r = log.read(seen, 1 << 20, true).unwrap();
            let batches = split_batches(&r.records).unwrap();
            for b in &batches {
                crate::storage::record_batch::check_header(b).unwrap();
            }
            let last = BatchHeader::new(batches.last().unwrap())
                .unwrap()
                .last_offset();
            assert!(last < r.high_watermark);
            seen = last + 1;
        }
    }
    writer.join().unwrap();
}

/// What a file range holds, or nothing.
fn range_bytes(range: Option<FileRange>) -> Bytes {
    range.map_or_else(Bytes::new, |r| r.read_bytes().unwrap())
}

#[test]
fn read_range_names_exactly_the_bytes_read_returns() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    let mut sizes = Vec::new();
    for i in 0..30 {
        let b = simple([1, 5, 2, 9][i % 4], 1_000);
        sizes.push(b.len());
        log.append(b, 10).unwrap();
    }
    let end = log.high_watermark();
    let big = *sizes.iter().max().unwrap();
    for offset in 0..=end {
        for max_bytes in [0, 1, 60, big - 1, big, big + 1, 500, 1 << 20] {
            for min_one_batch in [false, true] {
                let read = log.read(offset, max_bytes, min_one_batch).unwrap();
                let (info, range) = log.read_range(offset, max_bytes, min_one_batch).unwrap();
                assert!(info.records.is_empty());
                assert_eq!(info.high_watermark, read.high_watermark);
                assert_eq!(info.log_start_offset, read.log_start_offset);
                assert!(range.as_ref().is_none_or(|r| !r.is_empty()));
                assert_eq!(
                    range_bytes(range),
                    read.records,
                    "offset {offset}, max {max_bytes}, min_one_batch {min_one_batch}"
                );
            }
        }
    }
    // KIP-74: a first batch over the limit comes whole with min_one_batch, not at all without.
    let (_, range) = log.read_range(1, 1, true).unwrap();
    assert_eq!(range.unwrap().len(), sizes[1]);
    assert!(log.read_range(1, 1, false).unwrap().1.is_none());
    assert!(matches!(
        log.read_range(end + 1, 100, true),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn a_file_range_outlives_its_segment_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), true, 0);
    for _ in 0..10 {
        log.append(simple(5, 1_000), 10).unwrap();
    }
    let expected = log.read(0, 1 << 20, true).unwrap().records;
    let (_, range) = log.read_range(0, 1 << 20, true).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    assert_eq!(range_bytes(range), expected);
}
