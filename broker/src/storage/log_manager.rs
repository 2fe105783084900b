//! `LogManager`: every partition of every topic. CONTRACT (to be implemented).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use uuid::Uuid;

use super::error::StorageError;
use super::log::{Log, LogConfig};

/// A topic name and a partition index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: Arc<str>,
    /// The partition index.
    pub partition: i32,
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Broker-wide storage settings.
#[derive(Debug, Clone)]
pub struct LogManagerConfig {
    /// `log.dirs`.
    pub log_dirs: Vec<PathBuf>,
    /// `node.id`, written into `meta.properties`.
    pub node_id: i32,
    /// Defaults for every partition, before topic overrides.
    pub default_log_config: LogConfig,
}

/// One topic: its id, its partitions and its config overrides.
#[derive(Debug)]
pub struct Topic {
    _todo: (),
}

#[allow(unused_variables, clippy::missing_errors_doc)]
impl Topic {
    /// The topic's name.
    pub fn name(&self) -> &str {
        todo!()
    }
    /// The topic's id (a random v4 UUID given at creation and kept in `partition.metadata`).
    pub fn id(&self) -> Uuid {
        todo!()
    }
    /// The partitions, index = partition number.
    pub fn partitions(&self) -> Vec<Arc<Log>> {
        todo!()
    }
    /// The partition `index`, if it exists.
    pub fn partition(&self, index: i32) -> Option<Arc<Log>> {
        todo!()
    }
    /// Topic-level config overrides, as given at creation (Kafka key names).
    pub fn config_overrides(&self) -> BTreeMap<String, String> {
        todo!()
    }
}

/// Why a topic operation was refused. Handlers map each variant to a Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// TOPIC_ALREADY_EXISTS.
    #[error("topic '{0}' already exists")]
    AlreadyExists(String),
    /// UNKNOWN_TOPIC_OR_PARTITION.
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    /// INVALID_TOPIC_EXCEPTION: empty, too long, "." / "..", or characters outside [a-zA-Z0-9._-].
    #[error("invalid topic name '{0}': {1}")]
    InvalidName(String, &'static str),
    /// INVALID_PARTITIONS.
    #[error("{0}")]
    InvalidPartitions(String),
    /// INVALID_CONFIG.
    #[error("{0}")]
    InvalidConfig(String),
    /// KAFKA_STORAGE_ERROR.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Every partition of every topic, the cluster id and the clean-shutdown marker.
#[derive(Debug)]
pub struct LogManager {
    _todo: (),
}

#[allow(unused_variables, clippy::missing_errors_doc)]
impl LogManager {
    /// Opens every log dir: reads or writes `meta.properties`, loads every partition directory
    /// (recovering those not cleanly shut down), then removes the clean-shutdown marker.
    pub fn open(config: LogManagerConfig) -> Result<LogManager, StorageError> {
        todo!()
    }
    /// The cluster id kept in `meta.properties` (22 characters, URL-safe base64 of a UUID).
    pub fn cluster_id(&self) -> &str {
        todo!()
    }
    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        todo!()
    }
    /// The topic whose id is `id`.
    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        todo!()
    }
    /// Every topic, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        todo!()
    }
    /// The partition's log.
    pub fn log(&self, tp: &TopicPartition) -> Option<Arc<Log>> {
        todo!()
    }
    /// Checks a topic name the way Kafka does.
    pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
        todo!()
    }
    /// Checks topic config overrides (known keys, valid values) without creating anything.
    pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), TopicError> {
        todo!()
    }
    /// Creates a topic with `partitions` partitions and the given overrides.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        todo!()
    }
    /// Deletes a topic: it disappears at once, its directories are removed in the background.
    pub fn delete_topic(&self, name: &str) -> Result<Uuid, TopicError> {
        todo!()
    }
    /// Grows a topic to `total` partitions.
    pub fn create_partitions(&self, name: &str, total: i32) -> Result<(), TopicError> {
        todo!()
    }
    /// Flushes every log whose `flush.ms` has passed; called by a periodic task.
    pub fn flush_by_time(&self, now_ms: i64) {
        todo!()
    }
    /// Flushes and closes every log, then writes the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), StorageError> {
        todo!()
    }
}
