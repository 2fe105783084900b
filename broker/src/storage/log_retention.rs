//! Retention and DeleteRecords for [`Log`]: moving the log start offset forward and deleting the
//! whole segments that fall out of the log.
//!
//! A deleted segment leaves the segment map first (under the append mutex, then published), so
//! no new read finds it; its files are then renamed to `*.deleted`. Readers that took a snapshot
//! before keep reading through their open descriptors and mappings, which a rename does not
//! affect. The caller removes the `.deleted` files after `file.delete.delay.ms`
//! ([`super::super::retention::remove_files`]); recovery removes any left by a crash.

use std::path::PathBuf;
use std::sync::Arc;

use super::super::error::StorageError;
use super::super::segment::{file_stem, LogSegment};
use super::{Log, LogConfig, LogInner};

/// Why a DeleteRecords request for one partition was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeleteRecordsError {
    /// OFFSET_OUT_OF_RANGE: negative (other than -1) or beyond the high watermark.
    #[error("offset {offset} is outside [0, {high_watermark}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// The partition's high watermark.
        high_watermark: i64,
    },
    /// POLICY_VIOLATION: the topic's `cleanup.policy` does not include `delete`.
    #[error("cleanup.policy of {0} does not include delete")]
    PolicyViolation(String),
    /// KAFKA_STORAGE_ERROR.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// DeleteRecords' "up to the high watermark" offset.
pub const HIGH_WATERMARK_OFFSET: i64 = -1;

impl Log {
    /// Raises the log start offset to `offset` read from `log-start-offset-checkpoint` at
    /// startup, never past the log end and never below the first segment.
    pub fn restore_log_start_offset(&self, offset: i64) -> Result<(), StorageError> {
        let mut inner = self.lock_inner();
        let target = offset.min(inner.log_end_offset);
        if target > inner.log_start_offset {
            inner.log_start_offset = target;
            self.publish(&inner)?;
        }
        Ok(())
    }

    /// DeleteRecords: makes `offset` (or the high watermark for -1) the log start offset, then
    /// deletes the segments wholly below it. Returns the new low watermark and the renamed
    /// `.deleted` files. Blocking (renames): call it off the async worker threads.
    pub fn delete_records(&self, offset: i64) -> Result<(i64, Vec<PathBuf>), DeleteRecordsError> {
        if !self.config().delete {
            return Err(DeleteRecordsError::PolicyViolation(self.tp.to_string()));
        }
        let mut inner = self.lock_inner();
        let high_watermark = inner.log_end_offset;
        let target = if offset == HIGH_WATERMARK_OFFSET {
            high_watermark
        } else {
            offset
        };
        if !(0..=high_watermark).contains(&target) {
            return Err(DeleteRecordsError::OffsetOutOfRange {
                offset,
                high_watermark,
            });
        }
        if target > inner.log_start_offset {
            inner.log_start_offset = target;
        }
        let doomed = self.remove_prefix(&mut inner, |_| false)?;
        let low_watermark = inner.log_start_offset;
        drop(inner);
        Ok((low_watermark, self.rename_deleted(&doomed)))
    }

    /// One retention pass (`cleanup.policy` with `delete`): deletes the oldest segments whose
    /// newest record is older than `retention.ms`, while the partition is larger than
    /// `retention.bytes`, or wholly below the log start offset. An expired active segment is
    /// first rolled (as Kafka does), so the log keeps one, empty, segment at its end. Returns
    /// the renamed `.deleted` files. Blocking: call it off the async worker threads.
    pub fn delete_old_segments(&self, now_ms: i64) -> Result<Vec<PathBuf>, StorageError> {
        let config = self.config();
        if !config.delete {
            return Ok(self.rename_deleted(&self.remove_below_start()?));
        }
        let total: u64 = self.lock_inner().segments.values().map(|s| s.size()).sum();
        // Bytes still to shed for retention.bytes; decremented as segments are chosen.
        let mut excess = u64::try_from(config.retention_bytes)
            .map_or(0, |limit| total.saturating_sub(limit) as i128);
        let by_time = |seg: &LogSegment| {
            config.retention_ms >= 0
                && seg
                    .max_timestamp()
                    .is_some_and(|(ts, _)| now_ms.saturating_sub(ts) > config.retention_ms)
        };
        let mut inner = self.lock_inner();
        let doomed = self.remove_prefix(&mut inner, |seg| {
            let by_size = excess > 0 && excess - i128::from(seg.size()) >= 0;
            excess -= i128::from(seg.size());
            by_time(seg) || by_size
        })?;
        drop(inner);
        Ok(self.rename_deleted(&doomed))
    }

    fn remove_below_start(&self) -> Result<Vec<Arc<LogSegment>>, StorageError> {
        let mut inner = self.lock_inner();
        self.remove_prefix(&mut inner, |_| false)
    }

    /// Takes out of the segment map the longest prefix of segments that are wholly below the log
    /// start offset or satisfy `expired(segment)`, rolling first when that prefix
    /// would include a non-empty active segment; raises the log start offset to the first kept
    /// segment and publishes. Returns the removed segments.
    fn remove_prefix(
        &self,
        inner: &mut LogInner,
        mut expired: impl FnMut(&LogSegment) -> bool,
    ) -> Result<Vec<Arc<LogSegment>>, StorageError> {
        let mut doomed = Vec::new();
        let mut iter = inner.segments.values().peekable();
        while let Some(seg) = iter.next() {
            let next_base = iter.peek().map(|n| n.base_offset());
            let below_start = next_base.is_some_and(|b| b <= inner.log_start_offset);
            if next_base.is_none() && seg.size() == 0 {
                break;
            }
            if !(below_start || expired(seg)) {
                break;
            }
            doomed.push(seg.clone());
        }
        if doomed.is_empty() {
            if self.snapshot().log_start_offset != inner.log_start_offset {
                self.publish(inner)?;
            }
            return Ok(doomed);
        }
        if doomed.len() == inner.segments.len() {
            let config: Arc<LogConfig> = self.config();
            let end = inner.log_end_offset;
            self.roll(&mut inner.segments, end, &config)?;
            inner.dir_dirty = true;
        }
        let mut map = (*inner.segments).clone();
        for seg in &doomed {
            map.remove(&seg.base_offset());
        }
        let first_kept = map.keys().next().copied().unwrap_or(inner.log_end_offset);
        inner.segments = Arc::new(map);
        inner.log_start_offset = inner.log_start_offset.max(first_kept);
        self.publish(inner)?;
        Ok(doomed)
    }

    /// Renames each removed segment's files to `*.deleted`; failures are logged (recovery
    /// retries them at the next start). Returns the new paths.
    fn rename_deleted(&self, doomed: &[Arc<LogSegment>]) -> Vec<PathBuf> {
        let mut renamed = Vec::new();
        for seg in doomed {
            let stem = file_stem(seg.base_offset());
            for ext in ["log", "index", "timeindex", "txnindex"] {
                let from = self.dir.join(format!("{stem}.{ext}"));
                let to = self.dir.join(format!("{stem}.{ext}.deleted"));
                match std::fs::rename(&from, &to) {
                    Ok(()) => renamed.push(to),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(file = %from.display(), error = %e, "renaming a deleted segment failed")
                    }
                }
            }
            tracing::info!(partition = %self.tp, base_offset = seg.base_offset(), "deleted segment");
        }
        renamed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "log_retention_tests.rs"]
mod tests;
