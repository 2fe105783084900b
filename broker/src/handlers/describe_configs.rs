//! DescribeConfigs (key 32): a topic's effective configs and this broker's static settings.
//!
//! A topic entry's value is the topic's override if it has one, else the broker-wide default it
//! inherits; the source and synonyms say which, in Kafka's order (topic override, then each
//! broker key set dynamically for this node, then as the cluster default, then in
//! `server.properties`/`--override`, then Kafka's built-in default). Values come from the
//! effective config (static plus dynamic layers, see `DynamicBrokerConfig`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::config::{BrokerConfig, HostPort};
use crate::dynamic_broker_config::{DynamicLayers, DYNAMIC_KEYS};
use crate::storage::{LogManager, TimestampType};

#[path = "describe_configs_broker_keys.rs"]
mod broker_keys;
use broker_keys::BROKER_ENTRIES;

/// Kafka's `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// Kafka's `ConfigSource` codes (only the ones this broker can produce).
const SOURCE_TOPIC_CONFIG: i8 = 1;
const SOURCE_DYNAMIC_BROKER_CONFIG: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
const SOURCE_STATIC_BROKER_CONFIG: i8 = 4;
const SOURCE_DEFAULT_CONFIG: i8 = 5;

/// Kafka's `ConfigDef.Type` codes, as sent in `config_type` (v3+).
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;
const DOUBLE: i8 = 6;
const LIST: i8 = 7;

const LONG_MAX: &str = "9223372036854775807";

/// One topic config: its broker-level synonyms and how its inherited value is worked out.
struct TopicEntry {
    /// The topic config name.
    name: &'static str,
    /// Kafka's type code.
    ty: i8,
    /// Broker keys the topic config falls back to, most specific first, each with Kafka's
    /// built-in default for that key (`None` when the key has none, like `log.retention.ms`).
    broker_keys: &'static [(&'static str, Option<&'static str>)],
    /// The effective broker-wide value a topic without an override gets.
    inherited: fn(&BrokerConfig) -> String,
    /// A one-line description (v3+ `include_documentation`).
    doc: &'static str,
}

/// The value of the first of `keys` set explicitly, else `default`. For keys this broker accepts
/// but does not parse (they are in `BrokerConfig::explicit` only).
fn explicit_or(c: &BrokerConfig, keys: &[&str], default: &str) -> String {
    keys.iter()
        .find_map(|k| c.explicit.get(*k))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// `retention.ms` from `log.retention.ms`, `.minutes` or `.hours`, in that order, like Kafka.
fn retention_ms(c: &BrokerConfig) -> String {
    let scaled = |key: &str, factor: i64| {
        c.explicit
            .get(key)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|v| v.saturating_mul(factor).to_string())
    };
    c.explicit
        .get("log.retention.ms")
        .cloned()
        .or_else(|| scaled("log.retention.minutes", 60_000))
        .or_else(|| scaled("log.retention.hours", 3_600_000))
        .unwrap_or_else(|| "604800000".to_owned())
}

/// `log.cleanup.policy` as Kafka lists it.
fn cleanup_policy_text((compact, delete): (bool, bool)) -> String {
    let mut parts = Vec::new();
    if delete {
        parts.push("delete");
    }
    if compact {
        parts.push("compact");
    }
    parts.join(",")
}

fn timestamp_name(t: TimestampType) -> String {
    match t {
        TimestampType::CreateTime => "CreateTime".to_owned(),
        TimestampType::LogAppendTime => "LogAppendTime".to_owned(),
    }
}

