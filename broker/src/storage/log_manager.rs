//! `LogManager`: every partition of every topic, topic ids, the cluster id and the
//! clean-shutdown marker. Files kept in each log dir:
//!
//! - `meta.properties`: `version=1`, `node.id`, `cluster.id`, `directory.id` (Kafka's names).
//! - `<topic>-<partition>/`: a partition (see [`Log`]), with `partition.metadata` holding the
//!   topic id as Kafka writes it (`version: 0` / `topic_id: <base64 uuid>`).
//! - `.topic-configs/<topic>.properties`: topic config overrides (our choice; Kafka keeps them in
//!   its metadata log).
//! - `recovery-point-offset-checkpoint`: per partition, the offset below which everything was
//!   fsynced (Kafka's text format).
//! - `.kafka_cleanshutdown`: written after every log was flushed and closed; removed once loaded.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use uuid::Uuid;

use super::dir_files::{
    random_kafka_uuid, read_checkpoint, read_checkpoint_file, read_partition_metadata,
    read_properties, render_properties, write_atomic, write_checkpoint, write_checkpoint_file,
    write_partition_metadata, CLEAN_SHUTDOWN_FILE, LOG_START_OFFSET_CHECKPOINT_FILE,
    TOPIC_CONFIGS_DIR,
};
use super::error::StorageError;
use super::layout;
use super::log::{Log, LogConfig};
use super::topic_config::{log_config_for, validate_configs};

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
///
/// Thread-safety: `Send + Sync`; the partition list and the overrides are each behind a std
/// `RwLock` held only to copy, extend or replace them. Overrides change only under the
/// `LogManager`'s admin mutex, which then pushes the new `LogConfig` to every partition.
#[derive(Debug)]
pub struct Topic {
    /// The topic's name.
    name: Arc<str>,
    /// The topic id.
    id: Uuid,
    /// Partitions, index = partition number.
    partitions: RwLock<Vec<Arc<Log>>>,
    /// Config overrides: given at creation, changed by AlterConfigs.
    configs: RwLock<BTreeMap<String, String>>,
}

