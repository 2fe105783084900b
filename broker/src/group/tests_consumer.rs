//! KIP-848 consumer-group tests: joins, reconciliation (partitions move only after their
//! previous owner revoked them), leaving, session expiry, fencing, assignors, new partitions,
//! and the namespace and offsets shared with classic groups. Driven by a fake clock.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    DeleteGroupsRequest, GroupId, ListGroupsRequest, OffsetFetchRequest, ResponseKind, TopicName,
};
use uuid::Uuid;

use super::assignor::{self, Assignment, AssignorMember, TopicInfo, TopicsSnapshot};
use super::consumer_member::MemberState;
use super::rebalance::s;
use super::test_support::{subscription, H};
use super::{ConsumerGroupState, GroupConfig};

pub(super) const T: Uuid = Uuid::from_u128(0x1111);
const U: Uuid = Uuid::from_u128(0x2222);

pub(super) fn topics(partitions: i32) -> TopicsSnapshot {
    BTreeMap::from([("t".to_string(), TopicInfo { id: T, partitions })])
}

pub(super) fn send(
    h: &mut H,
    r: ConsumerGroupHeartbeatRequest,
    md: &TopicsSnapshot,
    v: i16,
) -> ConsumerGroupHeartbeatResponse {
    let token = h.token(v);
    let fx =
        h.c.consumer_group_heartbeat(&H::ctx(token, v), r, md, h.now);
    h.apply(fx);
    match h.take(token) {
        ResponseKind::ConsumerGroupHeartbeat(r) => r,
        other => panic!("{other:?}"),
    }
}

fn wire(a: &Assignment) -> Vec<TopicPartitions> {
    a.iter()
        .map(|(id, ps)| {
            TopicPartitions::default()
                .with_topic_id(*id)
                .with_partitions(ps.iter().copied().collect())
        })
        .collect()
}

/// A well-behaved client: sends what it owns, adopts each assignment at once (revoking what
/// it lost before its next heartbeat).
pub(super) struct Client {
    pub(super) id: String,
    pub(super) epoch: i32,
    pub(super) owned: Assignment,
    pub(super) subscription: Vec<&'static str>,
    pub(super) instance: Option<&'static str>,
    pub(super) assignor: Option<&'static str>,
}

impl Client {
    pub(super) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            epoch: 0,
            owned: Assignment::new(),
            subscription: vec!["t"],
            instance: None,
            assignor: None,
        }
    }

    pub(super) fn request(&self) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(s(&self.id))
            .with_member_epoch(self.epoch)
            .with_instance_id(self.instance.map(s))
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(
                self.subscription.iter().map(|t| TopicName(s(t))).collect(),
            ))
            .with_server_assignor(self.assignor.map(s))
            .with_topic_partitions(Some(wire(&self.owned)))
    }

    /// One heartbeat; returns its error code.
    pub(super) fn beat(&mut self, h: &mut H, md: &TopicsSnapshot) -> i16 {
        let r = send(h, self.request(), md, 1);
        if r.error_code == 0 {
            self.epoch = r.member_epoch;
            if let Some(a) = r.assignment {
                self.owned = a
                    .topic_partitions
                    .iter()
                    .map(|t| (t.topic_id, t.partitions.iter().copied().collect()))
                    .collect();
            }
        }
        r.error_code
    }

    fn count(&self) -> usize {
        self.owned.values().map(BTreeSet::len).sum()
    }
}

pub(super) fn state(h: &H) -> ConsumerGroupState {
    h.c.groups["g"]
        .consumer
        .as_ref()
        .map(|c| c.state())
        .unwrap()
}

pub(super) fn member_state(h: &H, id: &str) -> MemberState {
    h.c.groups["g"].consumer.as_ref().unwrap().members[id].state
}