/// Every topic config name `storage::topic_config` accepts, sorted by name like Kafka's answer.
const TOPIC_ENTRIES: &[TopicEntry] = &[
    TopicEntry {
        name: "cleanup.policy",
        ty: LIST,
        broker_keys: &[("log.cleanup.policy", Some("delete"))],
        inherited: |c| explicit_or(c, &["log.cleanup.policy"], "delete"),
        doc: "delete and/or compact: how old log segments are discarded",
    },
    TopicEntry {
        name: "compression.type",
        ty: STRING,
        broker_keys: &[("compression.type", Some("producer"))],
        inherited: |c| explicit_or(c, &["compression.type"], "producer"),
        doc: "the compression codec of stored batches; producer keeps the producer's",
    },
    TopicEntry {
        name: "delete.retention.ms",
        ty: LONG,
        broker_keys: &[("log.cleaner.delete.retention.ms", Some("86400000"))],
        inherited: |c| explicit_or(c, &["log.cleaner.delete.retention.ms"], "86400000"),
        doc: "how long delete tombstones are kept in compacted topics",
    },
    TopicEntry {
        name: "file.delete.delay.ms",
        ty: LONG,
        broker_keys: &[("log.segment.delete.delay.ms", Some("60000"))],
        inherited: |c| explicit_or(c, &["log.segment.delete.delay.ms"], "60000"),
        doc: "how long to wait before deleting a file from the file system",
    },
    TopicEntry {
        name: "flush.messages",
        ty: LONG,
        broker_keys: &[("log.flush.interval.messages", Some(LONG_MAX))],
        inherited: |c| c.log_flush_interval_messages.to_string(),
        doc: "force an fsync after this many messages",
    },
    TopicEntry {
        name: "flush.ms",
        ty: LONG,
        broker_keys: &[
            ("log.flush.interval.ms", None),
            ("log.flush.scheduler.interval.ms", Some(LONG_MAX)),
        ],
        inherited: |c| c.log_flush_interval_ms.to_string(),
        doc: "force an fsync when data is older than this",
    },
    TopicEntry {
        name: "index.interval.bytes",
        ty: INT,
        broker_keys: &[("log.index.interval.bytes", Some("4096"))],
        inherited: |c| c.log_index_interval_bytes.to_string(),
        doc: "bytes of log between two offset index entries",
    },
    TopicEntry {
        name: "max.compaction.lag.ms",
        ty: LONG,
        broker_keys: &[("log.cleaner.max.compaction.lag.ms", Some(LONG_MAX))],
        inherited: |c| explicit_or(c, &["log.cleaner.max.compaction.lag.ms"], LONG_MAX),
        doc: "the longest a message stays uncompacted",
    },
    TopicEntry {
        name: "max.message.bytes",
        ty: INT,
        broker_keys: &[("message.max.bytes", Some("1048588"))],
        inherited: |c| c.message_max_bytes.to_string(),
        doc: "the largest record batch size allowed",
    },
    TopicEntry {
        name: "message.downconversion.enable",
        ty: BOOLEAN,
        broker_keys: &[("log.message.downconversion.enable", Some("true"))],
        inherited: |c| explicit_or(c, &["log.message.downconversion.enable"], "true"),
        doc: "whether old-format consumers may get down-converted data (kept, no effect)",
    },
    TopicEntry {
        name: "message.timestamp.after.max.ms",
        ty: LONG,
        broker_keys: &[("log.message.timestamp.after.max.ms", Some("3600000"))],
        inherited: |c| explicit_or(c, &["log.message.timestamp.after.max.ms"], "3600000"),
        doc: "how far in the future a CreateTime timestamp may be",
    },
    TopicEntry {
        name: "message.timestamp.before.max.ms",
        ty: LONG,
        broker_keys: &[("log.message.timestamp.before.max.ms", Some(LONG_MAX))],
        inherited: |c| explicit_or(c, &["log.message.timestamp.before.max.ms"], LONG_MAX),
        doc: "how far in the past a CreateTime timestamp may be",
    },
    TopicEntry {
        name: "message.timestamp.difference.max.ms",
        ty: LONG,
        broker_keys: &[("log.message.timestamp.difference.max.ms", Some(LONG_MAX))],
        inherited: |c| explicit_or(c, &["log.message.timestamp.difference.max.ms"], LONG_MAX),
        doc: "the largest allowed gap between a CreateTime timestamp and the broker clock",
    },
    TopicEntry {
        name: "message.timestamp.type",
        ty: STRING,
        broker_keys: &[("log.message.timestamp.type", Some("CreateTime"))],
        inherited: |c| timestamp_name(c.log_message_timestamp_type),
        doc: "CreateTime or LogAppendTime",
    },
    TopicEntry {
        name: "min.cleanable.dirty.ratio",
        ty: DOUBLE,
        broker_keys: &[("log.cleaner.min.cleanable.ratio", Some("0.5"))],
        inherited: |c| explicit_or(c, &["log.cleaner.min.cleanable.ratio"], "0.5"),
        doc: "the dirty fraction of the log above which it is compacted",
    },
    TopicEntry {
        name: "min.compaction.lag.ms",
        ty: LONG,
        broker_keys: &[("log.cleaner.min.compaction.lag.ms", Some("0"))],
        inherited: |c| explicit_or(c, &["log.cleaner.min.compaction.lag.ms"], "0"),
        doc: "the shortest a message stays uncompacted",
    },
    TopicEntry {
        name: "min.insync.replicas",
        ty: INT,
        broker_keys: &[("min.insync.replicas", Some("1"))],
        inherited: |c| explicit_or(c, &["min.insync.replicas"], "1"),
        doc: "replicas that must acknowledge an acks=all write",
    },
    TopicEntry {
        name: "preallocate",
        ty: BOOLEAN,
        broker_keys: &[("log.preallocate", Some("false"))],
        inherited: |c| explicit_or(c, &["log.preallocate"], "false"),
        doc: "whether segment files are preallocated",
    },
    TopicEntry {
        name: "retention.bytes",
        ty: LONG,
        broker_keys: &[("log.retention.bytes", Some("-1"))],
        inherited: |c| explicit_or(c, &["log.retention.bytes"], "-1"),
        doc: "the partition size above which old segments are deleted; -1 for no limit",
    },
    TopicEntry {
        name: "retention.ms",
        ty: LONG,
        broker_keys: &[
            ("log.retention.ms", None),
            ("log.retention.minutes", None),
            ("log.retention.hours", Some("168")),
        ],
        inherited: retention_ms,
        doc: "how long a segment is kept before deletion; -1 for no limit",
    },
    TopicEntry {
        name: "segment.bytes",
        ty: INT,
        broker_keys: &[("log.segment.bytes", Some("1073741824"))],
        inherited: |c| c.log_segment_bytes.to_string(),
        doc: "the size at which a new segment is rolled",
    },
    TopicEntry {
        name: "segment.index.bytes",
        ty: INT,
        broker_keys: &[("log.index.size.max.bytes", Some("10485760"))],
        inherited: |c| c.log_index_size_max_bytes.to_string(),
        doc: "the preallocated size of a segment's offset and time index",
    },
    TopicEntry {
        name: "segment.jitter.ms",
        ty: LONG,
        broker_keys: &[
            ("log.roll.jitter.ms", None),
            ("log.roll.jitter.hours", Some("0")),
        ],
        inherited: |c| explicit_or(c, &["log.roll.jitter.ms"], "0"),
        doc: "random jitter subtracted from segment.ms",
    },
    TopicEntry {
        name: "segment.ms",
        ty: LONG,
        broker_keys: &[("log.roll.ms", None), ("log.roll.hours", Some("168"))],
        inherited: |c| c.log_roll_ms.to_string(),
        doc: "the age at which a new segment is rolled",
    },
    TopicEntry {
        name: "unclean.leader.election.enable",
        ty: BOOLEAN,
        broker_keys: &[("unclean.leader.election.enable", Some("false"))],
        inherited: |c| explicit_or(c, &["unclean.leader.election.enable"], "false"),
        doc: "whether an out-of-sync replica may become leader",
    },
];

