//! Persistence of KIP-848 consumer groups: which records a change of a `ConsumerGroup`
//! produces, and how replaying them rebuilds the group.
//!
//! Records are derived by comparing the group before and after a call (heartbeat, session
//! expiry, deletion), so every path that changes a group persists it the same way, in the order
//! Kafka 4.1 writes them: tombstones of members that left (current assignment, target, metadata),
//! member metadata, group epoch, changed targets, target epoch, changed current assignments. A
//! deleted group gets Kafka's tombstone sequence.
//!
//! Replay restores members with their epochs and assignments. What is not persisted is
//! restored on load (we write no `ConsumerGroupRegularExpression` records: regexes are resolved
//! again): session (and pending revocation) timers restart at load time, as Kafka
//! does; the subscribed topics' metadata, which Kafka 4.1 keeps only as a hash, is taken from
//! the topics that exist at load time (on this single broker, topics cannot change while it is
//! down), so the first heartbeat after a restart does not bump the group epoch.

use super::assignor::TopicsSnapshot;
use super::classic_group::Group;
use super::consumer_group::ConsumerGroup;
use super::consumer_member::{ConsumerMember, MemberState};
use super::consumer_records::{
    ConsumerCurrentAssignmentValue, ConsumerGroupMetadataValue, ConsumerMemberMetadataValue,
};
use super::coordinator::GroupCoordinator;
use super::records::GroupRecord;

/// Kafka's `MemberState` byte for `state`.
fn state_byte(state: MemberState) -> i8 {
    match state {
        MemberState::Stable => 0,
        MemberState::UnrevokedPartitions => 1,
        MemberState::UnreleasedPartitions => 2,
    }
}

/// The member state a byte of a record stands for (unknown values read as stable: the next
/// heartbeat reconciles the member anyway).
fn state_from_byte(byte: i8) -> MemberState {
    match byte {
        1 => MemberState::UnrevokedPartitions,
        2 => MemberState::UnreleasedPartitions,
        _ => MemberState::Stable,
    }
}

fn metadata_value(m: &ConsumerMember) -> ConsumerMemberMetadataValue {
    ConsumerMemberMetadataValue {
        instance_id: m.instance_id.clone(),
        rack_id: m.rack_id.clone(),
        client_id: m.client_id.clone(),
        client_host: m.client_host.clone(),
        subscribed_topic_names: m.subscribed_topics.iter().cloned().collect(),
        subscribed_topic_regex: m.subscribed_topic_regex.clone(),
        rebalance_timeout_ms: m.rebalance_timeout_ms,
        server_assignor: m.server_assignor.clone(),
    }
}

fn current_value(m: &ConsumerMember) -> ConsumerCurrentAssignmentValue {
    ConsumerCurrentAssignmentValue {
        member_epoch: m.member_epoch,
        previous_member_epoch: m.previous_member_epoch,
        state: state_byte(m.state),
        assigned: m.assigned.clone(),
        pending_revocation: m.pending_revocation.clone(),
    }
}

/// Appends to `out` the records that turn `before` into `after` (`None`: no consumer group).
pub(crate) fn changes(
    group_id: &str,
    before: Option<&ConsumerGroup>,
    after: Option<&ConsumerGroup>,
    out: &mut Vec<GroupRecord>,
) {
    match (before, after) {
        (None, None) => {}
        (Some(before), None) => tombstones(group_id, before, out),
        (None, Some(after)) => updates(group_id, &ConsumerGroup::default(), after, true, out),
        (Some(before), Some(after)) => updates(group_id, before, after, false, out),
    }
}

fn updates(
    group_id: &str,
    before: &ConsumerGroup,
    after: &ConsumerGroup,
    created: bool,
    out: &mut Vec<GroupRecord>,
) {
    let g = || group_id.to_string();
    for id in before.members.keys() {
        if !after.members.contains_key(id) {
            member_tombstones(group_id, id, out);
        }
    }
    for (id, m) in &after.members {
        let value = metadata_value(m);
        if before.members.get(id).map(metadata_value).as_ref() != Some(&value) {
            out.push(GroupRecord::ConsumerGroupMemberMetadata {
                group_id: g(),
                member_id: id.clone(),
                value: Some(Box::new(value)),
            });
        }
    }
    if created || before.group_epoch != after.group_epoch {
        out.push(GroupRecord::ConsumerGroupMetadata {
            group_id: g(),
            value: Some(ConsumerGroupMetadataValue {
                epoch: after.group_epoch,
            }),
        });
    }
    for (id, target) in &after.target {
        if before.target.get(id) != Some(target) {
            out.push(GroupRecord::ConsumerGroupTargetAssignmentMember {
                group_id: g(),
                member_id: id.clone(),
                value: Some(target.clone()),
            });
        }
    }
    for id in before.target.keys() {
        if !after.target.contains_key(id) && after.members.contains_key(id) {
            out.push(GroupRecord::ConsumerGroupTargetAssignmentMember {
                group_id: g(),
                member_id: id.clone(),
                value: None,
            });
        }
    }
    if created || before.assignment_epoch != after.assignment_epoch {
        out.push(GroupRecord::ConsumerGroupTargetAssignmentMetadata {
            group_id: g(),
            value: Some(after.assignment_epoch),
        });
    }
    for (id, m) in &after.members {
        let value = current_value(m);
        if before.members.get(id).map(current_value).as_ref() != Some(&value) {
            out.push(GroupRecord::ConsumerGroupCurrentMemberAssignment {
                group_id: g(),
                member_id: id.clone(),
                value: Some(value),
            });
        }
    }
}

