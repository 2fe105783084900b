//! The rebalance machinery of one group: entering a rebalance, completing the join phase into
//! a new generation, removing members, and what each deadline does. Also the builders of the
//! JoinGroup/SyncGroup responses that parked requests receive.

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use super::classic_group::{Group, GroupState, InitialJoin};
use super::codes;
use super::config::GroupConfig;
use super::coordinator::Effects;
use super::records::GroupRecord;

/// A string for the wire.
pub(crate) fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

/// A JoinGroup error response. Before v7 the protocol name is not nullable, so it is "".
pub(crate) fn join_error(version: i16, member_id: &str, error: i16) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(error)
        .with_generation_id(-1)
        .with_protocol_name((version < 7).then(|| s("")))
        .with_member_id(s(member_id))
}

/// A SyncGroup error response: the assignment is an empty byte string, never null.
pub(crate) fn sync_error(error: i16) -> SyncGroupResponse {
    SyncGroupResponse::default()
        .with_error_code(error)
        .with_assignment(Bytes::new())
}

impl Group {
    /// A successful JoinGroup response for `member_id` describing the current generation.
    /// `with_members` hands over every member's metadata (the leader's job is to assign);
    /// `skip_assignment` (v9+) tells a static leader rejoining without a rebalance to keep the
    /// current assignment.
    pub(crate) fn join_success(
        &self,
        member_id: &str,
        version: i16,
        with_members: bool,
        skip_assignment: bool,
    ) -> JoinGroupResponse {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        let members = if with_members {
            self.members
                .values()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(&m.member_id))
                        .with_group_instance_id(m.group_instance_id.as_deref().map(s))
                        .with_metadata(m.metadata(protocol).cloned().unwrap_or_default())
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse::default()
            .with_generation_id(self.generation)
            .with_protocol_type(self.protocol_type.as_deref().map(s))
            .with_protocol_name(Some(s(protocol)))
            .with_leader(s(self.leader.as_deref().unwrap_or_default()))
            .with_skip_assignment(skip_assignment && version >= 9)
            .with_member_id(s(member_id))
            .with_members(members)
    }

    /// A successful SyncGroup response carrying `assignment`.
    pub(crate) fn sync_success(&self, version: i16, assignment: Bytes) -> SyncGroupResponse {
        let response = SyncGroupResponse::default().with_assignment(assignment);
        if version >= 5 {
            response
                .with_protocol_type(self.protocol_type.as_deref().map(s))
                .with_protocol_name(self.protocol.as_deref().map(s))
        } else {
            response
        }
    }

