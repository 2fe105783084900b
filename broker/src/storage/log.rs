//! `Log`: one partition on disk: its segments, offsets, appends, reads, rolls and flushes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use uuid::Uuid;

use super::error::{AppendError, ReadError, StorageError};
use super::file_range::FileRange;
use super::log_manager::TopicPartition;
use super::producer_state::{BatchMetadata, ProducerStateManager, SequenceCheck};
use super::record_batch::{
    find_timestamp_in_batch, split_batches, validate_batch, BatchHeader, PatchedHeader,
    ValidatedBatch, ValidationLimits, HEADER_LEN,
};
use super::recovery;
use super::segment::LogSegment;

/// Which timestamp a partition keeps for its batches (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    #[default]
    CreateTime,
    /// Overwrite each batch's max timestamp with the broker's clock at append.
    LogAppendTime,
}

/// Per-partition settings, from the broker defaults and the topic's overrides.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `segment.index.bytes`: the preallocated size of each `.index` / `.timeindex`.
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: bytes of batches between two index entries.
    pub index_interval_bytes: u32,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: usize,
    /// Cap on a batch's decompressed size, so a compression bomb cannot exhaust memory.
    pub max_decompressed_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `flush.messages`: fsync after this many unflushed records (1 = before every ack).
    pub flush_messages: u64,
    /// `flush.ms`: fsync when the oldest unflushed append is older than this.
    pub flush_ms: i64,
    /// `cleanup.policy` contains `compact`: keyless records are refused.
    pub compact: bool,
    /// `cleanup.policy` contains `delete`: retention removes old segments.
    pub delete: bool,
    /// `retention.ms`: closed segments whose newest record is older are deleted (-1 = never).
    pub retention_ms: i64,
    /// `retention.bytes`: oldest segments are deleted while the partition is larger (-1 = never).
    pub retention_bytes: i64,
    /// `file.delete.delay.ms`: how long a deleted segment's `.deleted` files stay on disk.
    pub file_delete_delay_ms: i64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// The broker time written under LogAppendTime, or -1 under CreateTime.
    pub log_append_time: i64,
    /// The partition's log start offset after the append.
    pub log_start_offset: i64,
    /// True when every record must be fsynced before the append is acknowledged
    /// (`flush.messages` reached); the caller then awaits [`Log::flush_up_to`].
    pub needs_flush: bool,
}

/// What a read returns.
#[derive(Debug, Clone)]
pub struct FetchDataInfo {
    /// Whole record batches, verbatim from the segment files; empty when nothing is readable.
    pub records: Bytes,
    /// The high watermark at the time of the read.
    pub high_watermark: i64,
    /// The log start offset at the time of the read.
    pub log_start_offset: i64,
}

/// The segment map, shared by the appender and by readers' snapshots.
type Segments = Arc<BTreeMap<i64, Arc<LogSegment>>>;

/// What readers see: published by the appender after each append, read without its mutex.
#[derive(Debug)]
struct ReadView {
    /// The segments at publication time.
    segments: Segments,
    /// The offset after the last visible record.
    high_watermark: i64,
    /// Visible bytes of the last segment in `segments`: readers never look past them, so they
    /// never see a half-written batch.
    active_end: u64,
    /// The first offset in the log.
    log_start_offset: i64,
    /// (offset, timestamp) of the record with the largest timestamp.
    max_timestamp: Option<(i64, i64)>,
}

/// The appender's state, behind [`Log`]'s append mutex.
#[derive(Debug)]
struct LogInner {
    /// The segments; replaced (copy on write) when a segment is added.
    segments: Segments,
    /// The offset the next record gets.
    log_end_offset: i64,
    /// Idempotent producers' sequence state.
    producers: ProducerStateManager,
    /// Records appended since the last flush started.
    unflushed_records: u64,
    /// Broker time of the oldest append not yet flushed.
    first_unflushed_ms: Option<i64>,
    /// (offset, timestamp) of the record with the largest timestamp.
    max_timestamp: Option<(i64, i64)>,
    /// A segment file was created since the last flush: the directory needs an fsync too.
    dir_dirty: bool,
    /// Set by `close`: no more appends.
    closed: bool,
    /// The first offset in the log; only moves forward (retention, DeleteRecords).
    log_start_offset: i64,
}

