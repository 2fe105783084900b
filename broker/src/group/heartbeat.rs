//! ConsumerGroupHeartbeat v0-1 (KIP-848): joining, heartbeating, reconciling and leaving a
//! consumer group, with Kafka 4.1's validation and error codes.

use std::collections::BTreeSet;

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as OwnedTopic;
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as WireAssignment, TopicPartitions,
};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use uuid::Uuid;

use super::assignor::{self, Assignment, TopicsSnapshot};
use super::classic_group::Group;
use super::codes;
use super::consumer_group::ConsumerGroup;
use super::consumer_member::{
    is_subset, ConsumerMember, LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use super::consumer_persist;
use super::coordinator::{Effects, GroupCoordinator, RequestContext};
use super::rebalance::s;
use super::records::GroupRecord;
use super::topic_regex;

/// A refusal: error code and Kafka's message.
type Refusal = (i16, String);

fn invalid(message: &str) -> Refusal {
    (codes::INVALID_REQUEST, message.to_string())
}

/// The owned partitions a heartbeat reports, as an `Assignment`.
fn owned(topics: &[OwnedTopic]) -> Assignment {
    let mut out = Assignment::new();
    for t in topics {
        out.entry(t.topic_id)
            .or_default()
            .extend(t.partitions.iter().copied());
    }
    out
}

/// An `Assignment` on the wire.
pub(crate) fn to_wire(a: &Assignment) -> WireAssignment {
    WireAssignment::default().with_topic_partitions(
        a.iter()
            .map(|(id, ps)| {
                TopicPartitions::default()
                    .with_topic_id(*id)
                    .with_partitions(ps.iter().copied().collect())
            })
            .collect(),
    )
}

/// Kafka's request validation (`throwIfConsumerGroupHeartbeatRequestIsInvalid`).
fn validate(version: i16, r: &ConsumerGroupHeartbeatRequest) -> Result<(), Refusal> {
    let empty =
        |v: &Option<kafka_protocol::protocol::StrBytes>| v.as_ref().is_some_and(|s| s.is_empty());
    if r.group_id.0.is_empty() {
        return Err(invalid("group_id must not be empty"));
    }
    if empty(&r.instance_id) {
        return Err(invalid("instance_id, when set, must not be empty"));
    }
    if empty(&r.rack_id) {
        return Err(invalid("rack_id, when set, must not be empty"));
    }
    let epoch = r.member_epoch;
    if r.member_id.is_empty() && (version >= 1 || epoch > 0 || epoch == LEAVE_GROUP_MEMBER_EPOCH) {
        return Err(invalid("member_id is required"));
    }
    if epoch == 0 {
        if r.rebalance_timeout_ms == -1 {
            return Err(invalid("a joining member must give rebalance_timeout_ms"));
        }
        if r.topic_partitions.as_ref().is_none_or(|t| !t.is_empty()) {
            return Err(invalid(
                "a joining member must report an empty topic_partitions list",
            ));
        }
        if r.subscribed_topic_names.is_none() && r.subscribed_topic_regex.is_none() {
            return Err(invalid(
                "a joining member must give subscribed_topic_names or subscribed_topic_regex",
            ));
        }
    } else if epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        if r.instance_id.is_none() {
            return Err(invalid(
                "member epoch -2 (static leave) needs an instance_id",
            ));
        }
    } else if epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        return Err(invalid("member_epoch below -2 is not valid"));
    }
    // librdkafka sends an empty regex alongside topic names; Kafka reads that as no regex.
    if let Some(pattern) = r.subscribed_topic_regex.as_ref().filter(|x| !x.is_empty()) {
        topic_regex::check(pattern).map_err(|e| {
            (
                codes::INVALID_REGULAR_EXPRESSION,
                format!(
                    "SubscribedTopicRegex `{}` is not a valid regular expression: {e}",
                    pattern.as_str()
                ),
            )
        })?;
    }
    if let Some(name) = &r.server_assignor {
        if !assignor::is_supported(name) {
            return Err((
                codes::UNSUPPORTED_ASSIGNOR,
                format!(
                    "unknown server assignor {name}; this broker has {} and {}",
                    assignor::UNIFORM,
                    assignor::RANGE
                ),
            ));
        }
    }
    Ok(())
}