    /// Starts a rebalance: from Empty with the initial delay, otherwise with the longest
    /// member rebalance timeout. Assignments of an unfinished generation are void, so parked
    /// SyncGroups get REBALANCE_IN_PROGRESS.
    pub(crate) fn prepare_rebalance(&mut self, cfg: &GroupConfig, now: i64, fx: &mut Effects) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.values_mut() {
                member.assignment = Bytes::new();
                if let Some(parked) = member.awaiting_sync.take() {
                    fx.respond(parked.token, sync_error(codes::REBALANCE_IN_PROGRESS));
                    member.touch(now);
                }
            }
        }
        self.pending_sync.clear();
        let timeout = i64::from(self.rebalance_timeout_ms());
        let delay = i64::from(cfg.initial_rebalance_delay_ms);
        if self.state == GroupState::Empty && delay > 0 {
            self.join_deadline = now.saturating_add(delay);
            self.initial_join = Some(InitialJoin {
                remaining_ms: (timeout - delay).max(0),
                new_member_added: false,
            });
        } else {
            self.join_deadline = now.saturating_add(timeout);
            self.initial_join = None;
        }
        self.transition(GroupState::PreparingRebalance, now);
        self.maybe_complete_join(now, fx);
    }

    /// Rebalances unless one is already collecting joins, in which case it may now be done.
    pub(crate) fn maybe_prepare_rebalance(
        &mut self,
        cfg: &GroupConfig,
        now: i64,
        fx: &mut Effects,
    ) {
        match self.state {
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(cfg, now, fx)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now, fx),
            GroupState::Dead => {}
        }
    }

    /// Completes the join phase early once everyone it waits for has joined. The first
    /// rebalance of an empty group always waits out its initial delay, to gather members that
    /// start together.
    pub(crate) fn maybe_complete_join(&mut self, now: i64, fx: &mut Effects) {
        if self.state == GroupState::PreparingRebalance
            && self.initial_join.is_none()
            && self.all_members_joined()
        {
            self.complete_join(now, fx);
        }
    }

    /// Ends the join phase: members that did not rejoin are dropped, the generation advances,
    /// and every parked JoinGroup is answered (the leader with all members' metadata). A group
    /// left without members becomes Empty and is persisted as such.
    pub(crate) fn complete_join(&mut self, now: i64, fx: &mut Effects) {
        let stale: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in stale {
            self.remove_member(&member_id);
        }
        self.initial_join = None;
        self.generation = self.generation.saturating_add(1);
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.transition(GroupState::Empty, now);
            fx.records.push(GroupRecord::GroupMetadata {
                group_id: self.group_id.clone(),
                value: Some(self.to_record()),
            });
            return;
        }
        self.protocol = self.select_protocol();
        self.transition(GroupState::CompletingRebalance, now);
        self.pending_sync = self.members.keys().cloned().collect();
        self.sync_deadline = now.saturating_add(i64::from(self.rebalance_timeout_ms()));
        let mut parked = Vec::new();
        for member in self.members.values_mut() {
            member.touch(now);
            if let Some(p) = member.awaiting_join.take() {
                parked.push((member.member_id.clone(), p));
            }
        }
        for (member_id, p) in parked {
            let leader = self.is_leader(&member_id);
            let response = self.join_success(&member_id, p.version, leader, false);
            fx.respond(p.token, response);
        }
    }

    /// Removes a member, answers its parked requests with UNKNOWN_MEMBER_ID, and rebalances
    /// (or lets a rebalance in progress finish without it).
    pub(crate) fn remove_member_and_update(
        &mut self,
        cfg: &GroupConfig,
        member_id: &str,
        now: i64,
        fx: &mut Effects,
    ) {
        let Some(mut member) = self.remove_member(member_id) else {
            return;
        };
        if let Some(p) = member.awaiting_join.take() {
            fx.respond(
                p.token,
                join_error(p.version, member_id, codes::UNKNOWN_MEMBER_ID),
            );
        }
        if let Some(p) = member.awaiting_sync.take() {
            fx.respond(p.token, sync_error(codes::UNKNOWN_MEMBER_ID));
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(cfg, now, fx)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now, fx),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Does whatever is due at `now`; mirrors the deadlines `next_deadline` reports.
    pub(crate) fn on_deadlines(&mut self, cfg: &GroupConfig, now: i64, fx: &mut Effects) {
        let before = self.pending_members.len();
        self.pending_members.retain(|_, deadline| *deadline > now);
        if self.pending_members.len() != before {
            self.maybe_complete_join(now, fx);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.session_expired(now))
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in expired {
            tracing::debug!(group = %self.group_id, %member_id, "session expired");
            self.remove_member_and_update(cfg, &member_id, now, fx);
        }
        if self.state == GroupState::PreparingRebalance && self.join_deadline <= now {
            self.on_join_deadline(cfg, now, fx);
        }
        let syncing = matches!(
            self.state,
            GroupState::CompletingRebalance | GroupState::Stable
        );
        if syncing && !self.pending_sync.is_empty() && self.sync_deadline <= now {
            let mut late: Vec<String> = self.pending_sync.drain().collect();
            late.sort();
            for member_id in late {
                tracing::debug!(group = %self.group_id, %member_id, "no SyncGroup in time");
                self.remove_member_and_update(cfg, &member_id, now, fx);
            }
        }
    }

    /// The join phase's timer: extends the initial delay while members keep arriving (within
    /// the rebalance timeout), otherwise completes the join with whoever has joined.
    fn on_join_deadline(&mut self, cfg: &GroupConfig, now: i64, fx: &mut Effects) {
        if let Some(initial) = self.initial_join {
            if initial.new_member_added && initial.remaining_ms > 0 {
                let delay = i64::from(cfg.initial_rebalance_delay_ms).min(initial.remaining_ms);
                self.initial_join = Some(InitialJoin {
                    remaining_ms: initial.remaining_ms - delay,
                    new_member_added: false,
                });
                self.join_deadline = now.saturating_add(delay);
                return;
            }
        }
        self.complete_join(now, fx);
    }
}
