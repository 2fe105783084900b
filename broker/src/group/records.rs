//! `GroupRecord`: what the coordinator asks its caller to append to `__consumer_offsets`.
//!
//! The variants carry the meaning of Kafka's `OffsetCommitKey`/`OffsetCommitValue` and
//! `GroupMetadataKey`/`GroupMetadataValue` records, and of the KIP-848 `ConsumerGroup*`
//! records (values in `consumer_records`); turning them into Kafka's binary key/value
//! layout is the caller's business. A `None` value is a tombstone (Kafka's null value), which is
//! what lets log compaction forget the key.

use bytes::Bytes;

use super::assignor::Assignment;
use super::consumer_records::{
    ConsumerCurrentAssignmentValue, ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataValue, ConsumerMemberMetadataValue,
};

/// Key of a committed offset: Kafka's `OffsetCommitKey` (group, topic, partition).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OffsetCommitKey {
    /// The group that committed.
    pub group_id: String,
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// A committed offset: Kafka's `OffsetCommitValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// The next offset the group will consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Client-chosen metadata ("" when the client sent null).
    pub metadata: String,
    /// When the coordinator accepted the commit (ms since the epoch).
    pub commit_timestamp: i64,
    /// Explicit expiry from OffsetCommit v2-v4 `retention_time_ms`; `None` means the broker's
    /// `offsets.retention.minutes` applies (Kafka 2.1+ semantics).
    pub expire_timestamp: Option<i64>,
}

/// One member as stored in the group metadata record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadataValue {
    /// Coordinator-assigned member id.
    pub member_id: String,
    /// KIP-345 static instance id, if any.
    pub group_instance_id: Option<String>,
    /// Client id of the member's last JoinGroup.
    pub client_id: String,
    /// Client address of the member's last JoinGroup.
    pub client_host: String,
    /// Rebalance timeout the member asked for.
    pub rebalance_timeout_ms: i32,
    /// Session timeout the member asked for.
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's selected protocol (its "subscription").
    pub subscription: Bytes,
    /// The assignment the leader gave this member (empty until the leader's SyncGroup).
    pub assignment: Bytes,
}

/// A group's membership: Kafka's `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Protocol type ("consumer", "connect", ...); "" for a group that never had members.
    pub protocol_type: String,
    /// Generation id.
    pub generation: i32,
    /// Selected protocol (assignor) name; `None` while the group is empty.
    pub protocol: Option<String>,
    /// Leader member id; `None` while the group is empty.
    pub leader: Option<String>,
    /// When the group entered its current state (ms); offset expiry of empty groups counts from
    /// here.
    pub current_state_timestamp: i64,
    /// The members of this generation.
    pub members: Vec<MemberMetadataValue>,
}

/// A record for `__consumer_offsets`. The caller appends these, in order, before sending the
/// responses that came with them, and feeds them back through `GroupCoordinator::replay` on
/// start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRecord {
    /// A committed offset; `None` deletes it.
    OffsetCommit {
        /// Which offset.
        key: OffsetCommitKey,
        /// The offset, or `None` for a tombstone.
        value: Option<OffsetCommitValue>,
    },
    /// A group's membership; `None` deletes the group.
    GroupMetadata {
        /// The group.
        group_id: String,
        /// Membership, or `None` for a tombstone.
        value: Option<GroupMetadataValue>,
    },
    /// KIP-848 group epoch (key type 3); `None` deletes the consumer group.
    ConsumerGroupMetadata {
        /// The group.
        group_id: String,
        /// The epoch, or `None` for a tombstone.
        value: Option<ConsumerGroupMetadataValue>,
    },
    /// KIP-848 subscription metadata (key type 4), read from older logs; written only as a
    /// tombstone, as Kafka 4.1 does.
    ConsumerGroupPartitionMetadata {
        /// The group.
        group_id: String,
        /// The metadata, or `None` for a tombstone.
        value: Option<ConsumerGroupPartitionMetadataValue>,
    },
    /// A KIP-848 member's identity and subscription (key type 5); `None` removes the member.
    ConsumerGroupMemberMetadata {
        /// The group.
        group_id: String,
        /// The member.
        member_id: String,
        /// The member's metadata, or `None` for a tombstone (boxed: it is the largest value).
        value: Option<Box<ConsumerMemberMetadataValue>>,
    },
    /// The epoch of a KIP-848 group's target assignment (key type 6).
    ConsumerGroupTargetAssignmentMetadata {
        /// The group.
        group_id: String,
        /// The target assignment epoch, or `None` for a tombstone.
        value: Option<i32>,
    },
    /// One member's target assignment (key type 7).
    ConsumerGroupTargetAssignmentMember {
        /// The group.
        group_id: String,
        /// The member.
        member_id: String,
        /// Its target partitions, or `None` for a tombstone.
        value: Option<Assignment>,
    },
    /// One member's current epochs and assignment (key type 8).
    ConsumerGroupCurrentMemberAssignment {
        /// The group.
        group_id: String,
        /// The member.
        member_id: String,
        /// Its current assignment, or `None` for a tombstone.
        value: Option<ConsumerCurrentAssignmentValue>,
    },
}

impl GroupRecord {
    /// The group this record belongs to (Kafka places all of a group's records in the
    /// `__consumer_offsets` partition chosen by hashing this id).
    pub fn group_id(&self) -> &str {
        match self {
            GroupRecord::OffsetCommit { key, .. } => &key.group_id,
            GroupRecord::GroupMetadata { group_id, .. }
            | GroupRecord::ConsumerGroupMetadata { group_id, .. }
            | GroupRecord::ConsumerGroupPartitionMetadata { group_id, .. }
            | GroupRecord::ConsumerGroupMemberMetadata { group_id, .. }
            | GroupRecord::ConsumerGroupTargetAssignmentMetadata { group_id, .. }
            | GroupRecord::ConsumerGroupTargetAssignmentMember { group_id, .. }
            | GroupRecord::ConsumerGroupCurrentMemberAssignment { group_id, .. } => group_id,
        }
    }
}