/// Heartbeats every client in turn until nothing changes; panics after 20 rounds.
pub(super) fn settle(h: &mut H, clients: &mut [Client], md: &TopicsSnapshot) {
    for _ in 0..20 {
        let before: Vec<_> = clients.iter().map(|c| (c.epoch, c.owned.clone())).collect();
        for c in clients.iter_mut() {
            assert_eq!(c.beat(h, md), 0);
        }
        let after: Vec<_> = clients.iter().map(|c| (c.epoch, c.owned.clone())).collect();
        if before == after && state(h) == ConsumerGroupState::Stable {
            return;
        }
    }
    panic!("group did not settle");
}

fn assert_disjoint_cover(clients: &[Client], partitions: i32) {
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.owned.get(&T).into_iter().flatten().copied());
    }
    all.sort_unstable();
    assert_eq!(all, (0..partitions).collect::<Vec<_>>());
}

#[test]
fn first_member_gets_every_partition() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(6);
    let mut a = Client::new("a");
    assert_eq!(a.beat(&mut h, &md), 0);
    assert_eq!(a.epoch, 1);
    assert_eq!(a.count(), 6);
    assert_eq!(state(&h), ConsumerGroupState::Stable);
}

#[test]
fn partitions_move_only_after_the_previous_owner_revoked_them() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(6);
    let (mut a, mut b) = (Client::new("a"), Client::new("b"));
    a.beat(&mut h, &md);
    assert_eq!(b.beat(&mut h, &md), 0);
    // b is at the new epoch but everything in its target is still a's.
    assert_eq!((b.epoch, b.count()), (2, 0));
    assert_eq!(member_state(&h, "b"), MemberState::UnreleasedPartitions);
    assert_eq!(state(&h), ConsumerGroupState::Reconciling);
    // a is told to keep 3; it stays at epoch 1 until it has revoked the rest.
    let before = a.owned.clone();
    let r = send(&mut h, a.request(), &md, 1);
    assert_eq!(r.member_epoch, 1);
    assert_eq!(member_state(&h, "a"), MemberState::UnrevokedPartitions);
    assert_eq!(
        r.assignment.unwrap().topic_partitions[0].partitions.len(),
        3
    );
    // b still gets nothing while a owns them.
    assert_eq!(b.beat(&mut h, &md), 0);
    assert_eq!(b.count(), 0);
    // A heartbeat still owning them changes nothing.
    a.owned = before;
    assert_eq!(a.beat(&mut h, &md), 0);
    assert_eq!(a.epoch, 1);
    assert_eq!(a.count(), 3);
    // Now a reports the revocation and moves to epoch 2; then b gets the released ones.
    assert_eq!(a.beat(&mut h, &md), 0);
    assert_eq!(a.epoch, 2);
    assert_eq!(b.beat(&mut h, &md), 0);
    assert_eq!(b.count(), 3);
    assert_disjoint_cover(&[a, b], 6);
    assert_eq!(state(&h), ConsumerGroupState::Stable);
}

#[test]
fn leaving_and_expiring_members_hand_their_partitions_over() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(6);
    let mut cs = vec![Client::new("a"), Client::new("b"), Client::new("c")];
    settle(&mut h, &mut cs, &md);
    assert!(cs.iter().all(|c| c.count() == 2));
    assert_disjoint_cover(&cs, 6);
    // c leaves.
    let leave = cs[2].request().with_member_epoch(-1);
    let r = send(&mut h, leave, &md, 1);
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    cs.pop();
    settle(&mut h, &mut cs, &md);
    assert!(cs.iter().all(|c| c.count() == 3));
    assert_disjoint_cover(&cs, 6);
    // b stops heartbeating: fenced after the session timeout (45 s), not before.
    h.advance(44_000);
    assert_eq!(cs[0].beat(&mut h, &md), 0);
    h.advance(1_000);
    assert!(h.c.groups["g"]
        .consumer
        .as_ref()
        .unwrap()
        .members
        .contains_key("a"));
    assert!(!h.c.groups["g"]
        .consumer
        .as_ref()
        .unwrap()
        .members
        .contains_key("b"));
    assert_eq!(cs[1].beat(&mut h, &md), 25); // UNKNOWN_MEMBER_ID
    cs.pop();
    settle(&mut h, &mut cs, &md);
    assert_eq!(cs[0].count(), 6);
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_fenced() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(4);
    let (mut a, mut b) = (Client::new("a"), Client::new("b"));
    a.beat(&mut h, &md);
    b.beat(&mut h, &md);
    let r = send(&mut h, a.request(), &md, 1); // told to revoke; never does
    assert_eq!(r.error_code, 0);
    for _ in 0..4 {
        h.advance(7_500);
        b.beat(&mut h, &md);
    }
    assert!(!h.c.groups["g"]
        .consumer
        .as_ref()
        .unwrap()
        .members
        .contains_key("a"));
    assert_eq!(b.count(), 4);
}

