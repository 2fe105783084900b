//! Live topic config changes (AlterConfigs, IncrementalAlterConfigs): computing the new override
//! set, persisting it in `.topic-configs/` and pushing the new [`LogConfig`] to every partition
//! without a restart.
//!
//! Thread-safety: changes run under the `LogManager`'s admin mutex (file writes are short and
//! synchronous, no `.await`); partitions pick the new config up through [`Log::set_config`],
//! readers of [`Topic::config_overrides`] see either the old or the new set, never a mix.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::dir_files::{render_properties, write_atomic, TOPIC_CONFIGS_DIR};
use super::super::log::LogConfig;
use super::super::topic_config::{is_topic_config, log_config_for};
use super::{io, LogManager, TopicError};

/// One IncrementalAlterConfigs operation (Kafka's `AlterConfigOp.OpType` codes 0-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set the value (0).
    Set,
    /// Remove the override, back to the inherited value (1).
    Delete,
    /// Add items to a list config, keeping the order and skipping ones present (2).
    Append,
    /// Remove items from a list config (3).
    Subtract,
}

impl AlterConfigOp {
    /// The operation with wire code `code`, if any.
    pub fn from_code(code: i8) -> Option<AlterConfigOp> {
        match code {
            0 => Some(AlterConfigOp::Set),
            1 => Some(AlterConfigOp::Delete),
            2 => Some(AlterConfigOp::Append),
            3 => Some(AlterConfigOp::Subtract),
            _ => None,
        }
    }
}

/// Topic configs of Kafka's LIST type that this broker implements, with their static default
/// (the base APPEND and SUBTRACT start from when the topic has no override, as in Kafka).
const LIST_CONFIGS: &[(&str, &str)] = &[("cleanup.policy", "delete")];

/// Applies `ops` to the overrides `current`, in order; the result is not yet validated.
/// APPEND and SUBTRACT on a non-list config are refused, naming the key.
pub fn apply_incremental(
    current: &BTreeMap<String, String>,
    ops: &[(String, AlterConfigOp, Option<String>)],
) -> Result<BTreeMap<String, String>, TopicError> {
    let mut next = current.clone();
    for (key, op, value) in ops {
        let value = value.as_deref().unwrap_or("");
        if !is_topic_config(key) {
            return Err(TopicError::InvalidConfig(format!(
                "unknown topic config '{key}'"
            )));
        }
        match op {
            AlterConfigOp::Set => {
                next.insert(key.clone(), value.to_string());
            }
            AlterConfigOp::Delete => {
                next.remove(key);
            }
            AlterConfigOp::Append | AlterConfigOp::Subtract => {
                let Some((_, default)) = LIST_CONFIGS.iter().find(|(k, _)| k == key) else {
                    return Err(TopicError::InvalidConfig(format!(
                        "config '{key}' is not a list: {op:?} is only allowed on list configs"
                    )));
                };
                let base = next.get(key).map_or(*default, String::as_str);
                let mut items: Vec<&str> = split_list(base);
                let given = split_list(value);
                if *op == AlterConfigOp::Append {
                    for item in given {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(i));
                }
                next.insert(key.clone(), items.join(","));
            }
        }
    }
    Ok(next)
}

