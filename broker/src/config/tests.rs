//! Tests of `BrokerConfig` parsing: Kafka's keys, defaults, precedence and refusals.

use super::*;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn properties_syntax() {
    let text = "# comment\n! also comment\n\n  a=1\nb : 2\nc 3\nd=x\\\n   y\\\\\ne\\:f=g\\u0041\n";
    let got = parse_properties(text);
    assert_eq!(
        got,
        pairs(&[
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "xy\\"),
            ("e:f", "gA")
        ])
    );
}

#[test]
fn group_coordinator_keys() {
    let c = BrokerConfig::from_pairs(pairs(&[
        ("group.min.session.timeout.ms", "100"),
        ("group.max.session.timeout.ms", "200"),
        ("group.initial.rebalance.delay.ms", "0"),
        ("group.max.size", "3"),
        ("offsets.topic.num.partitions", "7"),
        ("offsets.retention.minutes", "2"),
        ("offsets.retention.check.interval.ms", "1000"),
        ("offset.metadata.max.bytes", "10"),
    ]))
    .unwrap();
    let g = &c.group;
    assert_eq!(
        (g.min_session_timeout_ms, g.max_session_timeout_ms),
        (100, 200)
    );
    assert_eq!((g.initial_rebalance_delay_ms, g.max_size), (0, 3));
    assert_eq!(
        (
            g.offsets_retention_ms,
            g.offsets_retention_check_interval_ms
        ),
        (120_000, 1_000)
    );
    assert_eq!(
        (g.offset_metadata_max_bytes, c.offsets_topic_num_partitions),
        (10, 7)
    );
    let zero = BrokerConfig::from_pairs(pairs(&[("offsets.topic.num.partitions", "0")]));
    assert!(zero.is_err());
    assert_eq!(BrokerConfig::default().offsets_topic_num_partitions, 50);
}

#[test]
fn defaults_and_kafka_keys() {
    let text = "process.roles=broker,controller\nnode.id=7\n\
                listeners=PLAINTEXT://:9092,CONTROLLER://:9093\n\
                advertised.listeners=PLAINTEXT://localhost:19092\n\
                log.dir=/tmp/a\nlog.roll.hours=2\nlog.flush.scheduler.interval.ms=500\n";
    let c = BrokerConfig::from_pairs(parse_properties(text)).unwrap();
    assert_eq!(c.node_id, 7);
    assert_eq!(
        c.listener,
        HostPort {
            host: String::new(),
            port: 9092
        }
    );
    assert_eq!(
        c.advertised_listener,
        Some(HostPort {
            host: "localhost".into(),
            port: 19092
        })
    );
    assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/a")]);
    assert_eq!(c.log_roll_ms, 2 * HOUR_MS);
    assert_eq!(c.log_flush_interval_ms, 500);
    assert_eq!(c.num_partitions, 1);
    assert_eq!(c.socket_request_max_bytes, 104_857_600);
}

#[test]
fn aliases_lose_to_primary_keys() {
    let c = BrokerConfig::from_pairs(pairs(&[
        ("log.dir", "/x"),
        ("log.dirs", "/a, /b"),
        ("log.roll.hours", "5"),
        ("log.roll.ms", "1000"),
        ("listeners", "PLAINTEXT://[::1]:0"),
    ]))
    .unwrap();
    assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    assert_eq!(c.log_roll_ms, 1000);
    assert_eq!(c.listener.host, "::1");
    assert_eq!(c.log_flush_interval_ms, i64::MAX);
}

#[test]
fn overrides_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.properties");
    std::fs::write(&path, "num.partitions=3\nauto.create.topics.enable=true\n").unwrap();
    let c = BrokerConfig::load(
        Some(&path),
        &[
            "num.partitions=5".to_owned(),
            "auto.create.topics.enable=FALSE".to_owned(),
        ],
    )
    .unwrap();
    assert_eq!(c.num_partitions, 5);
    assert!(!c.auto_create_topics_enable);
    assert_eq!(
        c.explicit.get("num.partitions").map(String::as_str),
        Some("5")
    );
    assert!(!c.explicit.contains_key("log.segment.bytes"));
}

