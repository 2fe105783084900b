//! `BrokerConfig`: Kafka's `server.properties` keys, defaults and validation.
//!
//! Settings come from three layers, later ones winning: Kafka's defaults, a Java properties file,
//! and `--override key=value` pairs. Keys keep Kafka's names so an existing `server.properties`
//! works unchanged; Kafka keys that mean nothing on a single node are accepted with a warning so
//! such files still load, while anything else unknown is refused (a typo should not silently
//! leave a default in place).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::group::GroupConfig;
use crate::storage::cleaner::CleanerConfig;
use crate::storage::{LogConfig, LogManagerConfig, TimestampType};

mod listeners;
mod properties;
pub use listeners::NamedListener;
pub use properties::{parse_override, parse_properties};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The properties file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file named on the command line.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A key that is neither one of ours nor a known Kafka key we may ignore.
    #[error("unknown configuration key '{0}'")]
    UnknownKey(String),
    /// A key's value does not parse or is out of range.
    #[error("invalid value '{value}' for '{key}': {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `--override` argument without `=`.
    #[error("override '{0}' is not of the form key=value")]
    BadOverride(String),
}

/// Kafka keys that have no meaning on this single-node broker: accepted (so a stock Kafka
/// `server.properties` loads) and ignored with a warning.
const IGNORED_KEYS: &[&str] = &[
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "inter.broker.listener.name",
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "log.cleaner.enable",
    "num.recovery.threads.per.data.dir",
    "default.replication.factor",
    "min.insync.replicas",
    "delete.topic.enable",
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
];

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
    /// The plaintext `listeners` after the first (`listener` above), each with its own advertised
    /// address (see `config::listeners`). Empty by default.
    pub extra_listeners: Vec<NamedListener>,
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
    /// `socket.sendfile.enable` (ours): fetched records go from segment files to the socket
    /// with `sendfile(2)` instead of through a buffer.
    pub socket_sendfile_enable: bool,
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
    /// `log.retention.ms` / `.minutes` / `.hours` (default 168 h; -1 = keep forever).
    pub log_retention_ms: i64,
    /// `log.retention.bytes` (default -1: no size limit).
    pub log_retention_bytes: i64,
    /// `log.retention.check.interval.ms` (default 300000): how often retention runs.
    pub log_retention_check_interval_ms: i64,
    /// `log.segment.delete.delay.ms` (default 60000): how long `.deleted` files stay.
    pub log_segment_delete_delay_ms: i64,
    /// `log.cleanup.policy` (default `delete`), as (compact, delete).
    pub log_cleanup_policy: (bool, bool),
    /// Every key given in the properties file or an `--override`, with its value as given
    /// (the last one wins), ignored Kafka keys included. DescribeConfigs needs it to tell a
    /// STATIC_BROKER_CONFIG from a default, and to report keys such as `log.retention.ms` that
    /// this broker accepts without acting on.
    pub explicit: BTreeMap<String, String>,
    /// The classic group coordinator's settings: `group.min.session.timeout.ms`,
    /// `group.max.session.timeout.ms`, `group.initial.rebalance.delay.ms`, `group.max.size`,
    /// `offsets.retention.minutes`, `offsets.retention.check.interval.ms`,
    /// `offset.metadata.max.bytes`.
    pub group: GroupConfig,
    /// `offsets.topic.num.partitions` (default 50): partitions of `__consumer_offsets` when it
    /// is created (an existing topic keeps its count).
    pub offsets_topic_num_partitions: i32,
    /// `log.cleaner.*`: the log cleaner's threads, buffers and topic defaults.
    pub log_cleaner: CleanerConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            node_id: 1,
            listener: HostPort {
                host: "127.0.0.1".to_owned(),
                port: 9092,
            },
            advertised_listener: None,
            extra_listeners: Vec::new(),
            log_dirs: vec![PathBuf::from("./data")],
            num_partitions: 1,
            auto_create_topics_enable: true,
            log_segment_bytes: 1 << 30,
            log_roll_ms: 168 * HOUR_MS,
            log_index_interval_bytes: 4096,
            log_index_size_max_bytes: 10 << 20,
            message_max_bytes: 1_048_588,
            message_max_decompressed_bytes: 64 << 20,
            log_message_timestamp_type: TimestampType::CreateTime,
            socket_request_max_bytes: 104_857_600,
            socket_sendfile_enable: true,
            max_connections: 10_000,
            fetch_max_bytes: 57_671_680,
            log_flush_interval_messages: i64::MAX as u64,
            log_flush_interval_ms: i64::MAX,
            log_flush_scheduler_interval_ms: i64::MAX,
            log_retention_ms: 168 * HOUR_MS,
            log_retention_bytes: -1,
            log_retention_check_interval_ms: 300_000,
            log_segment_delete_delay_ms: 60_000,
            log_cleanup_policy: (false, true),
            explicit: BTreeMap::new(),
            group: GroupConfig::default(),
            offsets_topic_num_partitions: 50,
            log_cleaner: CleanerConfig::default(),
        }
    }
}

