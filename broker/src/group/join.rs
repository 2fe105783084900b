//! JoinGroup: new members, returning members, MEMBER_ID_REQUIRED (v4+), and static members
//! (KIP-345) that come back under a new member id.

use bytes::Bytes;
use kafka_protocol::messages::JoinGroupRequest;
use uuid::Uuid;

use super::classic_group::{Group, GroupState};
use super::codes;
use super::config::GroupConfig;
use super::consumer_persist;
use super::coordinator::{Effects, GroupCoordinator, RequestContext};
use super::member::{Member, Parked};
use super::rebalance::{join_error, s, sync_error};
use super::records::GroupRecord;

/// The parts of a JoinGroup the coordinator acts on, checked and converted.
#[derive(Debug)]
struct JoinArgs<'a> {
    /// Caller identity and version.
    ctx: &'a RequestContext<'a>,
    /// Static instance id (v5+).
    instance_id: Option<String>,
    /// Session timeout, within the configured bounds.
    session_timeout_ms: i32,
    /// Rebalance timeout (v0: the session timeout).
    rebalance_timeout_ms: i32,
    /// Protocol type.
    protocol_type: String,
    /// Protocols in preference order.
    protocols: Vec<(String, Bytes)>,
}

impl JoinArgs<'_> {
    fn parked(&self) -> Parked {
        Parked {
            token: self.ctx.token,
            version: self.ctx.api_version,
        }
    }

    /// Whether this join must first fetch a member id (KIP-394): v4+ dynamic members.
    fn requires_known_member_id(&self) -> bool {
        self.ctx.api_version >= 4 && self.instance_id.is_none()
    }

    /// A static member's id starts with its `group.instance.id`, a dynamic one's with its client
    /// id, as in Kafka. Clients see the difference: franz-go's and Java's assignors order
    /// members by id, so a restarted static member keeps its place in that order only if its
    /// new id sorts like the old one, and its recomputed assignment matches the one it gets back.
    fn new_member_id(&self) -> String {
        let prefix = self.instance_id.as_deref().unwrap_or(self.ctx.client_id);
        format!("{prefix}-{}", Uuid::new_v4())
    }
}

impl GroupCoordinator {
    /// JoinGroup v0-9. The response usually comes later (when the join phase completes), under
    /// `ctx.token`, from this or a later call.
    pub fn join_group(
        &mut self,
        ctx: &RequestContext<'_>,
        request: JoinGroupRequest,
        now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let group_id = request.group_id.0.to_string();
        let member_id = request.member_id.to_string();
        if let Err(code) = self.join_inner(ctx, request, now_ms, &mut fx) {
            fx.respond(ctx.token, join_error(ctx.api_version, &member_id, code));
        }
        self.drop_if_unused(&group_id);
        self.reschedule(&group_id);
        self.finish(fx)
    }

    fn join_inner(
        &mut self,
        ctx: &RequestContext<'_>,
        request: JoinGroupRequest,
        now: i64,
        fx: &mut Effects,
    ) -> Result<(), i16> {
        let group_id = request.group_id.0.to_string();
        let member_id = request.member_id.to_string();
        let args = self.check_join(ctx, request)?;
        if !self.groups.contains_key(&group_id) {
            if !member_id.is_empty() {
                return Err(codes::UNKNOWN_MEMBER_ID);
            }
            self.groups
                .insert(group_id.clone(), Group::new(group_id.clone(), now));
        }
        let cfg = &self.config;
        let group = self
            .groups
            .get_mut(&group_id)
            .ok_or(codes::COORDINATOR_NOT_AVAILABLE)?;
        if group.has_consumer_members() {
            // A classic member cannot join a KIP-848 group that has consumer members.
            return Err(codes::INCONSISTENT_GROUP_PROTOCOL);
        }
        if let Some(consumer) = group.consumer.take() {
            // An empty consumer group becomes a classic one, keeping its offsets.
            consumer_persist::tombstones(&group_id, &consumer, &mut fx.records);
            group.protocol_type = None;
        }
        if member_id.is_empty() {
            new_member_join(group, cfg, args, now, fx)
        } else {
            current_member_join(group, cfg, args, &member_id, now, fx)
        }
    }

    fn check_join<'a>(
        &self,
        ctx: &'a RequestContext<'a>,
        request: JoinGroupRequest,
    ) -> Result<JoinArgs<'a>, i16> {
        let cfg = &self.config;
        if request.group_id.0.is_empty() {
            return Err(codes::INVALID_GROUP_ID);
        }
        let session = request.session_timeout_ms;
        if session < cfg.min_session_timeout_ms || session > cfg.max_session_timeout_ms {
            return Err(codes::INVALID_SESSION_TIMEOUT);
        }
        if request
            .protocols
            .iter()
            .any(|p| p.metadata.len() > cfg.max_member_metadata_bytes)
        {
            return Err(codes::INVALID_REQUEST);
        }
        let rebalance = if ctx.api_version == 0 {
            session
        } else {
            request.rebalance_timeout_ms.max(0)
        };
        Ok(JoinArgs {
            ctx,
            instance_id: request.group_instance_id.map(|id| id.to_string()),
            session_timeout_ms: session,
            rebalance_timeout_ms: rebalance,
            protocol_type: request.protocol_type.to_string(),
            protocols: request
                .protocols
                .into_iter()
                .map(|p| (p.name.to_string(), p.metadata))
                .collect(),
        })
    }

    /// Forgets a group that a refused JoinGroup created and nothing else uses.
    fn drop_if_unused(&mut self, group_id: &str) {
        let unused = self.groups.get(group_id).is_some_and(|g| {
            g.state == GroupState::Empty
                && g.generation == 0
                && g.members.is_empty()
                && g.pending_members.is_empty()
                && !g.has_offsets()
                && !g.has_consumer_members()
        });
        if unused {
            self.remove_group(group_id);
        }
    }
}

