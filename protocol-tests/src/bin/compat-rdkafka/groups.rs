//! Consumer-group scenarios: resume after a commit, rebalancing (eager, static, cooperative,
//! KIP-848), lag from committed offsets and watermarks, and resetting a group's offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use protocol_tests::records::now_ms;

use crate::util::{
    self, all_partitions, assigned, deadline_check, ensure_that, poll_at, At, RebalanceEvent,
    Recorder, PARTITIONS, REQUEST_TIMEOUT,
};

/// How long a group waits to settle into the expected assignment.
const GROUP_TIMEOUT: Duration = Duration::from_secs(45);
/// One poll of one member while several are polled in turn.
const SLICE: Duration = Duration::from_millis(50);

/// A group member with everything it processed.
struct Member {
    name: &'static str,
    consumer: BaseConsumer<Recorder>,
    recorder: Recorder,
    seen: Vec<At>,
    /// Commit every record synchronously once processed.
    commit_each: bool,
}

impl Member {
    fn join(
        bootstrap: &str,
        group: &str,
        topic: &str,
        name: &'static str,
        extra: &[(&str, &str)],
    ) -> Result<Member> {
        let (consumer, recorder) = util::member(bootstrap, group, topic, extra)?;
        Ok(Member {
            name,
            consumer,
            recorder,
            seen: Vec::new(),
            commit_each: true,
        })
    }

    fn poll(&mut self, topic: &str) -> Result<()> {
        let Some(at) = poll_at(&self.consumer, SLICE).with_context(|| self.name)? else {
            return Ok(());
        };
        self.seen.push(at);
        if self.commit_each {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, at.partition, Offset::Offset(at.offset + 1))?;
            self.consumer
                .commit(&tpl, CommitMode::Sync)
                .with_context(|| format!("{}: committing {at:?}", self.name))?;
        }
        Ok(())
    }

    fn assigned(&self) -> Result<BTreeSet<i32>> {
        assigned(&self.consumer)
    }
}

/// Polls every member in turn until `done` holds; `what` names the condition on timeout.
fn poll_until(
    members: &mut [&mut Member],
    topic: &str,
    what: &str,
    mut done: impl FnMut(&[&mut Member]) -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + GROUP_TIMEOUT;
    loop {
        if done(members)? {
            return Ok(());
        }
        deadline_check(deadline, || {
            let state: Vec<String> = members
                .iter()
                .map(|m| {
                    format!(
                        "{}: assigned {:?}, {} processed",
                        m.name,
                        m.assigned().unwrap_or_default(),
                        m.seen.len()
                    )
                })
                .collect();
            format!("{what} ({})", state.join("; "))
        })?;
        for m in members.iter_mut() {
            m.poll(topic)?;
        }
    }
}

/// True once the members' assignments are non-empty, disjoint and cover every partition.
fn split_evenly(members: &[&mut Member]) -> Result<bool> {
    let mut union = BTreeSet::new();
    let mut total = 0;
    for m in members {
        let a = m.assigned()?;
        if a.is_empty() {
            return Ok(false);
        }
        total += a.len();
        union.extend(a);
    }
    Ok(total == union.len() && union.len() == PARTITIONS as usize)
}

fn total_seen(members: &[&mut Member]) -> usize {
    members.iter().map(|m| m.seen.len()).sum()
}

/// Checks every (partition, offset) in `seen` is distinct and there are `want` of them.
fn exactly_once(seen: &[At], want: usize) -> Result<()> {
    let distinct: BTreeSet<At> = seen.iter().copied().collect();
    ensure_that!(
        seen.len() == want && distinct.len() == want,
        "{} records processed, {} distinct, expected {want} exactly once",
        seen.len(),
        distinct.len()
    );
    Ok(())
}

fn group_of(topic: &str) -> String {
    format!("compat-{topic}")
}

fn produce(bootstrap: &str, topic: &str, tag: &str, count: usize) -> Result<()> {
    util::produce_spread(bootstrap, topic, tag, count, now_ms() - 60_000).map(|_| ())
}

