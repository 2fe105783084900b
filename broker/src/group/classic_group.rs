//! `Group`: one classic group's state, its states, and the bookkeeping the transitions use.
//!
//! The transitions themselves (what each request or deadline does) live in `rebalance.rs`,
//! `join.rs`, `sync.rs` and `offsets.rs`; this file holds the data and the small operations
//! they share.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;

use super::consumer_group::ConsumerGroup;
use super::member::{subscribed_topics, Member};
use super::records::{GroupMetadataValue, MemberMetadataValue, OffsetCommitValue};

/// The states of a classic group, as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members. A group starts here (first JoinGroup, or first simple offset commit) and
    /// returns here when a rebalance ends with nobody left. -> PreparingRebalance when a member
    /// joins (the first rebalance waits `group.initial.rebalance.delay.ms`); -> Dead when
    /// deleted (DeleteGroups, or offset expiry leaving it with no offsets).
    Empty,
    /// A rebalance is collecting JoinGroups; every join is parked. -> CompletingRebalance when
    /// all known members have rejoined (or the rebalance timeout / initial delay runs out:
    /// members that did not rejoin are removed), with the next generation, a leader and the
    /// selected protocol; -> Empty if nobody is left at that point.
    PreparingRebalance,
    /// The join responses went out; the coordinator waits for the leader's SyncGroup with the
    /// assignment while followers' SyncGroups park. -> Stable when the leader's assignment
    /// arrives; -> PreparingRebalance when a member joins with new protocols, leaves, times out,
    /// or does not send SyncGroup within the rebalance timeout.
    CompletingRebalance,
    /// Every member has its assignment; heartbeats keep sessions alive. -> PreparingRebalance
    /// when a member joins or leaves, the leader rejoins, or a session or pending sync expires.
    Stable,
    /// Deleted. The coordinator drops dead groups from its map, so this state is only ever
    /// reported (DescribeGroups of an unknown group says "Dead", as Kafka does).
    Dead,
}

impl GroupState {
    /// Kafka's name for the state, as DescribeGroups and ListGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Progress of the first rebalance of an empty group (Kafka's "initial delayed join").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialJoin {
    /// How much of the rebalance timeout is left for further extensions.
    pub remaining_ms: i64,
    /// Whether a member arrived since the delay was last (re)armed.
    pub new_member_added: bool,
}

/// One classic group: membership, rebalance progress and committed offsets. Owned by the
/// `GroupCoordinator`; not shared between threads.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group id.
    pub group_id: String,
    /// Current state.
    pub state: GroupState,
    /// When `state` was entered (ms).
    pub current_state_timestamp: i64,
    /// Protocol type of the members; `None` for a simple group that only commits offsets.
    pub protocol_type: Option<String>,
    /// Generation id; bumped each time a join phase completes.
    pub generation: i32,
    /// Protocol (assignor) selected for the current generation.
    pub protocol: Option<String>,
    /// Leader of the current generation (or of the one being formed).
    pub leader: Option<String>,
    /// Members by member id (sorted, so leader choice and listings are deterministic).
    pub members: BTreeMap<String, Member>,
    /// Static members: group instance id -> current member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the deadline by which they must join.
    pub pending_members: HashMap<String, i64>,
    /// Members of the new generation that have not sent SyncGroup yet.
    pub pending_sync: HashSet<String>,
    /// When the join phase ends at the latest (PreparingRebalance only).
    pub join_deadline: i64,
    /// Set while the first rebalance after Empty is in its initial delay.
    pub initial_join: Option<InitialJoin>,
    /// When members still in `pending_sync` are removed.
    pub sync_deadline: i64,
    /// Committed offsets: topic -> partition -> offset.
    pub offsets: BTreeMap<String, BTreeMap<i32, OffsetCommitValue>>,
    /// Set when this is a KIP-848 consumer group: its membership and assignment. The classic
    /// fields above then stay empty (state Empty) and only `offsets` is shared, so both group
    /// types live in one namespace and share offset handling.
    pub consumer: Option<ConsumerGroup>,
}

impl Group {
    /// A new, empty group.
    pub fn new(group_id: String, now_ms: i64) -> Self {
        Self {
            group_id,
            state: GroupState::Empty,
            current_state_timestamp: now_ms,
            protocol_type: None,
            generation: 0,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            join_deadline: 0,
            initial_join: None,
            sync_deadline: 0,
            offsets: BTreeMap::new(),
            consumer: None,
        }
    }

    /// Enters `state`, remembering when.
    pub fn transition(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.current_state_timestamp = now_ms;
    }