#[test]
fn epochs_and_identities_are_checked_as_kafka_does() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(2);
    let mut a = Client::new("a");
    a.beat(&mut h, &md);
    let cases: Vec<(&str, ConsumerGroupHeartbeatRequest, i16)> = vec![
        ("epoch ahead", a.request().with_member_epoch(5), 110),
        ("epoch below -2", a.request().with_member_epoch(-3), 42),
        ("unknown member", a.request().with_member_id(s("zz")), 25),
        (
            "unknown group",
            a.request().with_group_id(GroupId(s("nope"))),
            69,
        ),
        (
            "leave unknown group",
            a.request()
                .with_group_id(GroupId(s("nope")))
                .with_member_epoch(-1),
            69,
        ),
        (
            "leave unknown member",
            a.request().with_member_id(s("zz")).with_member_epoch(-1),
            25,
        ),
        (
            "empty group id",
            a.request().with_group_id(GroupId(s(""))),
            42,
        ),
        (
            "v1 empty member id",
            a.request().with_member_id(s("")).with_member_epoch(0),
            42,
        ),
        (
            "join without rebalance timeout",
            a.request()
                .with_member_epoch(0)
                .with_rebalance_timeout_ms(-1)
                .with_topic_partitions(Some(vec![])),
            42,
        ),
        (
            "join owning partitions",
            a.request().with_member_epoch(0),
            42,
        ),
        (
            "join without subscription",
            a.request()
                .with_member_epoch(0)
                .with_topic_partitions(Some(vec![]))
                .with_subscribed_topic_names(None),
            42,
        ),
        (
            "static leave without instance",
            a.request().with_member_epoch(-2),
            42,
        ),
        (
            "invalid regex",
            a.request().with_subscribed_topic_regex(Some(s("t("))),
            128,
        ),
        (
            "unknown assignor",
            a.request().with_server_assignor(Some(s("sticky"))),
            112,
        ),
    ];
    for (name, request, code) in cases {
        let r = send(&mut h, request, &md, 1);
        assert_eq!(r.error_code, code, "{name}");
        assert!(r.error_message.is_some(), "{name}");
    }
    // librdkafka's empty regex next to topic names is no regex.
    let empty_regex = a.request().with_subscribed_topic_regex(Some(s("")));
    assert_eq!(send(&mut h, empty_regex, &md, 1).error_code, 0);
    // The previous epoch is still accepted when the member owns no more than it is assigned.
    let mut b = Client::new("b");
    b.beat(&mut h, &md);
    assert_eq!(a.beat(&mut h, &md), 0); // a revokes one of its two
    assert_eq!(a.beat(&mut h, &md), 0);
    assert_eq!(a.epoch, 2);
    let lost = a.request().with_member_epoch(1);
    assert_eq!(send(&mut h, lost, &md, 1).error_code, 0);
}