const HOUR_MS: i64 = 3_600_000;

impl BrokerConfig {
    /// Loads the properties file (if any), then applies `overrides` (`key=value` each).
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<BrokerConfig, ConfigError> {
        let mut pairs = Vec::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            pairs.extend(parse_properties(&text));
        }
        for item in overrides {
            pairs.push(parse_override(item)?);
        }
        BrokerConfig::from_pairs(pairs)
    }

    /// Builds a config from `(key, value)` pairs over Kafka's defaults; a later pair for the same
    /// key wins.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<BrokerConfig, ConfigError> {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut config = BrokerConfig::default();
        for (key, value) in &map {
            config.apply(key, value, &map)?;
        }
        if let Some(named) = listeners::resolve(&map)? {
            let mut named = named.into_iter();
            if let Some(primary) = named.next() {
                config.listener = primary.bind;
                config.advertised_listener = primary.advertised;
            }
            config.extra_listeners = named.collect();
        }
        if !map.contains_key("log.flush.interval.ms") {
            // Kafka: an unset flush.ms falls back to the scheduler interval.
            config.log_flush_interval_ms = config.log_flush_scheduler_interval_ms;
        }
        config.explicit = map;
        Ok(config)
    }

    /// Applies one key. `all` is consulted for keys that lose to an alias or a finer unit.
    fn apply(
        &mut self,
        key: &str,
        value: &str,
        all: &BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        match key {
            "node.id" | "broker.id" => self.node_id = number(key, value, 0, i32::MAX)?,
            // Resolved together, after every key is known (`listeners::resolve`).
            "listeners" | "advertised.listeners" | "listener.security.protocol.map" => {}
            "log.dirs" => self.log_dirs = parse_dirs(key, value)?,
            "log.dir" if !all.contains_key("log.dirs") => self.log_dirs = parse_dirs(key, value)?,
            "log.dir" => {}
            "num.partitions" => self.num_partitions = number(key, value, 1, i32::MAX)?,
            "auto.create.topics.enable" => self.auto_create_topics_enable = boolean(key, value)?,
            "log.segment.bytes" => {
                self.log_segment_bytes = number(key, value, 14, i32::MAX as u64)?
            }
            "log.roll.ms" => self.log_roll_ms = number(key, value, 1, i64::MAX)?,
            "log.roll.hours" if !all.contains_key("log.roll.ms") => {
                let hours: i64 = number(key, value, 1, i64::from(i32::MAX))?;
                self.log_roll_ms = hours * HOUR_MS;
            }
            "log.roll.hours" => {}
            "log.index.interval.bytes" => {
                self.log_index_interval_bytes = number(key, value, 0, i32::MAX as u32)?;
            }
            "log.index.size.max.bytes" => {
                self.log_index_size_max_bytes = number(key, value, 4, i32::MAX as u32)?;
            }
            "message.max.bytes" => {
                self.message_max_bytes = number(key, value, 0, i32::MAX as usize)?
            }
            "message.max.decompressed.bytes" => {
                self.message_max_decompressed_bytes = number(key, value, 1, i32::MAX as usize)?;
            }
            "log.message.timestamp.type" => {
                self.log_message_timestamp_type = timestamp(key, value)?
            }
            "socket.sendfile.enable" => self.socket_sendfile_enable = boolean(key, value)?,
            "socket.request.max.bytes" => {
                self.socket_request_max_bytes = number(key, value, 8, i32::MAX as usize)?;
            }
            "max.connections" => self.max_connections = number(key, value, 1, 1 << 24)?,
            "group.consumer.heartbeat.interval.ms" => {
                self.group.consumer_heartbeat_interval_ms = number(key, value, 1, i32::MAX)?;
            }
            "group.consumer.session.timeout.ms" => {
                self.group.consumer_session_timeout_ms = number(key, value, 1, i32::MAX)?;
            }
            "fetch.max.bytes" => self.fetch_max_bytes = number(key, value, 0, i32::MAX as usize)?,
            "log.flush.interval.messages" => {
                self.log_flush_interval_messages = number(key, value, 1, i64::MAX as u64)?;
            }
            "log.flush.interval.ms" => {
                self.log_flush_interval_ms = number(key, value, 0, i64::MAX)?
            }
            "log.flush.scheduler.interval.ms" => {
                self.log_flush_scheduler_interval_ms = number(key, value, 1, i64::MAX)?;
            }
            "offsets.topic.num.partitions" => {
                self.offsets_topic_num_partitions = number(key, value, 1, 100_000)?;
            }
            "group.min.session.timeout.ms" => {
                self.group.min_session_timeout_ms = number(key, value, 0, i32::MAX)?;
            }
            "group.max.session.timeout.ms" => {
                self.group.max_session_timeout_ms = number(key, value, 0, i32::MAX)?;
            }
            "group.initial.rebalance.delay.ms" => {
                self.group.initial_rebalance_delay_ms = number(key, value, 0, i32::MAX)?;
            }
            "group.max.size" => self.group.max_size = number(key, value, 1, i32::MAX as usize)?,
            "offsets.retention.minutes" => {
                let minutes: i64 = number(key, value, 1, i32::MAX as i64)?;
                self.group.offsets_retention_ms = minutes.saturating_mul(60_000);
            }
            "offsets.retention.check.interval.ms" => {
                self.group.offsets_retention_check_interval_ms = number(key, value, 1, i64::MAX)?;
            }
            "offset.metadata.max.bytes" => {
                self.group.offset_metadata_max_bytes = number(key, value, 0, i32::MAX as usize)?;
            }
            "log.retention.ms" => self.log_retention_ms = retention(key, value, 1)?,
            "log.retention.minutes" if !all.contains_key("log.retention.ms") => {
                self.log_retention_ms = retention(key, value, 60_000)?;
            }
            "log.retention.hours"
                if !all.contains_key("log.retention.ms")
                    && !all.contains_key("log.retention.minutes") =>
            {
                self.log_retention_ms = retention(key, value, HOUR_MS)?;
            }
            "log.retention.minutes" | "log.retention.hours" => {}
            "log.retention.bytes" => self.log_retention_bytes = number(key, value, -1, i64::MAX)?,
            "log.retention.check.interval.ms" => {
                self.log_retention_check_interval_ms = number(key, value, 1, i64::MAX)?;
            }
            "log.segment.delete.delay.ms" => {
                self.log_segment_delete_delay_ms = number(key, value, 0, i64::MAX)?;
            }
            "log.cleanup.policy" => self.log_cleanup_policy = cleanup_policy(key, value)?,
            _ if key.starts_with("log.cleaner.") && self.apply_cleaner(key, value)? => {}
            // Other `log.cleaner.*` keys are Kafka's; accepted as ignorable settings.
            _ if IGNORED_KEYS.contains(&key) || key.starts_with("log.cleaner.") => {
                tracing::warn!(
                    key,
                    value,
                    "ignoring a Kafka setting with no meaning on a single-node broker"
                );
            }
            _ => return Err(ConfigError::UnknownKey(key.to_owned())),
        }
        Ok(())
    }

    /// This config with `pairs` (dynamic broker configs) applied on top; `explicit` then holds
    /// the merged keys, so values derived from it see the dynamic ones too.
    pub fn with_overrides(
        &self,
        pairs: &BTreeMap<String, String>,
    ) -> Result<BrokerConfig, ConfigError> {
        let mut c = self.clone();
        let mut all = self.explicit.clone();
        all.extend(pairs.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (key, value) in pairs {
            c.apply(key, value, &all)?;
        }
        c.explicit = all;
        Ok(c)
    }

    /// Applies one `log.cleaner.*` key; false when the key is not one of them.
    fn apply_cleaner(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let c = &mut self.log_cleaner;
        match key {
            "log.cleaner.enable" => c.enable = boolean(key, value)?,
            "log.cleaner.threads" => c.threads = number(key, value, 0, 64)?,
            "log.cleaner.dedupe.buffer.size" => {
                c.dedupe_buffer_size = number(key, value, 1 << 20, i64::MAX as usize)?;
            }
            "log.cleaner.io.buffer.size" => {
                c.io_buffer_size = number(key, value, 512, i32::MAX as usize)?
            }
            "log.cleaner.backoff.ms" => c.backoff_ms = number(key, value, 0, i64::MAX as u64)?,
            "log.cleaner.min.cleanable.ratio" => {
                c.defaults.min_cleanable_ratio = number(key, value, 0.0, 1.0)?;
            }
            "log.cleaner.delete.retention.ms" => {
                c.defaults.delete_retention_ms = number(key, value, 0, i64::MAX)?;
            }
            "log.cleaner.min.compaction.lag.ms" => {
                c.defaults.min_compaction_lag_ms = number(key, value, 0, i64::MAX)?;
            }
            "log.cleaner.max.compaction.lag.ms" => {
                c.defaults.max_compaction_lag_ms = number(key, value, 1, i64::MAX)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

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
            compact: self.log_cleanup_policy.0,
            delete: self.log_cleanup_policy.1,
            retention_ms: self.log_retention_ms,
            retention_bytes: self.log_retention_bytes,
            file_delete_delay_ms: self.log_segment_delete_delay_ms,
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

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Parses an integer and checks it lies in `min..=max`.
/// A retention period given in `unit_ms` units; any negative value means "keep forever" (-1).
fn retention(key: &str, value: &str, unit_ms: i64) -> Result<i64, ConfigError> {
    let n: i64 = number(key, value, i64::MIN, i64::MAX)?;
    Ok(if n < 0 { -1 } else { n.saturating_mul(unit_ms) })
}

/// `delete`, `compact` or both, comma separated, as (compact, delete).
fn cleanup_policy(key: &str, value: &str) -> Result<(bool, bool), ConfigError> {
    let mut policy = (false, false);
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p {
            "compact" => policy.0 = true,
            "delete" => policy.1 = true,
            _ => return Err(invalid(key, value, "must list delete and/or compact")),
        }
    }
    Ok(policy)
}

fn number<T>(key: &str, value: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
    T::Err: std::fmt::Display,
{
    let n: T = value
        .parse()
        .map_err(|e: T::Err| invalid(key, value, e.to_string()))?;
    if n < min || n > max {
        return Err(invalid(
            key,
            value,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(n)
}

fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(key, value, "expected true or false"))
    }
}

fn timestamp(key: &str, value: &str) -> Result<TimestampType, ConfigError> {
    match value {
        "CreateTime" => Ok(TimestampType::CreateTime),
        "LogAppendTime" => Ok(TimestampType::LogAppendTime),
        _ => Err(invalid(key, value, "expected CreateTime or LogAppendTime")),
    }
}

fn parse_dirs(key: &str, value: &str) -> Result<Vec<PathBuf>, ConfigError> {
    let dirs: Vec<PathBuf> = value
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        return Err(invalid(key, value, "no directory given"));
    }
    Ok(dirs)
}

fn parse_host_port(key: &str, value: &str, address: &str) -> Result<HostPort, ConfigError> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, value, format!("'{address}' has no port")))?;
    let port = port
        .parse::<u16>()
        .map_err(|e| invalid(key, value, format!("port '{port}': {e}")))?;
    // IPv6 literals come bracketed, as in a URL.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok(HostPort {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests;
