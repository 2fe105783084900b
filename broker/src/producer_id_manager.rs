//! `ProducerIdManager`: producer ids that are never handed out twice, even across crashes.
//!
//! Ids are reserved in blocks of [`BLOCK_SIZE`]. The end of the current block is written to
//! `<log_dir>/producer-id-block` (one decimal integer) and made durable before any id of the block
//! is given out, so after a restart the next id is the persisted end: a crash wastes at most the
//! rest of one block and never reuses an id.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::StorageError;

/// How many ids one persisted reservation covers.
pub const BLOCK_SIZE: i64 = 1000;

/// The file, inside the first log dir, that holds the end (exclusive) of the reserved block.
pub const BLOCK_FILE_NAME: &str = "producer-id-block";

/// Hands out producer ids unique across restarts: ids come in blocks whose end is persisted
/// (fsynced) in the first log dir before any id of the block is given out.
///
/// Thread-safety: `Send + Sync`; `next_id` may be called from many threads at once. Taking an id
/// from the current block is a short critical section; reserving a new block fsyncs, so async
/// code should use [`ProducerIdManager::next_id_async`], which keeps that off runtime threads.
#[derive(Debug)]
pub struct ProducerIdManager {
    /// Shared with blocking tasks that reserve a new block.
    inner: Arc<Inner>,
}

/// The state behind the `Arc`.
#[derive(Debug)]
struct Inner {
    /// `<log_dir>/producer-id-block`.
    path: PathBuf,
    /// The log dir, fsynced after the rename so the new file name is durable.
    dir: PathBuf,
    /// A std mutex: the common path is a few arithmetic operations, and the rare block
    /// reservation runs only on blocking threads (never across an `.await`).
    block: Mutex<IdBlock>,
}

/// The ids still available: `next..end`.
#[derive(Debug, Clone, Copy)]
struct IdBlock {
    /// The id the next caller gets.
    next: i64,
    /// The persisted end of the block (exclusive).
    end: i64,
}

impl ProducerIdManager {
    /// Loads the block file in `log_dir`, or starts from 0 when there is none.
    pub fn open(log_dir: &Path) -> Result<ProducerIdManager, StorageError> {
        let path = log_dir.join(BLOCK_FILE_NAME);
        let start = match fs::read_to_string(&path) {
            Ok(text) => parse_block_end(&path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => {
                return Err(StorageError::Io {
                    op: "read",
                    path,
                    source,
                })
            }
        };
        Ok(ProducerIdManager {
            inner: Arc::new(Inner {
                path,
                dir: log_dir.to_path_buf(),
                // Nothing of the persisted block is known to be unused, so begin after it.
                block: Mutex::new(IdBlock {
                    next: start,
                    end: start,
                }),
            }),
        })
    }

    /// The next unused producer id. May fsync (once per block): prefer
    /// [`ProducerIdManager::next_id_async`] on async runtime threads.
    pub fn next_id(&self) -> Result<i64, StorageError> {
        self.inner.next_id()
    }

    /// Like [`ProducerIdManager::next_id`], but a block reservation (write + fsync) runs on a
    /// blocking thread instead of the caller's.
    pub async fn next_id_async(&self) -> Result<i64, StorageError> {
        if let Some(id) = self.inner.take_cached() {
            return Ok(id);
        }
        let inner = Arc::clone(&self.inner);
        let path = inner.path.clone();
        match tokio::task::spawn_blocking(move || inner.next_id()).await {
            Ok(result) => result,
            Err(join) => Err(StorageError::Io {
                op: "reserve producer id block",
                path,
                source: std::io::Error::other(join.to_string()),
            }),
        }
    }
}

impl Inner {
    /// Locks the block state; a poisoned lock is still consistent because `IdBlock` is only
    /// updated after the reservation it depends on has succeeded.
    fn lock(&self) -> MutexGuard<'_, IdBlock> {
        self.block
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An id from the already persisted block, without any I/O.
    fn take_cached(&self) -> Option<i64> {
        let mut block = self.lock();
        if block.next < block.end {
            let id = block.next;
            block.next += 1;
            Some(id)
        } else {
            None
        }
    }

