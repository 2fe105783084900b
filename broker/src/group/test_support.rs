//! Test harness: a coordinator driven by a fake clock (plain i64s), with helpers that build
//! requests, collect responses by token and check every response encodes at its version.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, OffsetCommitRequest, ResponseKind, SyncGroupRequest, SyncGroupResponse,
    TopicName,
};

use super::rebalance::s;
use super::{Effects, GroupConfig, GroupCoordinator, GroupRecord, RequestContext, RequestToken};

/// Session timeout the helpers join with.
pub const SESSION_MS: i32 = 10_000;
/// Rebalance timeout the helpers join with.
pub const REBALANCE_MS: i32 = 30_000;

/// A `ConsumerProtocolSubscription` v0 naming `topics`.
pub fn subscription(topics: &[&str]) -> Bytes {
    let mut raw = vec![0u8, 0];
    raw.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        raw.extend_from_slice(&(t.len() as i16).to_be_bytes());
        raw.extend_from_slice(t.as_bytes());
    }
    raw.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(raw)
}

/// The coordinator under test, its fake clock and everything it has emitted.
pub struct H {
    pub c: GroupCoordinator,
    pub now: i64,
    next_token: u64,
    versions: HashMap<RequestToken, i16>,
    answered: HashMap<RequestToken, ResponseKind>,
    pub records: Vec<GroupRecord>,
}

impl H {
    pub fn new(config: GroupConfig) -> Self {
        Self::loaded(GroupCoordinator::new(config), 1_000_000)
    }

    /// Wraps a coordinator that has replayed its records (not yet `complete_load`ed) at `now`.
    pub fn loaded(c: GroupCoordinator, now: i64) -> Self {
        let mut h = Self {
            c,
            now,
            next_token: 0,
            versions: HashMap::new(),
            answered: HashMap::new(),
            records: Vec::new(),
        };
        let fx = h.c.complete_load(h.now);
        h.apply(fx);
        h
    }

    pub fn token(&mut self, version: i16) -> RequestToken {
        self.next_token += 1;
        let token = RequestToken(self.next_token);
        self.versions.insert(token, version);
        token
    }

