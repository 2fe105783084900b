//! Broker-wide retention: one pass over every partition, and the delayed removal of the
//! `.deleted` files a pass leaves behind.
//!
//! Thread-safety: stateless; everything shared lives in [`LogManager`] and [`super::Log`].
//! Every function here does file I/O and blocks: call it off the async worker threads.

use std::path::PathBuf;

use super::log_manager::LogManager;

/// Files renamed to `*.deleted` and when they may be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeletion {
    /// The renamed files.
    pub files: Vec<PathBuf>,
    /// `file.delete.delay.ms` of their partition at deletion time.
    pub delay_ms: i64,
}

impl LogManager {
    /// Runs retention on every partition, then rewrites the checkpoints so the moved log start
    /// offsets survive a restart. Failures are logged per partition and do not stop the pass.
    pub fn delete_old_segments(&self, now_ms: i64) -> Vec<PendingDeletion> {
        let mut pending = Vec::new();
        for topic in self.topics() {
            for log in topic.partitions() {
                match log.delete_old_segments(now_ms) {
                    Ok(files) if !files.is_empty() => pending.push(PendingDeletion {
                        files,
                        delay_ms: log.config().file_delete_delay_ms,
                    }),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(partition = %log.topic_partition(), error = %e, "retention failed")
                    }
                }
            }
        }
        if !pending.is_empty() {
            self.checkpoint_log_start_offsets();
        }
        pending
    }

    /// Rewrites the checkpoints after a log start offset moved (retention, DeleteRecords).
    pub fn checkpoint_log_start_offsets(&self) {
        if let Err(e) = self.write_checkpoints() {
            tracing::error!(error = %e, "writing checkpoints failed");
        }
    }
}

/// Removes `files`; failures are logged (recovery removes `.deleted` files at the next start).
pub fn remove_files(files: &[PathBuf]) {
    for f in files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %f.display(), error = %e, "removing a deleted file failed")
            }
        }
    }
}

/// Removes `pending`'s files after its delay, on a blocking thread. Needs a tokio runtime.
pub fn schedule_removal(pending: PendingDeletion) {
    let delay = std::time::Duration::from_millis(u64::try_from(pending.delay_ms).unwrap_or(0));
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let files = pending.files;
        if let Err(e) = tokio::task::spawn_blocking(move || remove_files(&files)).await {
            tracing::warn!(error = %e, "removing deleted files failed");
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::storage::dir_files::{read_checkpoint_file, LOG_START_OFFSET_CHECKPOINT_FILE};
    use crate::storage::test_util::{simple, small_config};
    use crate::storage::LogManagerConfig;

    fn open(dir: &std::path::Path) -> LogManager {
        LogManager::open(LogManagerConfig {
            log_dirs: vec![dir.to_path_buf()],
            node_id: 1,
            default_log_config: small_config(),
        })
        .unwrap()
    }

    #[test]
    fn log_start_offset_survives_restart_in_kafkas_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let m = open(dir.path());
        let topic = m.create_topic("t", 2, BTreeMap::new()).unwrap();
        let log = topic.partition(1).unwrap();
        for _ in 0..20 {
            log.append(simple(3, 1_000), 0).unwrap();
        }
        // 7 lies inside the first segment, so only the checkpoint can remember it.
        log.delete_records(7).unwrap();
        m.checkpoint_log_start_offsets();
        let entries = read_checkpoint_file(dir.path(), LOG_START_OFFSET_CHECKPOINT_FILE);
        assert!(entries.contains(&("t".to_string(), 1, 7)), "{entries:?}");
        assert!(entries.contains(&("t".to_string(), 0, 0)), "{entries:?}");
        // No clean shutdown: the reopened log recovers and still starts at 7.
        drop((log, topic, m));
        let m = open(dir.path());
        let log = m.topic("t").unwrap().partition(1).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (7, 60));
        // Retention moves it further and the pass writes the checkpoint itself.
        let mut cfg = small_config();
        cfg.retention_bytes = 0;
        log.set_config(cfg);
        let pending = m.delete_old_segments(2_000);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].delay_ms, small_config().file_delete_delay_ms);
        m.shutdown().unwrap();
        drop((log, m));
        let m = open(dir.path());
        let log = m.topic("t").unwrap().partition(1).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (60, 60));
    }
}
