//! Dynamic broker configs: the broker keys AlterConfigs may change without a restart, for this
//! node (`DYNAMIC_BROKER_CONFIG`) or as the cluster-wide default (`DYNAMIC_DEFAULT_BROKER_CONFIG`).
//!
//! Only the `log.*` partition defaults this broker implements are dynamic ([`DYNAMIC_KEYS`]);
//! any other key is refused with INVALID_REQUEST naming it, as Kafka refuses its static keys.
//! Changes are kept in `<first log dir>/.broker-configs/{default,node-<id>}.properties` and
//! pushed to every partition through `LogManager::set_default_log_config`.
//!
//! Thread-safety: `Send + Sync`. The two override maps sit behind one std `Mutex` held for a
//! whole change (validation, a small file write, the push to the logs) so changes are
//! serialised; no `.await` happens under it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::config::BrokerConfig;
use crate::storage::dir_files::{read_properties, render_properties, write_atomic};
use crate::storage::LogManager;

/// Broker keys that may change at runtime here: Kafka's dynamic partition defaults that this
/// broker implements.
pub const DYNAMIC_KEYS: &[&str] = &[
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.roll.ms",
    "log.cleanup.policy",
    "log.segment.delete.delay.ms",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.index.interval.bytes",
    "log.index.size.max.bytes",
    "log.message.timestamp.type",
    "message.max.bytes",
];

/// Which dynamic layer a change targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The cluster-wide default (empty broker resource name).
    ClusterDefault,
    /// This node (its id as resource name).
    ThisBroker,
}

/// Why a dynamic broker config change was refused (INVALID_REQUEST with the message).
#[derive(Debug, thiserror::Error)]
pub enum DynamicConfigError {
    /// The resource names another node or is not a number.
    #[error("unexpected broker id '{0}'")]
    UnknownBroker(String),
    /// Keys that cannot change at runtime.
    #[error("Cannot update these configs dynamically: [{}]", .0.join(", "))]
    NotDynamic(Vec<String>),
    /// A value fails the key's check.
    #[error("{0}")]
    InvalidValue(String),
    /// The file could not be written.
    #[error("{0}")]
    Storage(String),
}

/// The current dynamic overrides, per layer.
#[derive(Debug, Default, Clone)]
pub struct DynamicLayers {
    /// `DYNAMIC_DEFAULT_BROKER_CONFIG` values.
    pub cluster_default: BTreeMap<String, String>,
    /// `DYNAMIC_BROKER_CONFIG` values (win over the default layer).
    pub this_broker: BTreeMap<String, String>,
}

/// The dynamic broker config store; see the module docs for its thread-safety contract.
#[derive(Debug)]
pub struct DynamicBrokerConfig {
    /// The static configuration the broker started with.
    base: BrokerConfig,
    /// Current overrides. A std mutex: changes are short and synchronous.
    layers: Mutex<DynamicLayers>,
    /// `.broker-configs` in the first log dir, if any.
    dir: Option<PathBuf>,
}

