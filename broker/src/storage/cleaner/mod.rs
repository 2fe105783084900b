//! The log cleaner: compaction of `cleanup.policy=compact` (and `compact,delete`) topics.
//!
//! - [`policy`]: when a log is worth cleaning and how far (dirty ratio, compaction lags), pure.
//! - [`offset_map`]: `OffsetMap`, key digest → latest offset, bounded by the dedupe buffer.
//! - [`batch_filter`]: rewriting one batch with its surviving records (offsets, producer
//!   metadata and attributes kept; CRC-32C recomputed).
//! - [`clean`]: one pass over one log: build the map, rewrite grouped segments, swap them in.
//! - [`checkpoint`]: `cleaner-offset-checkpoint`, Kafka's file of first dirty offsets.
//! - this file: `LogCleaner`, the threads that pick the dirtiest log and clean it, off the
//!   async runtime.
//!
//! The crash-safe swap itself is [`Log::replace_segments`](super::Log::replace_segments), and
//! recovery's step 2 finishes or discards an interrupted one.

pub mod batch_filter;
pub mod checkpoint;
pub mod clean;
pub mod offset_map;
pub mod policy;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::error::{AppendError, StorageError};
use super::log::Log;
use super::log_manager::{LogManager, TopicPartition};
use checkpoint::CleanerCheckpoint;
use clean::{clean_log_until_stopped, PassLimits, PassStats};
use policy::{cleanable, Cleanable, CleaningSettings, SegmentFacts};

