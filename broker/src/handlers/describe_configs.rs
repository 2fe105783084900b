//! DescribeConfigs (API key 32), versions 1-4: the effective configs of topics and of this broker.
//!
//! A topic config's value is the topic's override when it has one (source TOPIC_CONFIG), else the
//! broker-wide value it inherits: STATIC_BROKER_CONFIG when the broker's setting differs from
//! Kafka's default (it was set in `server.properties` or an override), DEFAULT_CONFIG otherwise.
//! Synonyms list the same chain in Kafka's order: topic override, broker key, default.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::storage::TimestampType;

/// Resource type of a topic.
const RESOURCE_TOPIC: i8 = 2;
/// Resource type of a broker.
const RESOURCE_BROKER: i8 = 4;

/// Config sources, as Kafka numbers them.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// Config types, as Kafka numbers them (v3+).
#[derive(Debug, Clone, Copy)]
#[repr(i8)]
enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// One topic config: its name, the broker key it inherits from, its type, Kafka's default and a
/// one-line description.
#[derive(Debug)]
struct TopicConfigDef {
    name: &'static str,
    broker_key: &'static str,
    kind: ConfigType,
    kafka_default: &'static str,
    doc: &'static str,
}

const fn def(
    name: &'static str,
    broker_key: &'static str,
    kind: ConfigType,
    kafka_default: &'static str,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key,
        kind,
        kafka_default,
        doc,
    }
}

/// The topic configs this broker accepts, with Kafka's defaults.
const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        "log.cleanup.policy",
        ConfigType::List,
        "delete",
        "delete and/or compact old segments",
    ),
    def(
        "compression.type",
        "compression.type",
        ConfigType::String,
        "producer",
        "codec the broker keeps batches in",
    ),
    def(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        ConfigType::Long,
        "86400000",
        "how long tombstones are kept after compaction",
    ),
    def(
        "file.delete.delay.ms",
        "log.segment.delete.delay.ms",
        ConfigType::Long,
        "60000",
        "delay before a deleted segment's files are removed",
    ),
    def(
        "flush.messages",
        "log.flush.interval.messages",
        ConfigType::Long,
        "9223372036854775807",
        "fsync after this many records",
    ),
    def(
        "flush.ms",
        "log.flush.interval.ms",
        ConfigType::Long,
        "9223372036854775807",
        "fsync when the oldest unflushed write is this old",
    ),
    def(
        "index.interval.bytes",
        "log.index.interval.bytes",
        ConfigType::Int,
        "4096",
        "bytes of batches between two offset index entries",
    ),
    def(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        ConfigType::Long,
        "9223372036854775807",
        "longest a record may stay uncompacted",
    ),
    def(
        "max.message.bytes",
        "message.max.bytes",
        ConfigType::Int,
        "1048588",
        "largest record batch accepted",
    ),
    def(
        "message.timestamp.type",
        "log.message.timestamp.type",
        ConfigType::String,
        "CreateTime",
        "CreateTime or LogAppendTime",
    ),
    def(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        ConfigType::Double,
        "0.5",
        "dirty share of the log that triggers compaction",
    ),
    def(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        ConfigType::Long,
        "0",
        "shortest a record stays uncompacted",
    ),
    def(
        "min.insync.replicas",
        "min.insync.replicas",
        ConfigType::Int,
        "1",
        "replicas that must acknowledge an acks=all write",
    ),
    def(
        "preallocate",
        "log.preallocate",
        ConfigType::Boolean,
        "false",
        "preallocate segment files",
    ),
    def(
        "retention.bytes",
        "log.retention.bytes",
        ConfigType::Long,
        "-1",
        "largest partition size before old segments are deleted",
    ),
    def(
        "retention.ms",
        "log.retention.ms",
        ConfigType::Long,
        "604800000",
        "age after which old segments are deleted",
    ),
    def(
        "segment.bytes",
        "log.segment.bytes",
        ConfigType::Int,
        "1073741824",
        "segment size at which a new one is rolled",
    ),
    def(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        ConfigType::Int,
        "10485760",
        "size of each offset and time index file",
    ),
    def(
        "segment.jitter.ms",
        "log.roll.jitter.ms",
        ConfigType::Long,
        "0",
        "random jitter subtracted from segment.ms",
    ),
    def(
        "segment.ms",
        "log.roll.ms",
        ConfigType::Long,
        "604800000",
        "age at which a new segment is rolled",
    ),
    def(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        "false",
        "allow out-of-sync replicas to lead",
    ),
];