impl GroupCoordinator {
    /// ConsumerGroupHeartbeat v0-1. `topics` is the current metadata of every topic (the
    /// caller's snapshot). Always answers at once.
    pub fn consumer_group_heartbeat(
        &mut self,
        ctx: &RequestContext<'_>,
        request: ConsumerGroupHeartbeatRequest,
        topics: &TopicsSnapshot,
        now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let group_id = request.group_id.0.to_string();
        let existed = self.groups.contains_key(&group_id);
        let before = self.groups.get(&group_id).and_then(|g| g.consumer.clone());
        let response = match self.heartbeat_inner(ctx, request, topics, now_ms) {
            Ok(r) => r,
            Err((code, message)) => ConsumerGroupHeartbeatResponse::default()
                .with_error_code(code)
                .with_error_message(Some(s(&message))),
        };
        let after = self.groups.get(&group_id).and_then(|g| g.consumer.as_ref());
        if existed && before.is_none() && after.is_some() {
            // It replaced an empty classic group, whose record Kafka deletes.
            fx.records.push(GroupRecord::GroupMetadata {
                group_id: group_id.clone(),
                value: None,
            });
        }
        consumer_persist::changes(&group_id, before.as_ref(), after, &mut fx.records);
        fx.respond(ctx.token, response);
        self.reschedule(&group_id);
        self.finish(fx)
    }

