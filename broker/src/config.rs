//! `BrokerConfig`. CONTRACT: the struct's fields are fixed; parsing is to be implemented.

use std::path::PathBuf;

use crate::storage::{LogConfig, LogManagerConfig, TimestampType};

/// A host and port, as in `PLAINTEXT://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (0 = pick a free one, for tests).
    pub port: u16,
}

/// The broker's configuration, with Kafka's key names in the docs of each field.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id` (default 1).
    pub node_id: i32,
    /// `listeners`: the PLAINTEXT listener (default `PLAINTEXT://127.0.0.1:9092`).
    pub listener: HostPort,
    /// `advertised.listeners`: what Metadata tells clients; `None` = the bound listener address.
    pub advertised_listener: Option<HostPort>,
    /// `log.dirs` (or `log.dir`), default `./data`.
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions` (default 1): partitions of an auto-created topic.
    pub num_partitions: i32,
    /// `auto.create.topics.enable` (default true).
    pub auto_create_topics_enable: bool,
    /// `log.segment.bytes` (default 1 GiB).
    pub log_segment_bytes: u64,
    /// `log.roll.ms` / `log.roll.hours` (default 168 h).
    pub log_roll_ms: i64,
    /// `log.index.interval.bytes` (default 4096).
    pub log_index_interval_bytes: u32,
    /// `log.index.size.max.bytes` (default 10 MiB).
    pub log_index_size_max_bytes: u32,
    /// `message.max.bytes` (default 1048588).
    pub message_max_bytes: usize,
    /// `message.max.decompressed.bytes` (this broker's own key, default 64 MiB): cap on one
    /// batch's decompressed size.
    pub message_max_decompressed_bytes: usize,
    /// `log.message.timestamp.type` (default CreateTime).
    pub log_message_timestamp_type: TimestampType,
    /// `socket.request.max.bytes` (default 104857600): the largest request frame accepted.
    pub socket_request_max_bytes: usize,
    /// `max.connections` (Kafka's default is unbounded; here 10000).
    pub max_connections: usize,
    /// `fetch.max.bytes` (default 57671680): cap on one fetch response's record bytes.
    pub fetch_max_bytes: usize,
    /// `log.flush.interval.messages` (default i64::MAX as u64: never by count).
    pub log_flush_interval_messages: u64,
    /// `log.flush.interval.ms` (default: unset = `log.flush.scheduler.interval.ms`, i64::MAX).
    pub log_flush_interval_ms: i64,
    /// `log.flush.scheduler.interval.ms`: how often the time-based flush check runs.
    pub log_flush_scheduler_interval_ms: i64,
}

impl BrokerConfig {
    /// Per-partition defaults derived from the broker settings.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            segment_bytes: self.log_segment_bytes,
            segment_ms: self.log_roll_ms,
            segment_index_bytes: self.log_index_size_max_bytes,
            index_interval_bytes: self.log_index_interval_bytes,
            max_message_bytes: self.message_max_bytes,
            max_decompressed_bytes: self.message_max_decompressed_bytes,
            timestamp_type: self.log_message_timestamp_type,
            flush_messages: self.log_flush_interval_messages,
            flush_ms: self.log_flush_interval_ms,
            compact: false,
        }
    }

    /// Storage settings for the `LogManager`.
    pub fn log_manager_config(&self) -> LogManagerConfig {
        LogManagerConfig {
            log_dirs: self.log_dirs.clone(),
            node_id: self.node_id,
            default_log_config: self.log_config(),
        }
    }
}
