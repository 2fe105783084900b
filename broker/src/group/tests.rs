//! Membership tests: joins, syncs, heartbeats, leaves, static members, deadlines.

use bytes::Bytes;

use super::test_support::{subscription, H, REBALANCE_MS};
use super::{GroupConfig, GroupRecord, GroupState};

fn range() -> Vec<(&'static str, Bytes)> {
    vec![("range", subscription(&["t1"]))]
}

#[test]
fn three_members_form_one_generation_and_all_get_assignments() {
    let mut h = H::new(GroupConfig::default());
    let joins: Vec<_> = (0..3).map(|_| h.join_new("g", &range())).collect();
    // The first rebalance of an empty group waits out the initial delay, re-armed once
    // because members arrived during it.
    h.advance(5_999);
    assert!(joins.iter().all(|(_, t)| !h.answered(*t)));
    h.advance(1);
    let mut leaders = Vec::new();
    let mut generation = None;
    for (member_id, token) in &joins {
        let r = h.join_response(*token).expect("answered");
        assert_eq!(r.error_code, 0);
        assert_eq!(r.member_id.as_str(), member_id);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        generation.get_or_insert(r.generation_id);
        assert_eq!(Some(r.generation_id), generation);
        leaders.push(r.leader.to_string());
        let is_leader = r.leader.as_str() == member_id;
        assert_eq!(r.members.len(), if is_leader { 3 } else { 0 });
        if is_leader {
            assert!(r
                .members
                .iter()
                .all(|m| m.metadata == subscription(&["t1"])));
        }
    }
    assert_eq!(generation, Some(1));
    assert!(leaders.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(h.c.group_state("g"), Some(GroupState::CompletingRebalance));

    let leader = leaders[0].clone();
    let followers: Vec<String> = joins
        .iter()
        .map(|(m, _)| m.clone())
        .filter(|m| *m != leader)
        .collect();
    let f0 = h.sync("g", &followers[0], 1, &[], 5);
    let f1 = h.sync("g", &followers[1], 1, &[], 5);
    assert!(
        !h.answered(f0) && !h.answered(f1),
        "followers wait for the leader"
    );
    // The leader leaves followers[1] out: it must get an empty (not null) assignment.
    let l = h.sync(
        "g",
        &leader,
        1,
        &[(&leader, b"L"), (&followers[0], b"F0")],
        5,
    );
    assert_eq!(
        h.sync_response(l).expect("leader").assignment,
        Bytes::from_static(b"L")
    );
    let r0 = h.sync_response(f0).expect("f0");
    assert_eq!((r0.error_code, r0.assignment.as_ref()), (0, b"F0".as_ref()));
    assert_eq!(r0.protocol_name.as_deref(), Some("range"));
    assert_eq!(r0.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(h.sync_response(f1).expect("f1").assignment, Bytes::new());
    assert_eq!(h.c.group_state("g"), Some(GroupState::Stable));
    match h.records.last() {
        Some(GroupRecord::GroupMetadata { value: Some(v), .. }) => {
            assert_eq!((v.generation, v.members.len()), (1, 3));
            assert_eq!(v.leader.as_deref(), Some(leader.as_str()));
        }
        other => panic!("expected group metadata, got {other:?}"),
    }
}

#[test]
fn protocol_selection_prefers_most_votes_among_common_protocols() {
    let cases: [(&[&[&str]], &str); 4] = [
        (
            &[
                &["range", "roundrobin"],
                &["roundrobin", "range"],
                &["roundrobin"],
            ],
            "roundrobin",
        ),
        (&[&["a", "b"], &["a", "b"], &["b", "a"]], "a"),
        (&[&["b", "a"], &["b", "a"], &["a", "b"]], "b"),
        (&[&["x", "y", "z"], &["z", "y"], &["y", "z"]], "y"),
    ];
    for (members, expected) in cases {
        let mut h = H::new(GroupConfig::default());
        let joins: Vec<_> = members
            .iter()
            .map(|names| {
                let protocols: Vec<(&str, Bytes)> =
                    names.iter().map(|n| (*n, Bytes::new())).collect();
                h.join_new("g", &protocols)
            })
            .collect();
        h.advance(6_000);
        for (_, token) in joins {
            let r = h.join_response(token).expect("answered");
            assert_eq!(r.protocol_name.as_deref(), Some(expected), "{members:?}");
        }
    }
}

#[test]
fn incompatible_joins_are_refused() {
    let mut h = H::new(GroupConfig::default());
    h.form_group("g", 1, &range());
    let cases: [(&str, &str, i16); 3] = [
        ("connect", "range", 23),
        ("consumer", "roundrobin", 23),
        ("consumer", "range", 0),
    ];
    for (protocol_type, protocol, expected) in cases {
        let request = H::join_request("g", "", None, &[(protocol, Bytes::new())])
            .with_protocol_type(protocol_type.to_string().into());
        let t = h.send_join(request, 5);
        let r = h.join_response(t).expect("answered");
        let code = if r.error_code == 79 { 0 } else { r.error_code };
        assert_eq!(code, expected, "{protocol_type}/{protocol}");
    }
}

#[test]
fn join_validation_codes() {
    let mut h = H::new(GroupConfig {
        max_member_metadata_bytes: 16,
        ..GroupConfig::default()
    });
    let big = vec![("range", Bytes::from(vec![0u8; 17]))];
    let cases: Vec<(&str, _, i16)> = vec![
        (
            "session too short",
            H::join_request("g", "", None, &range()).with_session_timeout_ms(5_999),
            26,
        ),
        (
            "session too long",
            H::join_request("g", "", None, &range()).with_session_timeout_ms(1_800_001),
            26,
        ),
        (
            "empty group id",
            H::join_request("", "", None, &range()),
            24,
        ),
        (
            "oversize metadata",
            H::join_request("g", "", None, &big),
            42,
        ),
        (
            "unknown member of unknown group",
            H::join_request("g", "nobody", None, &range()),
            25,
        ),
        ("no protocols", H::join_request("g", "", None, &[]), 23),
    ];
    for (what, request, expected) in cases {
        let t = h.send_join(request, 5);
        let r = h.join_response(t).expect("answered");
        assert_eq!(r.error_code, expected, "{what}");
        assert_eq!(r.generation_id, -1, "{what}");
    }
    assert_eq!(
        h.c.group_state("g"),
        None,
        "refused joins leave no group behind"
    );
}

#[test]
fn old_versions_join_without_member_id_round_trip() {
    for version in [0i16, 1, 3] {
        let mut h = H::new(GroupConfig::default());
        let t = h.join("g", "", None, &range(), version);
        h.advance(3_000);
        let r = h.join_response(t).expect("answered");
        assert_eq!((r.error_code, r.generation_id), (0, 1), "v{version}");
        assert_eq!(r.leader, r.member_id, "v{version}");
    }
}

#[test]
fn error_codes_for_stale_or_unknown_members() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 2, &range());
    let gen = g.generation;
    let follower = g.follower().to_string();
    let cases: [(&str, &str, i32, i16); 4] = [
        ("current", &follower, gen, 0),
        ("wrong generation", &follower, gen + 1, 22),
        ("unknown member", "ghost", gen, 25),
        ("unknown group", &follower, gen, 25),
    ];
    for (what, member, generation, expected) in cases {
        let group = if what == "unknown group" { "nope" } else { "g" };
        assert_eq!(
            h.heartbeat(group, member, generation),
            expected,
            "heartbeat: {what}"
        );
        let t = h.sync(group, member, generation, &[], 3);
        assert_eq!(
            h.sync_response(t).expect("sync").error_code,
            expected,
            "sync: {what}"
        );
        if what != "unknown group" {
            let code = h.commit(group, member, generation, ("t1", 0, 5), 8);
            assert_eq!(code, expected, "commit: {what}");
        }
    }
    // The leader's rejoin starts a rebalance: everyone else hears REBALANCE_IN_PROGRESS.
    let _ = h.join("g", &g.leader, None, &range(), 5);
    assert_eq!(h.heartbeat("g", &follower, gen), 27);
    let t = h.sync("g", &follower, gen, &[], 3);
    assert_eq!(h.sync_response(t).expect("sync").error_code, 27);
    // Commits are still allowed during a rebalance (members save progress before revoking).
    assert_eq!(h.commit("g", &follower, gen, ("t1", 0, 6), 8), 0);
    let t = h.sync("g", &g.leader, gen, &[], 5);
    let wrong = h.sync_response(t).expect("sync").error_code;
    assert_eq!(wrong, 27);
}

