//! The values of the KIP-848 consumer-group records in `__consumer_offsets` (key types 3-8),
//! with the meaning Kafka 4.1 gives them. Their binary layout is `consumer_record_codec`'s
//! business; which records a change produces, and how replay rebuilds a group from them, is
//! `consumer_persist`'s.
//!
//! Plain data, no shared state.

use super::assignor::Assignment;

/// `ConsumerGroupMetadataValue` (key type 3): the group epoch. Kafka 4.1 also keeps a hash of
/// the subscribed topics' metadata in a tagged field; we neither write nor need it (see
/// `consumer_persist` for how topic metadata is restored on load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerGroupMetadataValue {
    /// The group epoch.
    pub epoch: i32,
}

/// One topic of a `ConsumerGroupPartitionMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadataTopic {
    /// Topic id.
    pub topic_id: uuid::Uuid,
    /// Topic name.
    pub topic_name: String,
    /// Partition count.
    pub num_partitions: i32,
}

/// `ConsumerGroupPartitionMetadataValue` (key type 4): the subscribed topics' metadata as of a
/// group epoch. Kafka before 4.1 wrote it; 4.1 replaced it by the metadata hash and only writes
/// its tombstone. We read it (partition racks are skipped) and, like 4.1, only write tombstones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupPartitionMetadataValue {
    /// The group epoch the metadata belongs to.
    pub epoch: i32,
    /// The subscribed topics.
    pub topics: Vec<PartitionMetadataTopic>,
}

/// `ConsumerGroupMemberMetadataValue` (key type 5): a member's identity and subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerMemberMetadataValue {
    /// Static instance id, if any.
    pub instance_id: Option<String>,
    /// Rack id, if any.
    pub rack_id: Option<String>,
    /// Client id of its last heartbeat.
    pub client_id: String,
    /// Client host of its last heartbeat.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed topic regular expression, if any.
    pub subscribed_topic_regex: Option<String>,
    /// Rebalance timeout it asked for.
    pub rebalance_timeout_ms: i32,
    /// The server assignor it asked for, if any.
    pub server_assignor: Option<String>,
}

/// `ConsumerGroupCurrentMemberAssignmentValue` (key type 8): where a member stands in its
/// reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerCurrentAssignmentValue {
    /// Current member epoch.
    pub member_epoch: i32,
    /// The epoch before the last bump.
    pub previous_member_epoch: i32,
    /// Kafka's `MemberState` byte: 0 stable, 1 unrevoked partitions, 2 unreleased partitions.
    pub state: i8,
    /// Partitions it owns.
    pub assigned: Assignment,
    /// Partitions it must revoke.
    pub pending_revocation: Assignment,
}