impl DynamicBrokerConfig {
    /// Loads the persisted layers (unreadable or invalid files are logged and ignored).
    pub fn load(base: &BrokerConfig) -> DynamicBrokerConfig {
        let dir = base.log_dirs.first().map(|d| d.join(".broker-configs"));
        let read = |name: &str| -> BTreeMap<String, String> {
            let Some(dir) = &dir else {
                return BTreeMap::new();
            };
            match read_properties(&dir.join(name)) {
                Ok(map) => map.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring dynamic broker configs");
                    BTreeMap::new()
                }
            }
        };
        let layers = DynamicLayers {
            cluster_default: read("default.properties"),
            this_broker: read(&format!("node-{}.properties", base.node_id)),
        };
        let store = DynamicBrokerConfig {
            base: base.clone(),
            layers: Mutex::new(DynamicLayers::default()),
            dir,
        };
        match store.effective_with(&layers) {
            Ok(_) => *store.lock() = layers,
            Err(e) => tracing::warn!(error = %e, "ignoring invalid dynamic broker configs"),
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, DynamicLayers> {
        // Layers are replaced whole after validation, so a poisoned guard is still consistent.
        self.layers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current dynamic layers.
    pub fn layers(&self) -> DynamicLayers {
        self.lock().clone()
    }

    /// The broker config in effect: the static one with both dynamic layers applied.
    pub fn effective(&self) -> BrokerConfig {
        let layers = self.layers();
        self.effective_with(&layers)
            .unwrap_or_else(|_| self.base.clone())
    }

    fn effective_with(&self, layers: &DynamicLayers) -> Result<BrokerConfig, DynamicConfigError> {
        let mut pairs = layers.cluster_default.clone();
        pairs.extend(layers.this_broker.clone());
        self.base
            .with_overrides(&pairs)
            .map_err(|e| DynamicConfigError::InvalidValue(e.to_string()))
    }

    /// The layer a broker resource named `name` addresses.
    pub fn scope(&self, name: &str) -> Result<Scope, DynamicConfigError> {
        if name.is_empty() {
            Ok(Scope::ClusterDefault)
        } else if name.parse::<i32>().ok() == Some(self.base.node_id) {
            Ok(Scope::ThisBroker)
        } else {
            Err(DynamicConfigError::UnknownBroker(name.to_owned()))
        }
    }

    /// Replaces the overrides of `scope` with `edit(current)`, after checking every key is
    /// dynamic and every value valid; unless `validate_only`, persists them and pushes the new
    /// partition defaults to `logs`. Blocking (a small file write).
    pub fn alter(
        &self,
        scope: Scope,
        logs: &LogManager,
        validate_only: bool,
        edit: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String>,
    ) -> Result<(), DynamicConfigError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        let layer = match scope {
            Scope::ClusterDefault => &mut next.cluster_default,
            Scope::ThisBroker => &mut next.this_broker,
        };
        *layer = edit(layer).map_err(DynamicConfigError::InvalidValue)?;
        let refused: Vec<String> = layer
            .keys()
            .filter(|k| !DYNAMIC_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        if !refused.is_empty() {
            return Err(DynamicConfigError::NotDynamic(refused));
        }
        let effective = self.effective_with(&next)?;
        if validate_only {
            return Ok(());
        }
        let (file, map) = match scope {
            Scope::ClusterDefault => ("default.properties".to_owned(), &next.cluster_default),
            Scope::ThisBroker => (
                format!("node-{}.properties", self.base.node_id),
                &next.this_broker,
            ),
        };
        if let Some(dir) = &self.dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| DynamicConfigError::Storage(format!("{}: {e}", dir.display())))?;
            write_atomic(&dir.join(file), &render_properties(map))
                .map_err(|e| DynamicConfigError::Storage(e.to_string()))?;
        }
        *guard = next;
        logs.set_default_log_config(effective.log_config());
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::LogManager;

    use crate::test_util::string_map as map;

    #[test]
    fn dynamic_defaults_apply_persist_and_refuse_static_keys() {
        let dir = tempfile::tempdir().unwrap();
        let base = BrokerConfig {
            log_dirs: vec![dir.path().to_path_buf()],
            ..Default::default()
        };
        let logs = LogManager::open(base.log_manager_config()).unwrap();
        let topic = logs.create_topic("t", 1, BTreeMap::new()).unwrap();
        let log = topic.partition(0).unwrap();
        let store = DynamicBrokerConfig::load(&base);
        assert_eq!(store.scope("").unwrap(), Scope::ClusterDefault);
        assert_eq!(store.scope("1").unwrap(), Scope::ThisBroker);
        assert!(store.scope("2").is_err());
        let set = |pairs: &[(&str, &str)]| {
            let add = map(pairs);
            move |cur: &BTreeMap<String, String>| {
                let mut next = cur.clone();
                next.extend(add);
                Ok(next)
            }
        };
        let err = store
            .alter(
                Scope::ClusterDefault,
                &logs,
                false,
                set(&[("num.partitions", "2")]),
            )
            .unwrap_err();
        assert!(err.to_string().contains("num.partitions"), "{err}");
        let err = store
            .alter(
                Scope::ClusterDefault,
                &logs,
                false,
                set(&[("log.retention.ms", "x")]),
            )
            .unwrap_err();
        assert!(err.to_string().contains("log.retention.ms"), "{err}");
        store
            .alter(
                Scope::ClusterDefault,
                &logs,
                true,
                set(&[("log.retention.ms", "5")]),
            )
            .unwrap();
        assert_eq!(log.config().retention_ms, base.log_retention_ms);
        store
            .alter(
                Scope::ClusterDefault,
                &logs,
                false,
                set(&[("log.retention.ms", "5")]),
            )
            .unwrap();
        assert_eq!(log.config().retention_ms, 5);
        // The node layer wins over the cluster default; a restart reloads both.
        store
            .alter(
                Scope::ThisBroker,
                &logs,
                false,
                set(&[("log.retention.ms", "7")]),
            )
            .unwrap();
        assert_eq!(log.config().retention_ms, 7);
        let reloaded = DynamicBrokerConfig::load(&base);
        assert_eq!(reloaded.effective().log_retention_ms, 7);
        assert_eq!(
            reloaded.layers().cluster_default,
            map(&[("log.retention.ms", "5")])
        );
        store
            .alter(Scope::ThisBroker, &logs, false, |_| Ok(BTreeMap::new()))
            .unwrap();
        assert_eq!(log.config().retention_ms, 5);
    }
}