#[test]
fn sync_v5_checks_protocol_type_and_name() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 1, &range());
    let cases: [(Option<&str>, Option<&str>, i16); 4] = [
        (Some("consumer"), Some("range"), 0),
        (None, None, 0),
        (Some("connect"), Some("range"), 23),
        (Some("consumer"), Some("roundrobin"), 23),
    ];
    for (protocol_type, protocol_name, expected) in cases {
        let request = kafka_protocol::messages::SyncGroupRequest::default()
            .with_group_id(kafka_protocol::messages::GroupId("g".into()))
            .with_generation_id(g.generation)
            .with_member_id(g.leader.clone().into())
            .with_protocol_type(protocol_type.map(|s| s.to_string().into()))
            .with_protocol_name(protocol_name.map(|s| s.to_string().into()));
        let t = h.send_sync(request, 5);
        let r = h.sync_response(t).expect("answered");
        assert_eq!(
            r.error_code, expected,
            "{protocol_type:?}/{protocol_name:?}"
        );
    }
}

#[test]
fn member_that_stops_heartbeating_is_removed_and_group_rebalances() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 3, &range());
    let silent = g.members[2].clone();
    let alive: Vec<String> = g.members[..2].to_vec();
    for _ in 0..3 {
        h.advance(3_000);
        for m in &alive {
            assert_eq!(h.heartbeat("g", m, g.generation), 0);
        }
    }
    // 9 s in: still there. The session (10 s) runs out at the next step.
    assert_eq!(h.c.group_state("g"), Some(GroupState::Stable));
    h.advance(1_000);
    assert_eq!(h.c.group_state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(h.heartbeat("g", &silent, g.generation), 25);
    let mut joins = Vec::new();
    for m in &alive {
        assert_eq!(h.heartbeat("g", m, g.generation), 27);
        joins.push((m.clone(), h.join("g", m, None, &range(), 5)));
    }
    let next = h.finish_rebalance("g", joins);
    assert_eq!((next.generation, next.members.len()), (2, 2));
    assert!(!next.members.contains(&silent));
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 2, &range());
    let follower = g.follower().to_string();
    let t = h.join("g", &g.leader, None, &range(), 5);
    // The follower keeps heartbeating but never rejoins.
    for _ in 0..11 {
        h.advance(2_900);
        if h.answered(t) {
            break;
        }
        assert_eq!(h.heartbeat("g", &follower, g.generation), 27);
    }
    let r = h
        .join_response(t)
        .expect("join completes at the rebalance timeout");
    assert_eq!((r.generation_id, r.members.len()), (2, 1));
    assert_eq!(h.heartbeat("g", &follower, g.generation), 25);
}