/// One partition.
///
/// Thread-safety: `Log` is `Send + Sync` and shared through `Arc`. Appends are serialised by a
/// std `Mutex` held for the offset assignment, producer-state check and the page-cache write
/// (validation runs before it). Reads never take that mutex: they clone an `Arc<ReadView>`
/// published after each append and read files with positional reads. Flushes run fsync in
/// `spawn_blocking` under a tokio mutex so concurrent waiters share one fsync. The config is an
/// `Arc<LogConfig>` behind a std `RwLock` held only to clone or swap the `Arc`: each operation
/// reads it once at its start, so a live config change applies from the next operation on and
/// never mixes old and new values within one.
#[derive(Debug)]
pub struct Log {
    /// The partition.
    tp: TopicPartition,
    /// The partition directory.
    dir: PathBuf,
    /// The topic's id.
    topic_id: Uuid,
    /// Settings, swapped whole by [`Log::set_config`]. A std lock: held only to clone or swap.
    config: RwLock<Arc<LogConfig>>,
    /// Appender state. A std mutex: held only for short non-async sections (no `.await`).
    inner: Mutex<LogInner>,
    /// The published read view. A std lock: held only to clone or swap one `Arc`.
    view: RwLock<Arc<ReadView>>,
    /// Serialises fsyncs, so waiters arriving during one share the next (group commit).
    flush_lock: tokio::sync::Mutex<()>,
    /// Every record below this offset is durable.
    flushed_offset: AtomicI64,
    /// Set after a failed write or fsync: the log refuses writes until restarted.
    offline: AtomicBool,
    /// Flushes run so far (observability and tests of group commit).
    fsyncs: AtomicU64,
}

/// What a flush must cover, captured under the append mutex.
struct FlushPlan {
    /// Segments that may hold unflushed data.
    segments: Vec<Arc<LogSegment>>,
    /// The log end offset at capture: durable once the plan completes.
    target: i64,
    /// Whether the directory needs an fsync.
    sync_dir: bool,
}

impl Log {
    /// Opens the partition directory `dir`, creating it if needed, and recovers it.
    pub fn open(
        dir: &Path,
        tp: TopicPartition,
        topic_id: Uuid,
        config: LogConfig,
        clean_shutdown: bool,
        recovery_point: i64,
    ) -> Result<Log, StorageError> {
        let loaded = recovery::load(dir, &config, clean_shutdown, recovery_point)?;
        let segments: Segments = Arc::new(loaded.segments);
        let log_start_offset = segments.keys().next().copied().unwrap_or(0);
        let active_end = segments.values().next_back().map_or(0, |s| s.size());
        let view = ReadView {
            segments: segments.clone(),
            high_watermark: loaded.log_end_offset,
            active_end,
            log_start_offset,
            max_timestamp: loaded.max_timestamp,
        };
        Ok(Log {
            tp,
            dir: dir.to_path_buf(),
            topic_id,
            inner: Mutex::new(LogInner {
                segments,
                log_end_offset: loaded.log_end_offset,
                producers: loaded.producers,
                unflushed_records: 0,
                first_unflushed_ms: None,
                max_timestamp: loaded.max_timestamp,
                dir_dirty: false,
                closed: false,
                log_start_offset,
            }),
            view: RwLock::new(Arc::new(view)),
            flush_lock: tokio::sync::Mutex::new(()),
            flushed_offset: AtomicI64::new(loaded.log_end_offset),
            offline: AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
            config: RwLock::new(Arc::new(config)),
        })
    }

    /// The partition this log stores.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// The partition directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// The topic's id.
    pub fn topic_id(&self) -> Uuid {
        self.topic_id
    }

