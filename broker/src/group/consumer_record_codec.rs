//! Kafka's binary layout of the KIP-848 consumer-group records (key types 3-8), as Kafka 4.1
//! writes them.
//!
//! A key is the int16 record type followed by a classic (non-flexible) struct: the group id,
//! plus the member id for types 5, 7 and 8. A value is an int16 version, always 0, followed by
//! a flexible struct (compact strings and arrays, a tagged-field section after every struct);
//! tagged fields are skipped on read and none are written. Layouts:
//!
//! - 3 `ConsumerGroupMetadataValue`: epoch int32.
//! - 4 `ConsumerGroupPartitionMetadataValue`: epoch int32, topics [topicId uuid, topicName,
//!   numPartitions int32, partitionRacks [partition int32, racks [string]]].
//! - 5 `ConsumerGroupMemberMetadataValue`: instanceId?, rackId?, clientId, clientHost,
//!   subscribedTopicNames [string], subscribedTopicRegex?, rebalanceTimeoutMs int32,
//!   serverAssignor?.
//! - 6 `ConsumerGroupTargetAssignmentMetadataValue`: assignmentEpoch int32.
//! - 7 `ConsumerGroupTargetAssignmentMemberValue`: topicPartitions [topicId, partitions [int32]].
//! - 8 `ConsumerGroupCurrentMemberAssignmentValue`: memberEpoch int32, previousMemberEpoch
//!   int32, state int8, assignedPartitions and partitionsPendingRevocation, both
//!   [topicId, partitions [int32]].
//!
//! Thread-safety: stateless functions.

use bytes::Bytes;

use super::assignor::Assignment;
use super::consumer_records::{
    ConsumerCurrentAssignmentValue, ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataValue, ConsumerMemberMetadataValue, PartitionMetadataTopic,
};
use super::record_codec::{CodecError, Reader, Writer};
use super::records::GroupRecord;

const GROUP_METADATA: i16 = 3;
const PARTITION_METADATA: i16 = 4;
const MEMBER_METADATA: i16 = 5;
const TARGET_ASSIGNMENT_METADATA: i16 = 6;
const TARGET_ASSIGNMENT_MEMBER: i16 = 7;
const CURRENT_MEMBER_ASSIGNMENT: i16 = 8;

/// The first key type this module owns.
pub(super) const FIRST_KEY_TYPE: i16 = GROUP_METADATA;
/// The last key type this module owns.
pub(super) const LAST_KEY_TYPE: i16 = CURRENT_MEMBER_ASSIGNMENT;

/// The only value version of every KIP-848 record.
const VALUE_VERSION: i16 = 0;

/// Writes the key of a KIP-848 record (classic records are `record_codec`'s; they write
/// nothing here).
pub(super) fn write_key(record: &GroupRecord, w: &mut Writer) {
    let (key_type, group_id, member_id) = match record {
        GroupRecord::ConsumerGroupMetadata { group_id, .. } => (GROUP_METADATA, group_id, None),
        GroupRecord::ConsumerGroupPartitionMetadata { group_id, .. } => {
            (PARTITION_METADATA, group_id, None)
        }
        GroupRecord::ConsumerGroupMemberMetadata {
            group_id,
            member_id,
            ..
        } => (MEMBER_METADATA, group_id, Some(member_id)),
        GroupRecord::ConsumerGroupTargetAssignmentMetadata { group_id, .. } => {
            (TARGET_ASSIGNMENT_METADATA, group_id, None)
        }
        GroupRecord::ConsumerGroupTargetAssignmentMember {
            group_id,
            member_id,
            ..
        } => (TARGET_ASSIGNMENT_MEMBER, group_id, Some(member_id)),
        GroupRecord::ConsumerGroupCurrentMemberAssignment {
            group_id,
            member_id,
            ..
        } => (CURRENT_MEMBER_ASSIGNMENT, group_id, Some(member_id)),
        GroupRecord::OffsetCommit { .. } | GroupRecord::GroupMetadata { .. } => return,
    };
    w.i16(key_type);
    w.string(group_id);
    if let Some(member_id) = member_id {
        w.string(member_id);
    }
}

