//! Offsets, administration and replay tests.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetDeleteRequest,
    OffsetFetchRequest, ResponseKind, TopicName,
};

use super::rebalance::s;
use super::test_support::{subscription, H};
use super::{GroupConfig, GroupCoordinator, GroupRecord, GroupState};

fn range(topics: &[&str]) -> Vec<(&'static str, Bytes)> {
    vec![("range", subscription(topics))]
}

/// (topic, partition) -> (offset, leader epoch, metadata), read back at any version.
fn fetch(
    c: &GroupCoordinator,
    group: &str,
    topics: Option<&[(&str, &[i32])]>,
    version: i16,
) -> BTreeMap<(String, i32), (i64, i32, String)> {
    let mut out = BTreeMap::new();
    let check = |response: &kafka_protocol::messages::OffsetFetchResponse| {
        let mut buf = bytes::BytesMut::new();
        ResponseKind::OffsetFetch(response.clone())
            .encode(&mut buf, version)
            .expect("encodes");
    };
    if version >= 8 {
        let wanted = topics.map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopics::default()
                        .with_name(TopicName(s(t)))
                        .with_partition_indexes(ps.to_vec())
                })
                .collect()
        });
        let group = OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(wanted);
        let r = c.offset_fetch(
            version,
            OffsetFetchRequest::default().with_groups(vec![group]),
        );
        check(&r);
        for t in &r.groups[0].topics {
            for p in &t.partitions {
                let meta = p.metadata.as_deref().unwrap_or("null").to_string();
                let value = (p.committed_offset, p.committed_leader_epoch, meta);
                out.insert((t.name.0.to_string(), p.partition_index), value);
            }
        }
    } else {
        let wanted = topics.map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partition_indexes(ps.to_vec())
                })
                .collect()
        });
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(wanted);
        let r = c.offset_fetch(version, request);
        check(&r);
        for t in &r.topics {
            for p in &t.partitions {
                let meta = p.metadata.as_deref().unwrap_or("null").to_string();
                let value = (p.committed_offset, p.committed_leader_epoch, meta);
                out.insert((t.name.0.to_string(), p.partition_index), value);
            }
        }
    }
    out
}

fn key(topic: &str, partition: i32) -> (String, i32) {
    (topic.to_string(), partition)
}

#[test]
fn offset_commit_fetch_round_trip_at_every_version() {
    for version in 2i16..=9 {
        let mut h = H::new(GroupConfig::default());
        let g = h.form_group("g", 1, &range(&["t"]));
        assert_eq!(
            h.commit("g", &g.leader, g.generation, ("t", 0, 42), version),
            0
        );
        assert_eq!(
            h.commit("g", "", -1, ("t", 1, 7), version),
            25,
            "simple commit, busy group"
        );
        let fetch_version = version.max(1);
        let got = fetch(
            &h.c,
            "g",
            Some(&[("t", &[0, 1]), ("u", &[3])]),
            fetch_version,
        );
        let epoch = if version >= 6 && fetch_version >= 5 {
            7
        } else {
            -1
        };
        assert_eq!(got[&key("t", 0)], (42, epoch, "meta".into()), "v{version}");
        assert_eq!(got[&key("t", 1)], (-1, -1, String::new()), "v{version}");
        assert_eq!(got[&key("u", 3)].0, -1, "v{version}");
        let all = fetch(&h.c, "g", None, fetch_version);
        assert_eq!(
            all.keys().cloned().collect::<Vec<_>>(),
            vec![key("t", 0)],
            "v{version}"
        );
    }
}

#[test]
fn offset_fetch_v1_and_unknown_groups() {
    let mut h = H::new(GroupConfig::default());
    assert_eq!(h.commit("simple", "", -1, ("t", 0, 5), 2), 0);
    let got = fetch(&h.c, "simple", Some(&[("t", &[0, 1])]), 1);
    assert_eq!((got[&key("t", 0)].0, got[&key("t", 1)].0), (5, -1));
    let none = fetch(&h.c, "nobody", Some(&[("t", &[0])]), 8);
    assert_eq!(none[&key("t", 0)].0, -1);
    assert!(fetch(&h.c, "nobody", None, 8).is_empty());
}

#[test]
fn commits_to_unknown_groups() {
    let cases: [(i32, &str, i16, i16); 4] = [
        (-1, "", 8, 0),
        (1, "m", 8, 22),
        (1, "m", 9, 69),
        (-1, "m", 8, 0),
    ];
    for (generation, member, version, expected) in cases {
        let mut h = H::new(GroupConfig::default());
        let code = h.commit("g", member, generation, ("t", 0, 1), version);
        assert_eq!(
            code, expected,
            "gen {generation} member {member:?} v{version}"
        );
    }
}