/// How many members the next generation has so far, plus member ids reserved by
/// MEMBER_ID_REQUIRED (other than `except`): what `group.max.size` limits.
fn occupied(group: &Group, except: Option<&str>) -> usize {
    let members = match group.state {
        GroupState::PreparingRebalance => group.num_awaiting_join(),
        _ => group.members.len(),
    };
    let pending = group.pending_members.len()
        - except.map_or(0, |id| usize::from(group.pending_members.contains_key(id)));
    members + pending
}

fn new_member_join(
    group: &mut Group,
    cfg: &GroupConfig,
    args: JoinArgs<'_>,
    now: i64,
    fx: &mut Effects,
) -> Result<(), i16> {
    if !group.supports_protocols(&args.protocol_type, &args.protocols) {
        return Err(codes::INCONSISTENT_GROUP_PROTOCOL);
    }
    if let Some(instance_id) = &args.instance_id {
        if let Some(old_id) = group.static_members.get(instance_id).cloned() {
            return replace_static_member(group, cfg, args, &old_id, now, fx);
        }
    }
    if occupied(group, None) >= cfg.max_size {
        return Err(codes::GROUP_MAX_SIZE_REACHED);
    }
    let member_id = args.new_member_id();
    if args.requires_known_member_id() {
        let deadline = now.saturating_add(i64::from(args.session_timeout_ms));
        group.pending_members.insert(member_id.clone(), deadline);
        let response = join_error(args.ctx.api_version, &member_id, codes::MEMBER_ID_REQUIRED);
        fx.respond(args.ctx.token, response);
        return Ok(());
    }
    add_member_and_rebalance(group, cfg, args, member_id, now, fx);
    Ok(())
}

fn current_member_join(
    group: &mut Group,
    cfg: &GroupConfig,
    args: JoinArgs<'_>,
    member_id: &str,
    now: i64,
    fx: &mut Effects,
) -> Result<(), i16> {
    if group.pending_members.contains_key(member_id) {
        if !group.supports_protocols(&args.protocol_type, &args.protocols) {
            return Err(codes::INCONSISTENT_GROUP_PROTOCOL);
        }
        if occupied(group, Some(member_id)) >= cfg.max_size {
            group.pending_members.remove(member_id);
            return Err(codes::GROUP_MAX_SIZE_REACHED);
        }
        group.pending_members.remove(member_id);
        add_member_and_rebalance(group, cfg, args, member_id.to_string(), now, fx);
        return Ok(());
    }
    if group.is_static_fenced(args.instance_id.as_deref(), member_id) {
        return Err(codes::FENCED_INSTANCE_ID);
    }
    let Some(member) = group.members.get(member_id) else {
        return Err(codes::UNKNOWN_MEMBER_ID);
    };
    if !group.supports_protocols(&args.protocol_type, &args.protocols) {
        return Err(codes::INCONSISTENT_GROUP_PROTOCOL);
    }
    let unchanged = member.matches(&args.protocols);
    let leader = group.is_leader(member_id);
    let version = args.ctx.api_version;
    match group.state {
        GroupState::PreparingRebalance => {}
        // It may have missed the join response: repeat it.
        GroupState::CompletingRebalance if unchanged => {
            let response = group.join_success(member_id, version, leader, false);
            fx.respond(args.ctx.token, response);
            return Ok(());
        }
        // A follower with unchanged protocols has nothing to rebalance for; a leader's join
        // is how it asks for a rebalance (e.g. topic metadata changed).
        GroupState::Stable if unchanged && !leader => {
            if let Some(member) = group.members.get_mut(member_id) {
                member.touch(now);
            }
            let response = group.join_success(member_id, version, false, false);
            fx.respond(args.ctx.token, response);
            return Ok(());
        }
        GroupState::CompletingRebalance | GroupState::Stable => {}
        GroupState::Empty | GroupState::Dead => return Err(codes::UNKNOWN_MEMBER_ID),
    }
    update_member_and_rebalance(group, cfg, args, member_id, now, fx);
    Ok(())
}