/// Why a pass failed. The log is then skipped until the broker restarts.
#[derive(Debug, thiserror::Error)]
pub enum CleanerError {
    /// A file operation failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored batch could not be read as records.
    #[error("unreadable batch: {0}")]
    Record(#[from] AppendError),
    /// A stored batch is malformed.
    #[error("corrupt batch: {0}")]
    Corrupt(&'static str),
    /// Writing a cleaned segment failed.
    #[error("writing a cleaned segment: {0}")]
    Write(#[from] std::io::Error),
}

/// The broker's `log.cleaner.*` settings (Kafka's names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.enable` (true).
    pub enable: bool,
    /// `log.cleaner.threads` (1; 0 runs no cleaner thread).
    pub threads: usize,
    /// `log.cleaner.dedupe.buffer.size` (128 MiB), shared by all threads.
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.io.buffer.size` (512 KiB).
    pub io_buffer_size: usize,
    /// `log.cleaner.backoff.ms` (15 s): sleep when no log needs cleaning.
    pub backoff_ms: u64,
    /// Topic defaults: `log.cleaner.min.cleanable.ratio`, `log.cleaner.delete.retention.ms`,
    /// `log.cleaner.min.compaction.lag.ms`, `log.cleaner.max.compaction.lag.ms`, and
    /// `log.cleanup.policy` (delete).
    pub defaults: CleaningSettings,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            enable: true,
            threads: 1,
            dedupe_buffer_size: 128 << 20,
            io_buffer_size: 512 << 10,
            backoff_ms: 15_000,
            defaults: CleaningSettings {
                compact: false,
                delete_retention_ms: 86_400_000,
                min_cleanable_ratio: 0.5,
                min_compaction_lag_ms: 0,
                max_compaction_lag_ms: i64::MAX,
            },
        }
    }
}

/// State shared by the cleaner threads.
struct Shared {
    /// Every topic; read each pass, so new topics and config overrides are seen.
    manager: Arc<LogManager>,
    /// The broker's `log.cleaner.*` settings.
    config: CleanerConfig,
    /// The broker clock (ms since the epoch).
    clock: fn() -> i64,
    /// First dirty offsets by log dir; also serialises checkpoint writes. A std mutex: held for
    /// map updates and one small file write, never across `.await` (these are plain threads).
    checkpoints: Mutex<Vec<(PathBuf, CleanerCheckpoint)>>,
    /// Partitions being cleaned, and those a failed pass took out. A std mutex: set updates.
    busy: Mutex<(HashSet<TopicPartition>, HashSet<TopicPartition>)>,
    /// Set at shutdown; the condvar wakes sleeping threads.
    stopping: Mutex<bool>,
    /// Wakes sleeping threads at shutdown.
    wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent on panic (whole-value updates), so poison is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The log cleaner: `log.cleaner.threads` plain threads, each repeatedly cleaning the dirtiest
/// eligible log and sleeping `log.cleaner.backoff.ms` when none is.
///
/// Thread-safety: `Send + Sync`; a partition is cleaned by at most one thread at a time.
pub struct LogCleaner {
    /// State shared with the threads.
    shared: Arc<Shared>,
    /// The running threads, joined at shutdown.
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for LogCleaner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCleaner")
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl LogCleaner {
    /// Loads the checkpoints; starts the threads when `config.enable`. `clock` gives the
    /// broker's time in milliseconds.
    pub fn start(manager: Arc<LogManager>, config: CleanerConfig, clock: fn() -> i64) -> Self {
        let shared = Arc::new(Shared {
            manager,
            clock,
            checkpoints: Mutex::new(Vec::new()),
            busy: Mutex::new((HashSet::new(), HashSet::new())),
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            config,
        });
        let mut threads = Vec::new();
        if shared.config.enable {
            for i in 0..shared.config.threads {
                let s = Arc::clone(&shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("log-cleaner-{i}"))
                    .spawn(move || s.run());
                match spawned {
                    Ok(h) => threads.push(h),
                    Err(e) => tracing::error!(error = %e, "cannot start a log cleaner thread"),
                }
            }
        }
        LogCleaner { shared, threads }
    }

    /// Runs one pass on the dirtiest eligible log now, on the calling thread (tests and tools).
    pub fn clean_once(&self) -> Option<(TopicPartition, PassStats)> {
        self.shared.clean_dirtiest()
    }

    /// Stops the threads after their current pass and waits for them.
    pub fn shutdown(mut self) {
        *lock(&self.shared.stopping) = true;
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A candidate log and how dirty it is.
struct Candidate {
    /// The log.
    log: Arc<Log>,
    /// Its topic's settings for this pass.
    settings: CleaningSettings,
    /// What the pass may clean.
    cleanable: Cleanable,
}

impl Shared {
    fn run(&self) {
        loop {
            if *lock(&self.stopping) {
                return;
            }
            if self.clean_dirtiest().is_some() {
                continue;
            }
            let stopping = lock(&self.stopping);
            let backoff = Duration::from_millis(self.config.backoff_ms);
            let (stopping, _) = self
                .wake
                .wait_timeout_while(stopping, backoff, |s| !*s)
                .unwrap_or_else(|e| e.into_inner());
            if *stopping {
                return;
            }
        }
    }

    fn first_dirty(&self, log: &Log) -> i64 {
        let tp = log.topic_partition();
        let dir = log.dir().parent().map(PathBuf::from).unwrap_or_default();
        let mut all = lock(&self.checkpoints);
        if !all.iter().any(|(d, _)| *d == dir) {
            let loaded = checkpoint::read(&dir);
            all.push((dir.clone(), loaded));
        }
        let key = (tp.topic.to_string(), tp.partition);
        let saved = all
            .iter()
            .find(|(d, _)| *d == dir)
            .and_then(|(_, c)| c.get(&key).copied());
        let start = log.log_start_offset();
        match saved {
            // Past the log's end: a stale entry (the topic was recreated); start over.
            Some(o) if o > log.high_watermark() => start,
            Some(o) => o.max(start),
            None => start,
        }
    }

    fn save_checkpoint(&self, log: &Log, offset: i64) {
        let tp = log.topic_partition();
        let dir = log.dir().parent().map(PathBuf::from).unwrap_or_default();
        let mut all = lock(&self.checkpoints);
        if let Some((_, c)) = all.iter_mut().find(|(d, _)| *d == dir) {
            c.insert((tp.topic.to_string(), tp.partition), offset);
            if let Err(e) = checkpoint::write(&dir, c) {
                tracing::error!(error = %e, "writing the cleaner checkpoint failed");
            }
        }
    }

    /// The most urgent log: overdue ones first, then the highest dirty ratio.
    fn pick(&self, now: i64) -> Option<Candidate> {
        let mut best: Option<Candidate> = None;
        for topic in self.manager.topics() {
            let settings = self
                .config
                .defaults
                .with_overrides(&topic.config_overrides());
            if !settings.compact {
                continue;
            }
            for log in topic.partitions() {
                {
                    let busy = lock(&self.busy);
                    let tp = log.topic_partition();
                    if log.is_offline() || busy.0.contains(tp) || busy.1.contains(tp) {
                        continue;
                    }
                }
                let closed = log.closed_segments();
                let facts: Vec<SegmentFacts> = closed.iter().map(|s| facts(s)).collect();
                // Everything up to the end of the last closed segment; the active one never.
                let active_base = facts.last().map_or(0, |f| f.next_offset);
                let c = cleanable(&facts, self.first_dirty(&log), active_base, now, &settings);
                if !c.needs_cleaning(&settings) {
                    continue;
                }
                let better = best.as_ref().is_none_or(|b| {
                    (c.overdue, c.dirty_ratio()) > (b.cleanable.overdue, b.cleanable.dirty_ratio())
                });
                if better {
                    best = Some(Candidate {
                        log,
                        settings: settings.clone(),
                        cleanable: c,
                    });
                }
            }
        }
        best
    }

    fn clean_dirtiest(&self) -> Option<(TopicPartition, PassStats)> {
        let now = (self.clock)();
        let cand = self.pick(now)?;
        let tp = cand.log.topic_partition().clone();
        if !lock(&self.busy).0.insert(tp.clone()) {
            return None;
        }
        let threads = self.config.threads.max(1);
        let limits = PassLimits {
            dedupe_buffer_bytes: self.config.dedupe_buffer_size / threads,
            io_buffer_bytes: self.config.io_buffer_size,
            max_decompressed_bytes: cand.log.config().max_decompressed_bytes,
            max_segment_bytes: cand.log.config().segment_bytes,
        };
        let c = cand.cleanable;
        let result = clean_log_until_stopped(
            &cand.log,
            c.first_dirty_offset,
            c.first_uncleanable_offset,
            &cand.settings,
            &limits,
            now,
            &|| *lock(&self.stopping),
        );
        let mut busy = lock(&self.busy);
        busy.0.remove(&tp);
        match result {
            Ok(stats) => {
                drop(busy);
                self.save_checkpoint(&cand.log, stats.cleaned_up_to);
                tracing::info!(partition = %tp, ?stats, "cleaned");
                // A pass that moved nothing (the log changed under it, or unreadable batches)
                // must not be retried at once: the caller then backs off.
                let progressed =
                    stats.cleaned_up_to > c.first_dirty_offset || stats.segments_replaced > 0;
                progressed.then_some((tp, stats))
            }
            Err(e) => {
                tracing::error!(partition = %tp, error = %e, "cleaning failed; skipping this log");
                busy.1.insert(tp);
                None
            }
        }
    }
}

/// The policy's view of a segment.
fn facts(s: &super::segment::LogSegment) -> SegmentFacts {
    let first_timestamp = s
        .read_header(0, s.size())
        .ok()
        .flatten()
        .and_then(|h| super::record_batch::BatchHeader::new(&h).map(|v| v.max_timestamp()))
        .unwrap_or(i64::MAX);
    SegmentFacts {
        base_offset: s.base_offset(),
        next_offset: s.next_offset(),
        size: s.size(),
        max_timestamp: s.max_timestamp().map_or(i64::MIN, |(ts, _)| ts),
        first_timestamp,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