    /// Protocols every member supports, in the first member's order of preference.
    pub fn candidate_protocols(&self) -> Vec<&str> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| members.clone().all(|m| m.metadata(name).is_some()))
            .collect()
    }

    /// The protocol with the most votes among the candidates, each member voting for its most
    /// preferred candidate; ties go to the candidate listed first.
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes = vec![0usize; candidates.len()];
        for member in self.members.values() {
            if let Some(choice) = member.vote(&candidates) {
                if let Some(i) = candidates.iter().position(|c| *c == choice) {
                    votes[i] += 1;
                }
            }
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, count) in votes.into_iter().enumerate() {
            if best.is_none_or(|(_, top)| count > top) {
                best = Some((i, count));
            }
        }
        best.map(|(i, _)| candidates[i].to_string())
    }

    /// Whether a member with these protocols may join: any non-empty set starts an empty group;
    /// otherwise the type must match and one protocol must be supported by every member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.state == GroupState::Empty || self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols
            .iter()
            .any(|(name, _)| candidates.contains(&name.as_str()))
    }

    /// The longest rebalance timeout among the members: how long a rebalance waits.
    pub fn rebalance_timeout_ms(&self) -> i32 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Members whose JoinGroup is parked.
    pub fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    /// Whether the join phase has heard from everyone it waits for.
    pub fn all_members_joined(&self) -> bool {
        self.num_awaiting_join() == self.members.len() && self.pending_members.is_empty()
    }

    /// Whether `member_id` is the leader.
    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// KIP-345 fencing: the instance id is registered to another member id.
    pub fn is_static_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        instance_id
            .and_then(|id| self.static_members.get(id))
            .is_some_and(|current| current != member_id)
    }

    /// Adds a member; the first member fixes the protocol type and becomes leader.
    pub fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_string());
        }
        if let Some(instance_id) = &member.group_instance_id {
            self.static_members
                .insert(instance_id.clone(), member.member_id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.member_id.clone());
        }
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (not its parked requests: the caller answers those). A departing
    /// leader is replaced by a member that has rejoined, if any, else by any member.
    pub fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let member = self.members.remove(member_id)?;
        if let Some(instance_id) = &member.group_instance_id {
            if self.static_members.get(instance_id).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance_id);
            }
        }
        self.pending_sync.remove(member_id);
        if self.is_leader(member_id) {
            let next = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .or_else(|| self.members.values().next());
            self.leader = next.map(|m| m.member_id.clone());
        }
        Some(member)
    }

    /// Whether this is a consumer group with members (classic requests must not touch it).
    pub fn has_consumer_members(&self) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| !c.members.is_empty())
    }

    /// Whether any offset is committed.
    pub fn has_offsets(&self) -> bool {
        self.offsets.values().any(|p| !p.is_empty())
    }

    /// Topics the members of a "consumer" group subscribe to, from their subscription metadata;
    /// `None` when unknown (other protocol types, or metadata that does not parse).
    pub fn subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = BTreeSet::new();
        for member in self.members.values() {
            topics.extend(subscribed_topics(member.metadata(protocol)?)?);
        }
        Some(topics)
    }

    /// The earliest time at which `tick` has something to do for this group.
    pub fn next_deadline(&self) -> Option<i64> {
        let mut deadlines: Vec<i64> = self.pending_members.values().copied().collect();
        deadlines.extend(
            self.consumer
                .as_ref()
                .and_then(ConsumerGroup::next_deadline),
        );
        deadlines.extend(self.members.values().filter_map(Member::session_deadline));
        match self.state {
            GroupState::PreparingRebalance => deadlines.push(self.join_deadline),
            GroupState::CompletingRebalance | GroupState::Stable
                if !self.pending_sync.is_empty() =>
            {
                deadlines.push(self.sync_deadline)
            }
            _ => {}
        }
        deadlines.into_iter().min()
    }

    /// The group metadata record for the current generation.
    pub fn to_record(&self) -> GroupMetadataValue {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.current_state_timestamp,
            members: self
                .members
                .values()
                .map(|m| MemberMetadataValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(protocol).cloned().unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// Rebuilds membership from a group metadata record (log replay). A loaded group with
    /// members is Stable, as in Kafka; their sessions start at `GroupCoordinator::complete_load`.
    pub fn load_record(&mut self, value: GroupMetadataValue) {
        self.protocol_type = Some(value.protocol_type).filter(|t| !t.is_empty());
        self.generation = value.generation;
        self.protocol = value.protocol;
        self.leader = value.leader;
        self.members.clear();
        self.static_members.clear();
        self.pending_members.clear();
        self.pending_sync.clear();
        self.initial_join = None;
        for m in value.members {
            let protocols = match &self.protocol {
                Some(name) => vec![(name.clone(), m.subscription)],
                None => Vec::new(),
            };
            if let Some(instance_id) = &m.group_instance_id {
                self.static_members
                    .insert(instance_id.clone(), m.member_id.clone());
            }
            let member = Member {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                protocols,
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                heartbeat_deadline: i64::MAX,
            };
            self.members.insert(member.member_id.clone(), member);
        }
        let state = if self.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        self.transition(state, value.current_state_timestamp);
    }

    /// Forgets membership after a group tombstone, keeping offsets (as a simple group).
    pub fn reset_membership(&mut self, now_ms: i64) {
        let offsets = std::mem::take(&mut self.offsets);
        *self = Group::new(std::mem::take(&mut self.group_id), now_ms);
        self.offsets = offsets;
    }
}
