//! Topic config overrides: which Kafka topic config names are accepted, their value checks, and
//! how they change a partition's [`LogConfig`].
//!
//! Thread-safety: stateless functions.

use std::collections::BTreeMap;

use super::log::{LogConfig, TimestampType};
use super::log_manager::TopicError;

/// Accepted names that only need to be kept (no effect on storage yet), with their value check.
const KEPT: &[(&str, Kind)] = &[
    ("min.insync.replicas", Kind::Long(1)),
    ("compression.type", Kind::Compression),
    ("delete.retention.ms", Kind::Long(0)),
    ("min.cleanable.dirty.ratio", Kind::Ratio),
    ("min.compaction.lag.ms", Kind::Long(0)),
    ("max.compaction.lag.ms", Kind::Long(1)),
    ("message.timestamp.difference.max.ms", Kind::Long(0)),
    ("message.timestamp.before.max.ms", Kind::Long(0)),
    ("message.timestamp.after.max.ms", Kind::Long(0)),
    ("segment.jitter.ms", Kind::Long(0)),
    ("unclean.leader.election.enable", Kind::Bool),
    ("preallocate", Kind::Bool),
    ("message.downconversion.enable", Kind::Bool),
];

/// A value's expected shape.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer at least this large.
    Long(i64),
    /// `true` / `false`.
    Bool,
    /// A fraction in [0, 1].
    Ratio,
    /// A topic compression type.
    Compression,
}

fn bad(key: &str, value: &str, why: &str) -> TopicError {
    TopicError::InvalidConfig(format!("invalid value '{value}' for config '{key}': {why}"))
}

fn long(key: &str, value: &str, min: i64) -> Result<i64, TopicError> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| bad(key, value, "not an integer"))?;
    if v < min {
        return Err(bad(key, value, &format!("must be at least {min}")));
    }
    Ok(v)
}

fn int(key: &str, value: &str, min: i64) -> Result<i64, TopicError> {
    let v = long(key, value, min)?;
    if v > i64::from(i32::MAX) {
        return Err(bad(key, value, "must fit in 32 bits"));
    }
    Ok(v)
}

fn check_kind(key: &str, value: &str, kind: Kind) -> Result<(), TopicError> {
    match kind {
        Kind::Long(min) => long(key, value, min).map(drop),
        Kind::Bool => match value.trim() {
            "true" | "false" => Ok(()),
            _ => Err(bad(key, value, "must be true or false")),
        },
        Kind::Ratio => match value.trim().parse::<f64>() {
            Ok(v) if (0.0..=1.0).contains(&v) => Ok(()),
            _ => Err(bad(key, value, "must be a number between 0 and 1")),
        },
        Kind::Compression => match value.trim() {
            "uncompressed" | "zstd" | "lz4" | "snappy" | "gzip" | "producer" => Ok(()),
            _ => Err(bad(key, value, "unknown compression type")),
        },
    }
}

/// Applies one storage-relevant override to `c`; `Ok(false)` when `key` is not one of them.
fn apply(c: &mut LogConfig, key: &str, value: &str) -> Result<bool, TopicError> {
    match key {
        "segment.bytes" => c.segment_bytes = int(key, value, 14)? as u64,
        "segment.ms" => c.segment_ms = long(key, value, 1)?,
        "max.message.bytes" => c.max_message_bytes = int(key, value, 0)? as usize,
        "message.timestamp.type" => {
            c.timestamp_type = match value.trim() {
                "CreateTime" => TimestampType::CreateTime,
                "LogAppendTime" => TimestampType::LogAppendTime,
                _ => return Err(bad(key, value, "must be CreateTime or LogAppendTime")),
            }
        }
        "cleanup.policy" => {
            let (mut compact, mut delete) = (false, false);
            for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match p {
                    "compact" => compact = true,
                    "delete" => delete = true,
                    _ => return Err(bad(key, value, "must list delete and/or compact")),
                }
            }
            c.compact = compact;
            c.delete = delete;
        }
        "retention.ms" => c.retention_ms = long(key, value, -1)?,
        "retention.bytes" => c.retention_bytes = long(key, value, -1)?,
        "file.delete.delay.ms" => c.file_delete_delay_ms = long(key, value, 0)?,
        "flush.messages" => c.flush_messages = long(key, value, 1)? as u64,
        "flush.ms" => c.flush_ms = long(key, value, 0)?,
        "index.interval.bytes" => c.index_interval_bytes = int(key, value, 0)? as u32,
        "segment.index.bytes" => c.segment_index_bytes = int(key, value, 4)? as u32,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Topic config names that change a partition's [`LogConfig`] (see `apply`).
const APPLIED: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "max.message.bytes",
    "message.timestamp.type",
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "segment.index.bytes",
];