impl Topic {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The topic's id (a random v4 UUID given at creation and kept in `partition.metadata`).
    pub fn id(&self) -> Uuid {
        self.id
    }
    /// The partitions, index = partition number.
    pub fn partitions(&self) -> Vec<Arc<Log>> {
        self.partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// The partition `index`, if it exists.
    pub fn partition(&self, index: i32) -> Option<Arc<Log>> {
        let i = usize::try_from(index).ok()?;
        self.partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(i)
            .cloned()
    }
    /// Topic-level config overrides as they are now (Kafka key names): read it at each use,
    /// AlterConfigs may change it at any time.
    pub fn config_overrides(&self) -> BTreeMap<String, String> {
        self.configs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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

/// The largest partition count accepted in one request, so a lying count cannot make us create
/// millions of directories.
pub const MAX_PARTITIONS: i32 = 100_000;

/// Every partition of every topic, the cluster id and the clean-shutdown marker.
///
/// Thread-safety: `Send + Sync`. The topic map is a std `RwLock` held only for map lookups and
/// inserts; topic creation, deletion and growth are serialised by a std `Mutex` (file operations
/// under it are synchronous and short; no `.await` happens inside).
#[derive(Debug)]
pub struct LogManager {
    /// Settings.
    config: LogManagerConfig,
    /// The cluster id from `meta.properties`.
    cluster_id: String,
    /// Topics by name.
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serialises create / delete / grow / config changes.
    admin: Mutex<()>,
    /// Partition defaults before topic overrides: `config.default_log_config` until a dynamic
    /// broker config replaces them. A std lock: held only to clone or swap the `Arc`.
    defaults: RwLock<Arc<LogConfig>>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl LogManager {
    /// Opens every log dir: reads or writes `meta.properties`, loads every partition directory
    /// (recovering those not cleanly shut down), then removes the clean-shutdown marker.
    pub fn open(config: LogManagerConfig) -> Result<LogManager, StorageError> {
        let cluster_id = layout::prepare_dirs(&config)?;
        let defaults = RwLock::new(Arc::new(config.default_log_config.clone()));
        let mut manager = LogManager {
            defaults,
            config,
            cluster_id,
            topics: RwLock::new(BTreeMap::new()),
            admin: Mutex::new(()),
        };
        let mut found: BTreeMap<String, (Uuid, BTreeMap<i32, Arc<Log>>)> = BTreeMap::new();
        for dir in manager.config.log_dirs.clone() {
            let clean = dir.join(CLEAN_SHUTDOWN_FILE).exists();
            let checkpoint = read_checkpoint(&dir);
            let start_offsets = read_checkpoint_file(&dir, LOG_START_OFFSET_CHECKPOINT_FILE);
            for (name, partition, path) in layout::partition_dirs(&dir)? {
                let topic_id = read_partition_metadata(&path)?;
                let overrides = manager.read_topic_configs(&name)?;
                let log_config = log_config_for(&manager.config.default_log_config, &overrides)
                    .map_err(|e| StorageError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                let rp = checkpoint
                    .iter()
                    .find(|(t, p, _)| *t == name && *p == partition)
                    .map_or(0, |(_, _, o)| *o);
                let tp = TopicPartition {
                    topic: name.as_str().into(),
                    partition,
                };
                let log = Log::open(&path, tp, topic_id, log_config, clean, rp)?;
                if let Some((_, _, start)) = start_offsets
                    .iter()
                    .find(|(t, p, _)| *t == name && *p == partition)
                {
                    log.restore_log_start_offset(*start)?;
                }
                found
                    .entry(name.clone())
                    .or_insert_with(|| (topic_id, BTreeMap::new()))
                    .1
                    .insert(partition, Arc::new(log));
            }
        }
        for (name, (id, parts)) in found {
            let topic = manager.assemble_topic(&name, id, parts)?;
            manager
                .topics
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name, topic);
        }
        for dir in &manager.config.log_dirs {
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            match std::fs::remove_file(&marker) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", &marker)(e)),
            }
        }
        Ok(manager)
    }

    /// Builds a loaded topic; partitions missing from disk (a gap) are created empty.
    fn assemble_topic(
        &self,
        name: &str,
        id: Uuid,
        mut parts: BTreeMap<i32, Arc<Log>>,
    ) -> Result<Arc<Topic>, StorageError> {
        let configs = self.read_topic_configs(name)?;
        let count = parts.keys().next_back().map_or(0, |p| p + 1);
        let mut partitions = Vec::new();
        for p in 0..count {
            let log = match parts.remove(&p) {
                Some(l) => l,
                None => {
                    tracing::warn!(topic = name, partition = p, "partition missing; recreating");
                    self.create_log(name, id, p, &configs, &partitions)?
                }
            };
            partitions.push(log);
        }
        Ok(Arc::new(Topic {
            name: name.into(),
            id,
            partitions: RwLock::new(partitions),
            configs: RwLock::new(configs),
        }))
    }

    fn topic_config_path(&self, dir: &Path, name: &str) -> PathBuf {
        dir.join(TOPIC_CONFIGS_DIR)
            .join(format!("{name}.properties"))
    }

    fn read_topic_configs(&self, name: &str) -> Result<BTreeMap<String, String>, StorageError> {
        for dir in &self.config.log_dirs {
            if let Some(map) = read_properties(&self.topic_config_path(dir, name))? {
                return Ok(map);
            }
        }
        Ok(BTreeMap::new())
    }

    /// The log dir holding the fewest partitions, counting `pending` (created, not yet listed).
    fn pick_dir(&self, pending: &[Arc<Log>]) -> Result<PathBuf, StorageError> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let count = |dir: &Path| {
            topics
                .values()
                .flat_map(|t| t.partitions())
                .chain(pending.iter().cloned())
                .filter(|l| l.dir().parent() == Some(dir))
                .count()
        };
        self.config
            .log_dirs
            .iter()
            .min_by_key(|d| count(d))
            .cloned()
            .ok_or_else(|| StorageError::Corrupt {
                path: PathBuf::new(),
                reason: "no log dir configured".into(),
            })
    }

    /// Creates partition `p` of a topic on disk and opens it.
    fn create_log(
        &self,
        name: &str,
        id: Uuid,
        p: i32,
        configs: &BTreeMap<String, String>,
        pending: &[Arc<Log>],
    ) -> Result<Arc<Log>, StorageError> {
        let log_config = log_config_for(&self.default_log_config(), configs).map_err(|e| {
            StorageError::Corrupt {
                path: PathBuf::from(name),
                reason: e.to_string(),
            }
        })?;
        let path = self.pick_dir(pending)?.join(format!("{name}-{p}"));
        std::fs::create_dir_all(&path).map_err(io("create", &path))?;
        write_partition_metadata(&path, id)?;
        let tp = TopicPartition {
            topic: name.into(),
            partition: p,
        };
        Ok(Arc::new(Log::open(&path, tp, id, log_config, true, 0)?))
    }

    /// The cluster id kept in `meta.properties` (22 characters, URL-safe base64 of a UUID).
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The topic whose id is `id`.
    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    /// Every topic, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The partition's log.
    pub fn log(&self, tp: &TopicPartition) -> Option<Arc<Log>> {
        self.topic(&tp.topic)?.partition(tp.partition)
    }

    /// Checks a topic name the way Kafka does.
    pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
        let invalid = |why| Err(TopicError::InvalidName(name.to_string(), why));
        if name.is_empty() {
            return invalid("the name is empty");
        }
        if name == "." || name == ".." {
            return invalid("'.' and '..' are not allowed");
        }
        if name.len() > 249 {
            return invalid("longer than 249 characters");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        {
            return invalid("only ASCII letters, digits, '.', '_' and '-' are allowed");
        }
        Ok(())
    }

    /// Checks topic config overrides (known keys, valid values) without creating anything.
    pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), TopicError> {
        validate_configs(configs)
    }

    fn admin_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a topic with `partitions` partitions and the given overrides.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        Self::validate_topic_name(name)?;
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(TopicError::InvalidPartitions(format!(
                "number of partitions must be between 1 and {MAX_PARTITIONS}, got {partitions}"
            )));
        }
        log_config_for(&self.default_log_config(), &configs)?;
        let _admin = self.admin_lock();
        if self.topic(name).is_some() {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        if !configs.is_empty() {
            let dir = self.pick_dir(&[])?.join(TOPIC_CONFIGS_DIR);
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
            write_atomic(
                &dir.join(format!("{name}.properties")),
                &render_properties(&configs),
            )?;
        }
        let id = random_kafka_uuid();
        let mut logs = Vec::new();
        for p in 0..partitions {
            match self.create_log(name, id, p, &configs, &logs) {
                Ok(l) => logs.push(l),
                Err(e) => {
                    self.remove_files(name, &logs);
                    return Err(e.into());
                }
            }
        }
        let topic = Arc::new(Topic {
            name: name.into(),
            id,
            partitions: RwLock::new(logs),
            configs: RwLock::new(configs),
        });
        self.topics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), topic.clone());
        Ok(topic)
    }

    /// Renames each partition dir to `<topic>-<p>.<hex>-delete`, removes it and the topic's
    /// config file. Failures are logged: the topic is already gone from the maps.
    fn remove_files(&self, name: &str, logs: &[Arc<Log>]) {
        let tag = Uuid::new_v4().simple().to_string();
        for log in logs {
            if let Err(e) = log.close() {
                tracing::warn!(partition = %log.topic_partition(), error = %e, "close before delete failed");
            }
            let dir = log.dir();
            let Some(file_name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let doomed = dir.with_file_name(format!("{file_name}.{tag}-delete"));
            let result =
                std::fs::rename(&dir, &doomed).and_then(|()| std::fs::remove_dir_all(&doomed));
            if let Err(e) = result {
                tracing::warn!(dir = %dir.display(), error = %e, "removing a deleted partition failed");
            }
        }
        for dir in &self.config.log_dirs {
            let _ = std::fs::remove_file(self.topic_config_path(dir, name));
        }
    }

    /// Deletes a topic: it disappears at once, its directories are removed in the background.
    pub fn delete_topic(&self, name: &str) -> Result<Uuid, TopicError> {
        let _admin = self.admin_lock();
        let topic = self
            .topics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .ok_or_else(|| TopicError::UnknownTopic(name.to_string()))?;
        self.remove_files(name, &topic.partitions());
        Ok(topic.id)
    }

    /// Grows a topic to `total` partitions.
    pub fn create_partitions(&self, name: &str, total: i32) -> Result<(), TopicError> {
        let _admin = self.admin_lock();
        let topic = self
            .topic(name)
            .ok_or_else(|| TopicError::UnknownTopic(name.to_string()))?;
        let current = topic.partitions().len() as i32;
        if total <= current || total > MAX_PARTITIONS {
            return Err(TopicError::InvalidPartitions(format!(
                "topic '{name}' has {current} partitions; {total} is not a valid new total"
            )));
        }
        for p in current..total {
            let log = self.create_log(name, topic.id, p, &topic.config_overrides(), &[])?;
            topic
                .partitions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(log);
        }
        Ok(())
    }

    /// Every log, grouped by the log dir holding it.
    fn logs_by_dir(&self) -> BTreeMap<PathBuf, Vec<Arc<Log>>> {
        let mut map: BTreeMap<PathBuf, Vec<Arc<Log>>> = self
            .config
            .log_dirs
            .iter()
            .map(|d| (d.clone(), Vec::new()))
            .collect();
        for topic in self.topics() {
            for log in topic.partitions() {
                if let Some(parent) = log.dir().parent() {
                    map.entry(parent.to_path_buf()).or_default().push(log);
                }
            }
        }
        map
    }

    /// Rewrites the recovery-point and log-start-offset checkpoints of every log dir.
    pub(super) fn write_checkpoints(&self) -> Result<(), StorageError> {
        for (dir, logs) in self.logs_by_dir() {
            let entry = |l: &Arc<Log>, offset: i64| {
                let tp = l.topic_partition();
                (tp.topic.to_string(), tp.partition, offset)
            };
            let entries: Vec<_> = logs.iter().map(|l| entry(l, l.recovery_point())).collect();
            write_checkpoint(&dir, &entries)?;
            let starts: Vec<_> = logs
                .iter()
                .map(|l| entry(l, l.log_start_offset()))
                .collect();
            write_checkpoint_file(&dir, LOG_START_OFFSET_CHECKPOINT_FILE, &starts)?;
        }
        Ok(())
    }

    /// Flushes every log whose `flush.ms` has passed, then rewrites the recovery-point
    /// checkpoints; called by a periodic task. Blocking: run it off the async worker threads.
    pub fn flush_by_time(&self, now_ms: i64) {
        for topic in self.topics() {
            for log in topic.partitions() {
                if let Err(e) = log.maybe_flush_by_time(now_ms) {
                    tracing::error!(partition = %log.topic_partition(), error = %e, "periodic flush failed");
                }
            }
        }
        if let Err(e) = self.write_checkpoints() {
            tracing::error!(error = %e, "writing recovery checkpoints failed");
        }
    }

    /// Flushes and closes every log, then writes the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), StorageError> {
        let mut first_error = None;
        let mut clean_dirs = Vec::new();
        for (dir, logs) in self.logs_by_dir() {
            let mut clean = true;
            for log in logs {
                if let Err(e) = log.close() {
                    tracing::error!(partition = %log.topic_partition(), error = %e, "close failed");
                    clean = false;
                    first_error.get_or_insert(e);
                }
            }
            if clean {
                clean_dirs.push(dir);
            }
        }
        self.write_checkpoints()?;
        // The marker goes last: it promises that everything before it is on disk.
        for dir in clean_dirs {
            write_atomic(&dir.join(CLEAN_SHUTDOWN_FILE), "")?;
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "log_manager_tests.rs"]
mod tests;

// A child module so that config changes reach `Topic`'s overrides without widening them.
#[path = "topic_config_change.rs"]
mod topic_config_change;
pub use topic_config_change::{apply_incremental, AlterConfigOp};