    /// An id, reserving (and persisting) a new block first when the current one is used up.
    fn next_id(&self) -> Result<i64, StorageError> {
        let mut block = self.lock();
        if block.next >= block.end {
            let new_end =
                block
                    .end
                    .checked_add(BLOCK_SIZE)
                    .ok_or_else(|| StorageError::Corrupt {
                        path: self.path.clone(),
                        reason: "producer id space exhausted".to_string(),
                    })?;
            // Held across the write so no concurrent caller can hand out an unpersisted id.
            self.persist(new_end)?;
            block.end = new_end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }

    /// Makes `end` the durable block end: temp file, fsync, rename, fsync of the directory, so a
    /// crash leaves either the old or the new value, never a torn file.
    fn persist(&self, end: i64) -> Result<(), StorageError> {
        let tmp = self.dir.join(format!("{BLOCK_FILE_NAME}.tmp"));
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StorageError::Io { op, path, source }
        };
        let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
        file.write_all(format!("{end}\n").as_bytes())
            .map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(io("rename", &self.path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync", &self.dir))
    }
}

/// Parses the block file's contents: one non-negative decimal integer.
fn parse_block_end(path: &Path, text: &str) -> Result<i64, StorageError> {
    match text.trim().parse::<i64>() {
        Ok(end) if end >= 0 => Ok(end),
        _ => Err(StorageError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("expected a non-negative integer, found {:?}", text.trim()),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn persisted_end(dir: &Path) -> i64 {
        fs::read_to_string(dir.join(BLOCK_FILE_NAME))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn starts_at_zero_and_persists_the_block_before_handing_out_ids() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIdManager::open(dir.path()).unwrap();
        assert!(!dir.path().join(BLOCK_FILE_NAME).exists());
        assert_eq!(ids.next_id().unwrap(), 0);
        assert_eq!(persisted_end(dir.path()), BLOCK_SIZE);
        for expected in 1..BLOCK_SIZE {
            assert_eq!(ids.next_id().unwrap(), expected);
        }
        assert_eq!(persisted_end(dir.path()), BLOCK_SIZE);
        assert_eq!(ids.next_id().unwrap(), BLOCK_SIZE);
        assert_eq!(persisted_end(dir.path()), 2 * BLOCK_SIZE);
        assert!(!dir.path().join(format!("{BLOCK_FILE_NAME}.tmp")).exists());
    }

    #[test]
    fn ids_strictly_increase_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut last = -1;
        for _ in 0..3 {
            let ids = ProducerIdManager::open(dir.path()).unwrap();
            for _ in 0..5 {
                let id = ids.next_id().unwrap();
                assert!(id > last, "{id} after {last}");
                last = id;
            }
        }
        // Each reopen skips the rest of the previous block.
        assert_eq!(last, 2 * BLOCK_SIZE + 4);
    }

    #[test]
    fn concurrent_ids_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let ids = Arc::new(ProducerIdManager::open(dir.path()).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let ids = Arc::clone(&ids);
                std::thread::spawn(move || {
                    (0..1500)
                        .map(|_| ids.next_id().unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert!(seen.insert(id), "id {id} handed out twice");
            }
        }
        assert_eq!(seen.len(), 6000);
        assert!(persisted_end(dir.path()) >= 6000);
    }

    #[tokio::test]
    async fn async_ids_share_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(ids.next_id_async().await.unwrap(), 0);
        assert_eq!(ids.next_id().unwrap(), 1);
        assert_eq!(ids.next_id_async().await.unwrap(), 2);
    }

    #[test]
    fn corrupt_block_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(BLOCK_FILE_NAME), "banana\n").unwrap();
        assert!(matches!(
            ProducerIdManager::open(dir.path()),
            Err(StorageError::Corrupt { .. })
        ));
        fs::write(dir.path().join(BLOCK_FILE_NAME), "-5").unwrap();
        assert!(ProducerIdManager::open(dir.path()).is_err());
    }
}