/// The broker's own value for a broker key, where it has a setting for it.
fn broker_value(config: &BrokerConfig, broker_key: &str) -> Option<String> {
    let value = match broker_key {
        "log.flush.interval.messages" => config.log_flush_interval_messages.to_string(),
        "log.flush.interval.ms" => config.log_flush_interval_ms.to_string(),
        "log.index.interval.bytes" => config.log_index_interval_bytes.to_string(),
        "message.max.bytes" => config.message_max_bytes.to_string(),
        "log.message.timestamp.type" => match config.log_message_timestamp_type {
            TimestampType::CreateTime => "CreateTime".to_string(),
            TimestampType::LogAppendTime => "LogAppendTime".to_string(),
        },
        "log.segment.bytes" => config.log_segment_bytes.to_string(),
        "log.index.size.max.bytes" => config.log_index_size_max_bytes.to_string(),
        "log.roll.ms" => config.log_roll_ms.to_string(),
        _ => return None,
    };
    Some(value)
}

/// Handles one DescribeConfigs request.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let options = Options {
        synonyms: request.include_synonyms,
        documentation: request.include_documentation && header.request_api_version >= 3,
    };
    let results = request
        .resources
        .into_iter()
        .map(|resource| describe(broker, &resource, options))
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// What the request asked to include besides names and values.
#[derive(Debug, Clone, Copy)]
struct Options {
    synonyms: bool,
    documentation: bool,
}

fn describe(
    broker: &Broker,
    resource: &DescribeConfigsResource,
    options: Options,
) -> DescribeConfigsResult {
    let result = DescribeConfigsResult::default()
        .with_resource_type(resource.resource_type)
        .with_resource_name(resource.resource_name.clone());
    let name = resource.resource_name.as_str();
    let entries = match resource.resource_type {
        RESOURCE_TOPIC => match broker.log_manager.topic(name) {
            Some(topic) => topic_entries(&broker.config, &topic.config_overrides(), options),
            None => {
                return error(
                    result,
                    ResponseError::UnknownTopicOrPartition,
                    format!("topic '{name}' does not exist"),
                );
            }
        },
        // An empty name is the cluster-wide default; a single node's defaults are its own.
        RESOURCE_BROKER if name.is_empty() || name == broker.config.node_id.to_string() => {
            broker_entries(&broker.config, options)
        }
        RESOURCE_BROKER => {
            // Kafka refuses to describe another broker's configs from this one.
            return error(
                result,
                ResponseError::InvalidRequest,
                format!(
                    "broker '{name}' is not this broker ({})",
                    broker.config.node_id
                ),
            );
        }
        other => {
            return error(
                result,
                ResponseError::InvalidRequest,
                format!("resource type {other} is not supported"),
            );
        }
    };
    let keys: Option<Vec<&str>> = resource
        .configuration_keys
        .as_ref()
        .map(|keys| keys.iter().map(|k| k.as_str()).collect());
    let configs = entries
        .into_iter()
        .filter(|entry| {
            keys.as_ref()
                .is_none_or(|keys| keys.contains(&entry.name.as_str()))
        })
        .collect();
    result.with_configs(configs)
}

fn error(
    result: DescribeConfigsResult,
    code: ResponseError,
    message: String,
) -> DescribeConfigsResult {
    result
        .with_error_code(code.code())
        .with_error_message(Some(StrBytes::from_string(message)))
}

fn topic_entries(
    config: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    options: Options,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let inherited = inherited(config, def);
            let mut chain = Vec::new();
            if let Some(value) = overrides.get(def.name) {
                chain.push((def.name, value.clone(), SOURCE_TOPIC));
            }
            chain.extend(inherited);
            entry(def, def.name, chain, options)
        })
        .collect()
}

