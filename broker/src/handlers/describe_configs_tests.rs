//! Unit tests of the DescribeConfigs response building.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;

use super::*;
use crate::producer_id_manager::ProducerIdManager;

fn config(pairs: &[(&str, &str)], dir: &std::path::Path) -> BrokerConfig {
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    pairs.push(("log.dirs".into(), dir.display().to_string()));
    BrokerConfig::from_pairs(pairs).unwrap()
}

fn broker(pairs: &[(&str, &str)], dir: &std::path::Path) -> Broker {
    let c = config(pairs, dir);
    let log_manager = LogManager::open(c.log_manager_config()).unwrap();
    let ids = ProducerIdManager::open(dir).unwrap();
    Broker::new(c, log_manager, ids, crate::group::GroupConfig::default())
}

fn resource(ty: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsResource {
    DescribeConfigsResource::default()
        .with_resource_type(ty)
        .with_resource_name(StrBytes::from_string(name.to_owned()))
        .with_configuration_keys(keys.map(|ks| {
            ks.iter()
                .map(|k| StrBytes::from_string((*k).to_owned()))
                .collect()
        }))
}

fn header(version: i16) -> RequestHeader {
    RequestHeader::default().with_request_api_version(version)
}

fn find<'a>(r: &'a DescribeConfigsResult, name: &str) -> &'a DescribeConfigsResourceResult {
    r.configs
        .iter()
        .find(|c| c.name.as_str() == name)
        .unwrap_or_else(|| panic!("no {name} in {r:?}"))
}

fn synonyms(e: &DescribeConfigsResourceResult) -> Vec<(String, Option<String>, i8)> {
    e.synonyms
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                s.value.as_ref().map(|v| v.to_string()),
                s.source,
            )
        })
        .collect()
}

const ALL: Options = Options {
    synonyms: true,
    documentation: true,
    types: true,
};

#[test]
fn every_accepted_topic_config_is_listed_once() {
    // Each name must pass topic_config's checks (so it is one the broker accepts) ...
    for e in TOPIC_ENTRIES {
        let value = (e.inherited)(&BrokerConfig::default());
        let one = BTreeMap::from([(e.name.to_owned(), value.clone())]);
        assert!(
            LogManager::validate_topic_configs(&one).is_ok(),
            "{} = {value}",
            e.name
        );
    }
    // ... and be sorted and unique.
    assert!(TOPIC_ENTRIES.windows(2).all(|w| w[0].name < w[1].name));
    assert_eq!(TOPIC_ENTRIES.len(), 25);
    assert!(BROKER_ENTRIES.windows(2).all(|w| w[0].name < w[1].name));
}

#[test]
fn topic_override_static_and_default_sources() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        &[("log.segment.bytes", "2048"), ("log.retention.hours", "2")],
        dir.path(),
    );
    let overrides = BTreeMap::from([("retention.ms".to_owned(), "60000".to_owned())]);
    let entries = topic_entries(
        &layered(&c, &DynamicLayers::default()),
        &overrides,
        ALL,
        &|_| true,
    );
    let r = DescribeConfigsResult::default().with_configs(entries);

    let retention = find(&r, "retention.ms");
    assert_eq!(retention.value.as_deref(), Some("60000"));
    assert_eq!(retention.config_source, SOURCE_TOPIC_CONFIG);
    assert!(!retention.read_only);
    assert_eq!(retention.config_type, LONG);
    assert!(retention.documentation.is_some());
    assert_eq!(
        synonyms(retention),
        vec![
            ("retention.ms".into(), Some("60000".into()), 1),
            ("log.retention.hours".into(), Some("2".into()), 4),
            ("log.retention.hours".into(), Some("168".into()), 5),
        ]
    );

    let segment = find(&r, "segment.bytes");
    assert_eq!(segment.value.as_deref(), Some("2048"));
    assert_eq!(segment.config_source, SOURCE_STATIC_BROKER_CONFIG);
    assert_eq!(segment.config_type, INT);
    assert_eq!(
        synonyms(segment),
        vec![
            ("log.segment.bytes".into(), Some("2048".into()), 4),
            ("log.segment.bytes".into(), Some("1073741824".into()), 5),
        ]
    );

    let policy = find(&r, "cleanup.policy");
    assert_eq!(policy.value.as_deref(), Some("delete"));
    assert_eq!(policy.config_source, SOURCE_DEFAULT_CONFIG);
    assert_eq!(policy.config_type, LIST);
}

#[test]
fn inherited_retention_follows_hours_and_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(&[("log.retention.hours", "2")], dir.path());
    assert_eq!(retention_ms(&c), "7200000");
    let c = config(
        &[("log.retention.hours", "2"), ("log.retention.minutes", "3")],
        dir.path(),
    );
    assert_eq!(retention_ms(&c), "180000");
    assert_eq!(retention_ms(&BrokerConfig::default()), "604800000");
}

