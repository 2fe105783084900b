//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, and expiry under
//! `offsets.retention.minutes` with Kafka 2.1+ semantics (KIP-211): a group's offsets only
//! expire once the group is empty (counting from when it became empty), a simple group's
//! offsets from their commit time, and a stable consumer group's offsets of topics it no longer
//! subscribes to from their commit time.
//!
//! The coordinator does not know which topics exist; checking that committed topics exist
//! (UNKNOWN_TOPIC_OR_PARTITION) is the request handler's job.

use std::collections::BTreeSet;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
};

use super::classic_group::{Group, GroupState};
use super::codes;
use super::consumer_group::ConsumerGroup;
use super::consumer_persist;
use super::coordinator::{Effects, GroupCoordinator, RequestContext};
use super::records::{GroupRecord, OffsetCommitKey, OffsetCommitValue};
use super::sync::validate_member;

impl GroupCoordinator {
    /// OffsetCommit v2-9. Group commits must come from a current member of the current
    /// generation; simple commits (generation -1, no member id) are accepted for an empty or
    /// unknown group. Each stored offset yields a record to append before answering.
    pub fn offset_commit(
        &mut self,
        ctx: &RequestContext<'_>,
        request: OffsetCommitRequest,
        now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let group_id = request.group_id.0.to_string();
        let verdict = self.validate_commit(ctx.api_version, &request, now_ms);
        let max_metadata = self.config.offset_metadata_max_bytes;
        let mut group = match verdict {
            Ok(()) => self.groups.get_mut(&group_id),
            Err(_) => None,
        };
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in topic.partitions {
                let metadata = p
                    .committed_metadata
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                let code = match (&verdict, group.as_deref_mut()) {
                    (Err(code), _) => *code,
                    (Ok(()), _) if metadata.len() > max_metadata => {
                        codes::OFFSET_METADATA_TOO_LARGE
                    }
                    (Ok(()), None) => codes::COORDINATOR_NOT_AVAILABLE,
                    (Ok(()), Some(group)) => {
                        let value = OffsetCommitValue {
                            offset: p.committed_offset,
                            leader_epoch: if ctx.api_version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata,
                            commit_timestamp: now_ms,
                            expire_timestamp: (ctx.api_version <= 4
                                && request.retention_time_ms >= 0)
                                .then(|| now_ms.saturating_add(request.retention_time_ms)),
                        };
                        store_offset(
                            group,
                            topic.name.0.as_str(),
                            p.partition_index,
                            value,
                            &mut fx,
                        );
                        codes::NONE
                    }
                };
                partitions.push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code),
                );
            }
            topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name)
                    .with_partitions(partitions),
            );
        }
        fx.respond(
            ctx.token,
            OffsetCommitResponse::default().with_topics(topics),
        );
        self.reschedule(&group_id);
        self.finish(fx)
    }

    /// Kafka's commit validation for classic groups; creates the simple group a first simple
    /// commit needs. A member's commit in a Stable group counts as a heartbeat.
    fn validate_commit(
        &mut self,
        version: i16,
        request: &OffsetCommitRequest,
        now: i64,
    ) -> Result<(), i16> {
        let group_id = request.group_id.0.as_str();
        if group_id.is_empty() {
            return Err(codes::INVALID_GROUP_ID);
        }
        let generation = request.generation_id_or_member_epoch;
        let member_id = request.member_id.as_str();
        let instance_id = request.group_instance_id.as_deref();
        if !self.groups.contains_key(group_id) {
            if generation >= 0 {
                return Err(if version >= 9 {
                    codes::GROUP_ID_NOT_FOUND
                } else {
                    codes::ILLEGAL_GENERATION
                });
            }
            self.groups
                .insert(group_id.to_string(), Group::new(group_id.to_string(), now));
        }
        let group = self
            .groups
            .get_mut(group_id)
            .ok_or(codes::COORDINATOR_NOT_AVAILABLE)?;
        if let Some(consumer) = &group.consumer {
            return validate_consumer_commit(consumer, version, member_id, generation);
        }
        if generation < 0 && group.state == GroupState::Empty {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            validate_member(group, member_id, instance_id, generation)?;
        } else {
            return Err(codes::UNKNOWN_MEMBER_ID);
        }
        match group.state {
            // It has its join response but not its assignment: let it finish the rebalance.
            GroupState::CompletingRebalance => Err(codes::REBALANCE_IN_PROGRESS),
            GroupState::Dead => Err(codes::COORDINATOR_NOT_AVAILABLE),
            GroupState::Stable => {
                if let Some(member) = group.members.get_mut(member_id) {
                    member.touch(now);
                }
                Ok(())
            }
            // Commits during a rebalance are how members save progress before revoking.
            GroupState::PreparingRebalance | GroupState::Empty => Ok(()),
        }
    }

    /// OffsetDelete v0. Offsets of an empty group can always go; a consumer group with members
    /// keeps those of topics it subscribes to (GROUP_SUBSCRIBED_TO_TOPIC); other non-empty
    /// groups refuse (NON_EMPTY_GROUP).
    pub fn offset_delete(
        &mut self,
        ctx: &RequestContext<'_>,
        request: OffsetDeleteRequest,
        _now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let group_id = request.group_id.0.to_string();
        let response = match self.groups.get_mut(&group_id) {
            None => OffsetDeleteResponse::default().with_error_code(codes::GROUP_ID_NOT_FOUND),
            Some(group) => delete_offsets(group, request, &mut fx),
        };
        fx.respond(ctx.token, response);
        self.finish(fx)
    }

    /// Expires offsets past retention and deletes empty groups left without offsets.
    pub(crate) fn expire_offsets(&mut self, now: i64, fx: &mut Effects) {
        let retention = self.config.offsets_retention_ms;
        let mut ids: Vec<String> = self.groups.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            for (topic, partition) in expired_offsets(group, now, retention) {
                remove_offset(group, &topic, partition, fx);
            }
            let unused = group.state == GroupState::Empty
                && !group.has_offsets()
                && group.members.is_empty()
                && !group.has_consumer_members()
                && group.pending_members.is_empty();
            if unused {
                match &group.consumer {
                    Some(consumer) => consumer_persist::tombstones(&id, consumer, &mut fx.records),
                    None => fx.records.push(GroupRecord::GroupMetadata {
                        group_id: id.clone(),
                        value: None,
                    }),
                }
                self.remove_group(&id);
            }
        }
    }
}