fn broker_entries(config: &BrokerConfig, options: Options) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| entry(def, def.broker_key, inherited(config, def), options))
        .collect()
}

/// The broker-level links of a topic config's chain: the broker's setting when it differs from
/// Kafka's default, then the default.
fn inherited(config: &BrokerConfig, def: &TopicConfigDef) -> Vec<(&'static str, String, i8)> {
    let mut chain = Vec::new();
    if let Some(value) = broker_value(config, def.broker_key) {
        if value != def.kafka_default {
            chain.push((def.broker_key, value, SOURCE_STATIC_BROKER));
        }
    }
    chain.push((
        def.broker_key,
        def.kafka_default.to_string(),
        SOURCE_DEFAULT,
    ));
    chain
}

/// One config entry: the first link of the chain is the effective value.
fn entry(
    def: &TopicConfigDef,
    name: &str,
    chain: Vec<(&'static str, String, i8)>,
    options: Options,
) -> DescribeConfigsResourceResult {
    let (value, source) = chain
        .first()
        .map_or((None, SOURCE_DEFAULT), |(_, v, s)| (Some(v.clone()), *s));
    let synonyms = if options.synonyms {
        chain
            .iter()
            .map(|(key, value, source)| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_static_str(key))
                    .with_value(Some(StrBytes::from_string(value.clone())))
                    .with_source(*source)
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(name.to_string()))
        .with_value(value.map(StrBytes::from_string))
        .with_read_only(false)
        .with_config_source(source)
        .with_is_sensitive(false)
        .with_synonyms(synonyms)
        .with_config_type(def.kind as i8)
        .with_documentation(
            options
                .documentation
                .then(|| StrBytes::from_static_str(def.doc)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            synonyms: true,
            documentation: false,
        }
    }

    fn find<'a>(
        entries: &'a [DescribeConfigsResourceResult],
        name: &str,
    ) -> &'a DescribeConfigsResourceResult {
        entries.iter().find(|e| e.name.as_str() == name).unwrap()
    }

    #[test]
    fn topic_override_wins_and_keeps_the_chain_as_synonyms() {
        let config = BrokerConfig::load(None, &["log.segment.bytes=1048576".to_string()]).unwrap();
        let overrides = BTreeMap::from([("retention.ms".to_string(), "86400000".to_string())]);
        let entries = topic_entries(&config, &overrides, options());
        assert_eq!(entries.len(), TOPIC_CONFIGS.len());

        let retention = find(&entries, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("86400000"));
        assert_eq!(retention.config_source, SOURCE_TOPIC);
        let chain: Vec<(&str, i8)> = retention
            .synonyms
            .iter()
            .map(|s| (s.name.as_str(), s.source))
            .collect();
        assert_eq!(
            chain,
            [
                ("retention.ms", SOURCE_TOPIC),
                ("log.retention.ms", SOURCE_DEFAULT)
            ]
        );

        let segment = find(&entries, "segment.bytes");
        assert_eq!(segment.value.as_deref(), Some("1048576"));
        assert_eq!(segment.config_source, SOURCE_STATIC_BROKER);

        let flush = find(&entries, "flush.messages");
        assert_eq!(flush.value.as_deref(), Some("9223372036854775807"));
        assert_eq!(flush.config_source, SOURCE_DEFAULT);
    }

    #[test]
    fn broker_entries_use_broker_key_names() {
        let config = BrokerConfig::load(None, &[]).unwrap();
        let entries = broker_entries(&config, options());
        let max = find(&entries, "message.max.bytes");
        assert_eq!(max.value.as_deref(), Some("1048588"));
        assert_eq!(max.config_source, SOURCE_DEFAULT);
    }

    #[test]
    fn every_default_matches_the_broker_default_where_the_broker_has_one() {
        // A broker started with no settings must report every config as Kafka's default.
        let config = BrokerConfig::load(None, &[]).unwrap();
        for def in TOPIC_CONFIGS {
            if let Some(value) = broker_value(&config, def.broker_key) {
                assert_eq!(value, def.kafka_default, "{}", def.name);
            }
        }
    }
}