/// A member that left or was fenced: its current assignment, target and metadata go.
fn member_tombstones(group_id: &str, member_id: &str, out: &mut Vec<GroupRecord>) {
    let (g, m) = (group_id.to_string(), member_id.to_string());
    out.push(GroupRecord::ConsumerGroupCurrentMemberAssignment {
        group_id: g.clone(),
        member_id: m.clone(),
        value: None,
    });
    out.push(GroupRecord::ConsumerGroupTargetAssignmentMember {
        group_id: g.clone(),
        member_id: m.clone(),
        value: None,
    });
    out.push(GroupRecord::ConsumerGroupMemberMetadata {
        group_id: g,
        member_id: m,
        value: None,
    });
}

/// Kafka's tombstones for a deleted consumer group, in its order.
pub(crate) fn tombstones(group_id: &str, group: &ConsumerGroup, out: &mut Vec<GroupRecord>) {
    let g = || group_id.to_string();
    for id in group.members.keys() {
        out.push(GroupRecord::ConsumerGroupCurrentMemberAssignment {
            group_id: g(),
            member_id: id.clone(),
            value: None,
        });
    }
    for id in group.members.keys() {
        out.push(GroupRecord::ConsumerGroupTargetAssignmentMember {
            group_id: g(),
            member_id: id.clone(),
            value: None,
        });
    }
    out.push(GroupRecord::ConsumerGroupTargetAssignmentMetadata {
        group_id: g(),
        value: None,
    });
    for id in group.members.keys() {
        out.push(GroupRecord::ConsumerGroupMemberMetadata {
            group_id: g(),
            member_id: id.clone(),
            value: None,
        });
    }
    out.push(GroupRecord::ConsumerGroupPartitionMetadata {
        group_id: g(),
        value: None,
    });
    out.push(GroupRecord::ConsumerGroupMetadata {
        group_id: g(),
        value: None,
    });
}

impl GroupCoordinator {
    /// Replays one KIP-848 record (see `replay`). A record with a value creates the consumer
    /// group (converting an empty classic one), as Kafka's replay does.
    pub(crate) fn replay_consumer(&mut self, record: GroupRecord) {
        let group_id = record.group_id().to_string();
        let tombstone = matches!(
            &record,
            GroupRecord::ConsumerGroupMetadata { value: None, .. }
        );
        if tombstone {
            self.forget_consumer_group(&group_id);
            return;
        }
        let Some(cg) = self.consumer_for_replay(&group_id, &record) else {
            return;
        };
        match record {
            GroupRecord::ConsumerGroupMetadata { value, .. } => {
                if let Some(v) = value {
                    cg.group_epoch = v.epoch;
                }
            }
            GroupRecord::ConsumerGroupMemberMetadata {
                member_id, value, ..
            } => replay_member_metadata(cg, member_id, value),
            GroupRecord::ConsumerGroupTargetAssignmentMetadata { value, .. } => {
                if let Some(epoch) = value {
                    cg.assignment_epoch = epoch;
                }
            }
            GroupRecord::ConsumerGroupTargetAssignmentMember {
                member_id, value, ..
            } => match value {
                Some(target) => {
                    cg.target.insert(member_id, target);
                }
                None => {
                    cg.target.remove(&member_id);
                }
            },
            GroupRecord::ConsumerGroupCurrentMemberAssignment {
                member_id, value, ..
            } => replay_current_assignment(cg, member_id, value),
            // Kafka 4.1 ignores the content of the pre-4.1 subscription metadata as well: topic
            // metadata is restored at load time (`load_topic_metadata`).
            GroupRecord::ConsumerGroupPartitionMetadata { .. }
            | GroupRecord::OffsetCommit { .. }
            | GroupRecord::GroupMetadata { .. } => {}
        }
    }