/// Answers DescribeConfigs, one result per requested resource, in request order.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let opts = Options {
        synonyms: request.include_synonyms,
        documentation: request.include_documentation && header.request_api_version >= 3,
        types: header.request_api_version >= 3,
    };
    let results = request
        .resources
        .into_iter()
        .map(|resource| describe(broker, &resource, opts))
        .collect();
    DescribeConfigsResponse::default()
        .with_throttle_time_ms(0)
        .with_results(results)
}

/// What the request (and its version) asks each entry to carry.
#[derive(Debug, Clone, Copy)]
struct Options {
    /// `include_synonyms`.
    synonyms: bool,
    /// `include_documentation`, v3+ only.
    documentation: bool,
    /// `config_type` exists from v3.
    types: bool,
}

fn describe(
    broker: &Broker,
    resource: &DescribeConfigsResource,
    opts: Options,
) -> DescribeConfigsResult {
    let result = DescribeConfigsResult::default()
        .with_resource_type(resource.resource_type)
        .with_resource_name(resource.resource_name.clone());
    let wanted = |name: &str| match &resource.configuration_keys {
        // Like Kafka, an empty key list means "all" just as null does.
        Some(keys) if !keys.is_empty() => keys.iter().any(|k| k.as_str() == name),
        _ => true,
    };
    let name = resource.resource_name.as_str();
    let configs = match resource.resource_type {
        RESOURCE_TOPIC => topic_configs(broker, name, opts, &wanted),
        RESOURCE_BROKER => {
            let layers = broker.dynamic_config.layers();
            // The cluster-default resource shows values without this node's own layer.
            let effective = if name.is_empty() {
                broker
                    .config
                    .with_overrides(&layers.cluster_default)
                    .unwrap_or_else(|_| (*broker.config).clone())
            } else {
                broker.dynamic_config.effective()
            };
            let cfg = Layered {
                base: &broker.config,
                effective: &effective,
                layers: &layers,
            };
            broker_configs(&cfg, name, opts, &wanted)
        }
        // Broker loggers (8) and anything else: nothing to describe here.
        other => Err(failure(
            ResponseError::InvalidRequest,
            format!("resource type {other} cannot be described by this broker"),
        )),
    };
    match configs {
        Ok(configs) => result.with_configs(configs),
        Err((code, message)) => result
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message))),
    }
}