#[test]
fn a_full_group_refuses_new_members() {
    let config = GroupConfig {
        max_size: 1,
        ..GroupConfig::default()
    };
    let mut h = H::new(config);
    let md = topics(1);
    assert_eq!(Client::new("a").beat(&mut h, &md), 0);
    assert_eq!(Client::new("b").beat(&mut h, &md), 81); // GROUP_MAX_SIZE_REACHED
}

#[test]
fn v0_generates_member_ids() {
    let mut h = H::new(GroupConfig::default());
    let r = send(&mut h, Client::new("").request(), &topics(1), 0);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.member_id.unwrap().len(), 36);
}

#[test]
fn static_members_come_back_without_a_rebalance() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(4);
    let mut a = Client::new("a1");
    a.instance = Some("i");
    let mut b = Client::new("b");
    let mut cs = vec![a, b];
    settle(&mut h, &mut cs, &md);
    b = cs.pop().unwrap();
    a = cs.pop().unwrap();
    let epoch = h.c.groups["g"].consumer.as_ref().unwrap().group_epoch;
    // A second member with the same instance id while a1 is active.
    let mut imposter = Client::new("a2");
    imposter.instance = Some("i");
    assert_eq!(imposter.beat(&mut h, &md), 111); // UNRELEASED_INSTANCE_ID
                                                 // a1 leaves temporarily; a2 takes its place and its partitions, epoch unchanged.
    let r = send(&mut h, a.request().with_member_epoch(-2), &md, 1);
    assert_eq!((r.error_code, r.member_epoch), (0, -2));
    assert_eq!(imposter.beat(&mut h, &md), 0);
    assert_eq!(imposter.owned, a.owned);
    assert_eq!(
        h.c.groups["g"].consumer.as_ref().unwrap().group_epoch,
        epoch
    );
    assert_eq!(b.beat(&mut h, &md), 0);
    // The old member id is fenced.
    assert_eq!(send(&mut h, a.request(), &md, 1).error_code, 82); // FENCED_INSTANCE_ID
}

#[test]
fn new_and_grown_topics_are_picked_up() {
    let mut h = H::new(GroupConfig::default());
    let mut md = topics(2);
    let mut cs = vec![Client::new("a"), Client::new("b")];
    for c in &mut cs {
        c.subscription = vec!["t", "u"];
    }
    settle(&mut h, &mut cs, &md);
    assert_disjoint_cover(&cs, 2);
    md.get_mut("t").unwrap().partitions = 6;
    md.insert(
        "u".to_string(),
        TopicInfo {
            id: U,
            partitions: 2,
        },
    );
    let epoch = h.c.groups["g"].consumer.as_ref().unwrap().group_epoch;
    settle(&mut h, &mut cs, &md);
    assert_eq!(
        h.c.groups["g"].consumer.as_ref().unwrap().group_epoch,
        epoch + 1
    );
    assert_disjoint_cover(&cs, 6);
    assert!(cs.iter().all(|c| c.count() == 4));
}

#[test]
fn range_and_uniform_assignors() {
    let (s1, s2) = (
        BTreeSet::from(["t".to_string()]),
        BTreeSet::from(["t".to_string(), "u".to_string()]),
    );
    let members = [
        AssignorMember {
            member_id: "m1",
            topics: &s1,
        },
        AssignorMember {
            member_id: "m2",
            topics: &s2,
        },
    ];
    let mut md = topics(5);
    md.insert(
        "u".to_string(),
        TopicInfo {
            id: U,
            partitions: 3,
        },
    );
    let range = assignor::assign("range", &members, &md, &BTreeMap::new());
    assert_eq!(range["m1"][&T], BTreeSet::from([0, 1, 2]));
    assert_eq!(range["m2"][&T], BTreeSet::from([3, 4]));
    assert_eq!(range["m2"][&U], BTreeSet::from([0, 1, 2]));
    let uniform = assignor::assign("uniform", &members, &md, &BTreeMap::new());
    let count = |m: &str| uniform[m].values().map(BTreeSet::len).sum::<usize>();
    assert_eq!((count("m1"), count("m2")), (4, 4));
    assert!(!uniform["m1"].contains_key(&U));
    // Sticky: a balanced previous assignment is kept as it is.
    let previous = BTreeMap::from([
        (
            "m1".to_string(),
            Assignment::from([(T, BTreeSet::from([1, 3, 4, 0]))]),
        ),
        (
            "m2".to_string(),
            Assignment::from([(T, BTreeSet::from([2])), (U, BTreeSet::from([0, 1, 2]))]),
        ),
    ]);
    assert_eq!(
        assignor::assign("uniform", &members, &md, &previous),
        previous
    );
}