    /// The partition's current settings.
    pub fn config(&self) -> Arc<LogConfig> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the partition's settings (a live topic or broker config change); operations
    /// already running finish with the settings they started with.
    pub fn set_config(&self, config: LogConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// Every record below this offset has been fsynced (for the recovery-point checkpoint).
    pub fn recovery_point(&self) -> i64 {
        self.flushed_offset.load(Ordering::Acquire)
    }

    /// True after a failed write or fsync.
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    fn lock_inner(&self) -> MutexGuard<'_, LogInner> {
        // State under this mutex is only changed after the write it reflects succeeded, so a
        // poisoned guard is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self) -> Arc<ReadView> {
        self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn offline_error(&self) -> StorageError {
        StorageError::Offline(self.tp.to_string())
    }

    /// Validates and appends the record batches in `records` (a produce request's bytes for this
    /// partition) at the log end, assigning offsets. `now_ms` is the broker clock.
    pub fn append(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, AppendError> {
        if self.is_offline() {
            return Err(self.offline_error().into());
        }
        let config = self.config();
        let limits = ValidationLimits {
            max_message_bytes: config.max_message_bytes,
            max_decompressed_bytes: config.max_decompressed_bytes,
            compact: config.compact,
        };
        // Validation (CRC, record walk, decompression) happens before the lock is taken.
        let batches = split_batches(&records)?;
        let mut validated = Vec::with_capacity(batches.len());
        for b in &batches {
            validated.push(validate_batch(b, &limits)?);
        }
        let mut guard = self.lock_inner();
        if guard.closed || self.is_offline() {
            return Err(self.offline_error().into());
        }
        match self.append_locked(&mut guard, &config, &batches, &validated, now_ms) {
            Ok(info) => Ok(info),
            Err(AppendError::Storage(e)) => {
                self.offline.store(true, Ordering::Release);
                tracing::error!(partition = %self.tp, error = %e, "append failed; log offline");
                Err(AppendError::Storage(e))
            }
            Err(e) => Err(e),
        }
    }

    /// The append's critical section: producer checks, offsets, rolls, writes, publication.
    fn append_locked(
        &self,
        inner: &mut LogInner,
        config: &LogConfig,
        batches: &[Bytes],
        validated: &[ValidatedBatch],
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let log_append_time =
            (config.timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
        let first_offset = inner.log_end_offset;
        let LogInner {
            producers,
            segments,
            dir_dirty,
            max_timestamp,
            log_start_offset,
            ..
        } = inner;
        // Check every batch's producer state before writing any, so a refused batch leaves the
        // whole request unwritten.
        let mut session = producers.session();
        let mut next = first_offset;
        for v in validated {
            let check = session.check(
                v.producer_id,
                v.producer_epoch,
                v.base_sequence,
                v.last_sequence,
            )?;
            if let SequenceCheck::Duplicate(dup) = check {
                return Ok(AppendInfo {
                    base_offset: dup.first_offset,
                    last_offset: dup.last_offset,
                    log_append_time: -1,
                    log_start_offset: *log_start_offset,
                    needs_flush: self.recovery_point() <= dup.last_offset,
                });
            }
            let last = next + i64::from(v.last_offset_delta);
            let timestamp = log_append_time.unwrap_or(v.max_timestamp);
            let meta = BatchMetadata {
                first_seq: v.base_sequence,
                last_seq: v.last_sequence,
                first_offset: next,
                last_offset: last,
                timestamp,
            };
            session.record(v.producer_id, v.producer_epoch, meta);
            next = last + 1;
        }
        let mut next = first_offset;
        let mut records = 0u64;
        for (batch, v) in batches.iter().zip(validated) {
            let base = next;
            let last = base + i64::from(v.last_offset_delta);
            let mut active = self.active(segments)?;
            if active.should_roll(batch.len() as u64, last, now_ms, config) {
                active = self.roll(segments, base, config)?;
                *dir_dirty = true;
            }
            let header = PatchedHeader::new(batch, base, self.leader_epoch(), log_append_time);
            let max_ts = log_append_time.unwrap_or(v.max_timestamp);
            active.append(&header, &batch[HEADER_LEN..], last, max_ts, now_ms)?;
            let max_offset = match log_append_time {
                Some(_) => base,
                None => base + i64::from(v.offset_delta_of_max_timestamp),
            };
            if max_timestamp.is_none_or(|(_, ts)| max_ts > ts) {
                *max_timestamp = Some((max_offset, max_ts));
            }
            records += u64::try_from(v.record_count).unwrap_or(0);
            next = last + 1;
        }
        session.commit();
        inner.log_end_offset = next;
        inner.unflushed_records = inner.unflushed_records.saturating_add(records);
        inner.first_unflushed_ms.get_or_insert(now_ms);
        let log_start_offset = self.publish(inner)?;
        Ok(AppendInfo {
            base_offset: first_offset,
            last_offset: next - 1,
            log_append_time: log_append_time.unwrap_or(-1),
            log_start_offset,
            needs_flush: inner.unflushed_records >= config.flush_messages,
        })
    }

    fn active(&self, segments: &Segments) -> Result<Arc<LogSegment>, StorageError> {
        segments
            .values()
            .next_back()
            .cloned()
            .ok_or_else(|| self.offline_error())
    }

    /// Makes the read view match the appender's state; returns the log start offset.
    fn publish(&self, inner: &LogInner) -> Result<i64, StorageError> {
        let active = self.active(&inner.segments)?;
        let log_start_offset = inner.log_start_offset;
        let view = Arc::new(ReadView {
            segments: inner.segments.clone(),
            high_watermark: inner.log_end_offset,
            active_end: active.size(),
            log_start_offset,
            max_timestamp: inner.max_timestamp,
        });
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = view;
        Ok(log_start_offset)
    }

    /// Closes the active segment's indexes and starts a new segment at `base_offset`.
    fn roll(
        &self,
        segments: &mut Segments,
        base_offset: i64,
        config: &LogConfig,
    ) -> Result<Arc<LogSegment>, StorageError> {
        let old = self.active(segments)?;
        old.make_inactive()?;
        let (seg, _) = LogSegment::open(&self.dir, base_offset, config)?;
        seg.make_active(config)?;
        let seg = Arc::new(seg);
        let mut map = (**segments).clone();
        map.insert(base_offset, seg.clone());
        *segments = Arc::new(map);
        Ok(seg)
    }

    /// Reads whole batches from the first batch containing `offset`, up to `max_bytes`, bounded
    /// by the high watermark. With `min_one_batch` (KIP-74) the first batch is returned whole
    /// even when larger than `max_bytes`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<FetchDataInfo, ReadError> {
        let (mut info, found) = self.locate(offset, max_bytes, min_one_batch)?;
        if let Some((seg, position, len)) = found {
            info.records = seg.read(position, len)?;
        }
        Ok(info)
    }

    /// Like [`read`](Self::read), but names the batches by their place in the segment file
    /// instead of reading them, so they can be sent with `sendfile(2)`; `records` of the
    /// returned info is empty.
    pub fn read_range(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<(FetchDataInfo, Option<FileRange>), ReadError> {
        let (info, found) = self.locate(offset, max_bytes, min_one_batch)?;
        let range = found.map(|(seg, position, len)| seg.file_range(position, len));
        Ok((info, range))
    }

    /// The part of a read both forms share: the offsets to answer with, and the segment,
    /// position and length of the whole batches that make up the records, if any. Their end is
    /// found from the offset index and batch headers, without reading the records.
    #[allow(clippy::type_complexity)] // A private tuple, named at its two callers.
    fn locate(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<(FetchDataInfo, Option<(Arc<LogSegment>, u64, usize)>), ReadError> {
        let view = self.snapshot();
        if offset < view.log_start_offset || offset > view.high_watermark {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                log_start_offset: view.log_start_offset,
                high_watermark: view.high_watermark,
            });
        }
        let info = FetchDataInfo {
            records: Bytes::new(),
            high_watermark: view.high_watermark,
            log_start_offset: view.log_start_offset,
        };
        if offset == view.high_watermark {
            return Ok((info, None));
        }
        let from = view
            .segments
            .range(..=offset)
            .next_back()
            .map_or(view.log_start_offset, |(b, _)| *b);
        for seg in view.segments.range(from..).map(|(_, s)| s) {
            let limit = visible_end(&view, seg);
            let Some(loc) = seg.find_batch(offset, limit)? else {
                continue;
            };
            let len = if loc.size as usize > max_bytes {
                if !min_one_batch {
                    return Ok((info, None));
                }
                loc.size as usize
            } else {
                max_bytes.min((limit - loc.position) as usize)
            };
            let end = seg.whole_batches_end(loc.position, loc.position + len as u64)?;
            let len = usize::try_from(end - loc.position).unwrap_or(0);
            return Ok((info, (len > 0).then(|| (seg.clone(), loc.position, len))));
        }
        Ok((info, None))
    }

    /// The offset after the last record visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        self.snapshot().high_watermark
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.snapshot().log_start_offset
    }

    /// The offset the next appended record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.lock_inner().log_end_offset
    }