/// Kafka's commit validation for KIP-848 consumer groups: the generation field carries the
/// member epoch, which must match exactly (STALE_MEMBER_EPOCH otherwise). Commits without an
/// epoch (admin tools, manual assignment) only while the group is empty.
fn validate_consumer_commit(
    group: &ConsumerGroup,
    version: i16,
    member_id: &str,
    member_epoch: i32,
) -> Result<(), i16> {
    if member_epoch < 0 && group.members.is_empty() {
        return Ok(());
    }
    let member = group
        .members
        .get(member_id)
        .ok_or(codes::UNKNOWN_MEMBER_ID)?;
    if version < 9 {
        // Consumer-protocol members must commit with v9+ (member epochs).
        return Err(codes::UNSUPPORTED_VERSION);
    }
    if member_epoch == member.member_epoch {
        Ok(())
    } else {
        Err(codes::STALE_MEMBER_EPOCH)
    }
}

fn store_offset(
    group: &mut Group,
    topic: &str,
    partition: i32,
    value: OffsetCommitValue,
    fx: &mut Effects,
) {
    fx.records.push(GroupRecord::OffsetCommit {
        key: OffsetCommitKey {
            group_id: group.group_id.clone(),
            topic: topic.to_string(),
            partition,
        },
        value: Some(value.clone()),
    });
    group
        .offsets
        .entry(topic.to_string())
        .or_default()
        .insert(partition, value);
}

/// Removes one offset, with its tombstone, if it exists.
fn remove_offset(group: &mut Group, topic: &str, partition: i32, fx: &mut Effects) {
    let Some(partitions) = group.offsets.get_mut(topic) else {
        return;
    };
    if partitions.remove(&partition).is_none() {
        return;
    }
    if partitions.is_empty() {
        group.offsets.remove(topic);
    }
    fx.records.push(GroupRecord::OffsetCommit {
        key: OffsetCommitKey {
            group_id: group.group_id.clone(),
            topic: topic.to_string(),
            partition,
        },
        value: None,
    });
}

/// The offsets of `group` that have outlived their retention at `now`.
fn expired_offsets(group: &Group, now: i64, retention: i64) -> Vec<(String, i32)> {
    // (base timestamp rule, topics exempt from expiry)
    let (state_base, exempt): (Option<i64>, BTreeSet<String>) = match group.state {
        // A consumer group's offsets count from their commit, minus the subscribed topics.
        _ if group.consumer.is_some() => (
            None,
            group
                .consumer
                .as_ref()
                .map(ConsumerGroup::subscribed_topics)
                .unwrap_or_default(),
        ),
        _ if group.protocol_type.is_none() => (None, BTreeSet::new()),
        GroupState::Empty => (Some(group.current_state_timestamp), BTreeSet::new()),
        GroupState::Stable => match group.subscribed_topics() {
            Some(topics) => (None, topics),
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let mut expired = Vec::new();
    for (topic, partitions) in &group.offsets {
        if exempt.contains(topic) {
            continue;
        }
        for (partition, value) in partitions {
            let due = match value.expire_timestamp {
                Some(at) => now >= at,
                None => {
                    let base = state_base.unwrap_or(value.commit_timestamp);
                    now.saturating_sub(base) >= retention
                }
            };
            if due {
                expired.push((topic.clone(), *partition));
            }
        }
    }
    expired
}

fn delete_offsets(
    group: &mut Group,
    request: OffsetDeleteRequest,
    fx: &mut Effects,
) -> OffsetDeleteResponse {
    let subscribed = match group.state {
        _ if group.has_consumer_members() => group
            .consumer
            .as_ref()
            .map(ConsumerGroup::subscribed_topics)
            .unwrap_or_default(),
        GroupState::Empty => BTreeSet::new(),
        GroupState::Dead => {
            return OffsetDeleteResponse::default().with_error_code(codes::GROUP_ID_NOT_FOUND)
        }
        _ if group.protocol_type.as_deref() == Some("consumer") => {
            // Unknown subscriptions protect every topic.
            match group.subscribed_topics() {
                Some(topics) => topics,
                None => request
                    .topics
                    .iter()
                    .map(|t| t.name.0.to_string())
                    .collect(),
            }
        }
        _ => return OffsetDeleteResponse::default().with_error_code(codes::NON_EMPTY_GROUP),
    };
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let in_use = subscribed.contains(&name);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let code = if in_use {
                codes::GROUP_SUBSCRIBED_TO_TOPIC
            } else {
                remove_offset(group, &name, p.partition_index, fx);
                codes::NONE
            };
            partitions.push(
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code),
            );
        }
        topics.push(
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    OffsetDeleteResponse::default().with_topics(topics)
}