#[test]
fn oversize_offset_metadata_is_refused() {
    let mut h = H::new(GroupConfig {
        offset_metadata_max_bytes: 3,
        ..GroupConfig::default()
    });
    assert_eq!(h.commit("g", "", -1, ("t", 0, 1), 8), 12);
    assert!(h
        .records
        .iter()
        .all(|r| !matches!(r, GroupRecord::OffsetCommit { .. })));
}

#[test]
fn replay_of_emitted_records_rebuilds_offsets_and_group() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 3, &range(&["t"]));
    for (i, m) in g.members.iter().enumerate() {
        let code = h.commit("g", m, g.generation, ("t", i as i32, 100 + i as i64), 8);
        assert_eq!(code, 0);
    }
    assert_eq!(h.commit("g", &g.leader, g.generation, ("t", 0, 200), 8), 0);
    assert_eq!(h.commit("simple", "", -1, ("u", 0, 9), 8), 0);
    assert_eq!(h.commit("gone", "", -1, ("u", 0, 9), 8), 0);
    let token = h.token(2);
    let fx = h.c.delete_groups(
        &H::ctx(token, 2),
        DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("gone"))]),
        h.now,
    );
    h.apply(fx);

    let mut loaded = GroupCoordinator::new(GroupConfig::default());
    for record in h.records.clone() {
        loaded.replay(record);
    }
    let fx = loaded.complete_load(h.now);
    assert!(fx.responses.is_empty() && fx.records.is_empty());
    for group in ["g", "simple"] {
        assert_eq!(
            fetch(&loaded, group, None, 8),
            fetch(&h.c, group, None, 8),
            "{group}"
        );
    }
    assert_eq!(fetch(&loaded, "g", None, 8)[&key("t", 0)].0, 200);
    assert_eq!(loaded.group_state("gone"), None);
    assert_eq!(loaded.group_state("g"), Some(GroupState::Stable));
    assert_eq!(loaded.groups["g"].to_record(), h.c.groups["g"].to_record());

    // The loaded group keeps working: members heartbeat, and a silent one expires.
    let mut h2 = H::new(GroupConfig::default());
    h2.c = loaded;
    for m in &g.members {
        assert_eq!(h2.heartbeat("g", m, g.generation), 0);
    }
    h2.advance(6_000);
    for m in &g.members[1..] {
        assert_eq!(h2.heartbeat("g", m, g.generation), 0);
    }
    h2.advance(4_000);
    assert_eq!(h2.c.group_state("g"), Some(GroupState::PreparingRebalance));
}

#[test]
fn delete_groups_refuses_non_empty_groups() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 1, &range(&["t"]));
    assert_eq!(h.commit("g", &g.leader, g.generation, ("t", 0, 1), 8), 0);
    let delete = |h: &mut H, ids: &[&str]| -> Vec<i16> {
        let token = h.token(2);
        let request = DeleteGroupsRequest::default()
            .with_groups_names(ids.iter().map(|id| GroupId(s(id))).collect());
        let fx = h.c.delete_groups(&H::ctx(token, 2), request, h.now);
        h.apply(fx);
        match h.take(token) {
            ResponseKind::DeleteGroups(r) => r.results.iter().map(|r| r.error_code).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(delete(&mut h, &["g", "nope"]), vec![68, 69]);
    h.leave("g", &[(&g.leader, None)], 1);
    let before = h.records.len();
    assert_eq!(delete(&mut h, &["g"]), vec![0]);
    assert!(matches!(
        &h.records[before..],
        [
            GroupRecord::OffsetCommit { value: None, .. },
            GroupRecord::GroupMetadata { value: None, .. }
        ]
    ));
    assert_eq!(h.c.group_state("g"), None);
}

fn offset_delete(h: &mut H, group: &str, topics: &[&str]) -> (i16, Vec<i16>) {
    let token = h.token(0);
    let request = OffsetDeleteRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partitions(vec![
                            OffsetDeleteRequestPartition::default().with_partition_index(0)
                        ])
                })
                .collect(),
        );
    let fx = h.c.offset_delete(&H::ctx(token, 0), request, h.now);
    h.apply(fx);
    match h.take(token) {
        ResponseKind::OffsetDelete(r) => (
            r.error_code,
            r.topics
                .iter()
                .map(|t| t.partitions[0].error_code)
                .collect(),
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn offset_delete_protects_subscribed_topics() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 2, &range(&["in-use"]));
    for topic in ["in-use", "old"] {
        assert_eq!(h.commit("g", &g.leader, g.generation, (topic, 0, 1), 8), 0);
    }
    assert_eq!(
        offset_delete(&mut h, "g", &["in-use", "old"]),
        (0, vec![86, 0])
    );
    let left = fetch(&h.c, "g", None, 8);
    assert_eq!(
        left.keys().cloned().collect::<Vec<_>>(),
        vec![key("in-use", 0)]
    );
    assert_eq!(offset_delete(&mut h, "nope", &["t"]).0, 69);
}

