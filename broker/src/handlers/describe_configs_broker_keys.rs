//! The broker keys DescribeConfigs lists for a broker resource: each key's aliases, Kafka's
//! default, type and how its effective value is read from the configuration.

#[allow(clippy::wildcard_imports)] // The table uses the parent's value helpers and type codes.
use super::*;

/// One broker key this broker knows, with the keys that may set it and its current value.
pub(super) struct BrokerEntry {
    /// The key described.
    pub(super) name: &'static str,
    /// Keys (the name, then aliases) whose presence in the file makes the value static.
    pub(super) set_by: &'static [&'static str],
    /// Kafka's built-in default as text, if the key has one.
    pub(super) default: Option<&'static str>,
    /// Kafka's type code.
    pub(super) ty: i8,
    /// The effective value.
    pub(super) value: fn(&BrokerConfig) -> Option<String>,
    /// A one-line description.
    pub(super) doc: &'static str,
}

fn listener_text(hp: &HostPort) -> String {
    if hp.host.contains(':') {
        format!("PLAINTEXT://[{}]:{}", hp.host, hp.port)
    } else {
        format!("PLAINTEXT://{}:{}", hp.host, hp.port)
    }
}

pub(super) const BROKER_ENTRIES: &[BrokerEntry] = &[
    BrokerEntry {
        name: "advertised.listeners",
        set_by: &["advertised.listeners"],
        default: None,
        ty: STRING,
        // As configured when set: with named listeners there is more than one entry.
        value: |c| {
            c.explicit
                .get("advertised.listeners")
                .cloned()
                .or_else(|| c.advertised_listener.as_ref().map(listener_text))
        },
        doc: "the address given to clients",
    },
    BrokerEntry {
        name: "auto.create.topics.enable",
        set_by: &["auto.create.topics.enable"],
        default: Some("true"),
        ty: BOOLEAN,
        value: |c| Some(c.auto_create_topics_enable.to_string()),
        doc: "whether Metadata may create a missing topic",
    },
    BrokerEntry {
        name: "fetch.max.bytes",
        set_by: &["fetch.max.bytes"],
        default: Some("57671680"),
        ty: INT,
        value: |c| Some(c.fetch_max_bytes.to_string()),
        doc: "the most record bytes in one fetch response",
    },
    BrokerEntry {
        name: "group.initial.rebalance.delay.ms",
        set_by: &["group.initial.rebalance.delay.ms"],
        default: Some("3000"),
        ty: INT,
        value: |c| Some(c.group.initial_rebalance_delay_ms.to_string()),
        doc: "how long a new group's first rebalance waits for more members",
    },
    BrokerEntry {
        name: "group.max.session.timeout.ms",
        set_by: &["group.max.session.timeout.ms"],
        default: Some("1800000"),
        ty: INT,
        value: |c| Some(c.group.max_session_timeout_ms.to_string()),
        doc: "the longest session timeout a member may ask for",
    },
    BrokerEntry {
        name: "group.max.size",
        set_by: &["group.max.size"],
        default: Some("1000"),
        ty: INT,
        value: |c| Some(c.group.max_size.to_string()),
        doc: "the most members one group may have (Kafka: unbounded)",
    },
    BrokerEntry {
        name: "group.min.session.timeout.ms",
        set_by: &["group.min.session.timeout.ms"],
        default: Some("6000"),
        ty: INT,
        value: |c| Some(c.group.min_session_timeout_ms.to_string()),
        doc: "the shortest session timeout a member may ask for",
    },
    BrokerEntry {
        name: "listeners",
        set_by: &["listeners"],
        default: Some("PLAINTEXT://:9092"),
        ty: STRING,
        value: |c| {
            c.explicit
                .get("listeners")
                .cloned()
                .or_else(|| Some(listener_text(&c.listener)))
        },
        doc: "the address the broker listens on",
    },
    BrokerEntry {
        name: "log.cleanup.policy",
        set_by: &["log.cleanup.policy"],
        default: Some("delete"),
        ty: LIST,
        value: |c| Some(cleanup_policy_text(c.log_cleanup_policy)),
        doc: "the default cleanup.policy of topics",
    },
    BrokerEntry {
        name: "log.dirs",
        set_by: &["log.dirs", "log.dir"],
        default: None,
        ty: STRING,
        value: |c| {
            Some(
                c.log_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        },
        doc: "the directories holding partition data",
    },
    BrokerEntry {
        name: "log.flush.interval.messages",
        set_by: &["log.flush.interval.messages"],
        default: Some(LONG_MAX),
        ty: LONG,
        value: |c| Some(c.log_flush_interval_messages.to_string()),
        doc: "force an fsync after this many messages",
    },
    BrokerEntry {
        name: "log.flush.interval.ms",
        set_by: &["log.flush.interval.ms"],
        default: None,
        ty: LONG,
        value: |c| Some(c.log_flush_interval_ms.to_string()),
        doc: "force an fsync when data is older than this",
    },
    BrokerEntry {
        name: "log.flush.scheduler.interval.ms",
        set_by: &["log.flush.scheduler.interval.ms"],
        default: Some(LONG_MAX),
        ty: LONG,
        value: |c| Some(c.log_flush_scheduler_interval_ms.to_string()),
        doc: "how often the time-based flush runs",
    },
    BrokerEntry {
        name: "log.index.interval.bytes",
        set_by: &["log.index.interval.bytes"],
        default: Some("4096"),
        ty: INT,
        value: |c| Some(c.log_index_interval_bytes.to_string()),
        doc: "bytes of log between two offset index entries",
    },
    BrokerEntry {
        name: "log.index.size.max.bytes",
        set_by: &["log.index.size.max.bytes"],
        default: Some("10485760"),
        ty: INT,
        value: |c| Some(c.log_index_size_max_bytes.to_string()),
        doc: "the preallocated size of a segment index",
    },
    BrokerEntry {
        name: "log.message.timestamp.type",
        set_by: &["log.message.timestamp.type"],
        default: Some("CreateTime"),
        ty: STRING,
        value: |c| Some(timestamp_name(c.log_message_timestamp_type)),
        doc: "CreateTime or LogAppendTime",
    },
    BrokerEntry {
        name: "log.retention.bytes",
        set_by: &["log.retention.bytes"],
        default: Some("-1"),
        ty: LONG,
        value: |c| Some(c.log_retention_bytes.to_string()),
        doc: "the default retention.bytes of topics",
    },
    BrokerEntry {
        name: "log.retention.check.interval.ms",
        set_by: &["log.retention.check.interval.ms"],
        default: Some("300000"),
        ty: LONG,
        value: |c| Some(c.log_retention_check_interval_ms.to_string()),
        doc: "how often retention runs",
    },
    BrokerEntry {
        name: "log.retention.ms",
        set_by: &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        default: None,
        ty: LONG,
        value: |c| Some(c.log_retention_ms.to_string()),
        doc: "the default retention.ms of topics",
    },
    BrokerEntry {
        name: "log.roll.ms",
        set_by: &["log.roll.ms", "log.roll.hours"],
        default: None,
        ty: LONG,
        value: |c| Some(c.log_roll_ms.to_string()),
        doc: "the age at which a new segment is rolled",
    },
    BrokerEntry {
        name: "log.segment.bytes",
        set_by: &["log.segment.bytes"],
        default: Some("1073741824"),
        ty: INT,
        value: |c| Some(c.log_segment_bytes.to_string()),
        doc: "the size at which a new segment is rolled",
    },
    BrokerEntry {
        name: "log.segment.delete.delay.ms",
        set_by: &["log.segment.delete.delay.ms"],
        default: Some("60000"),
        ty: LONG,
        value: |c| Some(c.log_segment_delete_delay_ms.to_string()),
        doc: "how long deleted segment files stay",
    },
    BrokerEntry {
        name: "max.connections",
        set_by: &["max.connections"],
        default: Some("10000"),
        ty: INT,
        value: |c| Some(c.max_connections.to_string()),
        doc: "the most client connections at once",
    },
    BrokerEntry {
        name: "message.max.bytes",
        set_by: &["message.max.bytes"],
        default: Some("1048588"),
        ty: INT,
        value: |c| Some(c.message_max_bytes.to_string()),
        doc: "the largest record batch size allowed",
    },
    BrokerEntry {
        name: "message.max.decompressed.bytes",
        set_by: &["message.max.decompressed.bytes"],
        default: Some("67108864"),
        ty: INT,
        value: |c| Some(c.message_max_decompressed_bytes.to_string()),
        doc: "the largest decompressed size of one batch (this broker's own key)",
    },
    BrokerEntry {
        name: "node.id",
        set_by: &["node.id", "broker.id"],
        default: Some("1"),
        ty: INT,
        value: |c| Some(c.node_id.to_string()),
        doc: "this node's id",
    },
    BrokerEntry {
        name: "num.partitions",
        set_by: &["num.partitions"],
        default: Some("1"),
        ty: INT,
        value: |c| Some(c.num_partitions.to_string()),
        doc: "partitions of an auto-created topic",
    },
    BrokerEntry {
        name: "offset.metadata.max.bytes",
        set_by: &["offset.metadata.max.bytes"],
        default: Some("4096"),
        ty: INT,
        value: |c| Some(c.group.offset_metadata_max_bytes.to_string()),
        doc: "the largest metadata string of one committed offset",
    },
    BrokerEntry {
        name: "offsets.retention.check.interval.ms",
        set_by: &["offsets.retention.check.interval.ms"],
        default: Some("600000"),
        ty: LONG,
        value: |c| Some(c.group.offsets_retention_check_interval_ms.to_string()),
        doc: "how often expired offsets are removed",
    },
    BrokerEntry {
        name: "offsets.retention.minutes",
        set_by: &["offsets.retention.minutes"],
        default: Some("10080"),
        ty: INT,
        value: |c| Some((c.group.offsets_retention_ms / 60_000).to_string()),
        doc: "how long an empty group's offsets are kept",
    },
    BrokerEntry {
        name: "offsets.topic.num.partitions",
        set_by: &["offsets.topic.num.partitions"],
        default: Some("50"),
        ty: INT,
        value: |c| Some(c.offsets_topic_num_partitions.to_string()),
        doc: "partitions of __consumer_offsets when it is created",
    },
    BrokerEntry {
        name: "socket.request.max.bytes",
        set_by: &["socket.request.max.bytes"],
        default: Some("104857600"),
        ty: INT,
        value: |c| Some(c.socket_request_max_bytes.to_string()),
        doc: "the largest request accepted",
    },
];
