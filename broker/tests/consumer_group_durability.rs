//! KIP-848 consumer groups survive broker restarts (kill -9 and SIGTERM): they are replayed
//! from `__consumer_offsets`, so ConsumerGroupDescribe reports the same group and the members'
//! heartbeats are accepted at the epochs they held, without a new assignment.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::collections::BTreeSet;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

mod wire;
use wire::{call, BrokerProcess};

const OVERRIDES: &[&str] = &["offsets.topic.num.partitions=3"];

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A member as the client sees it: id, epoch and owned partitions of topic `t`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    id: &'static str,
    epoch: i32,
    owned: BTreeSet<i32>,
}

impl Member {
    fn new(id: &'static str) -> Self {
        Self {
            id,
            epoch: 0,
            owned: BTreeSet::new(),
        }
    }
}

/// Creates topic `t` with 4 partitions; returns its id.
async fn create_topic(s: &mut TcpStream) -> uuid::Uuid {
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(str("t")))
        .with_num_partitions(4)
        .with_replication_factor(1);
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5_000);
    let r: CreateTopicsResponse = call(s, ApiKey::CreateTopics, 7, &req).await;
    assert_eq!(r.topics[0].error_code, 0);
    r.topics[0].topic_id
}

/// One ConsumerGroupHeartbeat v1 of `m` (reporting what it owns), applied to `m`; returns the
/// response.
async fn heartbeat(
    s: &mut TcpStream,
    topic_id: uuid::Uuid,
    m: &mut Member,
) -> ConsumerGroupHeartbeatResponse {
    let owned = consumer_group_heartbeat_request::TopicPartitions::default()
        .with_topic_id(topic_id)
        .with_partitions(m.owned.iter().copied().collect());
    let owned = if m.owned.is_empty() {
        vec![]
    } else {
        vec![owned]
    };
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(str("g848")))
        .with_member_id(str(m.id))
        .with_member_epoch(m.epoch)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(str("t"))]))
        .with_topic_partitions(Some(owned));
    let r: ConsumerGroupHeartbeatResponse = call(s, ApiKey::ConsumerGroupHeartbeat, 1, &req).await;
    if r.error_code == 0 {
        m.epoch = r.member_epoch;
        if let Some(a) = &r.assignment {
            m.owned = a
                .topic_partitions
                .iter()
                .flat_map(|t| t.partitions.iter().copied())
                .collect();
        }
    }
    r
}

async fn describe(s: &mut TcpStream) -> consumer_group_describe_response::DescribedGroup {
    let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(str("g848"))]);
    let mut r: ConsumerGroupDescribeResponse =
        call(s, ApiKey::ConsumerGroupDescribe, 0, &req).await;
    r.groups.remove(0)
}

#[test]
fn consumer_groups_survive_kill_9_and_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut a = Member::new("member-a");
    let mut b = Member::new("member-b");

    let mut broker = BrokerProcess::start(dir.path(), OVERRIDES);
    let (topic_id, before) = runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        let topic_id = create_topic(&mut s).await;
        // Both join; a hands two partitions over to b. Bounded: the group settles in a few
        // rounds or the test fails.
        for _ in 0..10 {
            assert_eq!(heartbeat(&mut s, topic_id, &mut a).await.error_code, 0);
            assert_eq!(heartbeat(&mut s, topic_id, &mut b).await.error_code, 0);
            if describe(&mut s).await.group_state.as_str() == "Stable" {
                break;
            }
        }
        let g = describe(&mut s).await;
        assert_eq!(g.group_state.as_str(), "Stable", "{g:?}");
        assert_eq!((a.owned.len(), b.owned.len()), (2, 2));
        (topic_id, g)
    });
    broker.signal("-KILL");

    let mut broker = BrokerProcess::start(dir.path(), OVERRIDES);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        assert_eq!(describe(&mut s).await, before);
        for m in [&mut a, &mut b] {
            let held = m.clone();
            let r = heartbeat(&mut s, topic_id, m).await;
            assert_eq!((r.error_code, r.member_epoch), (0, held.epoch), "{r:?}");
            assert_eq!(*m, held);
        }
    });
    broker.signal("-TERM");

    let mut broker = BrokerProcess::start(dir.path(), OVERRIDES);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        assert_eq!(describe(&mut s).await, before);
        // a leaves for good; that is durable too.
        let leaving = Member {
            epoch: -1,
            ..a.clone()
        };
        let r = heartbeat(&mut s, topic_id, &mut leaving.clone()).await;
        assert_eq!(r.error_code, 0);
    });
    broker.signal("-TERM");

    let broker = BrokerProcess::start(dir.path(), OVERRIDES);
    runtime.block_on(async {
        let mut s = TcpStream::connect(broker.addr).await.unwrap();
        let g = describe(&mut s).await;
        let ids: Vec<&str> = g.members.iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(ids, vec!["member-b"]);
        assert_eq!(g.group_epoch, before.group_epoch + 1);
        assert_eq!(heartbeat(&mut s, topic_id, &mut a).await.error_code, 25);
        // b is handed a's partitions on its next heartbeats.
        for _ in 0..3 {
            assert_eq!(heartbeat(&mut s, topic_id, &mut b).await.error_code, 0);
        }
        assert_eq!(b.owned, (0..4).collect());
    });
    drop(broker);
}
