//! SyncGroup, Heartbeat and LeaveGroup.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest,
};

use super::classic_group::{Group, GroupState};
use super::codes;
use super::config::GroupConfig;
use super::coordinator::{Effects, GroupCoordinator, RequestContext};
use super::member::Parked;
use super::rebalance::{s, sync_error};
use super::records::GroupRecord;

/// Checks shared by SyncGroup, Heartbeat and group offset commits: the member belongs to the
/// group under this instance id, and speaks for the current generation.
pub(super) fn validate_member(
    group: &Group,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
) -> Result<(), i16> {
    if group.is_static_fenced(instance_id, member_id) {
        return Err(codes::FENCED_INSTANCE_ID);
    }
    if !group.members.contains_key(member_id) {
        return Err(codes::UNKNOWN_MEMBER_ID);
    }
    if generation != group.generation {
        return Err(codes::ILLEGAL_GENERATION);
    }
    Ok(())
}

impl GroupCoordinator {
    /// SyncGroup v0-5. Followers' requests park until the leader's assignment arrives; the
    /// leader's request completes everyone's.
    pub fn sync_group(
        &mut self,
        ctx: &RequestContext<'_>,
        request: SyncGroupRequest,
        now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let group_id = request.group_id.0.to_string();
        if let Err(code) = self.sync_inner(ctx, request, now_ms, &mut fx) {
            fx.respond(ctx.token, sync_error(code));
        }
        self.reschedule(&group_id);
        self.finish(fx)
    }

    fn sync_inner(
        &mut self,
        ctx: &RequestContext<'_>,
        request: SyncGroupRequest,
        now: i64,
        fx: &mut Effects,
    ) -> Result<(), i16> {
        let cfg = &self.config;
        let group = self
            .groups
            .get_mut(request.group_id.0.as_str())
            .ok_or(codes::UNKNOWN_MEMBER_ID)?;
        let member_id = request.member_id.as_str();
        let instance_id = request.group_instance_id.as_deref();
        validate_member(group, member_id, instance_id, request.generation_id)?;
        if ctx.api_version >= 5 {
            let type_differs = request
                .protocol_type
                .as_ref()
                .is_some_and(|t| group.protocol_type.as_deref() != Some(t.as_str()));
            let name_differs = request
                .protocol_name
                .as_ref()
                .is_some_and(|n| group.protocol.as_deref() != Some(n.as_str()));
            if type_differs || name_differs {
                return Err(codes::INCONSISTENT_GROUP_PROTOCOL);
            }
        }
        match group.state {
            GroupState::Empty => Err(codes::UNKNOWN_MEMBER_ID),
            GroupState::Dead => Err(codes::COORDINATOR_NOT_AVAILABLE),
            GroupState::PreparingRebalance => Err(codes::REBALANCE_IN_PROGRESS),
            GroupState::Stable => {
                group.pending_sync.remove(member_id);
                let member = group
                    .members
                    .get_mut(member_id)
                    .ok_or(codes::UNKNOWN_MEMBER_ID)?;
                member.touch(now);
                let assignment = member.assignment.clone();
                fx.respond(ctx.token, group.sync_success(ctx.api_version, assignment));
                Ok(())
            }
            GroupState::CompletingRebalance => {
                let parked = Parked {
                    token: ctx.token,
                    version: ctx.api_version,
                };
                if group.is_leader(member_id) {
                    let assignments = request
                        .assignments
                        .into_iter()
                        .map(|a| (a.member_id.to_string(), a.assignment));
                    leader_sync(group, cfg, member_id, parked, assignments, now, fx)
                } else {
                    group.pending_sync.remove(member_id);
                    let member = group
                        .members
                        .get_mut(member_id)
                        .ok_or(codes::UNKNOWN_MEMBER_ID)?;
                    if let Some(old) = member.awaiting_sync.replace(parked) {
                        fx.respond(old.token, sync_error(codes::REBALANCE_IN_PROGRESS));
                    }
                    Ok(())
                }
            }
        }
    }

    /// Heartbeat v0-4: keeps the session alive and tells the member whether to rejoin.
    pub fn heartbeat(
        &mut self,
        ctx: &RequestContext<'_>,
        request: HeartbeatRequest,
        now_ms: i64,
    ) -> Effects {
        let group_id = request.group_id.0.to_string();
        let code = match self.groups.get_mut(&group_id) {
            None => codes::UNKNOWN_MEMBER_ID,
            Some(group) => heartbeat_code(group, &request, now_ms),
        };
        let mut fx = Effects::default();
        fx.respond(
            ctx.token,
            HeartbeatResponse::default().with_error_code(code),
        );
        self.reschedule(&group_id);
        self.finish(fx)
    }