/// An error code and message for one resource.
type Failure = (i16, String);

fn failure(error: ResponseError, message: String) -> Failure {
    (error.code(), message)
}

/// One synonym.
fn synonym(name: &str, value: Option<String>, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(StrBytes::from_string(name.to_owned()))
        .with_value(value.map(StrBytes::from_string))
        .with_source(source)
}

/// The broker config seen through its layers: `effective` gives values, `layers` and `base`
/// (the static file) give the sources.
struct Layered<'a> {
    /// The static config.
    base: &'a BrokerConfig,
    /// The static config with the dynamic layers applied.
    effective: &'a BrokerConfig,
    /// The dynamic layers.
    layers: &'a DynamicLayers,
}

/// The dynamic synonyms of `key`: this node's value, then the cluster default.
fn dynamic_synonyms(layers: &DynamicLayers, key: &str) -> Vec<DescribeConfigsSynonym> {
    let node = layers.this_broker.get(key);
    let cluster = layers.cluster_default.get(key);
    let node = node.map(|v| synonym(key, Some(v.clone()), SOURCE_DYNAMIC_BROKER_CONFIG));
    let cluster =
        cluster.map(|v| synonym(key, Some(v.clone()), SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG));
    node.into_iter().chain(cluster).collect()
}

/// The broker-level synonyms of `keys`: each one set dynamically, then in the file, then each
/// built-in default.
fn broker_synonyms(cfg: &Layered, keys: &[(&str, Option<&str>)]) -> Vec<DescribeConfigsSynonym> {
    let c = cfg.base;
    let mut out = Vec::new();
    for &(key, default) in keys {
        out.extend(dynamic_synonyms(cfg.layers, key));
        if let Some(value) = c.explicit.get(key) {
            out.push(synonym(
                key,
                Some(value.clone()),
                SOURCE_STATIC_BROKER_CONFIG,
            ));
        }
        if let Some(default) = default {
            out.push(synonym(
                key,
                Some(default.to_owned()),
                SOURCE_DEFAULT_CONFIG,
            ));
        }
    }
    out
}

