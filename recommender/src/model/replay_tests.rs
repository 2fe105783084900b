//! Replay equals live: the same events in different interleavings give the same `Hybrid`, as
//! long as each user's events of one topic keep their order (Kafka keeps them in one
//! partition); users, partitions and topics interleave freely.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::catalogue::Catalogue;
use crate::event::Event;
use crate::rows::{build_rows, RowConfig};
use crate::signals::SignalConfig;
use crate::simulate::catalogue_gen;
use crate::simulate::rng::Rng;
use crate::simulate::users::Simulator;
use crate::topics;

const PARTITIONS: u64 = 4;

/// A simulated stream: 60 users, a few thousand events, one event a second or so.
pub(crate) fn stream() -> (Arc<Catalogue>, Vec<Event>) {
    let cat = catalogue_gen::generate(7);
    let mut sim = Simulator::new(11, 60, cat.clone(), 1_700_000_000_000);
    let events = (0..1_500).flat_map(|_| sim.step(20_000)).collect();
    (Arc::new(cat), events)
}

/// The partition an event is in: (topic, partition by user, as the producer keys it).
fn partition_of(e: &Event) -> (&'static str, u64) {
    (topics::topic_for(&e.kind), e.user_id % PARTITIONS)
}

/// The stream read partition after partition, partitions in `order` (by partition number, then
/// topic), or topic after topic when `topic_major`: what a replay from offset 0 may see.
fn by_partition(events: &[Event], order: &[u64], topic_major: bool) -> Vec<Event> {
    let mut parts: Vec<(&str, u64)> = Vec::new();
    for p in order {
        for t in topics::ACTIVITY_TOPICS.iter().rev() {
            parts.push((t, *p));
        }
    }
    if topic_major {
        parts.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    }
    parts
        .iter()
        .flat_map(|p| events.iter().filter(move |e| partition_of(e) == *p))
        .cloned()
        .collect()
}

/// The stream re-interleaved at random, each user's events of each topic kept in order (`by`
/// names the sequences kept).
pub(crate) fn shuffled<K: Ord>(
    events: &[Event],
    seed: u64,
    by: impl Fn(&Event) -> K,
) -> Vec<Event> {
    let keys: BTreeSet<K> = events.iter().map(&by).collect();
    let mut queues: Vec<std::collections::VecDeque<&Event>> = keys
        .iter()
        .map(|k| events.iter().filter(|e| by(e) == *k).collect())
        .collect();
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(events.len());
    while out.len() < events.len() {
        let q = rng.below(queues.len());
        if let Some(e) = queues[q].pop_front() {
            out.push(e.clone());
        }
    }
    out
}

fn learn(cat: &Arc<Catalogue>, events: &[Event]) -> Hybrid {
    let mut m = Hybrid::new(
        cat.clone(),
        HybridConfig::default(),
        SignalConfig::default(),
    );
    events.iter().for_each(|e| m.learn(e));
    m
}

fn first_seen_order(m: &Hybrid) -> Vec<TitleId> {
    (0..m.items().len() as u32)
        .map(|d| m.items().title(d))
        .collect()
}

#[test]
fn interleavings_give_byte_identical_state_and_identical_rows() {
    let (cat, live) = stream();
    let users: BTreeSet<UserId> = live.iter().map(|e| e.user_id).collect();
    assert!(users.len() > 50, "the simulation should reach most users");
    let reference = learn(&cat, &live);
    let bytes = serde_json::to_string(&reference.snapshot()).unwrap();
    let rows_cfg = RowConfig::default();
    let replays = [
        by_partition(&live, &[0, 1, 2, 3], false),
        by_partition(&live, &[3, 1, 0, 2], true),
        shuffled(&live, 5, |e| e.user_id),
        shuffled(&live, 6, |e| (e.user_id, topics::topic_for(&e.kind))),
    ];
    for replay in &replays {
        let m = learn(&cat, replay);
        // The interleavings really differ where it used to matter: first-seen item order.
        assert_ne!(first_seen_order(&m), first_seen_order(&reference));
        assert_eq!(serde_json::to_string(&m.snapshot()).unwrap(), bytes);
        for u in &users {
            assert_eq!(
                build_rows(&m, *u, &rows_cfg),
                build_rows(&reference, *u, &rows_cfg),
                "rows of user {u}"
            );
        }
    }
}

#[test]
fn trending_ties_go_to_the_lower_title_id() {
    let (cat, _) = stream();
    let play = |user: UserId, title_id: TitleId| Event {
        schema_version: crate::event::SCHEMA_VERSION,
        user_id: user,
        device: crate::event::Device::Tv,
        timestamp_ms: 1_000,
        kind: crate::event::EventKind::Play { title_id },
    };
    // Titles 9, 4 and 6 each played once at the same time, seen in that order.
    let m = learn(&cat, &[play(1, 9), play(2, 4), play(3, 6)]);
    let titles: Vec<TitleId> = m.trending(3, &[]).into_iter().map(|(t, _)| t).collect();
    assert_eq!(titles, vec![4, 6, 9]);
    let picks: Vec<TitleId> = m.recommend(5, 3, &[]).iter().map(|s| s.title).collect();
    assert_eq!(picks, vec![4, 6, 9]);
}
