//! The hooks the log cleaner needs on [`Log`]: a snapshot of the closed segments, the last
//! offset of each producer, and the crash-safe replacement of a group of segments by one cleaned
//! segment. A child module of `log`, so it can reach the appender state without widening it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::super::error::StorageError;
use super::super::recovery::rebuild_indexes;
use super::super::segment::{file_stem, LogSegment};
use super::Log;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Fsyncs a directory, so renames and unlinks in it are durable before the next step.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))
}

/// Removes a file, treating "already gone" as done (steps are redone after a crash).
pub(crate) fn remove_if_present(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path)(e)),
    }
}

impl Log {
    /// Every segment but the active one, in offset order (the part the cleaner may rewrite).
    pub fn closed_segments(&self) -> Vec<Arc<LogSegment>> {
        let view = self.snapshot();
        let n = view.segments.len().saturating_sub(1);
        view.segments.values().take(n).cloned().collect()
    }

    /// Producer id → last offset of its newest batch; the cleaner never drops such a batch
    /// whole, since the producer's sequence state is rebuilt from it after a restart.
    pub fn producer_last_offsets(&self) -> HashMap<i64, i64> {
        self.lock_inner().producers.last_offsets().collect()
    }

    /// Replaces `old` (consecutive closed segments, the first with base offset `base`) by the
    /// fully written and fsynced cleaned file `cleaned` (`<base>.log.cleaned`), in Kafka's
    /// steps; a crash between any two leaves a state recovery completes or discards:
    ///
    /// 1. rename `.cleaned` to `<base>.log.swap` and fsync the directory (the commit point:
    ///    recovery now finishes the swap);
    /// 2. delete the old segments' files, the first one's indexes included;
    /// 3. rename the swap file to `<base>.log` (atomically replacing the old first segment);
    /// 4. open it, rebuild its indexes, and swap it into the segment map for new readers.
    ///
    /// Readers in flight keep their `Arc` to the old segments: their open file descriptors and
    /// index mappings outlive the unlinked files. The append mutex is held throughout so that no
    /// other change of the segment map (retention, truncation) interleaves. Returns false, with
    /// the cleaned file deleted, when `old` no longer matches the log (it changed meanwhile).
    pub fn replace_segments(
        &self,
        cleaned: &Path,
        base: i64,
        old: &[Arc<LogSegment>],
    ) -> Result<bool, StorageError> {
        let mut inner = self.lock_inner();
        let current = old.iter().all(|s| {
            inner
                .segments
                .get(&s.base_offset())
                .is_some_and(|c| Arc::ptr_eq(c, s))
        });
        let active = inner.segments.keys().next_back().copied();
        if inner.closed
            || self.is_offline()
            || !current
            || old.first().map(|s| s.base_offset()) != Some(base)
            || old.iter().any(|s| Some(s.base_offset()) == active)
        {
            remove_if_present(cleaned)?;
            return Ok(false);
        }
        let stem = file_stem(base);
        let swap = self.dir.join(format!("{stem}.log.swap"));
        std::fs::rename(cleaned, &swap).map_err(io("rename", cleaned))?;
        sync_dir(&self.dir)?;
        for seg in old {
            let s = file_stem(seg.base_offset());
            for ext in ["index", "timeindex", "log"] {
                if seg.base_offset() != base || ext != "log" {
                    remove_if_present(&self.dir.join(format!("{s}.{ext}")))?;
                }
            }
        }
        sync_dir(&self.dir)?;
        let target = self.dir.join(format!("{stem}.log"));
        std::fs::rename(&swap, &target).map_err(io("rename", &swap))?;
        sync_dir(&self.dir)?;
        let config = self.config();
        let (seg, _) = LogSegment::open(&self.dir, base, &config)?;
        rebuild_indexes(&seg, &config)?;
        seg.make_inactive()?;
        let mut map = (*inner.segments).clone();
        for s in old {
            map.remove(&s.base_offset());
        }
        map.insert(base, Arc::new(seg));
        inner.segments = Arc::new(map);
        self.publish(&inner)?;
        Ok(true)
    }
}
