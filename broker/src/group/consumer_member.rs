//! `ConsumerMember`: one member of a KIP-848 consumer group, and its reconciliation towards
//! the group's target assignment.

use std::collections::BTreeSet;

use super::assignor::Assignment;

/// Member epoch of a member that left for good (ConsumerGroupHeartbeat `member_epoch` -1).
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// Member epoch of a static member that left temporarily (-2): it keeps its assignment until
/// its session expires or its instance id rejoins.
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// Where a member is in reconciling its assignment with its target, as KIP-848 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// The member owns exactly its target at the target's epoch. -> UnrevokedPartitions or
    /// UnreleasedPartitions when a new target assignment takes something away or adds a
    /// partition another member still owns; stays Stable (with the new epoch) when it only
    /// adds free partitions.
    Stable,
    /// The member must give up `pending_revocation` first; its epoch stays the old one. ->
    /// Stable / UnreleasedPartitions once a heartbeat's owned partitions no longer include any
    /// of them (then it moves to the target epoch); fenced if that takes longer than its
    /// rebalance timeout.
    UnrevokedPartitions,
    /// The member is at the target epoch but some of its target partitions are still owned
    /// by others. -> Stable once they are released (seen on its next heartbeat).
    UnreleasedPartitions,
}

impl MemberState {
    /// Kafka's name, shown in logs.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "STABLE",
            MemberState::UnrevokedPartitions => "UNREVOKED_PARTITIONS",
            MemberState::UnreleasedPartitions => "UNRELEASED_PARTITIONS",
        }
    }
}

/// One consumer-protocol member. Owned by its `ConsumerGroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMember {
    /// Member id (chosen by the client from v1, by the coordinator in v0).
    pub member_id: String,
    /// Static instance id, if any.
    pub instance_id: Option<String>,
    /// Rack id, if any (reported only).
    pub rack_id: Option<String>,
    /// Client id of its last heartbeat.
    pub client_id: String,
    /// Client host of its last heartbeat.
    pub client_host: String,
    /// Current member epoch; -2 for a static member that left temporarily.
    pub member_epoch: i32,
    /// The epoch before the last bump: a heartbeat carrying it is still accepted when it owns
    /// no more than the member is assigned (its previous response was lost).
    pub previous_member_epoch: i32,
    /// Reconciliation state.
    pub state: MemberState,
    /// Subscribed topic names.
    pub subscribed_topics: BTreeSet<String>,
    /// Subscribed topic regular expression, if any (see `topic_regex`).
    pub subscribed_topic_regex: Option<String>,
    /// The existing topics `subscribed_topic_regex` matched when it was last resolved (on the
    /// member's heartbeats, and at load time).
    pub regex_topics: BTreeSet<String>,
    /// The assignor it asked for, if any.
    pub server_assignor: Option<String>,
    /// How long it may take to revoke partitions.
    pub rebalance_timeout_ms: i32,
    /// Partitions it owns and may consume.
    pub assigned: Assignment,
    /// Partitions it must revoke before anyone else gets them.
    pub pending_revocation: Assignment,
    /// When its session expires without a heartbeat.
    pub session_deadline: i64,
    /// When it is fenced if it still has not revoked (UnrevokedPartitions only).
    pub revocation_deadline: Option<i64>,
}

impl ConsumerMember {
    /// A member that has just joined with epoch 0 and owns nothing.
    pub fn new(member_id: String, instance_id: Option<String>) -> Self {
        Self {
            member_id,
            instance_id,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            subscribed_topics: BTreeSet::new(),
            subscribed_topic_regex: None,
            regex_topics: BTreeSet::new(),
            server_assignor: None,
            rebalance_timeout_ms: 0,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            session_deadline: i64::MAX,
            revocation_deadline: None,
        }
    }

    /// Every topic it subscribes to: by name and through its regex.
    pub fn topics(&self) -> BTreeSet<String> {
        self.subscribed_topics
            .union(&self.regex_topics)
            .cloned()
            .collect()
    }

