//! `cleaner-offset-checkpoint`: per log dir, each compacted partition's first dirty offset, in
//! Kafka's text checkpoint format (version `0`, an entry count, then `topic partition offset`).
//!
//! Thread-safety: stateless functions; the scheduler serialises writers.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::dir_files::write_atomic;
use super::super::error::StorageError;

/// The file's name in each log dir (Kafka's).
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// (topic, partition) → first dirty offset.
pub type CleanerCheckpoint = BTreeMap<(String, i32), i64>;

/// Reads the file in `dir`; a missing or malformed file reads as empty (the next pass then
/// starts from the log start offset, which is only slower).
pub fn read(dir: &Path) -> CleanerCheckpoint {
    let Ok(text) = std::fs::read_to_string(dir.join(CLEANER_CHECKPOINT_FILE)) else {
        return CleanerCheckpoint::new();
    };
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        return CleanerCheckpoint::new();
    }
    let Some(count) = lines.next().and_then(|l| l.trim().parse::<usize>().ok()) else {
        return CleanerCheckpoint::new();
    };
    let entries: CleanerCheckpoint = lines
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (t, p, o) = (f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
            Some(((t.to_string(), p), o))
        })
        .collect();
    if entries.len() != count {
        return CleanerCheckpoint::new();
    }
    entries
}

/// Writes the file in `dir` atomically.
pub fn write(dir: &Path, entries: &CleanerCheckpoint) -> Result<(), StorageError> {
    let mut text = format!("0\n{}\n", entries.len());
    for ((t, p), o) in entries {
        text.push_str(&format!("{t} {p} {o}\n"));
    }
    write_atomic(&dir.join(CLEANER_CHECKPOINT_FILE), &text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = CleanerCheckpoint::new();
        c.insert(("__consumer_offsets".into(), 7), 42);
        c.insert(("t".into(), 0), 3);
        write(dir.path(), &c).unwrap();
        let text = std::fs::read_to_string(dir.path().join(CLEANER_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n2\n__consumer_offsets 7 42\nt 0 3\n");
        assert_eq!(read(dir.path()), c);
        std::fs::write(dir.path().join(CLEANER_CHECKPOINT_FILE), "0\n3\nt 0 3\n").unwrap();
        assert!(
            read(dir.path()).is_empty(),
            "a count mismatch reads as empty"
        );
    }
}
