//! `GroupCoordinator`: the sans-IO group coordinator, its inputs and its `Effects`.
//!
//! Requests and the current time go in; responses, records to persist and the next deadline
//! come out. Nothing here reads a clock, touches a socket or spawns anything: the caller owns
//! time (`now_ms`), persistence (appending `Effects::records` to `__consumer_offsets` before
//! sending `Effects::responses`) and scheduling (calling `tick` at `Effects::next_deadline`).

use std::collections::{BTreeSet, HashMap};

use kafka_protocol::messages::ResponseKind;

use super::classic_group::{Group, GroupState};
use super::config::GroupConfig;
use super::consumer_persist;
use super::records::GroupRecord;

/// The caller's handle for one request, chosen by the caller and unique among the requests it
/// has outstanding. Requests that must wait (JoinGroup, SyncGroup) are answered later under
/// this token, possibly from a call made for another request or from `tick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestToken(pub u64);

/// Who sent a request, and how.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// Handle under which the response is returned.
    pub token: RequestToken,
    /// The request's API version (responses are built for it).
    pub api_version: i16,
    /// `client_id` from the request header ("" when null).
    pub client_id: &'a str,
    /// The client's address, reported by DescribeGroups.
    pub client_host: &'a str,
}

/// What one call into the coordinator asks of its caller.
///
/// The coordinator's memory already reflects the records when they are returned (there is no
/// rollback): if appending them fails, the caller should answer the responses of this call with
/// an error such as COORDINATOR_NOT_AVAILABLE and treat the partition as failed, reloading it
/// with `replay` before serving it again.
#[derive(Debug, Default)]
pub struct Effects {
    /// Responses ready now, each for the request with that token (the current request's, and
    /// any parked ones this call completed). Send them only after `records` are durable.
    pub responses: Vec<(RequestToken, ResponseKind)>,
    /// Records to append, in order, to `__consumer_offsets`.
    pub records: Vec<GroupRecord>,
    /// When to call `tick` next (absolute ms), if anything is scheduled.
    pub next_deadline: Option<i64>,
}

impl Effects {
    /// Queues a response.
    pub(crate) fn respond(&mut self, token: RequestToken, response: impl Into<ResponseKind>) {
        self.responses.push((token, response.into()));
    }
}

/// The group coordinator (classic and KIP-848 consumer groups) for every group this broker
/// coordinates. Single-threaded:
/// `&mut self` methods must be serialized by the caller (one task, or a mutex held only for
/// the duration of a call, since no call blocks or waits).
#[derive(Debug)]
pub struct GroupCoordinator {
    /// Settings.
    pub(crate) config: GroupConfig,
    /// Live groups by id. Dead groups are removed.
    pub(crate) groups: HashMap<String, Group>,
    /// Index of each group's earliest deadline, so `tick` and `next_deadline` need not scan.
    deadlines: BTreeSet<(i64, String)>,
    /// The deadline each group is currently filed under in `deadlines`.
    scheduled: HashMap<String, i64>,
    /// Next run of offset expiry.
    next_offsets_check: i64,
}

