//! The group coordinator as a sans-IO state machine: classic groups (JoinGroup/SyncGroup/
//! Heartbeat/LeaveGroup), KIP-848 consumer groups (ConsumerGroupHeartbeat), offsets and
//! group administration.
//!
//! Map of the module:
//! - [`coordinator`] — `GroupCoordinator`, `RequestToken`, `RequestContext`, `Effects`; `tick`,
//!   `replay`, deadline bookkeeping.
//! - [`classic_group`] — `Group` and `GroupState` (each state documented with its transitions).
//! - [`member`] — `Member`, and parsing of consumer subscriptions.
//! - `rebalance` — the join phase, generations, removals and deadlines of one group.
//! - `join` — JoinGroup, including static membership (KIP-345).
//! - `sync` — SyncGroup, Heartbeat, LeaveGroup.
//! - [`offsets`] — OffsetCommit, OffsetDelete and offset expiry; `offset_fetch` — OffsetFetch.
//! - `admin` — ListGroups, DescribeGroups, DeleteGroups.
//! - [`records`] — `GroupRecord`, what goes to `__consumer_offsets`; [`record_codec`] — its
//!   binary key/value layout, as Kafka writes it; [`consumer_records`] and
//!   `consumer_record_codec` — the same for the KIP-848 records; `consumer_persist` — which
//!   records a consumer-group change produces, and their replay.
//! - [`config`] — `GroupConfig`.
//! - [`consumer_group`], [`consumer_member`], [`assignor`], `heartbeat`, `consumer_describe` —
//!   KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe) with server-side
//!   assignment, and `topic_regex` for regex subscriptions. They share the group-id namespace and committed offsets with classic groups:
//!   a consumer group is a `Group` whose `consumer` is set.
//!
//! Assignment is client-side in the classic protocol: the coordinator picks a leader and a
//! protocol, hands the leader everyone's metadata, and relays the leader's assignment.
//! Cooperative rebalancing (KIP-429) needs nothing more from it: the clients drive it. Each
//! member reports the partitions it owns inside its (opaque to us) subscription metadata and
//! keeps consuming them during the rebalance; the leader's assignor withholds partitions that
//! must move; their owners revoke them and immediately rejoin, and the follow-up rebalance
//! hands them out. The coordinator sees only ordinary JoinGroups with changed metadata.

pub mod assignor;
pub mod classic_group;
pub mod config;
pub mod consumer_group;
pub mod consumer_member;
pub mod consumer_records;
pub mod coordinator;
pub mod member;
pub mod offsets;
pub mod record_codec;
pub mod records;

mod admin;
mod consumer_describe;
mod consumer_persist;
mod consumer_record_codec;
mod heartbeat;
mod join;
mod offset_fetch;
mod rebalance;
mod sync;
mod topic_regex;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_consumer;
#[cfg(test)]
mod tests_consumer_replay;
#[cfg(test)]
mod tests_offsets;

pub use assignor::{TopicInfo, TopicsSnapshot};
pub use classic_group::GroupState;
pub use config::GroupConfig;
pub use consumer_group::ConsumerGroupState;
pub use coordinator::{Effects, GroupCoordinator, RequestContext, RequestToken};
pub use records::{
    GroupMetadataValue, GroupRecord, MemberMetadataValue, OffsetCommitKey, OffsetCommitValue,
};

/// Kafka error codes used by the coordinator, named as Kafka names them.
pub(crate) mod codes {
    use kafka_protocol::ResponseError as E;

    pub(crate) const NONE: i16 = 0;
    pub(crate) const OFFSET_METADATA_TOO_LARGE: i16 = E::OffsetMetadataTooLarge.code();
    pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = E::CoordinatorNotAvailable.code();
    pub(crate) const ILLEGAL_GENERATION: i16 = E::IllegalGeneration.code();
    pub(crate) const INCONSISTENT_GROUP_PROTOCOL: i16 = E::InconsistentGroupProtocol.code();
    pub(crate) const INVALID_GROUP_ID: i16 = E::InvalidGroupId.code();
    pub(crate) const UNKNOWN_MEMBER_ID: i16 = E::UnknownMemberId.code();
    pub(crate) const INVALID_SESSION_TIMEOUT: i16 = E::InvalidSessionTimeout.code();
    pub(crate) const REBALANCE_IN_PROGRESS: i16 = E::RebalanceInProgress.code();
    pub(crate) const INVALID_REQUEST: i16 = E::InvalidRequest.code();
    pub(crate) const NON_EMPTY_GROUP: i16 = E::NonEmptyGroup.code();
    pub(crate) const GROUP_ID_NOT_FOUND: i16 = E::GroupIdNotFound.code();
    pub(crate) const MEMBER_ID_REQUIRED: i16 = E::MemberIdRequired.code();
    pub(crate) const GROUP_MAX_SIZE_REACHED: i16 = E::GroupMaxSizeReached.code();
    pub(crate) const FENCED_INSTANCE_ID: i16 = E::FencedInstanceId.code();
    pub(crate) const GROUP_SUBSCRIBED_TO_TOPIC: i16 = E::GroupSubscribedToTopic.code();
    pub(crate) const FENCED_MEMBER_EPOCH: i16 = E::FencedMemberEpoch.code();
    pub(crate) const UNRELEASED_INSTANCE_ID: i16 = E::UnreleasedInstanceId.code();
    pub(crate) const UNSUPPORTED_ASSIGNOR: i16 = E::UnsupportedAssignor.code();
    pub(crate) const STALE_MEMBER_EPOCH: i16 = E::StaleMemberEpoch.code();
    pub(crate) const UNSUPPORTED_VERSION: i16 = E::UnsupportedVersion.code();
    pub(crate) const INVALID_REGULAR_EXPRESSION: i16 = E::InvalidRegularExpression.code();
}