    /// The leader epoch this broker writes into batches (constant 0 on a single node).
    pub fn leader_epoch(&self) -> i32 {
        0
    }

    /// The first record whose timestamp is `>= timestamp`, as (offset, timestamp), found through
    /// the time index then a scan of the batch; `None` when every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError> {
        let view = self.snapshot();
        for seg in view.segments.values() {
            if seg.max_timestamp().is_none_or(|(ts, _)| ts < timestamp) {
                continue;
            }
            let limit = visible_end(&view, seg);
            let start = seg
                .indexes()
                .time
                .lookup(timestamp)
                .map_or(seg.base_offset(), |(_, off)| off);
            let Some(mut loc) = seg.find_batch(start, limit)? else {
                continue;
            };
            loop {
                let header = seg.read_header(loc.position, limit)?;
                let max_ts = header
                    .as_ref()
                    .and_then(|h| BatchHeader::new(h))
                    .map_or(i64::MIN, |h| h.max_timestamp());
                if max_ts >= timestamp {
                    let batch = seg.read(loc.position, loc.size as usize)?;
                    let found = find_timestamp_in_batch(
                        &batch,
                        timestamp,
                        self.config().max_decompressed_bytes,
                    )
                    .map_err(|e| StorageError::Corrupt {
                        path: seg.log_path().to_path_buf(),
                        reason: e.to_string(),
                    })?;
                    if let Some((delta, ts)) = found {
                        return Ok(Some((loc.base_offset + i64::from(delta), ts)));
                    }
                }
                match seg.batch_at(loc.position + loc.size, limit)? {
                    Some(next) => loc = next,
                    None => break,
                }
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp, as (offset, timestamp) (ListOffsets -3).
    pub fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
        Ok(self.snapshot().max_timestamp)
    }

    /// Captures what a flush must cover and restarts the unflushed counters.
    fn plan_flush(&self) -> FlushPlan {
        let mut inner = self.lock_inner();
        let flushed = self.recovery_point();
        let from = inner
            .segments
            .range(..=flushed)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b);
        let segments = inner
            .segments
            .range(from..)
            .map(|(_, s)| s.clone())
            .collect();
        inner.unflushed_records = 0;
        inner.first_unflushed_ms = None;
        let sync_dir = std::mem::take(&mut inner.dir_dirty);
        FlushPlan {
            segments,
            target: inner.log_end_offset,
            sync_dir,
        }
    }