/// True when `key` is a topic config name this broker accepts.
pub fn is_topic_config(key: &str) -> bool {
    APPLIED.contains(&key) || KEPT.iter().any(|(k, _)| *k == key)
}

/// The partition config of a topic: `defaults` with `overrides` applied. Unknown names and bad
/// values are refused, naming them.
pub fn log_config_for(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, TopicError> {
    let mut c = defaults.clone();
    for (key, value) in overrides {
        if value.contains(['\n', '\r']) {
            return Err(bad(key, value, "line breaks are not allowed"));
        }
        if apply(&mut c, key, value)? {
            continue;
        }
        match KEPT.iter().find(|(k, _)| *k == key) {
            Some((_, kind)) => check_kind(key, value, *kind)?,
            None => {
                return Err(TopicError::InvalidConfig(format!(
                    "unknown topic config '{key}'"
                )))
            }
        }
    }
    Ok(c)
}

/// Checks overrides without a broker's defaults at hand.
pub fn validate_configs(overrides: &BTreeMap<String, String>) -> Result<(), TopicError> {
    let placeholder = LogConfig {
        segment_bytes: 1 << 30,
        segment_ms: 7 * 24 * 3600 * 1000,
        segment_index_bytes: 10 << 20,
        index_interval_bytes: 4096,
        max_message_bytes: 1_048_588,
        max_decompressed_bytes: 64 << 20,
        timestamp_type: TimestampType::CreateTime,
        flush_messages: u64::MAX,
        flush_ms: i64::MAX,
        compact: false,
        delete: true,
        retention_ms: -1,
        retention_bytes: -1,
        file_delete_delay_ms: 60_000,
    };
    log_config_for(&placeholder, overrides).map(drop)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::test_util::string_map as map;

    #[test]
    fn overrides_apply_and_bad_ones_are_named() {
        let c = validate_configs(&map(&[("retention.ms", "-1")]));
        assert!(c.is_ok());
        let base = LogConfig {
            segment_bytes: 1,
            segment_ms: 1,
            segment_index_bytes: 8,
            index_interval_bytes: 1,
            max_message_bytes: 1,
            max_decompressed_bytes: 1,
            timestamp_type: TimestampType::CreateTime,
            flush_messages: 1,
            flush_ms: 1,
            compact: false,
            delete: true,
            retention_ms: -1,
            retention_bytes: -1,
            file_delete_delay_ms: 60_000,
        };
        let c = log_config_for(
            &base,
            &map(&[
                ("segment.bytes", "1000"),
                ("cleanup.policy", "compact,delete"),
                ("message.timestamp.type", "LogAppendTime"),
                ("compression.type", "zstd"),
            ]),
        )
        .unwrap();
        assert_eq!(c.segment_bytes, 1000);
        assert!(c.compact);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        for (k, v) in [
            ("segment.bytes", "x"),
            ("no.such.config", "1"),
            ("preallocate", "yes"),
        ] {
            match validate_configs(&map(&[(k, v)])) {
                Err(TopicError::InvalidConfig(msg)) => assert!(msg.contains(k), "{msg}"),
                other => panic!("{k}: {other:?}"),
            }
        }
    }
}