/// Builds one entry. The source is the first synonym's: that is where the value came from.
fn entry(
    name: &str,
    value: Option<String>,
    synonyms: Vec<DescribeConfigsSynonym>,
    read_only: bool,
    ty: i8,
    doc: &'static str,
    opts: Options,
) -> DescribeConfigsResourceResult {
    let source = synonyms.first().map_or(SOURCE_DEFAULT_CONFIG, |s| s.source);
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(name.to_owned()))
        .with_value(value.map(StrBytes::from_string))
        .with_read_only(read_only)
        .with_config_source(source)
        .with_is_sensitive(false)
        .with_synonyms(if opts.synonyms { synonyms } else { Vec::new() })
        .with_config_type(if opts.types { ty } else { 0 })
        .with_documentation(opts.documentation.then(|| StrBytes::from_static_str(doc)))
}

fn topic_configs(
    broker: &Broker,
    name: &str,
    opts: Options,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<DescribeConfigsResourceResult>, Failure> {
    if let Err(e) = LogManager::validate_topic_name(name) {
        return Err(failure(ResponseError::InvalidTopicException, e.to_string()));
    }
    let Some(topic) = broker.log_manager.topic(name) else {
        return Err(failure(
            ResponseError::UnknownTopicOrPartition,
            format!("topic '{name}' does not exist"),
        ));
    };
    let (effective, layers) = (
        broker.dynamic_config.effective(),
        broker.dynamic_config.layers(),
    );
    let cfg = Layered {
        base: &broker.config,
        effective: &effective,
        layers: &layers,
    };
    Ok(topic_entries(&cfg, &topic.config_overrides(), opts, wanted))
}

/// The entries of a topic with `overrides`, over the broker config `c`.
fn topic_entries(
    cfg: &Layered,
    overrides: &std::collections::BTreeMap<String, String>,
    opts: Options,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_ENTRIES
        .iter()
        .filter(|e| wanted(e.name))
        .map(|e| {
            let own = overrides.get(e.name).cloned();
            let mut synonyms = Vec::new();
            if let Some(v) = &own {
                synonyms.push(synonym(e.name, Some(v.clone()), SOURCE_TOPIC_CONFIG));
            }
            synonyms.extend(broker_synonyms(cfg, e.broker_keys));
            let value = own.unwrap_or_else(|| (e.inherited)(cfg.effective));
            entry(e.name, Some(value), synonyms, false, e.ty, e.doc, opts)
        })
        .collect()
}

/// The broker resource: `name` must be this node's id, or empty for the cluster-wide defaults.
fn broker_configs(
    cfg: &Layered,
    name: &str,
    opts: Options,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<DescribeConfigsResourceResult>, Failure> {
    // Kafka refuses a broker resource naming another node (or not a number) with
    // INVALID_REQUEST rather than forwarding it; with one node there is nowhere to forward to.
    // An empty name asks for the cluster-wide defaults; with no dynamic configs those are the
    // same static settings, so both get the same list.
    let c = cfg.base;
    if !name.is_empty() && name.parse::<i32>().ok() != Some(c.node_id) {
        return Err(failure(
            ResponseError::InvalidRequest,
            format!(
                "unexpected broker id '{name}': expected {} or an empty name",
                c.node_id
            ),
        ));
    }
    Ok(BROKER_ENTRIES
        .iter()
        .filter(|e| wanted(e.name))
        .map(|e| {
            let mut synonyms = dynamic_synonyms(cfg.layers, e.name);
            if name.is_empty() {
                // The cluster-default resource shows only the cluster-wide layer, as Kafka does.
                synonyms.retain(|s| s.source == SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG);
            }
            if let Some(key) = e.set_by.iter().find(|k| c.explicit.contains_key(**k)) {
                synonyms.push(synonym(
                    key,
                    c.explicit.get(*key).cloned(),
                    SOURCE_STATIC_BROKER_CONFIG,
                ));
            }
            if let Some(default) = e.default {
                synonyms.push(synonym(
                    e.name,
                    Some(default.to_owned()),
                    SOURCE_DEFAULT_CONFIG,
                ));
            }
            let read_only = !DYNAMIC_KEYS.contains(&e.name);
            let value = (e.value)(cfg.effective);
            entry(e.name, value, synonyms, read_only, e.ty, e.doc, opts)
        })
        .collect())
}

#[cfg(test)]
#[path = "describe_configs_tests.rs"]
mod tests;