#[test]
fn options_filter_and_old_versions() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(&[], dir.path());
    let opts = Options {
        synonyms: false,
        documentation: false,
        types: false,
    };
    let entries = topic_entries(
        &layered(&c, &DynamicLayers::default()),
        &BTreeMap::new(),
        opts,
        &|n| n == "segment.ms",
    );
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].value.as_deref(), Some("604800000"));
    assert!(entries[0].synonyms.is_empty());
    assert_eq!(entries[0].config_type, 0);
    assert!(entries[0].documentation.is_none());
    // Without synonyms in the answer, the source still says where the value came from.
    assert_eq!(entries[0].config_source, SOURCE_DEFAULT_CONFIG);
}

#[test]
fn handle_topics_brokers_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        &[
            ("node.id", "3"),
            ("num.partitions", "4"),
            ("offsets.retention.minutes", "60"),
        ],
        dir.path(),
    );
    let overrides = BTreeMap::from([("retention.ms".to_owned(), "1000".to_owned())]);
    b.log_manager.create_topic("t", 1, overrides).unwrap();
    let request = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![
            resource(2, "t", Some(&["retention.ms", "nope"])),
            resource(2, "missing", None),
            resource(2, "bad/name", None),
            resource(4, "3", Some(&[])),
            resource(4, "", Some(&["num.partitions"])),
            resource(4, "2", None),
            resource(8, "3", None),
            resource(99, "x", None),
        ]);
    let r = handle(&b, &header(1), request);
    let codes: Vec<i16> = r.results.iter().map(|x| x.error_code).collect();
    assert_eq!(codes, vec![0, 3, 17, 0, 0, 42, 42, 42]);
    for failed in [1, 2, 5, 6, 7] {
        assert!(r.results[failed].error_message.is_some());
        assert!(r.results[failed].configs.is_empty());
    }
    assert_eq!(r.results[0].resource_name.as_str(), "t");
    assert_eq!(r.results[0].configs.len(), 1);
    assert_eq!(r.results[0].configs[0].value.as_deref(), Some("1000"));
    // v1 has no config_type.
    assert_eq!(r.results[0].configs[0].config_type, 0);

    // An empty key list means all keys.
    assert_eq!(r.results[3].configs.len(), BROKER_ENTRIES.len());
    let partitions = find(&r.results[4], "num.partitions");
    assert_eq!(partitions.value.as_deref(), Some("4"));
    assert_eq!(partitions.config_source, SOURCE_STATIC_BROKER_CONFIG);
    assert!(partitions.read_only);
    let retention = find(&r.results[3], "offsets.retention.minutes");
    assert_eq!(retention.value.as_deref(), Some("60"));
    assert_eq!(retention.config_source, SOURCE_STATIC_BROKER_CONFIG);
    let offsets_partitions = find(&r.results[3], "offsets.topic.num.partitions");
    assert_eq!(offsets_partitions.value.as_deref(), Some("50"));
    let node = find(&r.results[3], "node.id");
    assert_eq!(node.value.as_deref(), Some("3"));
    let connections = find(&r.results[3], "max.connections");
    assert_eq!(connections.config_source, SOURCE_DEFAULT_CONFIG);
    assert_eq!(
        synonyms(connections),
        vec![("max.connections".into(), Some("10000".into()), 5)]
    );
}

#[test]
fn documentation_needs_v3() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(&[], dir.path());
    b.log_manager.create_topic("t", 1, BTreeMap::new()).unwrap();
    let request = DescribeConfigsRequest::default()
        .with_include_documentation(true)
        .with_resources(vec![resource(2, "t", Some(&["preallocate"]))]);
    let old = handle(&b, &header(2), request.clone());
    assert!(old.results[0].configs[0].documentation.is_none());
    let new = handle(&b, &header(4), request);
    let e = &new.results[0].configs[0];
    assert!(e.documentation.is_some());
    assert_eq!(
        (e.config_type, e.value.as_deref()),
        (BOOLEAN, Some("false"))
    );
    assert!(e.synonyms.is_empty(), "synonyms were not asked for");
}

fn layered<'a>(c: &'a BrokerConfig, layers: &'a DynamicLayers) -> Layered<'a> {
    Layered {
        base: c,
        effective: c,
        layers,
    }
}

#[test]
fn dynamic_layers_come_first_in_synonyms() {
    let c = BrokerConfig::from_pairs([("log.retention.hours".to_owned(), "5".to_owned())]).unwrap();
    let mut layers = DynamicLayers::default();
    layers
        .cluster_default
        .insert("log.retention.ms".into(), "1000".into());
    layers
        .this_broker
        .insert("log.retention.ms".into(), "2000".into());
    let mut pairs = layers.cluster_default.clone();
    pairs.extend(layers.this_broker.clone());
    let effective = c.with_overrides(&pairs).unwrap();
    let cfg = Layered {
        base: &c,
        effective: &effective,
        layers: &layers,
    };
    let entries = topic_entries(&cfg, &BTreeMap::new(), ALL, &|n| n == "retention.ms");
    let e = &entries[0];
    assert_eq!(e.value.as_deref(), Some("2000"));
    assert_eq!(e.config_source, 2);
    let sources: Vec<(&str, i8)> = e
        .synonyms
        .iter()
        .map(|s| (s.name.as_str(), s.source))
        .collect();
    assert_eq!(
        sources,
        vec![
            ("log.retention.ms", 2),
            ("log.retention.ms", 3),
            ("log.retention.hours", 4),
            ("log.retention.hours", 5)
        ]
    );
}