    fn heartbeat_inner(
        &mut self,
        ctx: &RequestContext<'_>,
        r: ConsumerGroupHeartbeatRequest,
        topics: &TopicsSnapshot,
        now: i64,
    ) -> Result<ConsumerGroupHeartbeatResponse, Refusal> {
        validate(ctx.api_version, &r)?;
        let group_id = r.group_id.0.to_string();
        if r.member_epoch < 0 {
            return self.consumer_leave(&group_id, &r, now);
        }
        let interval = self.config.consumer_heartbeat_interval_ms;
        let session = i64::from(self.config.consumer_session_timeout_ms);
        let default_assignor = self.config.consumer_default_assignor.clone();
        let max_size = self.config.max_size;
        let cg = self.consumer_group_for(&group_id, r.member_epoch == 0, now)?;
        let member_id = if r.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            r.member_id.to_string()
        };
        if r.member_epoch == 0
            && cg.members.len() >= max_size
            && !cg.members.contains_key(&member_id)
        {
            return Err((
                codes::GROUP_MAX_SIZE_REACHED,
                format!("the group is full ({max_size} members, group.max.size)"),
            ));
        }
        let joined = admit_member(cg, &member_id, &r)?;
        let member = cg
            .members
            .get_mut(&member_id)
            .ok_or((codes::UNKNOWN_MEMBER_ID, String::new()))?;
        let changed_subscription = update_member(member, ctx, &r, now.saturating_add(session))
            | member.resolve_regex(topics);
        let bump = joined || changed_subscription;
        if !cg.note_metadata(topics) && bump {
            cg.group_epoch = cg.group_epoch.saturating_add(1);
        }
        cg.update_target(topics, &default_assignor);
        let owned_now = r.topic_partitions.as_deref().map(owned);
        let changed = cg.reconcile(&member_id, owned_now.as_ref(), now);
        let member = cg
            .members
            .get(&member_id)
            .ok_or((codes::UNKNOWN_MEMBER_ID, String::new()))?;
        let full = r.member_epoch == 0 || r.topic_partitions.is_some();
        let assignment = (changed || full).then(|| to_wire(&member.assigned));
        Ok(ConsumerGroupHeartbeatResponse::default()
            .with_error_code(codes::NONE)
            .with_member_id(Some(s(&member_id)))
            .with_member_epoch(member.member_epoch)
            .with_heartbeat_interval_ms(interval)
            .with_assignment(assignment))
    }

    /// The consumer group `group_id`, created (or converted from an unused classic group) on a
    /// join; GROUP_ID_NOT_FOUND as Kafka answers otherwise.
    fn consumer_group_for(
        &mut self,
        group_id: &str,
        create: bool,
        now: i64,
    ) -> Result<&mut ConsumerGroup, Refusal> {
        let not_found = || (codes::GROUP_ID_NOT_FOUND, format!("no group {group_id}"));
        if !self.groups.contains_key(group_id) {
            if !create {
                return Err(not_found());
            }
            self.groups
                .insert(group_id.to_string(), Group::new(group_id.to_string(), now));
        }
        let group = self.groups.get_mut(group_id).ok_or_else(not_found)?;
        if group.consumer.is_none() {
            let unused = group.members.is_empty() && group.pending_members.is_empty();
            if !(create && unused) {
                return Err((
                    codes::GROUP_ID_NOT_FOUND,
                    format!("group {group_id} uses the classic protocol"),
                ));
            }
            // An empty classic group (or one holding only offsets) becomes a consumer group
            // and keeps its offsets, as Kafka converts it.
            group.protocol_type = Some("consumer".to_string());
            group.consumer = Some(ConsumerGroup::default());
        }
        group.consumer.as_mut().ok_or_else(not_found)
    }

    /// A heartbeat with member epoch -1 (leave) or -2 (static member leaving temporarily).
    fn consumer_leave(
        &mut self,
        group_id: &str,
        r: &ConsumerGroupHeartbeatRequest,
        now: i64,
    ) -> Result<ConsumerGroupHeartbeatResponse, Refusal> {
        let session = i64::from(self.config.consumer_session_timeout_ms);
        let cg = self.consumer_group_for(group_id, false, now)?;
        let member_id = r.member_id.to_string();
        let unknown = || {
            (
                codes::UNKNOWN_MEMBER_ID,
                format!("group {group_id} has no member {member_id}"),
            )
        };
        if let Some(instance) = r.instance_id.as_deref() {
            let current = cg.static_members.get(instance).ok_or_else(unknown)?;
            if *current != member_id {
                return Err((
                    codes::FENCED_INSTANCE_ID,
                    format!("instance {instance} now belongs to member {current}, not {member_id}"),
                ));
            }
        }
        if r.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            let member = cg.members.get_mut(&member_id).ok_or_else(unknown)?;
            if member.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                member.previous_member_epoch = member.member_epoch;
                member.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
            }
            member.session_deadline = now.saturating_add(session);
        } else {
            cg.remove_member(&member_id).ok_or_else(unknown)?;
        }
        Ok(ConsumerGroupHeartbeatResponse::default()
            .with_error_code(codes::NONE)
            .with_member_id(Some(s(&member_id)))
            .with_member_epoch(r.member_epoch))
    }
}

/// Takes in what a heartbeat says about its member (identity, timeouts, subscription) and
/// restarts its session; returns whether its subscription or assignor changed.
fn update_member(
    member: &mut ConsumerMember,
    ctx: &RequestContext<'_>,
    r: &ConsumerGroupHeartbeatRequest,
    session_deadline: i64,
) -> bool {
    member.client_id = ctx.client_id.to_string();
    member.client_host = ctx.client_host.to_string();
    member.session_deadline = session_deadline;
    if r.rebalance_timeout_ms >= 0 {
        member.rebalance_timeout_ms = r.rebalance_timeout_ms;
    }
    if r.rack_id.is_some() {
        member.rack_id = r.rack_id.as_ref().map(|x| x.to_string());
    }
    let mut changed = false;
    if let Some(names) = &r.subscribed_topic_names {
        let names: BTreeSet<String> = names.iter().map(|n| n.0.to_string()).collect();
        if member.subscribed_topics != names {
            member.subscribed_topics = names;
            changed = true;
        }
    }
    if let Some(pattern) = &r.subscribed_topic_regex {
        let pattern = Some(pattern.to_string()).filter(|p| !p.is_empty());
        if member.subscribed_topic_regex != pattern {
            member.subscribed_topic_regex = pattern;
            changed = true;
        }
    }
    if let Some(name) = &r.server_assignor {
        if member.server_assignor.as_deref() != Some(name.as_str()) {
            member.server_assignor = Some(name.to_string());
            changed = true;
        }
    }
    changed
}