    /// LeaveGroup v0-5 (v3+ removes a batch of members, static ones possibly by instance id).
    pub fn leave_group(
        &mut self,
        ctx: &RequestContext<'_>,
        request: LeaveGroupRequest,
        now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let group_id = request.group_id.0.to_string();
        let leaving: Vec<(String, Option<String>)> = if ctx.api_version >= 3 {
            request
                .members
                .into_iter()
                .map(|m| {
                    (
                        m.member_id.to_string(),
                        m.group_instance_id.map(|i| i.to_string()),
                    )
                })
                .collect()
        } else {
            vec![(request.member_id.to_string(), None)]
        };
        let cfg = &self.config;
        let mut results = Vec::with_capacity(leaving.len());
        for (member_id, instance_id) in leaving {
            let code = match self.groups.get_mut(&group_id) {
                None => codes::UNKNOWN_MEMBER_ID,
                Some(group) => leave_member(
                    group,
                    cfg,
                    &member_id,
                    instance_id.as_deref(),
                    now_ms,
                    &mut fx,
                ),
            };
            results.push(
                MemberResponse::default()
                    .with_member_id(s(&member_id))
                    .with_group_instance_id(instance_id.as_deref().map(s))
                    .with_error_code(code),
            );
        }
        let response = if ctx.api_version >= 3 {
            LeaveGroupResponse::default().with_members(results)
        } else {
            let code = results.first().map_or(codes::NONE, |r| r.error_code);
            LeaveGroupResponse::default().with_error_code(code)
        };
        fx.respond(ctx.token, response);
        self.reschedule(&group_id);
        self.finish(fx)
    }
}

/// The leader's SyncGroup: stores its assignment (members it left out get an empty one),
/// persists the generation and answers every parked SyncGroup, the leader's included.
fn leader_sync(
    group: &mut Group,
    cfg: &GroupConfig,
    leader_id: &str,
    parked: Parked,
    assignments: impl Iterator<Item = (String, Bytes)>,
    now: i64,
    fx: &mut Effects,
) -> Result<(), i16> {
    let assignments: HashMap<String, Bytes> = assignments.collect();
    if assignments
        .values()
        .any(|a| a.len() > cfg.max_assignment_bytes)
    {
        // Refused, and the generation cannot go on without an assignment: start over.
        fx.respond(parked.token, sync_error(codes::INVALID_REQUEST));
        group.prepare_rebalance(cfg, now, fx);
        return Ok(());
    }
    group.pending_sync.remove(leader_id);
    let Some(leader) = group.members.get_mut(leader_id) else {
        return Err(codes::UNKNOWN_MEMBER_ID);
    };
    if let Some(old) = leader.awaiting_sync.replace(parked) {
        fx.respond(old.token, sync_error(codes::REBALANCE_IN_PROGRESS));
    }
    for member in group.members.values_mut() {
        member.assignment = assignments
            .get(&member.member_id)
            .cloned()
            .unwrap_or_default();
    }
    fx.records.push(GroupRecord::GroupMetadata {
        group_id: group.group_id.clone(),
        value: Some(group.to_record()),
    });
    group.transition(GroupState::Stable, now);
    let mut answers = Vec::new();
    for member in group.members.values_mut() {
        if let Some(p) = member.awaiting_sync.take() {
            member.touch(now);
            answers.push((p, member.assignment.clone()));
        }
    }
    for (p, assignment) in answers {
        fx.respond(p.token, group.sync_success(p.version, assignment));
    }
    Ok(())
}

fn heartbeat_code(group: &mut Group, request: &HeartbeatRequest, now: i64) -> i16 {
    let member_id = request.member_id.as_str();
    let instance_id = request.group_instance_id.as_deref();
    if let Err(code) = validate_member(group, member_id, instance_id, request.generation_id) {
        return code;
    }
    let state = group.state;
    if let Some(member) = group.members.get_mut(member_id) {
        member.touch(now);
    }
    match state {
        GroupState::Empty => codes::UNKNOWN_MEMBER_ID,
        GroupState::Dead => codes::COORDINATOR_NOT_AVAILABLE,
        GroupState::PreparingRebalance => codes::REBALANCE_IN_PROGRESS,
        // The member may have its join response and not have synced yet: fine.
        GroupState::CompletingRebalance | GroupState::Stable => codes::NONE,
    }
}

fn leave_member(
    group: &mut Group,
    cfg: &GroupConfig,
    member_id: &str,
    instance_id: Option<&str>,
    now: i64,
    fx: &mut Effects,
) -> i16 {
    let member_id = match (member_id.is_empty(), instance_id) {
        (true, Some(instance)) => match group.static_members.get(instance) {
            Some(current) => current.clone(),
            None => return codes::UNKNOWN_MEMBER_ID,
        },
        _ => member_id.to_string(),
    };
    if group.is_static_fenced(instance_id, &member_id) {
        return codes::FENCED_INSTANCE_ID;
    }
    if group.pending_members.remove(&member_id).is_some() {
        group.maybe_complete_join(now, fx);
        return codes::NONE;
    }
    if !group.members.contains_key(&member_id) {
        return codes::UNKNOWN_MEMBER_ID;
    }
    group.remove_member_and_update(cfg, &member_id, now, fx);
    codes::NONE
}