/// Subscribe, consume half, commit it, close; a new member resumes after the commit.
pub fn resume(bootstrap: &str, topic: &str) -> Result<()> {
    produce(bootstrap, topic, "grp", 90)?;
    let group = group_of(topic);
    let mut first = Member::join(bootstrap, &group, topic, "first member", &[])?;
    poll_until(&mut [&mut first], topic, "45 records", |m| {
        Ok(total_seen(m) >= 45)
    })?;
    let mut seen = std::mem::take(&mut first.seen);
    drop(first); // closes: LeaveGroup
    let mut second = Member::join(bootstrap, &group, topic, "second member", &[])?;
    poll_until(&mut [&mut second], topic, "the other 45 records", |m| {
        Ok(total_seen(m) >= 45)
    })?;
    seen.append(&mut second.seen);
    exactly_once(&seen, 90)
}

/// Two members split the topic; records produced then are each processed once by the member
/// owning the partition; one member leaves and the other takes over everything.
pub fn rebalance(bootstrap: &str, topic: &str) -> Result<()> {
    let group = group_of(topic);
    produce(bootstrap, topic, "rb-1", 45)?;
    let mut a = Member::join(bootstrap, &group, topic, "member A", &[])?;
    poll_until(
        &mut [&mut a],
        topic,
        "member A to process the first 45",
        |m| Ok(total_seen(m) >= 45),
    )?;
    let mut b = Member::join(bootstrap, &group, topic, "member B", &[])?;
    poll_until(
        &mut [&mut a, &mut b],
        topic,
        "a disjoint split of the partitions",
        split_evenly,
    )?;
    let (a_parts, b_parts) = (a.assigned()?, b.assigned()?);
    let (a_before, b_before) = (a.seen.len(), b.seen.len());
    produce(bootstrap, topic, "rb-2", 45)?;
    poll_until(&mut [&mut a, &mut b], topic, "90 records processed", |m| {
        Ok(total_seen(m) >= 90)
    })?;
    for (m, parts, before) in [(&a, &a_parts, a_before), (&b, &b_parts, b_before)] {
        let stray: Vec<&At> = m.seen[before..]
            .iter()
            .filter(|at| !parts.contains(&at.partition))
            .collect();
        ensure_that!(
            stray.is_empty(),
            "{} (assigned {parts:?}) read {stray:?}",
            m.name
        );
    }
    let mut seen = std::mem::take(&mut a.seen);
    drop(a); // closes: LeaveGroup
    poll_until(
        &mut [&mut b],
        topic,
        "member B to own every partition",
        |m| Ok(m[0].assigned()?.len() == PARTITIONS as usize),
    )?;
    produce(bootstrap, topic, "rb-3", 30)?;
    poll_until(&mut [&mut b], topic, "120 records processed in all", |m| {
        Ok(seen.len() + total_seen(m) >= 120)
    })?;
    seen.append(&mut b.seen);
    exactly_once(&seen, 120)
}

/// Polls `members` for `window`, to observe that nothing happens (no rebalance) in that time.
fn observe(members: &mut [&mut Member], topic: &str, window: Duration) -> Result<()> {
    let until = Instant::now() + window;
    while Instant::now() < until {
        for m in members.iter_mut() {
            m.poll(topic)?;
        }
    }
    Ok(())
}

/// KIP-345: a static member closes without leaving and restarts with the same instance id
/// within the session timeout: same partitions back, and the other member sees no rebalance
/// (the generation did not change).
pub fn static_membership(bootstrap: &str, topic: &str) -> Result<()> {
    let group = group_of(topic);
    let conf = |id| [("group.instance.id", id), ("session.timeout.ms", "30000")];
    produce(bootstrap, topic, "sm", 30)?;
    let mut a = Member::join(bootstrap, &group, topic, "static member a", &conf("a"))?;
    let mut b = Member::join(bootstrap, &group, topic, "static member b", &conf("b"))?;
    poll_until(
        &mut [&mut a, &mut b],
        topic,
        "a disjoint split between a and b",
        split_evenly,
    )?;
    observe(&mut [&mut a, &mut b], topic, Duration::from_millis(500))?;
    let a_parts = a.assigned()?;
    let b_events = b.recorder.events().len();
    drop(a); // a static member's close sends no LeaveGroup
    let mut a2 = Member::join(bootstrap, &group, topic, "restarted a", &conf("a"))?;
    poll_until(
        &mut [&mut a2, &mut b],
        topic,
        "the restarted member's assignment",
        |m| Ok(!m[0].assigned()?.is_empty()),
    )?;
    observe(&mut [&mut a2, &mut b], topic, Duration::from_secs(1))?;
    ensure_that!(
        a2.assigned()? == a_parts,
        "restarted member got {:?}, had {a_parts:?}",
        a2.assigned()?
    );
    let b_after = b.recorder.events();
    ensure_that!(
        b_after.len() == b_events,
        "the other member saw a rebalance (the generation changed): {:?}",
        &b_after[b_events..]
    );
    Ok(())
}