/// Finds (or, on a join, creates) the heartbeating member and checks its epoch; returns
/// whether a new member joined (which bumps the group epoch).
fn admit_member(
    cg: &mut ConsumerGroup,
    member_id: &str,
    r: &ConsumerGroupHeartbeatRequest,
) -> Result<bool, Refusal> {
    let instance = r.instance_id.as_deref();
    if r.member_epoch == 0 {
        if let Some(instance) = instance {
            let current = cg.static_members.get(instance).cloned();
            match current {
                Some(current) if current == member_id => {}
                Some(current) if cg.static_member_active(instance) => {
                    return Err((
                        codes::UNRELEASED_INSTANCE_ID,
                        format!("instance {instance} is still held by active member {current}; it must leave before {member_id} can join"),
                    ));
                }
                Some(_) => {
                    cg.replace_static(instance, member_id);
                    return Ok(false);
                }
                None => {}
            }
        }
        return Ok(match cg.members.get_mut(member_id) {
            Some(member) => {
                // A member rejoining with epoch 0 lost its state: it owns nothing any more.
                member.member_epoch = 0;
                member.previous_member_epoch = 0;
                member.assigned.clear();
                member.pending_revocation.clear();
                member.revocation_deadline = None;
                member.state = super::consumer_member::MemberState::Stable;
                false
            }
            None => {
                let member =
                    ConsumerMember::new(member_id.to_string(), instance.map(str::to_string));
                if let Some(instance) = instance {
                    cg.static_members
                        .insert(instance.to_string(), member_id.to_string());
                }
                cg.members.insert(member_id.to_string(), member);
                true
            }
        });
    }
    let group_id = r.group_id.0.as_str();
    // Static members are looked up by instance id first, so a replaced one is told it is
    // fenced rather than unknown.
    if let Some(instance) = instance {
        if cg
            .static_members
            .get(instance)
            .is_some_and(|m| m != member_id)
        {
            return Err((
                codes::FENCED_INSTANCE_ID,
                format!("instance {instance} now belongs to another member than {member_id}"),
            ));
        }
    }
    let Some(member) = cg.members.get(member_id) else {
        return Err((
            codes::UNKNOWN_MEMBER_ID,
            format!("group {group_id} has no member {member_id}"),
        ));
    };
    let fenced = || {
        (
            codes::FENCED_MEMBER_EPOCH,
            format!(
                "member epoch {} is ahead of the coordinator's {}; rejoin with epoch 0",
                r.member_epoch, member.member_epoch
            ),
        )
    };
    if r.member_epoch > member.member_epoch {
        return Err(fenced());
    }
    if r.member_epoch < member.member_epoch {
        // A lost response: the previous epoch is fine while it owns nothing it should not.
        let owns_only_assigned = r
            .topic_partitions
            .as_deref()
            .is_some_and(|t| is_subset(&owned(t), &member.assigned));
        if r.member_epoch != member.previous_member_epoch || !owns_only_assigned {
            return Err((
                codes::FENCED_MEMBER_EPOCH,
                format!(
                    "member epoch {} is behind the coordinator's {}; rejoin with epoch 0",
                    r.member_epoch, member.member_epoch
                ),
            ));
        }
    }
    Ok(false)
}