    pub fn ctx(token: RequestToken, version: i16) -> RequestContext<'static> {
        RequestContext {
            token,
            api_version: version,
            client_id: "client",
            client_host: "/127.0.0.1",
        }
    }

    /// Absorbs effects: every response must encode at its request's version and no token may
    /// be answered twice.
    pub fn apply(&mut self, fx: Effects) {
        for (token, response) in fx.responses {
            let version = self.versions[&token];
            let mut buf = BytesMut::new();
            if let Err(e) = response.encode(&mut buf, version) {
                panic!("response for {token:?} does not encode at v{version}: {e}: {response:?}");
            }
            assert!(
                self.answered.insert(token, response).is_none(),
                "{token:?} answered twice"
            );
        }
        self.records.extend(fx.records);
        if let Some(at) = fx.next_deadline {
            assert!(at > self.now - 1, "deadline in the past");
        }
    }

    /// Moves the clock forward by `ms`, ticking at every deadline on the way.
    pub fn advance(&mut self, ms: i64) {
        let target = self.now + ms;
        for _ in 0..10_000 {
            match self.c.next_deadline() {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    let fx = self.c.tick(self.now);
                    self.apply(fx);
                }
                _ => {
                    self.now = target;
                    return;
                }
            }
        }
        panic!("tick made no progress");
    }

    pub fn answered(&self, token: RequestToken) -> bool {
        self.answered.contains_key(&token)
    }

    pub fn join_response(&mut self, token: RequestToken) -> Option<JoinGroupResponse> {
        match self.answered.remove(&token)? {
            ResponseKind::JoinGroup(r) => Some(r),
            other => panic!("not a join response: {other:?}"),
        }
    }

    pub fn sync_response(&mut self, token: RequestToken) -> Option<SyncGroupResponse> {
        match self.answered.remove(&token)? {
            ResponseKind::SyncGroup(r) => Some(r),
            other => panic!("not a sync response: {other:?}"),
        }
    }

    pub fn take(&mut self, token: RequestToken) -> ResponseKind {
        self.answered
            .remove(&token)
            .unwrap_or_else(|| panic!("{token:?} not answered"))
    }

    /// A JoinGroup request as the helpers send it.
    pub fn join_request(
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        protocols: &[(&str, Bytes)],
    ) -> JoinGroupRequest {
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_session_timeout_ms(SESSION_MS)
            .with_rebalance_timeout_ms(REBALANCE_MS)
            .with_member_id(s(member_id))
            .with_group_instance_id(instance.map(s))
            .with_protocol_type(s("consumer"))
            .with_protocols(
                protocols
                    .iter()
                    .map(|(name, meta)| {
                        JoinGroupRequestProtocol::default()
                            .with_name(s(name))
                            .with_metadata(meta.clone())
                    })
                    .collect(),
            )
    }

    pub fn send_join(&mut self, request: JoinGroupRequest, version: i16) -> RequestToken {
        let token = self.token(version);
        let fx = self
            .c
            .join_group(&Self::ctx(token, version), request, self.now);
        self.apply(fx);
        token
    }

    pub fn join(
        &mut self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        protocols: &[(&str, Bytes)],
        version: i16,
    ) -> RequestToken {
        self.send_join(
            Self::join_request(group, member_id, instance, protocols),
            version,
        )
    }

    /// A dynamic v5 member's first join: MEMBER_ID_REQUIRED, then the real (parked) join.
    pub fn join_new(&mut self, group: &str, protocols: &[(&str, Bytes)]) -> (String, RequestToken) {
        let first = self.join(group, "", None, protocols, 5);
        let response = self.join_response(first).expect("member id required");
        assert_eq!(response.error_code, 79);
        let member_id = response.member_id.to_string();
        assert!(member_id.starts_with("client-"), "{member_id}");
        let token = self.join(group, &member_id, None, protocols, 5);
        (member_id, token)
    }

    pub fn sync(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        assignments: &[(&str, &[u8])],
        version: i16,
    ) -> RequestToken {
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation)
            .with_member_id(s(member_id))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(s(m))
                            .with_assignment(Bytes::copy_from_slice(a))
                    })
                    .collect(),
            );
        self.send_sync(request, version)
    }

    pub fn send_sync(&mut self, request: SyncGroupRequest, version: i16) -> RequestToken {
        let token = self.token(version);
        let fx = self
            .c
            .sync_group(&Self::ctx(token, version), request, self.now);
        self.apply(fx);
        token
    }

    pub fn heartbeat_as(
        &mut self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> i16 {
        let token = self.token(4);
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s(member_id))
            .with_group_instance_id(instance.map(s))
            .with_generation_id(generation);
        let fx = self.c.heartbeat(&Self::ctx(token, 4), request, self.now);
        self.apply(fx);
        match self.take(token) {
            ResponseKind::Heartbeat(r) => r.error_code,
            other => panic!("{other:?}"),
        }
    }

    pub fn heartbeat(&mut self, group: &str, member_id: &str, generation: i32) -> i16 {
        self.heartbeat_as(group, member_id, None, generation)
    }

    pub fn leave(
        &mut self,
        group: &str,
        members: &[(&str, Option<&str>)],
        version: i16,
    ) -> LeaveGroupResponse {
        let token = self.token(version);
        let mut request = LeaveGroupRequest::default().with_group_id(GroupId(s(group)));
        if version >= 3 {
            request = request.with_members(
                members
                    .iter()
                    .map(|(m, i)| {
                        MemberIdentity::default()
                            .with_member_id(s(m))
                            .with_group_instance_id(i.map(s))
                    })
                    .collect(),
            );
        } else {
            request = request.with_member_id(s(members[0].0));
        }
        let fx = self
            .c
            .leave_group(&Self::ctx(token, version), request, self.now);
        self.apply(fx);
        match self.take(token) {
            ResponseKind::LeaveGroup(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// Commits one offset; returns the partition's error code.
    pub fn commit(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        (topic, partition, offset): (&str, i32, i64),
        version: i16,
    ) -> i16 {
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(member_id))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(if version >= 6 { 7 } else { -1 })
                    .with_committed_metadata(Some(s("meta")))])]);
        self.send_commit(request, version)
    }

    pub fn send_commit(&mut self, request: OffsetCommitRequest, version: i16) -> i16 {
        let token = self.token(version);
        let fx = self
            .c
            .offset_commit(&Self::ctx(token, version), request, self.now);
        self.apply(fx);
        match self.take(token) {
            ResponseKind::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
            other => panic!("{other:?}"),
        }
    }

    /// Forms a Stable group of `n` dynamic members with `protocols`: joins, waits out the
    /// initial delay, and syncs with assignment `[i]` for the i-th member (sorted by id).
    /// Returns (generation, leader, member ids sorted).
    pub fn form_group(&mut self, group: &str, n: usize, protocols: &[(&str, Bytes)]) -> Formed {
        let joins: Vec<(String, RequestToken)> =
            (0..n).map(|_| self.join_new(group, protocols)).collect();
        // Members arriving during the initial delay re-arm it once.
        self.advance(2 * i64::from(self.c.config().initial_rebalance_delay_ms));
        self.finish_rebalance(group, joins)
    }

    /// Collects the join responses of `joins`, then syncs everyone (leader last).
    pub fn finish_rebalance(&mut self, group: &str, joins: Vec<(String, RequestToken)>) -> Formed {
        let mut generation = -1;
        let mut leader = String::new();
        for (member_id, token) in &joins {
            let r = self.join_response(*token).expect("join answered");
            assert_eq!(r.error_code, 0, "{member_id}");
            generation = r.generation_id;
            leader = r.leader.to_string();
        }
        let mut members: Vec<String> = joins.into_iter().map(|(m, _)| m).collect();
        members.sort();
        let assignments: Vec<(String, Vec<u8>)> = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), vec![i as u8]))
            .collect();
        let mut syncs = Vec::new();
        for m in members.iter().filter(|m| **m != leader) {
            syncs.push(self.sync(group, m, generation, &[], 3));
        }
        let refs: Vec<(&str, &[u8])> = assignments
            .iter()
            .map(|(m, a)| (m.as_str(), a.as_slice()))
            .collect();
        syncs.push(self.sync(group, &leader, generation, &refs, 3));
        for token in syncs {
            let r = self.sync_response(token).expect("sync answered");
            assert_eq!(r.error_code, 0);
        }
        Formed {
            generation,
            leader,
            members,
        }
    }
}

/// A group formed by `H::form_group`.
#[derive(Debug, Clone)]
pub struct Formed {
    pub generation: i32,
    pub leader: String,
    pub members: Vec<String>,
}

impl Formed {
    /// A member other than the leader.
    pub fn follower(&self) -> &str {
        self.members
            .iter()
            .find(|m| **m != self.leader)
            .map(String::as_str)
            .expect("a follower")
    }
}
