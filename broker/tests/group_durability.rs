//! Groups and committed offsets survive broker restarts (kill -9 and SIGTERM) because they are
//! kept in `__consumer_offsets`; the internal topic is protected from clients.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

mod wire;
use wire::{call, BrokerProcess};

fn group() -> GroupId {
    GroupId(StrBytes::from_static_str("durable-group"))
}

fn commit(generation: i32, member: &StrBytes, offset: i64) -> OffsetCommitRequest {
    wire::offset_commit(group(), generation, member, offset, Some("md"))
}

async fn committed(s: &mut TcpStream) -> Vec<(i32, i64, String)> {
    let fetch = OffsetFetchRequest::default()
        .with_group_id(group())
        .with_topics(Some(vec![
            offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partition_indexes(vec![2, 3]),
        ]));
    let r: OffsetFetchResponse = call(s, ApiKey::OffsetFetch, 5, &fetch).await;
    assert_eq!(r.error_code, 0);
    r.topics[0]
        .partitions
        .iter()
        .map(|p| {
            let md = p
                .metadata
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default();
            (p.partition_index, p.committed_offset, md)
        })
        .collect()
}

/// Joins as the only member and syncs; returns (generation, member id).
async fn join_and_sync(s: &mut TcpStream) -> (i32, StrBytes) {
    let join = |member: StrBytes| {
        JoinGroupRequest::default()
            .with_group_id(group())
            .with_session_timeout_ms(30_000)
            .with_rebalance_timeout_ms(30_000)
            .with_member_id(member)
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
            )
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::from_static(b"opaque"))])
    };
    let r: JoinGroupResponse = call(s, ApiKey::JoinGroup, 4, &join(StrBytes::default())).await;
    assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED");
    let r: JoinGroupResponse = call(s, ApiKey::JoinGroup, 4, &join(r.member_id)).await;
    assert_eq!(r.error_code, 0);
    let (generation, member) = (r.generation_id, r.member_id);
    let sync = SyncGroupRequest::default()
        .with_group_id(group())
        .with_generation_id(generation)
        .with_member_id(member.clone())
        .with_assignments(vec![
            sync_group_request::SyncGroupRequestAssignment::default()
                .with_member_id(member.clone())
                .with_assignment(Bytes::from_static(b"mine")),
        ]);
    let r: SyncGroupResponse = call(s, ApiKey::SyncGroup, 3, &sync).await;
    assert_eq!(r.error_code, 0);
    (generation, member)
}

async fn heartbeat(s: &mut TcpStream, generation: i32, member: &StrBytes) -> i16 {
    let hb = HeartbeatRequest::default()
        .with_group_id(group())
        .with_generation_id(generation)
        .with_member_id(member.clone());
    let r: HeartbeatResponse = call(s, ApiKey::Heartbeat, 3, &hb).await;
    r.error_code
}

async fn describe(s: &mut TcpStream) -> describe_groups_response::DescribedGroup {
    let request = DescribeGroupsRequest::default().with_groups(vec![group()]);
    let mut r: DescribeGroupsResponse = call(s, ApiKey::DescribeGroups, 5, &request).await;
    r.groups.remove(0)
}

#[test]
fn offsets_and_membership_survive_kill_9_and_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let mut broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    let (generation, member) = runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        let (generation, member) = join_and_sync(&mut s).await;
        let r: OffsetCommitResponse = call(
            &mut s,
            ApiKey::OffsetCommit,
            7,
            &commit(generation, &member, 42),
        )
        .await;
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
        let g = describe(&mut s).await;
        assert_eq!(g.members[0].client_host.as_str(), "/127.0.0.1");
        (generation, member)
    });
    broker.signal("-KILL");

    let mut broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        assert_eq!(
            committed(&mut s).await,
            vec![(2, 42, "md".into()), (3, -1, String::new())]
        );
        // The member and its generation came back from the group metadata record.
        let g = describe(&mut s).await;
        assert_eq!((g.error_code, g.group_state.as_str()), (0, "Stable"));
        assert_eq!(g.members.len(), 1);
        assert_eq!(g.members[0].member_id, member);
        assert_eq!(&g.members[0].member_assignment[..], b"mine");
        assert_eq!(heartbeat(&mut s, generation, &member).await, 0);
        let r: OffsetCommitResponse = call(
            &mut s,
            ApiKey::OffsetCommit,
            7,
            &commit(generation, &member, 43),
        )
        .await;
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
    });
    broker.signal("-TERM");

    let broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        assert_eq!(committed(&mut s).await[0], (2, 43, "md".into()));
        assert_eq!(heartbeat(&mut s, generation, &member).await, 0);
        // A member that leaves empties the group; that too is durable.
        let leave = LeaveGroupRequest::default()
            .with_group_id(group())
            .with_member_id(member.clone());
        let r: LeaveGroupResponse = call(&mut s, ApiKey::LeaveGroup, 0, &leave).await;
        assert_eq!(r.error_code, 0);
    });
    drop(broker);
    let broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        let g = describe(&mut s).await;
        assert_eq!((g.group_state.as_str(), g.members.len()), ("Empty", 0));
        assert_eq!(committed(&mut s).await[0].1, 43);
    });
}

#[test]
fn the_offsets_topic_is_internal_and_protected() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        let name = || TopicName(StrBytes::from_static_str("__consumer_offsets"));
        let request = MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name())),
        ]));
        let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 9, &request).await;
        assert_eq!(r.topics[0].error_code, 0);
        assert!(r.topics[0].is_internal);
        assert_eq!(r.topics[0].partitions.len(), 5);

        let produce = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5_000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(name())
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::new())),
                ])]);
        let r: ProduceResponse = call(&mut s, ApiKey::Produce, 9, &produce).await;
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 17,
            "INVALID_TOPIC_EXCEPTION"
        );

        let delete = DeleteTopicsRequest::default().with_topic_names(vec![name()]);
        let r: DeleteTopicsResponse = call(&mut s, ApiKey::DeleteTopics, 4, &delete).await;
        assert_ne!(r.responses[0].error_code, 0);
        let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 9, &request).await;
        assert_eq!(r.topics[0].error_code, 0, "still there");
    });
}

/// Many connections commit to one partition of one group at once: whatever order the
/// coordinator applied them in, the log holds the same order, so the value read back after a
/// restart is the value served before it.
#[test]
fn concurrent_commits_reach_the_log_in_state_order() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    let addr = broker.addr;
    let before = runtime.block_on(async move {
        let mut tasks = Vec::new();
        for offset in 0..16i64 {
            tasks.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                for round in 0..10 {
                    let request = commit(-1, &StrBytes::default(), offset * 100 + round);
                    let r: OffsetCommitResponse =
                        call(&mut s, ApiKey::OffsetCommit, 7, &request).await;
                    assert_eq!(r.topics[0].partitions[0].error_code, 0);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let mut s = TcpStream::connect(addr).await.unwrap();
        committed(&mut s).await[0].1
    });
    broker.signal("-KILL");
    let broker = BrokerProcess::start(dir.path(), &["offsets.topic.num.partitions=5"]);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        assert_eq!(committed(&mut s).await[0].1, before);
    });
}
