//! Server-side partition assignors of KIP-848 consumer groups: `uniform` (the default) and
//! `range`. Both are pure functions from the members' subscriptions, the topic metadata
//! snapshot and the previous target assignment to the next target assignment.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// Partitions by topic id: what a member is (or should be) assigned.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// One topic as the coordinator's caller sees it at the time of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic id, as Metadata reports it.
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: i32,
}

/// Every existing topic by name: the metadata input of the consumer-group state machine.
pub type TopicsSnapshot = BTreeMap<String, TopicInfo>;

/// Name of the default assignor.
pub const UNIFORM: &str = "uniform";
/// Name of the range assignor.
pub const RANGE: &str = "range";

/// Whether `name` is an assignor this broker has.
pub fn is_supported(name: &str) -> bool {
    name == UNIFORM || name == RANGE
}

/// One member as the assignors see it.
#[derive(Debug, Clone, Copy)]
pub struct AssignorMember<'a> {
    /// Member id.
    pub member_id: &'a str,
    /// Topic names it subscribes to.
    pub topics: &'a BTreeSet<String>,
}

/// Runs assignor `name` (unknown names fall back to uniform; callers validate names first).
pub fn assign(
    name: &str,
    members: &[AssignorMember<'_>],
    topics: &TopicsSnapshot,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    if name == RANGE {
        range(members, topics)
    } else {
        uniform(members, topics, previous)
    }
}

/// Range: per topic, its subscribers in member-id order each get a contiguous block of
/// partitions, the first `partitions % subscribers` of them one more.
fn range(members: &[AssignorMember<'_>], topics: &TopicsSnapshot) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.to_string(), Assignment::new()))
        .collect();
    for (name, info) in topics {
        let mut subscribers: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(name))
            .map(|m| m.member_id)
            .collect();
        if subscribers.is_empty() || info.partitions <= 0 {
            continue;
        }
        subscribers.sort_unstable();
        let count = i32::try_from(subscribers.len()).unwrap_or(i32::MAX);
        let (each, extra) = (info.partitions / count, info.partitions % count);
        let mut next = 0;
        for (i, member) in subscribers.iter().enumerate() {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let take = each + i32::from(i < extra);
            if take > 0 {
                if let Some(a) = out.get_mut(*member) {
                    a.entry(info.id).or_default().extend(next..next + take);
                }
            }
            next += take;
        }
    }
    out
}

/// Uniform: balanced and sticky. Each member keeps what it had in the previous target (up to
/// a fair share), unowned partitions go to the eligible member with the fewest, and then
/// partitions move from the fullest to the emptiest eligible member while that narrows the gap.
fn uniform(
    members: &[AssignorMember<'_>],
    topics: &TopicsSnapshot,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    // Every subscribed partition with the members that may have it.
    let mut eligible: BTreeMap<(Uuid, i32), Vec<&str>> = BTreeMap::new();
    for (name, info) in topics {
        let subscribers: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(name))
            .map(|m| m.member_id)
            .collect();
        if subscribers.is_empty() {
            continue;
        }
        for p in 0..info.partitions.max(0) {
            eligible.insert((info.id, p), subscribers.clone());
        }
    }
    let active = members
        .iter()
        .filter(|m| !m.topics.is_empty())
        .count()
        .max(1);
    let share = eligible.len().div_ceil(active);
    let mut owner: BTreeMap<(Uuid, i32), String> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = members.iter().map(|m| (m.member_id, 0)).collect();
    for m in members {
        let Some(prev) = previous.get(m.member_id) else {
            continue;
        };
        for (id, partitions) in prev {
            for p in partitions {
                let tp = (*id, *p);
                let allowed = eligible.get(&tp).is_some_and(|e| e.contains(&m.member_id));
                let count = counts.entry(m.member_id).or_default();
                if allowed && *count < share && !owner.contains_key(&tp) {
                    owner.insert(tp, m.member_id.to_string());
                    *count += 1;
                }
            }
        }
    }
    for (tp, candidates) in &eligible {
        if owner.contains_key(tp) {
            continue;
        }
        if let Some(best) = candidates
            .iter()
            .min_by_key(|c| (counts.get(**c).copied().unwrap_or(0), **c))
        {
            owner.insert(*tp, best.to_string());
            *counts.entry(best).or_default() += 1;
        }
    }
    rebalance(&eligible, &mut owner, &mut counts);
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.to_string(), Assignment::new()))
        .collect();
    for ((id, p), member) in owner {
        if let Some(a) = out.get_mut(&member) {
            a.entry(id).or_default().insert(p);
        }
    }
    out
}

/// Moves single partitions from a member holding at least two more than an eligible other,
/// until no such move exists. Each move lowers the sum of squared counts, so it ends.
fn rebalance<'a>(
    eligible: &BTreeMap<(Uuid, i32), Vec<&'a str>>,
    owner: &mut BTreeMap<(Uuid, i32), String>,
    counts: &mut BTreeMap<&'a str, usize>,
) {
    loop {
        let mut moved = false;
        for (tp, candidates) in eligible {
            let Some(current) = owner.get(tp).cloned() else {
                continue;
            };
            let from = counts.get(current.as_str()).copied().unwrap_or(0);
            let target = candidates
                .iter()
                .filter(|c| counts.get(**c).copied().unwrap_or(0) + 1 < from)
                .min_by_key(|c| (counts.get(**c).copied().unwrap_or(0), **c));
            if let Some(target) = target {
                if let Some(c) = counts.get_mut(current.as_str()) {
                    *c -= 1;
                }
                *counts.entry(target).or_default() += 1;
                owner.insert(*tp, target.to_string());
                moved = true;
            }
        }
        if !moved {
            return;
        }
    }
}