    /// Re-resolves its regex against `topics`; returns whether the matched topics changed.
    pub fn resolve_regex(&mut self, topics: &super::assignor::TopicsSnapshot) -> bool {
        let resolved = self
            .subscribed_topic_regex
            .as_deref()
            .map(|p| super::topic_regex::resolve(p, topics))
            .unwrap_or_default();
        if resolved == self.regex_topics {
            return false;
        }
        self.regex_topics = resolved;
        true
    }

    /// Its earliest deadline.
    pub fn next_deadline(&self) -> i64 {
        self.revocation_deadline
            .map_or(self.session_deadline, |r| r.min(self.session_deadline))
    }

    /// Whether `(topic, partition)` is assigned or pending revocation here.
    pub fn holds(&self, topic: &uuid::Uuid, partition: i32) -> bool {
        let has = |a: &Assignment| a.get(topic).is_some_and(|ps| ps.contains(&partition));
        has(&self.assigned) || has(&self.pending_revocation)
    }

    /// Moves the member towards `target` (the group's target for it, at `target_epoch`).
    /// `owned` is what the client said it owns in this heartbeat (`None`: not sent);
    /// `held_by_other` tells whether another member still holds a partition. Returns whether
    /// the assigned partitions changed.
    pub fn reconcile(
        &mut self,
        target_epoch: i32,
        target: &Assignment,
        owned: Option<&Assignment>,
        held_by_other: impl Fn(&uuid::Uuid, i32) -> bool,
        now_ms: i64,
    ) -> bool {
        if self.state == MemberState::UnrevokedPartitions {
            let revoked = owned.is_some_and(|o| !intersects(o, &self.pending_revocation));
            if !revoked {
                return false;
            }
            self.pending_revocation.clear();
            self.revocation_deadline = None;
        } else if self.member_epoch == target_epoch && self.state == MemberState::Stable {
            return false;
        }
        let before = self.assigned.clone();
        let kept = intersection(&self.assigned, target);
        let revoking = difference(&self.assigned, target);
        if !revoking.is_empty() {
            self.assigned = kept;
            self.pending_revocation = revoking;
            self.state = MemberState::UnrevokedPartitions;
            self.revocation_deadline =
                Some(now_ms.saturating_add(i64::from(self.rebalance_timeout_ms)));
            return true;
        }
        let mut unreleased = false;
        let mut assigned = kept;
        for (topic, partitions) in difference(target, &self.assigned) {
            for p in partitions {
                if held_by_other(&topic, p) {
                    unreleased = true;
                } else {
                    assigned.entry(topic).or_default().insert(p);
                }
            }
        }
        self.assigned = assigned;
        if self.member_epoch != target_epoch {
            self.previous_member_epoch = self.member_epoch;
            self.member_epoch = target_epoch;
        }
        self.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
        self.assigned != before
    }
}

/// Number of partitions in an assignment.
pub fn size(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

/// Whether `a` and `b` share a partition.
pub fn intersects(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .any(|(topic, ps)| b.get(topic).is_some_and(|other| !ps.is_disjoint(other)))
}

/// Whether every partition of `a` is in `b`.
pub fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .all(|(topic, ps)| ps.is_empty() || b.get(topic).is_some_and(|other| ps.is_subset(other)))
}

fn intersection(a: &Assignment, b: &Assignment) -> Assignment {
    a.iter()
        .filter_map(|(topic, ps)| {
            let common: BTreeSet<i32> = b.get(topic)?.intersection(ps).copied().collect();
            (!common.is_empty()).then_some((*topic, common))
        })
        .collect()
}

fn difference(a: &Assignment, b: &Assignment) -> Assignment {
    a.iter()
        .filter_map(|(topic, ps)| {
            let rest: BTreeSet<i32> = match b.get(topic) {
                Some(other) => ps.difference(other).copied().collect(),
                None => ps.clone(),
            };
            (!rest.is_empty()).then_some((*topic, rest))
        })
        .collect()
}
