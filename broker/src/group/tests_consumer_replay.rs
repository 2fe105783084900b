//! KIP-848 persistence tests: build a consumer group, take the records it emitted, push them
//! through the binary codec and replay them into a new coordinator, which must describe the
//! same group and accept the members' heartbeats at the epochs they hold.

use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DeleteGroupsRequest, GroupId,
    ResponseKind,
};

use super::consumer_group::ConsumerGroup;
use super::consumer_member::MemberState;
use super::rebalance::s;
use super::record_codec::{decode, encode_key, encode_value, DecodedRecord};
use super::test_support::H;
use super::tests_consumer::{member_state, send, settle, state, topics, Client, T};
use super::{ConsumerGroupState, GroupConfig, GroupCoordinator, GroupRecord, TopicsSnapshot};

/// A coordinator rebuilt from `h`'s records (through their bytes), loaded at `h`'s time.
fn restarted(h: &H, md: &TopicsSnapshot) -> H {
    let mut c = GroupCoordinator::new(h.c.config().clone());
    for record in &h.records {
        let key = encode_key(record);
        let value = encode_value(record);
        match decode(&key, value.as_deref()).unwrap() {
            DecodedRecord::Group(decoded) => {
                assert_eq!(&decoded, record);
                c.replay(decoded);
            }
            other => panic!("{record:?} decoded as {other:?}"),
        }
    }
    c.load_topic_metadata(md);
    H::loaded(c, h.now)
}

fn describe(h: &H) -> ConsumerGroupDescribeResponse {
    let request = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))]);
    h.c.consumer_group_describe(request)
}

fn group(h: &H) -> &ConsumerGroup {
    h.c.groups["g"].consumer.as_ref().unwrap()
}

/// Everything persisted about a group, with the timers (restarted at load) left out.
fn persisted(h: &H) -> String {
    let g = group(h);
    let mut members = g.members.clone();
    for m in members.values_mut() {
        m.session_deadline = 0;
        m.revocation_deadline = m.revocation_deadline.map(|_| 0);
    }
    let mut statics: Vec<_> = g.static_members.iter().collect();
    statics.sort();
    format!(
        "{} {} {members:?} {:?} {statics:?} {:?} {}",
        g.group_epoch, g.assignment_epoch, g.target, g.subscribed_metadata, g.assignor
    )
}

#[test]
fn a_replayed_group_describes_and_heartbeats_as_before() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(6);
    let mut clients = vec![Client::new("a"), Client::new("b")];
    clients[1].instance = Some("i");
    clients[1].assignor = Some("range");
    settle(&mut h, &mut clients, &md);
    let epoch = group(&h).group_epoch;
    let mut back = restarted(&h, &md);
    assert_eq!(persisted(&back), persisted(&h));
    assert_eq!(describe(&back), describe(&h));
    assert_eq!(state(&back), ConsumerGroupState::Stable);
    for c in &mut clients {
        let before = (c.epoch, c.owned.clone());
        assert_eq!(c.beat(&mut back, &md), 0, "{}", c.id);
        assert_eq!((c.epoch, c.owned.clone()), before, "{}", c.id);
    }
    assert_eq!(group(&back).group_epoch, epoch);
    // Nothing changed, so nothing new was written.
    assert!(back.records.is_empty(), "{:?}", back.records);
}

#[test]
fn a_group_replayed_mid_reconciliation_finishes_it() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(4);
    let mut clients = vec![Client::new("a")];
    settle(&mut h, &mut clients, &md);
    // b joins: a must revoke half of its partitions before b gets them.
    let mut b = Client::new("b");
    assert_eq!(b.beat(&mut h, &md), 0);
    assert_eq!(clients[0].beat(&mut h, &md), 0);
    assert_eq!(member_state(&h, "a"), MemberState::UnrevokedPartitions);
    let mut back = restarted(&h, &md);
    assert_eq!(persisted(&back), persisted(&h));
    assert_eq!(member_state(&back, "a"), MemberState::UnrevokedPartitions);
    // The revocation timer restarts at load, like the session.
    let a = &group(&back).members["a"];
    assert_eq!(a.revocation_deadline, Some(back.now + 30_000));
    assert_eq!(a.session_deadline, back.now + 45_000);
    clients.push(b);
    settle(&mut back, &mut clients, &md);
    assert_eq!(clients[0].owned[&T].len() + clients[1].owned[&T].len(), 4);
    assert_eq!(clients[0].owned[&T].len(), 2);
}