#[test]
fn members_pick_the_assignor() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(5);
    let mut cs = vec![Client::new("a"), Client::new("b")];
    cs[0].assignor = Some("range");
    settle(&mut h, &mut cs, &md);
    assert_eq!(cs[0].owned[&T], BTreeSet::from([0, 1, 2]));
    assert_eq!(h.c.groups["g"].consumer.as_ref().unwrap().assignor, "range");
}

#[test]
fn classic_and_consumer_groups_share_ids_and_offsets() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(2);
    let mut a = Client::new("a");
    a.beat(&mut h, &md);
    // A classic join on the consumer group.
    let token = h.join("g", "", None, &[("range", subscription(&["t"]))], 5);
    assert_eq!(h.join_response(token).unwrap().error_code, 23); // INCONSISTENT_GROUP_PROTOCOL
                                                                // Offsets: the member epoch is the generation (v9+).
    assert_eq!(h.commit("g", "a", 1, ("t", 0, 5), 9), 0);
    assert_eq!(h.commit("g", "a", 0, ("t", 0, 5), 9), 113); // STALE_MEMBER_EPOCH
    assert_eq!(h.commit("g", "a", 2, ("t", 0, 5), 9), 113);
    assert_eq!(h.commit("g", "a", 1, ("t", 0, 5), 8), 35); // UNSUPPORTED_VERSION
    assert_eq!(h.commit("g", "zz", 1, ("t", 0, 5), 9), 25);
    assert_eq!(h.commit("g", "", -1, ("t", 0, 5), 9), 25); // not while it has members
    assert!(!h.records.is_empty(), "offset commit records");
    // OffsetFetch v9 checks the member epoch; admin fetches (no member) are not checked.
    let fetch = |member: Option<&str>, epoch: i32| {
        let group = OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(member.map(s))
            .with_member_epoch(epoch)
            .with_topics(None);
        let r =
            h.c.offset_fetch(9, OffsetFetchRequest::default().with_groups(vec![group]));
        let g = &r.groups[0];
        (g.error_code, g.topics.len())
    };
    assert_eq!(fetch(Some("a"), 1), (0, 1));
    assert_eq!(fetch(None, -1), (0, 1));
    assert_eq!(fetch(Some("a"), 0), (113, 0));
    assert_eq!(fetch(Some("zz"), 1), (25, 0));
    // ListGroups shows the type and honours the filter.
    let listed = h.c.list_groups(
        5,
        ListGroupsRequest::default().with_types_filter(vec![s("consumer")]),
    );
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_type.as_str(), "consumer");
    assert_eq!(listed.groups[0].group_state.as_str(), "Stable");
    let classic = h.c.list_groups(
        5,
        ListGroupsRequest::default().with_types_filter(vec![s("classic")]),
    );
    assert!(classic.groups.is_empty());
    // ConsumerGroupDescribe.
    let d = h.c.consumer_group_describe(
        ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(s("g")), GroupId(s("x"))]),
    );
    assert_eq!(d.groups[0].error_code, 0);
    assert_eq!(
        d.groups[0].members[0].assignment.topic_partitions[0]
            .topic_name
            .0
            .as_str(),
        "t"
    );
    assert_eq!(d.groups[1].error_code, 69);
    // After a leaves, the empty group can go back to classic and keeps its offsets.
    send(&mut h, a.request().with_member_epoch(-1), &md, 1);
    let (_, token) = h.join_new("g", &[("range", subscription(&["t"]))]);
    assert!(!h.answered(token));
    assert!(h.c.groups["g"].consumer.is_none());
    assert!(h.c.groups["g"].has_offsets());
    // And a consumer heartbeat on a classic group with members is refused.
    assert_eq!(Client::new("c").beat(&mut h, &md), 69);
}