/// KIP-429: a second member joins; the first has only the moved partitions revoked and keeps
/// consuming the others throughout.
pub fn cooperative(bootstrap: &str, topic: &str) -> Result<()> {
    let group = group_of(topic);
    let conf = [("partition.assignment.strategy", "cooperative-sticky")];
    produce(bootstrap, topic, "coop-1", 30)?;
    let mut a = Member::join(bootstrap, &group, topic, "member A", &conf)?;
    poll_until(
        &mut [&mut a],
        topic,
        "member A to process the first 30",
        |m| Ok(total_seen(m) >= 30),
    )?;
    let a_events = a.recorder.events().len();
    let mut b = Member::join(bootstrap, &group, topic, "member B", &conf)?;
    poll_until(
        &mut [&mut a, &mut b],
        topic,
        "a disjoint split between A and B",
        split_evenly,
    )?;
    let (kept, moved) = (a.assigned()?, b.assigned()?);
    let events = a.recorder.events().split_off(a_events);
    let revoked: BTreeSet<i32> = events
        .iter()
        .filter_map(|e| match e {
            RebalanceEvent::Revoke(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    ensure_that!(
        revoked == moved,
        "member A had {revoked:?} revoked, but {moved:?} moved (events {events:?})"
    );
    let a_before = a.seen.len();
    produce(bootstrap, topic, "coop-2", 30)?;
    poll_until(&mut [&mut a, &mut b], topic, "the 30 later records", |m| {
        Ok(total_seen(m) >= 60)
    })?;
    let a_later: BTreeSet<i32> = a.seen[a_before..].iter().map(|at| at.partition).collect();
    ensure_that!(
        a_later == kept,
        "member A kept {kept:?} but then read from {a_later:?}"
    );
    let mut seen = a.seen.clone();
    seen.extend(&b.seen);
    exactly_once(&seen, 60)
}

/// KIP-848 (group.protocol=consumer): two members split the topic with server-side
/// assignment, process every record once with commits; a new member resumes after them.
pub fn consumer_protocol(bootstrap: &str, topic: &str) -> Result<()> {
    let group = group_of(topic);
    let conf = [("group.protocol", "consumer")];
    // Auto-create the topic first: a subscription alone does not create it.
    crate::admin::wait_topic(bootstrap, topic, PARTITIONS as usize)?;
    let mut a = Member::join(bootstrap, &group, topic, "member A", &conf)?;
    let mut b = Member::join(bootstrap, &group, topic, "member B", &conf)?;
    poll_until(
        &mut [&mut a, &mut b],
        topic,
        "a disjoint split between A and B",
        split_evenly,
    )?;
    produce(bootstrap, topic, "kip848-1", 90)?;
    poll_until(&mut [&mut a, &mut b], topic, "90 records", |m| {
        Ok(total_seen(m) >= 90)
    })?;
    let mut seen = std::mem::take(&mut a.seen);
    seen.append(&mut b.seen);
    exactly_once(&seen, 90)?;
    drop((a, b));
    produce(bootstrap, topic, "kip848-2", 30)?;
    let mut c = Member::join(bootstrap, &group, topic, "member C", &conf)?;
    poll_until(
        &mut [&mut c],
        topic,
        "the 30 records after the commits",
        |m| Ok(total_seen(m) >= 30),
    )?;
    ensure_that!(
        c.seen.iter().all(|at| at.offset >= 30),
        "the new member re-read committed records: {:?}",
        c.seen
            .iter()
            .filter(|at| at.offset < 30)
            .collect::<Vec<_>>()
    );
    seen.append(&mut c.seen);
    exactly_once(&seen, 120)
}

/// Commits `offsets` (partition -> offset) for `group` from outside the group (no member).
fn commit_outside(
    bootstrap: &str,
    group: &str,
    topic: &str,
    offsets: &BTreeMap<i32, i64>,
) -> Result<()> {
    let c = util::consumer(bootstrap, &[("group.id", group)])?;
    let mut tpl = TopicPartitionList::new();
    for (&p, &o) in offsets {
        tpl.add_partition_offset(topic, p, Offset::Offset(o))?;
    }
    c.commit(&tpl, CommitMode::Sync).context("OffsetCommit")
}

/// The group's committed offsets (OffsetFetch), partition -> offset.
fn committed(bootstrap: &str, group: &str, topic: &str) -> Result<BTreeMap<i32, Offset>> {
    let c = util::consumer(bootstrap, &[("group.id", group)])?;
    let tpl = c.committed_offsets(all_partitions(topic), REQUEST_TIMEOUT)?;
    Ok(tpl
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect())
}

/// A group commits part of each partition; committed offsets and log end offsets give the lag.
pub fn lag(bootstrap: &str, topic: &str) -> Result<()> {
    let group = group_of(topic);
    produce(bootstrap, topic, "lag", 90)?;
    let mut m = Member::join(bootstrap, &group, topic, "member", &[])?;
    m.commit_each = false;
    poll_until(&mut [&mut m], topic, "all 90 records", |m| {
        Ok(total_seen(m) >= 90)
    })?;
    let want: BTreeMap<i32, i64> = [(0, 10), (1, 20), (2, 30)].into();
    let mut tpl = TopicPartitionList::new();
    for (&p, &o) in &want {
        tpl.add_partition_offset(topic, p, Offset::Offset(o))?;
    }
    m.consumer
        .commit(&tpl, CommitMode::Sync)
        .context("OffsetCommit")?;
    drop(m);
    let got = committed(bootstrap, &group, topic)?;
    let c = util::consumer(bootstrap, &[])?;
    let mut lags = BTreeMap::new();
    for (&p, &o) in &want {
        ensure_that!(
            got.get(&p) == Some(&Offset::Offset(o)),
            "committed {got:?}, expected {want:?}"
        );
        let (_, end) = c.fetch_watermarks(topic, p, REQUEST_TIMEOUT)?;
        ensure_that!(
            end == 30,
            "partition {p}: log end offset {end}, expected 30"
        );
        lags.insert(p, end - o);
    }
    let expected: BTreeMap<i32, i64> = [(0, 20), (1, 10), (2, 0)].into();
    ensure_that!(lags == expected, "lag {lags:?}, expected {expected:?}");
    Ok(())
}

/// With no members, the group's offsets are reset to earliest (partition 0), to an offset
/// (partition 1) and by timestamp (partition 2); a new member starts from there.
pub fn reset_offsets(bootstrap: &str, topic: &str) -> Result<()> {
    let group = group_of(topic);
    let base = now_ms() - 600_000;
    util::produce_spread(bootstrap, topic, "reset", 90, base)?;
    let mut m = Member::join(bootstrap, &group, topic, "first member", &[])?;
    poll_until(&mut [&mut m], topic, "all 90 records", |m| {
        Ok(total_seen(m) >= 90)
    })?;
    drop(m);
    let c = util::consumer(bootstrap, &[])?;
    let (earliest, _) = c.fetch_watermarks(topic, 0, REQUEST_TIMEOUT)?;
    // Partition 2 holds records 2, 5, 8...; base+50 is first reached by record 50 (offset 16).
    let mut query = TopicPartitionList::new();
    query.add_partition_offset(topic, 2, Offset::Offset(base + 50))?;
    let by_time = c.offsets_for_times(query, REQUEST_TIMEOUT)?;
    let Some(Offset::Offset(at_time)) = by_time.find_partition(topic, 2).map(|e| e.offset()) else {
        anyhow::bail!("ListOffsets by time answered {by_time:?}");
    };
    ensure_that!(at_time == 16, "offset by time {at_time}, expected 16");
    let reset: BTreeMap<i32, i64> = [(0, earliest), (1, 7), (2, at_time)].into();
    commit_outside(bootstrap, &group, topic, &reset)?;
    let mut n = Member::join(bootstrap, &group, topic, "new member", &[])?;
    let want = reset.values().map(|o| (30 - o) as usize).sum::<usize>();
    poll_until(
        &mut [&mut n],
        topic,
        "the records after the reset positions",
        |m| Ok(total_seen(m) >= want),
    )?;
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    for at in &n.seen {
        first.entry(at.partition).or_insert(at.offset);
    }
    ensure_that!(
        first == reset,
        "new member started at {first:?}, expected {reset:?}"
    );
    exactly_once(&n.seen, want)
}
