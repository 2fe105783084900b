//! The small text files of a log dir, in Kafka's formats: `meta.properties`,
//! `partition.metadata`, `recovery-point-offset-checkpoint`, plus our topic config files.
//!
//! Thread-safety: stateless functions; callers serialise writes to the same file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use uuid::Uuid;

use super::error::StorageError;

/// Name of the clean-shutdown marker file.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// Name of the recovery-point checkpoint file.
pub const RECOVERY_CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
/// Name of the log-start-offset checkpoint file (each partition's log start offset).
pub const LOG_START_OFFSET_CHECKPOINT_FILE: &str = "log-start-offset-checkpoint";
/// Name of the log dir metadata file.
pub const META_FILE: &str = "meta.properties";
/// Name of a partition's topic-id file.
pub const PARTITION_METADATA_FILE: &str = "partition.metadata";
/// Directory of topic config override files.
pub const TOPIC_CONFIGS_DIR: &str = ".topic-configs";

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A UUID as Kafka prints it: URL-safe base64 without padding (22 characters).
pub fn uuid_to_base64(id: Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Parses Kafka's 22-character base64 form of a UUID.
pub fn uuid_from_base64(s: &str) -> Option<Uuid> {
    let s = s.as_bytes();
    if s.len() != 22 {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = [0u8; 16];
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut n = 0;
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n < 16 {
                out[n] = (acc >> bits) as u8;
                n += 1;
            }
        }
    }
    Some(Uuid::from_bytes(out))
}

/// A random id whose base64 form does not start with '-' (Kafka avoids those, as they read like
/// command-line flags) and is not the all-zero id.
pub fn random_kafka_uuid() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        if !uuid_to_base64(id).starts_with('-') && !id.is_nil() {
            return id;
        }
    }
}

/// Writes `contents` to `path` through a temporary file, fsynced, then renamed into place.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
    f.write_all(contents.as_bytes())
        .map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("fsync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("rename", path))?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync", parent))?;
    }
    Ok(())
}

/// Reads `path` as `key=value` lines (`#` comments and blank lines ignored); `None` when absent.
pub fn read_properties(path: &Path) -> Result<Option<BTreeMap<String, String>>, StorageError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", path)(e)),
    };
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| corrupt(path, format!("line without '=': {line}")))?;
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(Some(map))
}

/// Renders `key=value` lines.
pub fn render_properties(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Writes a partition's `partition.metadata`.
pub fn write_partition_metadata(dir: &Path, topic_id: Uuid) -> Result<(), StorageError> {
    let text = format!("version: 0\ntopic_id: {}\n", uuid_to_base64(topic_id));
    write_atomic(&dir.join(PARTITION_METADATA_FILE), &text)
}

/// Reads a partition's topic id from `partition.metadata`.
pub fn read_partition_metadata(dir: &Path) -> Result<Uuid, StorageError> {
    let path = dir.join(PARTITION_METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .and_then(|v| uuid_from_base64(v.trim()))
        .ok_or_else(|| corrupt(&path, "no valid topic_id"))
}

/// One line of the recovery-point checkpoint.
pub type CheckpointEntry = (String, i32, i64);

/// Reads `recovery-point-offset-checkpoint`: version 0, a count, then `topic partition offset`
/// lines. A missing or malformed file gives an empty list (everything is then recovered).
pub fn read_checkpoint(dir: &Path) -> Vec<CheckpointEntry> {
    read_checkpoint_file(dir, RECOVERY_CHECKPOINT_FILE)
}

/// Reads the checkpoint file `name` in `dir` (format as in [`read_checkpoint`]).
pub fn read_checkpoint_file(dir: &Path, name: &str) -> Vec<CheckpointEntry> {
    let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        return Vec::new();
    }
    let Some(count) = lines.next().and_then(|l| l.trim().parse::<usize>().ok()) else {
        return Vec::new();
    };
    let entries: Vec<CheckpointEntry> = lines
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (t, p, o) = (f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
            Some((t.to_string(), p, o))
        })
        .collect();
    if entries.len() != count {
        return Vec::new();
    }
    entries
}

/// Writes `recovery-point-offset-checkpoint` atomically.
pub fn write_checkpoint(dir: &Path, entries: &[CheckpointEntry]) -> Result<(), StorageError> {
    write_checkpoint_file(dir, RECOVERY_CHECKPOINT_FILE, entries)
}

/// Writes the checkpoint file `name` in `dir` atomically (format as in [`read_checkpoint`]).
pub fn write_checkpoint_file(
    dir: &Path,
    name: &str,
    entries: &[CheckpointEntry],
) -> Result<(), StorageError> {
    let mut text = format!("0\n{}\n", entries.len());
    for (t, p, o) in entries {
        text.push_str(&format!("{t} {p} {o}\n"));
    }
    write_atomic(&dir.join(name), &text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_uuid_round_trips_like_kafka() {
        let id = Uuid::from_u128(0);
        assert_eq!(uuid_to_base64(id), "AAAAAAAAAAAAAAAAAAAAAA");
        let id = Uuid::from_u128(u128::MAX);
        assert_eq!(uuid_to_base64(id), "_____________________w");
        for _ in 0..100 {
            let id = random_kafka_uuid();
            let s = uuid_to_base64(id);
            assert_eq!(s.len(), 22);
            assert_eq!(uuid_from_base64(&s), Some(id));
        }
        assert_eq!(uuid_from_base64("short"), None);
    }

    #[test]
    fn checkpoint_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let entries = vec![("a.b".to_string(), 0, 10), ("c".to_string(), 3, 0)];
        write_checkpoint(dir.path(), &entries).unwrap();
        assert_eq!(read_checkpoint(dir.path()), entries);
        let text = std::fs::read_to_string(dir.path().join(RECOVERY_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n2\na.b 0 10\nc 3 0\n");
    }
}