/// The value bytes of a KIP-848 record; `None` for a tombstone (and for classic records).
pub(super) fn write_value(record: &GroupRecord, mut w: Writer) -> Option<Bytes> {
    w.i16(VALUE_VERSION);
    match record {
        GroupRecord::ConsumerGroupMetadata { value, .. } => w.i32(value.as_ref()?.epoch),
        GroupRecord::ConsumerGroupPartitionMetadata { value, .. } => {
            write_partition_metadata(value.as_ref()?, &mut w)
        }
        GroupRecord::ConsumerGroupMemberMetadata { value, .. } => {
            write_member_metadata(value.as_ref()?, &mut w)
        }
        GroupRecord::ConsumerGroupTargetAssignmentMetadata { value, .. } => w.i32((*value)?),
        GroupRecord::ConsumerGroupTargetAssignmentMember { value, .. } => {
            write_assignment(value.as_ref()?, &mut w)
        }
        GroupRecord::ConsumerGroupCurrentMemberAssignment { value, .. } => {
            let v = value.as_ref()?;
            w.i32(v.member_epoch);
            w.i32(v.previous_member_epoch);
            w.i8(v.state);
            write_assignment(&v.assigned, &mut w);
            write_assignment(&v.pending_revocation, &mut w);
        }
        GroupRecord::OffsetCommit { .. } | GroupRecord::GroupMetadata { .. } => return None,
    }
    w.no_tagged_fields();
    Some(w.0.freeze())
}

fn write_partition_metadata(v: &ConsumerGroupPartitionMetadataValue, w: &mut Writer) {
    w.i32(v.epoch);
    w.compact_len(v.topics.len());
    for t in &v.topics {
        w.uuid(&t.topic_id);
        w.compact_string(&t.topic_name);
        w.i32(t.num_partitions);
        w.compact_len(0); // partition racks: we know of none
        w.no_tagged_fields();
    }
}

fn write_member_metadata(v: &ConsumerMemberMetadataValue, w: &mut Writer) {
    w.compact_nullable_string(v.instance_id.as_deref());
    w.compact_nullable_string(v.rack_id.as_deref());
    w.compact_string(&v.client_id);
    w.compact_string(&v.client_host);
    w.compact_len(v.subscribed_topic_names.len());
    for name in &v.subscribed_topic_names {
        w.compact_string(name);
    }
    w.compact_nullable_string(v.subscribed_topic_regex.as_deref());
    w.i32(v.rebalance_timeout_ms);
    w.compact_nullable_string(v.server_assignor.as_deref());
}

/// `[topicId, partitions [int32]]`, each element a flexible struct.
fn write_assignment(a: &Assignment, w: &mut Writer) {
    w.compact_len(a.len());
    for (topic, partitions) in a {
        w.uuid(topic);
        w.compact_len(partitions.len());
        for p in partitions {
            w.i32(*p);
        }
        w.no_tagged_fields();
    }
}

/// Decodes the rest of a key of type `key_type` (3-8) from `k` and its value.
pub(super) fn decode(
    key_type: i16,
    k: &mut Reader<'_>,
    value: Option<&[u8]>,
) -> Result<GroupRecord, CodecError> {
    let group_id = k.string("group")?;
    let mut member = || k.string("member");
    Ok(match key_type {
        GROUP_METADATA => GroupRecord::ConsumerGroupMetadata {
            group_id,
            value: decode_value(value, |r| {
                Ok(ConsumerGroupMetadataValue {
                    epoch: r.i32("epoch")?,
                })
            })?,
        },
        PARTITION_METADATA => GroupRecord::ConsumerGroupPartitionMetadata {
            group_id,
            value: decode_value(value, read_partition_metadata)?,
        },
        MEMBER_METADATA => GroupRecord::ConsumerGroupMemberMetadata {
            group_id,
            member_id: member()?,
            value: decode_value(value, read_member_metadata)?.map(Box::new),
        },
        TARGET_ASSIGNMENT_METADATA => GroupRecord::ConsumerGroupTargetAssignmentMetadata {
            group_id,
            value: decode_value(value, |r| r.i32("assignmentEpoch"))?,
        },
        TARGET_ASSIGNMENT_MEMBER => GroupRecord::ConsumerGroupTargetAssignmentMember {
            group_id,
            member_id: member()?,
            value: decode_value(value, |r| read_assignment(r, "topicPartitions"))?,
        },
        _ => GroupRecord::ConsumerGroupCurrentMemberAssignment {
            group_id,
            member_id: member()?,
            value: decode_value(value, read_current_assignment)?,
        },
    })
}