#[test]
fn only_empty_consumer_groups_can_be_deleted() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(2);
    let mut a = Client::new("a");
    a.beat(&mut h, &md);
    assert_eq!(h.commit("g", "a", 1, ("t", 0, 5), 9), 0);
    let delete = |h: &mut H| {
        let token = h.token(2);
        let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]);
        let fx = h.c.delete_groups(&H::ctx(token, 2), request, h.now);
        h.apply(fx);
        match h.take(token) {
            ResponseKind::DeleteGroups(r) => r.results[0].error_code,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(delete(&mut h), 68); // NON_EMPTY_GROUP
    send(&mut h, a.request().with_member_epoch(-1), &md, 1);
    assert_eq!(state(&h), ConsumerGroupState::Empty);
    h.records.clear();
    assert_eq!(delete(&mut h), 0);
    assert!(!h.c.groups.contains_key("g"));
    // The offset goes with it (a tombstone for the other engineer's persistence).
    assert!(h
        .records
        .iter()
        .any(|r| matches!(r, super::GroupRecord::OffsetCommit { value: None, .. })));
}

#[test]
fn a_static_member_that_left_is_fenced_after_its_session() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(2);
    let mut a = Client::new("a");
    a.instance = Some("i");
    a.beat(&mut h, &md);
    let r = send(&mut h, a.request().with_member_epoch(-2), &md, 1);
    assert_eq!(r.member_epoch, -2);
    // It keeps its partitions while away ...
    h.advance(44_999);
    let members = &h.c.groups["g"].consumer.as_ref().unwrap().members;
    assert_eq!(members["a"].assigned[&T].len(), 2);
    // ... until its session runs out.
    h.advance(1);
    assert_eq!(state(&h), ConsumerGroupState::Empty);
}

#[test]
fn regex_subscriptions_follow_the_topics_that_match() {
    let mut h = H::new(GroupConfig::default());
    let mut md = topics(2);
    md.insert(
        "other".into(),
        TopicInfo {
            id: U,
            partitions: 1,
        },
    );
    let mut a = Client::new("a");
    a.subscription = vec![];
    let regex = |c: &Client| c.request().with_subscribed_topic_regex(Some(s("t|tx")));
    let r = send(&mut h, regex(&a), &md, 1);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    let owned: Vec<_> = r.assignment.unwrap().topic_partitions;
    assert_eq!(owned.len(), 1);
    assert_eq!((owned[0].topic_id, owned[0].partitions.len()), (T, 2));
    // A new topic that matches bumps the epoch on the member's next heartbeat and is assigned.
    const X: Uuid = Uuid::from_u128(0x3333);
    md.insert(
        "tx".into(),
        TopicInfo {
            id: X,
            partitions: 3,
        },
    );
    a.epoch = 1;
    let r = send(&mut h, regex(&a), &md, 1);
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    let g = h.c.groups["g"].consumer.as_ref().unwrap();
    assert_eq!(g.members["a"].assigned.get(&X).map(BTreeSet::len), Some(3));
    assert!(!g.members["a"].assigned.contains_key(&U));
    // Described with its regex.
    let request = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))]);
    let described = h.c.consumer_group_describe(request);
    let member = &described.groups[0].members[0];
    assert_eq!(member.subscribed_topic_regex.as_deref(), Some("t|tx"));
}