fn add_member_and_rebalance(
    group: &mut Group,
    cfg: &GroupConfig,
    args: JoinArgs<'_>,
    member_id: String,
    now: i64,
    fx: &mut Effects,
) {
    let member = Member {
        member_id,
        group_instance_id: args.instance_id.clone(),
        client_id: args.ctx.client_id.to_string(),
        client_host: args.ctx.client_host.to_string(),
        rebalance_timeout_ms: args.rebalance_timeout_ms,
        session_timeout_ms: args.session_timeout_ms,
        protocols: args.protocols.clone(),
        assignment: Bytes::new(),
        awaiting_join: Some(args.parked()),
        awaiting_sync: None,
        heartbeat_deadline: now.saturating_add(i64::from(args.session_timeout_ms)),
    };
    group.add_member(member, &args.protocol_type);
    if let Some(initial) = &mut group.initial_join {
        initial.new_member_added = true;
    }
    group.maybe_prepare_rebalance(cfg, now, fx);
}

fn update_member_and_rebalance(
    group: &mut Group,
    cfg: &GroupConfig,
    args: JoinArgs<'_>,
    member_id: &str,
    now: i64,
    fx: &mut Effects,
) {
    if let Some(member) = group.members.get_mut(member_id) {
        // A member can only wait on one join; the older request must still get an answer, or
        // its connection (which answers in order) would stall.
        if let Some(old) = member.awaiting_join.replace(args.parked()) {
            let response = join_error(old.version, member_id, codes::REBALANCE_IN_PROGRESS);
            fx.respond(old.token, response);
        }
        member.protocols = args.protocols;
        member.rebalance_timeout_ms = args.rebalance_timeout_ms;
        member.session_timeout_ms = args.session_timeout_ms;
        member.client_id = args.ctx.client_id.to_string();
        member.client_host = args.ctx.client_host.to_string();
    }
    group.maybe_prepare_rebalance(cfg, now, fx);
}

/// KIP-345: a known `group.instance.id` joins without a member id (a restarted static member).
/// It takes over the old member's place under a new id, fencing the old id. In a Stable group
/// whose selected protocol stays the same with the member's new protocols, it keeps its
/// assignment and no rebalance happens: the response carries the current generation and
/// leader, and the group is persisted with the new id and metadata. Otherwise it rejoins like
/// any member and the group rebalances. The metadata bytes may differ (a cooperative-sticky
/// client restarts owning nothing), which is why only the protocol choice is compared, as Kafka
/// does: comparing bytes would turn every such restart into a rebalance.
fn replace_static_member(
    group: &mut Group,
    cfg: &GroupConfig,
    args: JoinArgs<'_>,
    old_id: &str,
    now: i64,
    fx: &mut Effects,
) -> Result<(), i16> {
    let Some(mut member) = group.members.remove(old_id) else {
        return Err(codes::UNKNOWN_MEMBER_ID);
    };
    if let Some(p) = member.awaiting_join.take() {
        fx.respond(
            p.token,
            join_error(p.version, old_id, codes::FENCED_INSTANCE_ID),
        );
    }
    if let Some(p) = member.awaiting_sync.take() {
        fx.respond(p.token, sync_error(codes::FENCED_INSTANCE_ID));
    }
    let new_id = args.new_member_id();
    let old_protocols = std::mem::replace(&mut member.protocols, args.protocols.clone());
    member.member_id = new_id.clone();
    if let Some(instance_id) = &args.instance_id {
        group
            .static_members
            .insert(instance_id.clone(), new_id.clone());
    }
    // Before v9 a returning leader is told the OLD leader id: it then acts as a follower and
    // takes its assignment back instead of assigning over a member list it is not given.
    let leader_before = group.leader.clone().unwrap_or_default();
    if group.is_leader(old_id) {
        group.leader = Some(new_id.clone());
    }
    if group.pending_sync.remove(old_id) {
        group.pending_sync.insert(new_id.clone());
    }
    group.members.insert(new_id.clone(), member);
    let unchanged = group.state == GroupState::Stable && group.select_protocol() == group.protocol;
    let Some(member) = group.members.get_mut(&new_id) else {
        return Err(codes::UNKNOWN_MEMBER_ID);
    };
    if unchanged {
        member.client_id = args.ctx.client_id.to_string();
        member.client_host = args.ctx.client_host.to_string();
        member.rebalance_timeout_ms = args.rebalance_timeout_ms;
        member.session_timeout_ms = args.session_timeout_ms;
        member.touch(now);
        fx.records.push(GroupRecord::GroupMetadata {
            group_id: group.group_id.clone(),
            value: Some(group.to_record()),
        });
        let version = args.ctx.api_version;
        let leader = group.is_leader(&new_id);
        // A v9+ leader gets the members but is told to skip assigning; older clients see the
        // old leader id, so none of them believes it must assign.
        let mut response = group.join_success(&new_id, version, leader && version >= 9, leader);
        if version < 9 {
            response.leader = s(&leader_before);
        }
        fx.respond(args.ctx.token, response);
        return Ok(());
    }
    // The rebalance path records the new protocols itself, from `args`.
    member.protocols = old_protocols;
    update_member_and_rebalance(group, cfg, args, &new_id, now, fx);
    Ok(())
}