#[test]
fn offsets_expire_after_retention_with_tombstones() {
    let day = 24 * 60 * 60 * 1000;
    let mut h = H::new(GroupConfig::default());
    assert_eq!(h.commit("simple", "", -1, ("t", 0, 1), 8), 0);
    let g = h.form_group("g", 1, &range(&["t"]));
    assert_eq!(h.commit("g", &g.leader, g.generation, ("t", 0, 1), 8), 0);
    // Days of heartbeats, short-circuited: the member's session simply does not run out.
    for m in h.c.groups.get_mut("g").expect("g").members.values_mut() {
        m.heartbeat_deadline = i64::MAX;
    }
    h.c.reschedule("g");
    h.advance(6 * day);
    assert_eq!(h.commit("simple", "", -1, ("t", 1, 1), 8), 0);
    // 7 days (plus a check interval) after the first commits.
    let before = h.records.len();
    h.advance(day + 600_000);
    let simple = fetch(&h.c, "simple", None, 8);
    assert_eq!(
        simple.keys().cloned().collect::<Vec<_>>(),
        vec![key("t", 1)]
    );
    assert_eq!(
        fetch(&h.c, "g", None, 8).len(),
        1,
        "a subscribed, stable group keeps offsets"
    );
    assert!(h.records[before..].iter().any(|r| matches!(
        r,
        GroupRecord::OffsetCommit { key, value: None } if key.group_id == "simple"
    )));
    // Once the group is empty its offsets expire retention after it emptied, then the group
    // itself goes.
    h.leave("g", &[(&g.leader, None)], 1);
    h.advance(7 * day - 1);
    assert_eq!(fetch(&h.c, "g", None, 8).len(), 1);
    h.advance(600_001);
    assert!(fetch(&h.c, "g", None, 8).is_empty());
    assert_eq!(h.c.group_state("g"), None);
    assert!(matches!(
        h.records.last(),
        Some(GroupRecord::GroupMetadata { group_id, value: None }) if group_id == "g"
    ));
}

/// (version, states filter, types filter, expected group ids).
type ListCase<'a> = (i16, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

#[test]
fn list_and_describe_groups() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("stable", 2, &range(&["t"]));
    assert_eq!(h.commit("simple", "", -1, ("t", 0, 1), 8), 0);
    let list = |h: &H, version: i16, states: &[&str], types: &[&str]| -> Vec<String> {
        let request = ListGroupsRequest::default()
            .with_states_filter(states.iter().map(|x| s(x)).collect())
            .with_types_filter(types.iter().map(|x| s(x)).collect());
        let r = h.c.list_groups(version, request);
        ResponseKind::ListGroups(r.clone())
            .encode(&mut bytes::BytesMut::new(), version)
            .expect("encodes");
        r.groups.iter().map(|g| g.group_id.0.to_string()).collect()
    };
    let cases: [ListCase; 5] = [
        (0, &[], &[], &["simple", "stable"]),
        (4, &["stable"], &[], &["stable"]),
        (4, &["Empty"], &[], &["simple"]),
        (5, &[], &["consumer"], &[]),
        (5, &[], &["Classic"], &["simple", "stable"]),
    ];
    for (version, states, types, expected) in cases {
        assert_eq!(
            list(&h, version, states, types),
            expected,
            "v{version} {states:?} {types:?}"
        );
    }
    for version in 0i16..=5 {
        let request = DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(s("stable")), GroupId(s("missing"))])
            .with_include_authorized_operations(version >= 3);
        let r = h.c.describe_groups(version, request);
        ResponseKind::DescribeGroups(r.clone())
            .encode(&mut bytes::BytesMut::new(), version)
            .expect("encodes");
        let stable = &r.groups[0];
        assert_eq!(stable.group_state.as_str(), "Stable");
        assert_eq!(stable.protocol_data.as_str(), "range");
        assert_eq!(stable.members.len(), 2);
        let leader = stable
            .members
            .iter()
            .find(|m| m.member_id.as_str() == g.leader);
        assert_eq!(
            leader.expect("leader").member_metadata,
            subscription(&["t"])
        );
        assert_eq!(r.groups[1].group_state.as_str(), "Dead");
    }
}