#[test]
fn join_that_never_syncs_expires() {
    let mut h = H::new(GroupConfig::default());
    let joins: Vec<_> = (0..2).map(|_| h.join_new("g", &range())).collect();
    h.advance(6_000);
    let mut leader = String::new();
    for (_, t) in &joins {
        leader = h.join_response(*t).expect("joined").leader.to_string();
    }
    let follower = joins
        .iter()
        .map(|(m, _)| m)
        .find(|m| **m != leader)
        .cloned();
    let follower = follower.expect("follower");
    let l = h.sync("g", &leader, 1, &[(&leader, b"x")], 3);
    assert_eq!(h.sync_response(l).expect("leader synced").error_code, 0);
    // The follower heartbeats (so its session lives) but never sends SyncGroup.
    for _ in 0..10 {
        h.advance(2_999);
        assert_eq!(h.heartbeat("g", &leader, 1), 0);
        assert_eq!(h.heartbeat("g", &follower, 1), 0);
    }
    h.advance(i64::from(REBALANCE_MS) - 29_990);
    assert_eq!(h.c.group_state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(h.heartbeat("g", &follower, 1), 25);
    assert_eq!(h.heartbeat("g", &leader, 1), 27);
}

#[test]
fn member_id_required_that_never_comes_back_expires() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 1, &range());
    let t = h.join("g", "", None, &range(), 5);
    let pending = h.join_response(t).expect("answered").member_id.to_string();
    assert_eq!(
        h.c.group_state("g"),
        Some(GroupState::Stable),
        "no rebalance yet"
    );
    for _ in 0..4 {
        h.advance(3_000);
        assert_eq!(h.heartbeat("g", &g.leader, g.generation), 0);
    }
    let t = h.join("g", &pending, None, &range(), 5);
    assert_eq!(h.join_response(t).expect("answered").error_code, 25);
    assert_eq!(h.c.group_state("g"), Some(GroupState::Stable));
}