#[test]
fn errors_name_the_key_and_value() {
    let err = BrokerConfig::from_pairs(pairs(&[("no.such.key", "1")])).unwrap_err();
    assert!(err.to_string().contains("no.such.key"), "{err}");
    let err = BrokerConfig::from_pairs(pairs(&[("num.partitions", "zero")])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("num.partitions") && text.contains("zero"),
        "{text}"
    );
    let err = BrokerConfig::from_pairs(pairs(&[("num.partitions", "0")])).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { .. }));
    let err = BrokerConfig::from_pairs(pairs(&[("listeners", "SSL://h:1")])).unwrap_err();
    assert!(err.to_string().contains("PLAINTEXT"), "{err}");
    let err = BrokerConfig::from_pairs(pairs(&[("log.message.timestamp.type", "x")]));
    assert!(err.is_err());
    assert!(matches!(
        parse_override("novalue"),
        Err(ConfigError::BadOverride(_))
    ));
}

#[test]
fn retention_keys_follow_kafkas_precedence() {
    let load = |pairs: &[(&str, &str)]| {
        BrokerConfig::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    };
    assert_eq!(load(&[]).unwrap().log_retention_ms, 168 * HOUR_MS);
    let c = load(&[("log.retention.hours", "2"), ("log.retention.minutes", "3")]).unwrap();
    assert_eq!(c.log_retention_ms, 180_000);
    let c = load(&[("log.retention.minutes", "3"), ("log.retention.ms", "-5")]).unwrap();
    assert_eq!(c.log_retention_ms, -1);
    let c = load(&[
        ("log.cleanup.policy", "compact,delete"),
        ("log.retention.bytes", "100"),
        ("log.cleaner.threads", "2"),
    ])
    .unwrap();
    assert_eq!(
        (c.log_cleanup_policy, c.log_retention_bytes),
        ((true, true), 100)
    );
    assert!(c.log_config().compact && c.log_config().delete);
    assert!(load(&[("log.cleanup.policy", "keep")]).is_err());
    assert!(load(&[("log.retention.bytes", "-2")]).is_err());
    // Dynamic layers apply on top of the static settings.
    let dynamic = [("log.retention.ms".to_string(), "9".to_string())].into();
    assert_eq!(c.with_overrides(&dynamic).unwrap().log_retention_ms, 9);
}

#[test]
fn log_cleaner_keys_have_kafka_defaults_and_parse() {
    let c = BrokerConfig::from_pairs(pairs(&[])).unwrap();
    assert!(c.log_cleaner.enable);
    assert_eq!(c.log_cleaner.dedupe_buffer_size, 134_217_728);
    assert_eq!(c.log_cleaner.io_buffer_size, 524_288);
    assert_eq!(c.log_cleaner.backoff_ms, 15_000);
    assert_eq!(c.log_cleaner.defaults.min_cleanable_ratio, 0.5);
    assert_eq!(c.log_cleaner.defaults.delete_retention_ms, 86_400_000);
    let c = BrokerConfig::from_pairs(pairs(&[
        ("log.cleaner.enable", "false"),
        ("log.cleaner.threads", "2"),
        ("log.cleaner.min.cleanable.ratio", "0.1"),
        ("log.cleaner.max.compaction.lag.ms", "1000"),
    ]))
    .unwrap();
    assert!(!c.log_cleaner.enable);
    assert_eq!(c.log_cleaner.threads, 2);
    assert_eq!(c.log_cleaner.defaults.min_cleanable_ratio, 0.1);
    assert_eq!(c.log_cleaner.defaults.max_compaction_lag_ms, 1000);
    assert!(BrokerConfig::from_pairs(pairs(&[("log.cleaner.min.cleanable.ratio", "2")])).is_err());
}