fn split_list(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

impl LogManager {
    /// Replaces topic `name`'s overrides with `overrides` after validating them; with
    /// `validate_only` nothing changes. The new set is written to `.topic-configs/` before it
    /// takes effect, then every partition switches to the new `LogConfig` at once.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        self.change_topic_configs(name, validate_only, |_| Ok(overrides))
    }

    /// Applies incremental operations to topic `name`'s current overrides (see
    /// [`apply_incremental`]) and stores the result as [`LogManager::alter_topic_configs`] does.
    pub fn incremental_alter_topic_configs(
        &self,
        name: &str,
        ops: &[(String, AlterConfigOp, Option<String>)],
        validate_only: bool,
    ) -> Result<(), TopicError> {
        self.change_topic_configs(name, validate_only, |current| {
            apply_incremental(current, ops)
        })
    }

    /// Computes the new overrides from the current ones under the admin mutex (so concurrent
    /// changes cannot lose each other's edits), validates, persists and applies them.
    fn change_topic_configs(
        &self,
        name: &str,
        validate_only: bool,
        edit: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TopicError>,
    ) -> Result<(), TopicError> {
        let _admin = self.admin_lock();
        let topic = self
            .topic(name)
            .ok_or_else(|| TopicError::UnknownTopic(name.to_string()))?;
        let overrides = edit(&topic.config_overrides())?;
        let log_config = log_config_for(&self.default_log_config(), &overrides)?;
        if validate_only {
            return Ok(());
        }
        self.persist_topic_configs(name, &overrides)?;
        *topic.configs.write().unwrap_or_else(|e| e.into_inner()) = overrides;
        for log in topic.partitions() {
            log.set_config(log_config.clone());
        }
        Ok(())
    }

    /// The partition defaults topics inherit now (static broker config plus dynamic changes).
    pub fn default_log_config(&self) -> Arc<LogConfig> {
        self.defaults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the partition defaults (a dynamic broker config change) and gives every
    /// partition its recomputed config at once. A topic whose overrides no longer validate
    /// against the new defaults keeps its old config (logged).
    pub fn set_default_log_config(&self, defaults: LogConfig) {
        let _admin = self.admin_lock();
        *self.defaults.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(defaults.clone());
        for topic in self.topics() {
            match log_config_for(&defaults, &topic.config_overrides()) {
                Ok(c) => topic
                    .partitions()
                    .iter()
                    .for_each(|l| l.set_config(c.clone())),
                Err(e) => {
                    tracing::warn!(topic = topic.name(), error = %e, "topic keeps its config")
                }
            }
        }
    }

    /// Writes the overrides file (removing it when empty) in the first log dir, and removes any
    /// copy in the others so a restart cannot read a stale one.
    fn persist_topic_configs(
        &self,
        name: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        for (i, dir) in self.config.log_dirs.iter().enumerate() {
            let path = self.topic_config_path(dir, name);
            if i == 0 && !overrides.is_empty() {
                let parent = dir.join(TOPIC_CONFIGS_DIR);
                std::fs::create_dir_all(&parent).map_err(io("create", &parent))?;
                write_atomic(&path, &render_properties(overrides))?;
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", &path)(e).into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::test_util::{simple, small_config};
    use crate::storage::LogManagerConfig;

    use crate::test_util::string_map as map;

    fn op(key: &str, op: AlterConfigOp, value: &str) -> (String, AlterConfigOp, Option<String>) {
        (key.to_string(), op, Some(value.to_string()))
    }

    #[test]
    fn incremental_ops_set_delete_append_subtract() {
        use AlterConfigOp::*;
        let current = map(&[("retention.ms", "10"), ("segment.bytes", "2000")]);
        let next = apply_incremental(
            &current,
            &[
                op("retention.ms", Set, "20"),
                op("segment.bytes", Delete, ""),
                op("cleanup.policy", Append, "compact"),
            ],
        )
        .unwrap();
        // APPEND starts from the static default "delete" when there is no override.
        assert_eq!(
            next,
            map(&[("retention.ms", "20"), ("cleanup.policy", "delete,compact")])
        );
        let next = apply_incremental(
            &next,
            &[
                op("cleanup.policy", Append, "compact"),
                op("cleanup.policy", Subtract, "delete"),
            ],
        )
        .unwrap();
        assert_eq!(next["cleanup.policy"], "compact");
        let next = apply_incremental(&next, &[op("cleanup.policy", Subtract, "compact")]).unwrap();
        assert_eq!(next["cleanup.policy"], "");
        for (key, o) in [("retention.ms", Append), ("no.such", Delete)] {
            match apply_incremental(&next, &[op(key, o, "5")]) {
                Err(TopicError::InvalidConfig(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(AlterConfigOp::from_code(3), Some(Subtract));
        assert_eq!(AlterConfigOp::from_code(4), None);
    }

    #[test]
    fn altered_configs_apply_live_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogManagerConfig {
            log_dirs: vec![dir.path().to_path_buf()],
            node_id: 1,
            default_log_config: small_config(),
        };
        let m = LogManager::open(cfg.clone()).unwrap();
        let topic = m.create_topic("t", 1, BTreeMap::new()).unwrap();
        let log = topic.partition(0).unwrap();
        log.append(simple(1, 1), 0).unwrap();
        // validate_only changes nothing; a bad value is refused naming the key.
        m.alter_topic_configs("t", map(&[("retention.ms", "5")]), true)
            .unwrap();
        assert_eq!(log.config().retention_ms, -1);
        match m.alter_topic_configs("t", map(&[("retention.ms", "soon")]), false) {
            Err(TopicError::InvalidConfig(msg)) => assert!(msg.contains("retention.ms")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            m.alter_topic_configs("nope", BTreeMap::new(), false),
            Err(TopicError::UnknownTopic(_))
        ));
        m.incremental_alter_topic_configs(
            "t",
            &[op("retention.ms", AlterConfigOp::Set, "5")],
            false,
        )
        .unwrap();
        assert_eq!(log.config().retention_ms, 5);
        assert_eq!(topic.config_overrides(), map(&[("retention.ms", "5")]));
        m.shutdown().unwrap();
        drop((log, topic, m));
        let m = LogManager::open(cfg.clone()).unwrap();
        let topic = m.topic("t").unwrap();
        assert_eq!(topic.partition(0).unwrap().config().retention_ms, 5);
        // Deleting the last override removes the file; the default comes back after a restart.
        m.alter_topic_configs("t", BTreeMap::new(), false).unwrap();
        assert_eq!(topic.partition(0).unwrap().config().retention_ms, -1);
        m.shutdown().unwrap();
        drop((topic, m));
        let m = LogManager::open(cfg).unwrap();
        assert!(m.topic("t").unwrap().config_overrides().is_empty());
    }
}