#[test]
fn leave_group_triggers_rebalance() {
    for version in [0i16, 3, 5] {
        let mut h = H::new(GroupConfig::default());
        let g = h.form_group("g", 3, &range());
        let leaving = g.members[0].clone();
        let r = h.leave("g", &[(&leaving, None)], version);
        let code = if version >= 3 {
            r.members[0].error_code
        } else {
            r.error_code
        };
        assert_eq!((code, r.error_code), (0, 0), "v{version}");
        assert_eq!(h.c.group_state("g"), Some(GroupState::PreparingRebalance));
        let joins: Vec<_> = g.members[1..]
            .iter()
            .map(|m| (m.clone(), h.join("g", m, None, &range(), 5)))
            .collect();
        let next = h.finish_rebalance("g", joins);
        assert_eq!((next.generation, next.members.len()), (2, 2), "v{version}");
        let r = h.leave("g", &[(&leaving, None)], version);
        let code = if version >= 3 {
            r.members[0].error_code
        } else {
            r.error_code
        };
        assert_eq!(code, 25, "v{version}: second leave");
    }
}

#[test]
fn last_member_leaving_empties_the_group() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 1, &range());
    h.leave("g", &[(&g.leader, None)], 4);
    assert_eq!(h.c.group_state("g"), Some(GroupState::Empty));
    match h.records.last() {
        Some(GroupRecord::GroupMetadata { value: Some(v), .. }) => {
            assert_eq!((v.generation, v.members.len()), (2, 0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn initial_delay_extends_while_members_arrive() {
    let mut h = H::new(GroupConfig::default());
    let (_, a) = h.join_new("g", &range());
    h.advance(2_000);
    let (_, b) = h.join_new("g", &range());
    h.advance(3_999); // t = 5999: the delay was re-armed at 3000 for another 3000
    assert!(!h.answered(a) && !h.answered(b));
    h.advance(1);
    assert!(h.answered(a) && h.answered(b));
}

#[test]
fn group_max_size_is_enforced() {
    let mut h = H::new(GroupConfig {
        max_size: 2,
        ..GroupConfig::default()
    });
    h.form_group("g", 2, &range());
    let t = h.join("g", "", None, &range(), 5);
    assert_eq!(h.join_response(t).expect("answered").error_code, 81);
    let t = h.join("g", "", Some("static-3"), &range(), 5);
    assert_eq!(h.join_response(t).expect("answered").error_code, 81);
}

#[test]
fn oversize_assignment_is_refused_and_group_rebalances() {
    let mut h = H::new(GroupConfig {
        max_assignment_bytes: 4,
        ..GroupConfig::default()
    });
    let joins: Vec<_> = (0..2).map(|_| h.join_new("g", &range())).collect();
    h.advance(6_000);
    let mut leader = String::new();
    for (_, t) in &joins {
        leader = h.join_response(*t).expect("joined").leader.to_string();
    }
    let follower = joins
        .iter()
        .find(|(m, _)| *m != leader)
        .map(|(m, _)| m.clone());
    let follower = follower.expect("follower");
    let f = h.sync("g", &follower, 1, &[], 5);
    let l = h.sync("g", &leader, 1, &[(&follower, b"12345")], 5);
    assert_eq!(h.sync_response(l).expect("leader").error_code, 42);
    assert_eq!(h.sync_response(f).expect("follower").error_code, 27);
    assert_eq!(h.c.group_state("g"), Some(GroupState::PreparingRebalance));
}

#[test]
fn static_member_restart_keeps_assignment_without_rebalance_and_fences_old_id() {
    let mut h = H::new(GroupConfig::default());
    let t1 = h.join("g", "", Some("i1"), &range(), 5);
    let t2 = h.join("g", "", Some("i2"), &range(), 5);
    h.advance(6_000);
    let r1 = h.join_response(t1).expect("i1");
    let r2 = h.join_response(t2).expect("i2");
    // The first member to join leads; i2 is the follower that restarts.
    let leader = r1.member_id.to_string();
    assert_eq!(r1.leader.as_str(), leader);
    let old_id = r2.member_id.to_string();
    let follower_sync = h.sync("g", &old_id, 1, &[], 3);
    let leader_sync = h.sync("g", &leader, 1, &[(&leader, b"A"), (&old_id, b"B")], 3);
    h.sync_response(leader_sync).expect("leader synced");
    h.sync_response(follower_sync).expect("follower synced");
    let (restarting, old_assignment) = ("i2", b"B");
    let before = h.records.len();
    let t = h.join("g", "", Some(restarting), &range(), 5);
    let r = h.join_response(t).expect("answered at once");
    assert_eq!((r.error_code, r.generation_id), (0, 1));
    assert_eq!(r.leader.as_str(), leader);
    let new_id = r.member_id.to_string();
    assert_ne!(new_id, old_id);
    // As in Kafka, a static member's id starts with its instance id, so assignors that order
    // members by id keep it in the same place after the restart.
    assert!(
        old_id.starts_with("i2-") && new_id.starts_with("i2-"),
        "{old_id} {new_id}"
    );
    assert_eq!(
        h.c.group_state("g"),
        Some(GroupState::Stable),
        "no rebalance"
    );
    assert!(matches!(
        &h.records[before..],
        [GroupRecord::GroupMetadata { value: Some(v), .. }]
            if v.members.iter().any(|m| m.member_id == new_id)
    ));
    let t = h.sync("g", &new_id, 1, &[], 5);
    assert_eq!(
        h.sync_response(t).expect("sync").assignment.as_ref(),
        old_assignment
    );
    assert_eq!(h.heartbeat_as("g", &old_id, Some(restarting), 1), 82);
    assert_eq!(h.heartbeat("g", &old_id, 1), 25);
    let t = h.join("g", &old_id, Some(restarting), &range(), 5);
    assert_eq!(h.join_response(t).expect("fenced").error_code, 82);
    assert_eq!(h.heartbeat_as("g", &new_id, Some(restarting), 1), 0);
    let r = h.leave("g", &[("", Some(restarting))], 4);
    assert_eq!(r.members[0].error_code, 0, "leave by instance id");
    assert_eq!(h.c.group_state("g"), Some(GroupState::PreparingRebalance));
}

#[test]
fn static_leader_restart_v9_skips_assignment_and_a_changed_protocol_choice_rebalances() {
    let mut h = H::new(GroupConfig::default());
    let t = h.join("g", "", Some("solo"), &range(), 9);
    h.advance(3_000);
    let r = h.join_response(t).expect("joined");
    let old = r.member_id.to_string();
    let s = h.sync("g", &old, 1, &[(&old, b"A")], 5);
    h.sync_response(s).expect("synced");
    let t = h.join("g", "", Some("solo"), &range(), 9);
    let r = h.join_response(t).expect("immediate");
    assert!(r.skip_assignment);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.members.len(), 1);
    // Restart preferring another protocol, which changes the group's choice: a real rebalance
    // (which, with one member that has rejoined, completes at once).
    let changed = vec![
        ("roundrobin", subscription(&["t1"])),
        ("range", subscription(&["t1"])),
    ];
    let t = h.join("g", "", Some("solo"), &changed, 9);
    let r = h.join_response(t).expect("rebalanced");
    assert_eq!(
        (r.error_code, r.generation_id, r.skip_assignment),
        (0, 2, false)
    );
    assert_eq!(r.members.len(), 1);
    assert_eq!(h.c.group_state("g"), Some(GroupState::CompletingRebalance));
}

#[test]
fn static_leader_restart_before_v9_is_told_the_old_leader_and_follows() {
    let mut h = H::new(GroupConfig::default());
    let t1 = h.join("g", "", Some("a"), &range(), 7);
    let t2 = h.join("g", "", Some("b"), &range(), 7);
    h.advance(6_000);
    let old_leader = h.join_response(t1).expect("a").member_id.to_string();
    let follower = h.join_response(t2).expect("b").member_id.to_string();
    let ls = h.sync(
        "g",
        &old_leader,
        1,
        &[(&old_leader, b"A"), (&follower, b"B")],
        3,
    );
    let fs = h.sync("g", &follower, 1, &[], 3);
    h.sync_response(ls).expect("leader synced");
    h.sync_response(fs).expect("follower synced");
    let t = h.join("g", "", Some("a"), &range(), 7);
    let r = h.join_response(t).expect("answered at once");
    // The restarted leader must not think it leads: it would assign over an empty member list.
    assert_eq!((r.error_code, r.generation_id), (0, 1));
    assert_ne!(r.leader, r.member_id);
    assert_eq!(r.leader.as_str(), old_leader);
    assert!(r.members.is_empty());
    let new_id = r.member_id.to_string();
    let t = h.sync("g", &new_id, 1, &[], 3);
    assert_eq!(h.sync_response(t).expect("sync").assignment.as_ref(), b"A");
    assert_eq!(
        h.heartbeat("g", &follower, 1),
        0,
        "no rebalance for the other member"
    );
    assert_eq!(h.c.group_state("g"), Some(GroupState::Stable));
}

#[test]
fn static_restart_with_new_metadata_but_the_same_protocol_does_not_rebalance() {
    let mut h = H::new(GroupConfig::default());
    let t = h.join("g", "", Some("solo"), &range(), 9);
    h.advance(3_000);
    let old = h.join_response(t).expect("joined").member_id.to_string();
    let s = h.sync("g", &old, 1, &[(&old, b"A")], 5);
    h.sync_response(s).expect("synced");
    // A cooperative-sticky client restarts owning nothing: same protocol, other metadata bytes.
    let restarted = vec![("range", Bytes::from_static(b"owned-nothing"))];
    let t = h.join("g", "", Some("solo"), &restarted, 9);
    let r = h.join_response(t).expect("answered at once");
    assert_eq!((r.error_code, r.generation_id), (0, 1));
    assert!(r.skip_assignment);
    assert_eq!(r.members[0].metadata.as_ref(), b"owned-nothing");
    assert_eq!(h.c.group_state("g"), Some(GroupState::Stable));
}

#[test]
fn repeated_joins_are_answered_never_dropped() {
    let mut h = H::new(GroupConfig::default());
    let g = h.form_group("g", 2, &range());
    let follower = g.follower().to_string();
    // Leader rejoins (rebalance), then rejoins again before the phase ends: the first parked
    // join is answered, not forgotten.
    let first = h.join("g", &g.leader, None, &range(), 5);
    let second = h.join("g", &g.leader, None, &range(), 5);
    assert_eq!(h.join_response(first).expect("answered").error_code, 27);
    let f = h.join("g", &follower, None, &range(), 5);
    let r = h.join_response(second).expect("phase complete");
    assert_eq!((r.generation_id, r.members.len()), (2, 2));
    h.join_response(f).expect("follower");
    // In CompletingRebalance an unchanged rejoin just repeats the current generation.
    let again = h.join("g", &follower, None, &range(), 5);
    let r = h.join_response(again).expect("repeated at once");
    assert_eq!((r.error_code, r.generation_id), (0, 2));
    assert_eq!(h.c.group_state("g"), Some(GroupState::CompletingRebalance));
}
