//! `ConsumerGroup`: the membership and assignment of one KIP-848 consumer group, its states,
//! and the epochs KIP-848 defines.
//!
//! - The *group epoch* is bumped whenever what the assignor would be fed changes: a member
//!   joins or leaves (or is fenced), a subscription or assignor changes, or the metadata of a
//!   subscribed topic changes (created, grown, recreated).
//! - The *target assignment epoch* is the group epoch the current target assignment was
//!   computed for. The target is recomputed on the first heartbeat that finds it behind (a
//!   heartbeat brings the topic metadata snapshot the assignor needs); until then the group is
//!   Assigning.
//! - Each *member epoch* reaches the target assignment epoch once the member has revoked what
//!   it must give up (see `MemberState`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::assignor::{self, Assignment, AssignorMember, TopicInfo, TopicsSnapshot};
use super::consumer_member::{ConsumerMember, LEAVE_GROUP_STATIC_MEMBER_EPOCH};

/// The states of a consumer group, as Kafka names them. They are derived from the epochs
/// and members (see [`ConsumerGroup::state`]), never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members. -> Assigning when a member joins (the group epoch is bumped).
    Empty,
    /// The group epoch is ahead of the target assignment epoch. -> Reconciling (or Stable) when
    /// the next heartbeat computes the new target.
    Assigning,
    /// Some member is not yet at the target assignment epoch, or waits for partitions to be
    /// released. -> Stable when every member has converged; -> Assigning on any epoch bump.
    Reconciling,
    /// Every member owns its target at the target epoch. -> Assigning on any epoch bump;
    /// -> Empty when the last member leaves.
    Stable,
    /// Deleted; only ever reported (the coordinator drops deleted groups).
    Dead,
}

impl ConsumerGroupState {
    /// Kafka's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
            ConsumerGroupState::Dead => "Dead",
        }
    }
}

/// One KIP-848 consumer group's membership and assignment (its committed offsets live in the
/// enclosing `Group`, shared with the classic protocol). Not shared between threads.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of `target`.
    pub assignment_epoch: i32,
    /// Members by id.
    pub members: BTreeMap<String, ConsumerMember>,
    /// Static members: instance id -> member id.
    pub static_members: HashMap<String, String>,
    /// The target assignment of each member.
    pub target: BTreeMap<String, Assignment>,
    /// Metadata of the subscribed topics as of the last group epoch bump; a heartbeat that
    /// sees different metadata bumps the epoch.
    pub subscribed_metadata: BTreeMap<String, TopicInfo>,
    /// Assignor used for `target`.
    pub assignor: String,
}

impl ConsumerGroup {
    /// The group's current state.
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch != self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| {
            m.member_epoch != self.assignment_epoch
                || m.state != super::consumer_member::MemberState::Stable
        }) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// Union of the members' subscriptions.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(ConsumerMember::topics)
            .collect()
    }

    /// The subscribed topics' entries in `topics`.
    pub(crate) fn subscribed_in(&self, topics: &TopicsSnapshot) -> BTreeMap<String, TopicInfo> {
        self.subscribed_topics()
            .into_iter()
            .filter_map(|t| topics.get(&t).map(|info| (t, *info)))
            .collect()
    }

    /// Bumps the group epoch if the subscribed topics' metadata changed; remembers it.
    pub fn note_metadata(&mut self, topics: &TopicsSnapshot) -> bool {
        let now = self.subscribed_in(topics);
        if now == self.subscribed_metadata {
            return false;
        }
        self.subscribed_metadata = now;
        self.group_epoch = self.group_epoch.saturating_add(1);
        true
    }

    /// The assignor to use: the first member's preference (in member-id order), else the
    /// default, as Kafka picks it.
    pub(crate) fn pick_assignor(&self, default: &str) -> String {
        self.members
            .values()
            .find_map(|m| m.server_assignor.clone())
            .unwrap_or_else(|| default.to_string())
    }

    /// Recomputes the target assignment if it is behind the group epoch.
    pub fn update_target(&mut self, topics: &TopicsSnapshot, default_assignor: &str) {
        if self.assignment_epoch == self.group_epoch {
            return;
        }
        let name = self.pick_assignor(default_assignor);
        let topics_of: Vec<BTreeSet<String>> =
            self.members.values().map(ConsumerMember::topics).collect();
        let members: Vec<AssignorMember<'_>> = self
            .members
            .values()
            .zip(&topics_of)
            .map(|(m, topics)| AssignorMember {
                member_id: &m.member_id,
                topics,
            })
            .collect();
        let snapshot = self.subscribed_in(topics);
        let target = assignor::assign(&name, &members, &snapshot, &self.target);
        self.target = target;
        self.assignor = name;
        self.assignment_epoch = self.group_epoch;
    }

    /// Whether some member other than `member_id` holds the partition.
    pub fn held_by_other(&self, member_id: &str, topic: &uuid::Uuid, partition: i32) -> bool {
        self.members
            .values()
            .any(|m| m.member_id != member_id && m.holds(topic, partition))
    }

    /// Reconciles one member with its target; returns whether its assignment changed.
    pub fn reconcile(&mut self, member_id: &str, owned: Option<&Assignment>, now_ms: i64) -> bool {
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        let epoch = self.assignment_epoch;
        let others: Vec<ConsumerMember> = self
            .members
            .values()
            .filter(|m| m.member_id != member_id)
            .cloned()
            .collect();
        let Some(member) = self.members.get_mut(member_id) else {
            return false;
        };
        let held = |t: &uuid::Uuid, p: i32| others.iter().any(|o| o.holds(t, p));
        member.reconcile(epoch, &target, owned, held, now_ms)
    }

    /// Removes a member (left or fenced) and bumps the group epoch, so the others get its
    /// partitions.
    pub fn remove_member(&mut self, member_id: &str) -> Option<ConsumerMember> {
        let member = self.members.remove(member_id)?;
        if let Some(instance) = &member.instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        self.target.remove(member_id);
        self.group_epoch = self.group_epoch.saturating_add(1);
        Some(member)
    }

    /// A static member of `instance_id` that left temporarily hands its place, epoch and
    /// assignment to `new_member_id` (no rebalance, as KIP-848 wants for static members).
    pub fn replace_static(&mut self, instance_id: &str, new_member_id: &str) -> bool {
        let Some(old_id) = self.static_members.get(instance_id).cloned() else {
            return false;
        };
        let Some(mut member) = self.members.remove(&old_id) else {
            return false;
        };
        if let Some(target) = self.target.remove(&old_id) {
            self.target.insert(new_member_id.to_string(), target);
        }
        member.member_id = new_member_id.to_string();
        member.member_epoch = member.previous_member_epoch.max(0);
        self.static_members
            .insert(instance_id.to_string(), new_member_id.to_string());
        self.members.insert(new_member_id.to_string(), member);
        true
    }

    /// Whether the static member of `instance_id` is still active (has not sent -2).
    pub fn static_member_active(&self, instance_id: &str) -> bool {
        self.static_members
            .get(instance_id)
            .and_then(|id| self.members.get(id))
            .is_some_and(|m| m.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH)
    }

    /// The earliest member deadline.
    pub fn next_deadline(&self) -> Option<i64> {
        self.members
            .values()
            .map(ConsumerMember::next_deadline)
            .min()
    }

    /// Fences members whose session or revocation deadline passed; returns their ids.
    pub fn expire(&mut self, now_ms: i64) -> Vec<String> {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.next_deadline() <= now_ms)
            .map(|m| m.member_id.clone())
            .collect();
        for id in &expired {
            self.remove_member(id);
        }
        expired
    }
}