impl GroupCoordinator {
    /// A coordinator with no groups. Replay the log with `replay`, then call `complete_load`
    /// (also when there was nothing to replay: it arms offset expiry).
    pub fn new(config: GroupConfig) -> Self {
        Self {
            config,
            groups: HashMap::new(),
            deadlines: BTreeSet::new(),
            scheduled: HashMap::new(),
            next_offsets_check: i64::MAX,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// A group's current state, `None` when the coordinator has no such group.
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.get(group_id).map(|g| g.state)
    }

    /// Applies one record read back from `__consumer_offsets`, in log order. Replay emits
    /// nothing and schedules nothing until `complete_load`.
    pub fn replay(&mut self, record: GroupRecord) {
        match record {
            GroupRecord::OffsetCommit { key, value } => match value {
                Some(value) => {
                    let group = self.groups.entry(key.group_id.clone()).or_insert_with(|| {
                        Group::new(key.group_id.clone(), value.commit_timestamp)
                    });
                    group
                        .offsets
                        .entry(key.topic)
                        .or_default()
                        .insert(key.partition, value);
                }
                None => {
                    if let Some(group) = self.groups.get_mut(&key.group_id) {
                        if let Some(partitions) = group.offsets.get_mut(&key.topic) {
                            partitions.remove(&key.partition);
                            if partitions.is_empty() {
                                group.offsets.remove(&key.topic);
                            }
                        }
                    }
                }
            },
            GroupRecord::GroupMetadata { group_id, value } => match value {
                Some(value) => {
                    let at = value.current_state_timestamp;
                    self.groups
                        .entry(group_id.clone())
                        .or_insert_with(|| Group::new(group_id, at))
                        .load_record(value);
                }
                None => {
                    if let Some(group) = self.groups.get_mut(&group_id) {
                        if group.has_offsets() {
                            group.reset_membership(group.current_state_timestamp);
                        } else {
                            self.groups.remove(&group_id);
                        }
                    }
                }
            },
            consumer => self.replay_consumer(consumer),
        }
    }

    /// Ends loading: starts every loaded member's session at `now_ms` and arms offset expiry.
    pub fn complete_load(&mut self, now_ms: i64) -> Effects {
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for group in self.groups.values_mut() {
            for member in group.members.values_mut() {
                member.touch(now_ms);
            }
        }
        self.complete_consumer_load(now_ms);
        for id in &ids {
            self.reschedule(id);
        }
        self.next_offsets_check =
            now_ms.saturating_add(self.config.offsets_retention_check_interval_ms);
        self.finish(Effects::default())
    }

    /// Runs everything due at `now_ms`: expired sessions and pending member ids, join phases
    /// at their rebalance timeout or initial delay, syncs that never came, KIP-848 members whose
    /// session or revocation time ran out, and (every
    /// `offsets.retention.check.interval.ms`) offset expiry.
    pub fn tick(&mut self, now_ms: i64) -> Effects {
        let mut fx = Effects::default();
        let mut due = Vec::new();
        while let Some((at, _)) = self.deadlines.first() {
            if *at > now_ms {
                break;
            }
            if let Some((_, id)) = self.deadlines.pop_first() {
                self.scheduled.remove(&id);
                due.push(id);
            }
        }
        for id in due {
            if let Some(group) = self.groups.get_mut(&id) {
                group.on_deadlines(&self.config, now_ms, &mut fx);
                if let Some(consumer) = group.consumer.as_mut() {
                    let before = consumer.clone();
                    let fenced = consumer.expire(now_ms);
                    for member_id in &fenced {
                        tracing::debug!(group = %id, %member_id, "consumer member fenced");
                    }
                    if !fenced.is_empty() {
                        consumer_persist::changes(
                            &id,
                            Some(&before),
                            Some(consumer),
                            &mut fx.records,
                        );
                    }
                }
            }
            self.reschedule(&id);
        }
        if now_ms >= self.next_offsets_check {
            self.expire_offsets(now_ms, &mut fx);
            self.next_offsets_check =
                now_ms.saturating_add(self.config.offsets_retention_check_interval_ms);
        }
        self.finish(fx)
    }

    /// Files the group under its current earliest deadline (or none).
    pub(crate) fn reschedule(&mut self, group_id: &str) {
        if let Some(old) = self.scheduled.remove(group_id) {
            self.deadlines.remove(&(old, group_id.to_string()));
        }
        let next = self.groups.get(group_id).and_then(Group::next_deadline);
        if let Some(at) = next {
            self.deadlines.insert((at, group_id.to_string()));
            self.scheduled.insert(group_id.to_string(), at);
        }
    }

    /// Drops a group and its deadline.
    pub(crate) fn remove_group(&mut self, group_id: &str) {
        if let Some(mut group) = self.groups.remove(group_id) {
            group.transition(GroupState::Dead, group.current_state_timestamp);
        }
        self.reschedule(group_id);
    }

    /// The earliest time `tick` has work.
    pub fn next_deadline(&self) -> Option<i64> {
        let groups = self.deadlines.first().map(|(at, _)| *at);
        let offsets = (self.next_offsets_check != i64::MAX).then_some(self.next_offsets_check);
        groups.into_iter().chain(offsets).min()
    }

    /// Stamps the next deadline on the effects of a call.
    pub(crate) fn finish(&self, mut fx: Effects) -> Effects {
        fx.next_deadline = self.next_deadline();
        fx
    }
}
