//! `GroupConfig`: the broker settings the group coordinator obeys, with Kafka's key names.

/// Settings of the group coordinator (classic and KIP-848 consumer groups). Plain data; `Clone` and shared read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms` (default 6000): shorter session timeouts are refused with
    /// INVALID_SESSION_TIMEOUT.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (default 1800000): longer session timeouts are refused.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms` (default 3000): how long the first rebalance of an empty
    /// group waits for more members, extended while members keep arriving, up to the rebalance
    /// timeout.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`. Kafka's default is unbounded (`Int.MaxValue`); here 1000, so one group
    /// cannot make the coordinator's per-request work (which is linear in the member count) or
    /// its group metadata record unbounded.
    pub max_size: usize,
    /// `offsets.retention.minutes` in milliseconds (default 7 days).
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms` (default 600000): how often expiry runs.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes` (default 4096): larger commit metadata gets
    /// OFFSET_METADATA_TOO_LARGE.
    pub offset_metadata_max_bytes: usize,
    /// This broker's own cap on one protocol's metadata in JoinGroup (default 1 MiB). Kafka
    /// only bounds it indirectly through the size of the group metadata record.
    pub max_member_metadata_bytes: usize,
    /// This broker's own cap on one member's assignment in SyncGroup (default 1 MiB).
    pub max_assignment_bytes: usize,
    /// `group.consumer.heartbeat.interval.ms` (default 5000), told to KIP-848 members.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.session.timeout.ms` (default 45000): a KIP-848 member that has not
    /// heartbeated for this long is fenced.
    pub consumer_session_timeout_ms: i32,
    /// The server-side assignor used when no member names one (`group.consumer.assignors`'
    /// first entry in Kafka): "uniform".
    pub consumer_default_assignor: String,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: 1_000,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1_000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4_096,
            max_member_metadata_bytes: 1 << 20,
            max_assignment_bytes: 1 << 20,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_session_timeout_ms: 45_000,
            consumer_default_assignor: "uniform".to_string(),
        }
    }
}