/// Checks the value version, reads the value's struct with `read` and skips its tagged fields;
/// `None` for a tombstone.
fn decode_value<T>(
    value: Option<&[u8]>,
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, CodecError>,
) -> Result<Option<T>, CodecError> {
    let Some(bytes) = value else {
        return Ok(None);
    };
    let version = Reader::new(bytes, false).i16("value version")?;
    if version != VALUE_VERSION {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let mut r = Reader::new(bytes, true);
    r.pos = 2;
    let out = read(&mut r)?;
    r.tagged_fields()?;
    Ok(Some(out))
}

fn read_partition_metadata(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupPartitionMetadataValue, CodecError> {
    let epoch = r.i32("epoch")?;
    let count = r.array_len("topics")?;
    let mut topics = Vec::new();
    for _ in 0..count {
        let topic_id = r.uuid("topicId")?;
        let topic_name = r.string("topicName")?;
        let num_partitions = r.i32("numPartitions")?;
        for _ in 0..r.array_len("partitionRacks")? {
            r.i32("partition")?;
            for _ in 0..r.array_len("racks")? {
                r.string("rack")?;
            }
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
        topics.push(PartitionMetadataTopic {
            topic_id,
            topic_name,
            num_partitions,
        });
    }
    Ok(ConsumerGroupPartitionMetadataValue { epoch, topics })
}

fn read_member_metadata(r: &mut Reader<'_>) -> Result<ConsumerMemberMetadataValue, CodecError> {
    let instance_id = r.nullable_string("instanceId")?;
    let rack_id = r.nullable_string("rackId")?;
    let client_id = r.string("clientId")?;
    let client_host = r.string("clientHost")?;
    let mut subscribed_topic_names = Vec::new();
    for _ in 0..r.array_len("subscribedTopicNames")? {
        subscribed_topic_names.push(r.string("subscribedTopicName")?);
    }
    Ok(ConsumerMemberMetadataValue {
        instance_id,
        rack_id,
        client_id,
        client_host,
        subscribed_topic_names,
        subscribed_topic_regex: r.nullable_string("subscribedTopicRegex")?,
        rebalance_timeout_ms: r.i32("rebalanceTimeoutMs")?,
        server_assignor: r.nullable_string("serverAssignor")?,
    })
}

fn read_current_assignment(
    r: &mut Reader<'_>,
) -> Result<ConsumerCurrentAssignmentValue, CodecError> {
    Ok(ConsumerCurrentAssignmentValue {
        member_epoch: r.i32("memberEpoch")?,
        previous_member_epoch: r.i32("previousMemberEpoch")?,
        state: r.i8("state")?,
        assigned: read_assignment(r, "assignedPartitions")?,
        pending_revocation: read_assignment(r, "partitionsPendingRevocation")?,
    })
}

fn read_assignment(r: &mut Reader<'_>, what: &'static str) -> Result<Assignment, CodecError> {
    let mut out = Assignment::new();
    for _ in 0..r.array_len(what)? {
        let topic = r.uuid("topicId")?;
        let count = r.array_len("partitions")?;
        let partitions = out.entry(topic).or_default();
        for _ in 0..count {
            partitions.insert(r.i32("partition")?);
        }
        r.tagged_fields()?;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "consumer_record_codec_tests.rs"]
mod tests;