    /// The consumer group a replayed record applies to: created for a record with a value,
    /// `None` for a tombstone of a group we do not have.
    fn consumer_for_replay(
        &mut self,
        group_id: &str,
        record: &GroupRecord,
    ) -> Option<&mut ConsumerGroup> {
        let has_value = match record {
            GroupRecord::ConsumerGroupMetadata { value, .. } => value.is_some(),
            // A leftover pre-4.1 subscription record alone does not make a group.
            GroupRecord::ConsumerGroupPartitionMetadata { .. } => false,
            GroupRecord::ConsumerGroupMemberMetadata { value, .. } => value.is_some(),
            GroupRecord::ConsumerGroupTargetAssignmentMetadata { value, .. } => value.is_some(),
            GroupRecord::ConsumerGroupTargetAssignmentMember { value, .. } => value.is_some(),
            GroupRecord::ConsumerGroupCurrentMemberAssignment { value, .. } => value.is_some(),
            GroupRecord::OffsetCommit { .. } | GroupRecord::GroupMetadata { .. } => false,
        };
        if !has_value {
            return self.groups.get_mut(group_id)?.consumer.as_mut();
        }
        let group = self
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id.to_string(), 0));
        if group.consumer.is_none() {
            group.protocol_type = Some("consumer".to_string());
            group.consumer = Some(ConsumerGroup::default());
        }
        group.consumer.as_mut()
    }

    /// The group epoch tombstone: the consumer group is gone; its offsets (if any are left)
    /// stay under an empty classic group, as everywhere else in this coordinator.
    fn forget_consumer_group(&mut self, group_id: &str) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.consumer.take().is_some() {
            group.protocol_type = None;
        }
        if !group.has_offsets() && group.members.is_empty() {
            self.groups.remove(group_id);
        }
    }

    /// After replay: starts every consumer member's session (and pending revocation) timer at
    /// `now_ms`, and picks each group's assignor as the target's computation would.
    pub(crate) fn complete_consumer_load(&mut self, now_ms: i64) {
        let session = i64::from(self.config.consumer_session_timeout_ms);
        let default_assignor = self.config.consumer_default_assignor.clone();
        for cg in self.groups.values_mut().filter_map(|g| g.consumer.as_mut()) {
            for m in cg.members.values_mut() {
                m.session_deadline = now_ms.saturating_add(session);
                m.revocation_deadline = (m.state == MemberState::UnrevokedPartitions)
                    .then(|| now_ms.saturating_add(i64::from(m.rebalance_timeout_ms)));
            }
            cg.assignor = cg.pick_assignor(&default_assignor);
        }
    }

    /// After replay: resolves the members' regexes and takes each consumer group's
    /// subscribed-topic metadata from `topics` (the topics as they are at load time) without
    /// bumping any epoch. See the module doc.
    pub fn load_topic_metadata(&mut self, topics: &TopicsSnapshot) {
        for cg in self.groups.values_mut().filter_map(|g| g.consumer.as_mut()) {
            for m in cg.members.values_mut() {
                m.resolve_regex(topics);
            }
            cg.subscribed_metadata = cg.subscribed_in(topics);
        }
    }
}

fn replay_member_metadata(
    cg: &mut ConsumerGroup,
    member_id: String,
    value: Option<Box<ConsumerMemberMetadataValue>>,
) {
    let Some(v) = value else {
        if let Some(m) = cg.members.remove(&member_id) {
            if let Some(instance) = &m.instance_id {
                if cg.static_members.get(instance) == Some(&member_id) {
                    cg.static_members.remove(instance);
                }
            }
        }
        return;
    };
    let v = *v;
    if let Some(instance) = &v.instance_id {
        cg.static_members
            .insert(instance.clone(), member_id.clone());
    }
    let m = cg
        .members
        .entry(member_id.clone())
        .or_insert_with(|| ConsumerMember::new(member_id, None));
    m.instance_id = v.instance_id;
    m.rack_id = v.rack_id;
    m.client_id = v.client_id;
    m.client_host = v.client_host;
    m.subscribed_topics = v.subscribed_topic_names.into_iter().collect();
    m.subscribed_topic_regex = v.subscribed_topic_regex;
    m.rebalance_timeout_ms = v.rebalance_timeout_ms;
    m.server_assignor = v.server_assignor;
}

fn replay_current_assignment(
    cg: &mut ConsumerGroup,
    member_id: String,
    value: Option<ConsumerCurrentAssignmentValue>,
) {
    match value {
        Some(v) => {
            let m = cg
                .members
                .entry(member_id.clone())
                .or_insert_with(|| ConsumerMember::new(member_id, None));
            m.member_epoch = v.member_epoch;
            m.previous_member_epoch = v.previous_member_epoch;
            m.state = state_from_byte(v.state);
            m.assigned = v.assigned;
            m.pending_revocation = v.pending_revocation;
        }
        None => {
            // The member is leaving (its metadata tombstone follows): it owns nothing.
            if let Some(m) = cg.members.get_mut(&member_id) {
                m.assigned.clear();
                m.pending_revocation.clear();
            }
        }
    }
}