#[test]
fn members_that_left_stay_gone_and_a_static_member_keeps_its_place() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(4);
    let mut clients = vec![Client::new("a"), Client::new("b"), Client::new("s1")];
    clients[2].instance = Some("i");
    settle(&mut h, &mut clients, &md);
    let mut b = clients.remove(1);
    // b leaves for good; s1 leaves temporarily (-2).
    assert_eq!(
        send(&mut h, b.request().with_member_epoch(-1), &md, 1).error_code,
        0
    );
    settle(&mut h, &mut clients, &md);
    let mut s1 = clients.pop().unwrap();
    assert_eq!(
        send(&mut h, s1.request().with_member_epoch(-2), &md, 1).error_code,
        0
    );
    let mut back = restarted(&h, &md);
    assert_eq!(persisted(&back), persisted(&h));
    assert_eq!(b.beat(&mut back, &md), 25); // UNKNOWN_MEMBER_ID
                                            // s1 comes back under a new member id and gets its old epoch and partitions.
    let mut s2 = Client::new("s2");
    s2.instance = Some("i");
    assert_eq!(s2.beat(&mut back, &md), 0);
    assert_eq!((s2.epoch, s2.owned.clone()), (s1.epoch, s1.owned.clone()));
    assert_eq!(s1.beat(&mut back, &md), 82); // FENCED_INSTANCE_ID
                                             // And a second restart, from the whole log, sees s2 in s1's place.
    let since = std::mem::take(&mut back.records);
    back.records = h.records.iter().cloned().chain(since).collect();
    let again = restarted(&back, &md);
    assert_eq!(persisted(&again), persisted(&back));
}

#[test]
fn a_fenced_member_is_persisted_as_gone() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(2);
    let mut clients = vec![Client::new("a"), Client::new("b")];
    settle(&mut h, &mut clients, &md);
    // Only a keeps heartbeating; b's session runs out.
    for _ in 0..10 {
        h.advance(5_000);
        assert_eq!(clients[0].beat(&mut h, &md), 0);
    }
    assert!(!group(&h).members.contains_key("b"));
    let mut back = restarted(&h, &md);
    assert_eq!(persisted(&back), persisted(&h));
    assert_eq!(clients[1].beat(&mut back, &md), 25);
    assert_eq!(clients[0].beat(&mut back, &md), 0);
    assert_eq!(clients[0].owned[&T].len(), 2);
}

#[test]
fn a_deleted_group_replays_to_nothing_and_is_not_found() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(2);
    let mut a = Client::new("a");
    assert_eq!(a.beat(&mut h, &md), 0);
    assert_eq!(
        send(&mut h, a.request().with_member_epoch(-1), &md, 1).error_code,
        0
    );
    let token = h.token(2);
    let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]);
    let fx = h.c.delete_groups(&H::ctx(token, 2), request, h.now);
    h.apply(fx);
    match h.take(token) {
        ResponseKind::DeleteGroups(r) => assert_eq!(r.results[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    // Kafka's tombstones, ending with the group epoch's.
    assert!(matches!(
        h.records.last(),
        Some(GroupRecord::ConsumerGroupMetadata { value: None, .. })
    ));
    let mut back = restarted(&h, &md);
    assert!(!back.c.groups.contains_key("g"));
    // A member of a group the coordinator does not know: GROUP_ID_NOT_FOUND, as Kafka 4.1.
    assert_eq!(a.beat(&mut back, &md), 69);
}

#[test]
fn a_regex_member_is_replayed_without_a_new_epoch() {
    let mut h = H::new(GroupConfig::default());
    let md = topics(3);
    let mut a = Client::new("a");
    a.subscription = vec![];
    let r = send(
        &mut h,
        a.request().with_subscribed_topic_regex(Some(s("t.*"))),
        &md,
        1,
    );
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    a.epoch = 1;
    let mut back = restarted(&h, &md);
    assert_eq!(persisted(&back), persisted(&h));
    assert_eq!(describe(&back), describe(&h));
    let r = send(&mut back, a.request(), &md, 1);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert_eq!(group(&back).members["a"].assigned[&T].len(), 3);
}