    /// Runs a plan (blocking) and records its outcome.
    fn run_flush(dir: &Path, plan: &FlushPlan) -> Result<(), StorageError> {
        for seg in &plan.segments {
            seg.flush()?;
        }
        if plan.sync_dir {
            let io = |source| StorageError::Io {
                op: "fsync",
                path: dir.to_path_buf(),
                source,
            };
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    fn finish_flush(
        &self,
        plan: &FlushPlan,
        result: Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.fsyncs.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok(()) => {
                self.flushed_offset.fetch_max(plan.target, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                self.offline.store(true, Ordering::Release);
                tracing::error!(partition = %self.tp, error = %e, "flush failed; log offline");
                Err(e)
            }
        }
    }

    /// Fsyncs every record up to and including `offset` (pass `AppendInfo::last_offset`).
    /// Concurrent callers share one fsync (group commit). A failed fsync takes the log offline
    /// and returns the error.
    pub async fn flush_up_to(&self, offset: i64) -> Result<(), StorageError> {
        if self.recovery_point() > offset {
            return Ok(());
        }
        let _serial = self.flush_lock.lock().await;
        // Whoever held the lock before us may have flushed our offset already.
        if self.recovery_point() > offset {
            return Ok(());
        }
        if self.is_offline() {
            return Err(self.offline_error());
        }
        let plan = Arc::new(self.plan_flush());
        let dir = self.dir.clone();
        let job = plan.clone();
        let result = tokio::task::spawn_blocking(move || Log::run_flush(&dir, &job))
            .await
            .unwrap_or_else(|e| {
                Err(StorageError::Io {
                    op: "fsync",
                    path: self.dir.clone(),
                    source: std::io::Error::other(e.to_string()),
                })
            });
        self.finish_flush(&plan, result)
    }

    /// Fsyncs everything now (periodic flush and shutdown). Blocking: call it off the async
    /// runtime's worker threads.
    pub fn flush(&self) -> Result<(), StorageError> {
        if self.is_offline() {
            return Err(self.offline_error());
        }
        let plan = self.plan_flush();
        let result = Log::run_flush(&self.dir, &plan);
        self.finish_flush(&plan, result)
    }

    /// Flushes if `flush.ms` has passed since the oldest unflushed append.
    pub fn maybe_flush_by_time(&self, now_ms: i64) -> Result<(), StorageError> {
        let due = self
            .lock_inner()
            .first_unflushed_ms
            .is_some_and(|t| now_ms.saturating_sub(t) >= self.config().flush_ms);
        if due {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes, trims the active indexes to their used size and closes the files.
    pub fn close(&self) -> Result<(), StorageError> {
        self.flush()?;
        let mut inner = self.lock_inner();
        inner.closed = true;
        for seg in inner.segments.values() {
            seg.make_inactive()?;
            seg.flush()?;
        }
        Ok(())
    }
}

/// How far readers of `view` may read in `seg`.
fn visible_end(view: &ReadView, seg: &LogSegment) -> u64 {
    let is_last = view
        .segments
        .keys()
        .next_back()
        .is_some_and(|b| *b == seg.base_offset());
    if is_last {
        view.active_end
    } else {
        seg.size()
    }
}

#[path = "log_replace.rs"]
mod replace;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "log_tests.rs"]
mod tests;

// A child module so that retention's `impl Log` reaches the appender state without widening it.
#[path = "log_retention.rs"]
mod log_retention;
pub use log_retention::DeleteRecordsError;
