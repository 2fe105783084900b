//! Raw-socket tests against a real `Server` on 127.0.0.1: framing, version negotiation, the
//! connection-closing rules, pipelining, and the metadata/admin APIs.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::net::SocketAddr;
use std::time::Duration;

use broker::{BrokerConfig, Server};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod wire;
use wire::{call, frame, read_response};

/// The lying-array test below must not abort this test process either.
#[global_allocator]
static ALLOCATOR: broker::alloc::GuardedAllocator = broker::alloc::GuardedAllocator;

const TIMEOUT: Duration = Duration::from_secs(10);

struct TestBroker {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), broker::server::ServerError>>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    async fn start() -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::default();
        config.listener.host = "127.0.0.1".into();
        config.listener.port = 0;
        config.log_dirs = vec![dir.path().to_path_buf()];
        let server = Server::bind(config).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestBroker {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(TIMEOUT, &mut self.task).await;
        result.expect("shutdown in time").unwrap().unwrap();
    }
}

/// Asserts the broker closes the connection (EOF or reset) without answering.
async fn assert_closed(mut stream: TcpStream) {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(TIMEOUT, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("expected the connection to close, got {n} bytes"),
        Err(_) => panic!("connection still open after {TIMEOUT:?}"),
    }
}

async fn assert_api_versions_works(broker: &TestBroker) {
    let mut s = broker.connect().await;
    let r: ApiVersionsResponse = call(
        &mut s,
        ApiKey::ApiVersions,
        0,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert_eq!(r.error_code, 0);
}

fn advertised_ranges() -> Vec<(i16, i16, i16)> {
    broker::handlers::api_versions::SUPPORTED
        .iter()
        .map(|&(k, min, max)| (k as i16, min, max))
        .collect()
}

fn ranges(r: &ApiVersionsResponse) -> Vec<(i16, i16, i16)> {
    r.api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_v0_and_v3() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let v0: ApiVersionsResponse = call(
        &mut s,
        ApiKey::ApiVersions,
        0,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert_eq!(v0.error_code, 0);
    assert_eq!(ranges(&v0), advertised_ranges());

    let request = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("socket-test"))
        .with_client_software_version(StrBytes::from_static_str("1.0"));
    s.write_all(&frame(ApiKey::ApiVersions, 3, 9, &request))
        .await
        .unwrap();
    let (correlation_id, mut body) = read_response(&mut s, 0).await;
    assert_eq!(correlation_id, 9);
    // error 2 + compact array 1 + 7 per API + throttle 4 + zero tagged fields 1: no tagged
    // fields anywhere, which librdkafka 2.0.2 (kcat) insists on.
    assert_eq!(body.len(), 2 + 1 + 7 * advertised_ranges().len() + 4 + 1);
    assert_eq!(body[body.len() - 1], 0);
    let v3 = ApiVersionsResponse::decode(&mut body, 3).unwrap();
    assert_eq!(body.remaining(), 0);
    assert_eq!(v3.error_code, 0);
    assert_eq!(v3.throttle_time_ms, 0);
    assert_eq!(v3.finalized_features_epoch, -1);
    assert!(v3.supported_features.is_empty() && v3.finalized_features.is_empty());
    assert_eq!(ranges(&v3), advertised_ranges());
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_too_new_gets_kip_511_answer() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    // A v99 request with a v2 header and a body we cannot know the format of.
    let mut b = BytesMut::new();
    b.put_i16(ApiKey::ApiVersions as i16);
    b.put_i16(99);
    b.put_i32(1234);
    b.put_i16(-1);
    b.put_u8(0);
    b.put_slice(b"future fields");
    let mut framed = (b.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&b);
    s.write_all(&framed).await.unwrap();
    let (correlation_id, mut body) = read_response(&mut s, 0).await;
    assert_eq!(correlation_id, 1234);
    let r = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(body.remaining(), 0);
    assert_eq!(r.error_code, 35);
    assert_eq!(ranges(&r), advertised_ranges());
    // The connection stays usable for the retry at a lower version.
    let r: ApiVersionsResponse = call(
        &mut s,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert_eq!(r.error_code, 0);
    broker.shutdown().await;
}

/// Raw bytes after the size prefix of a request: key, version, correlation id, then `rest`.
fn raw(key: i16, version: i16, rest: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_i16(key);
    b.put_i16(version);
    b.put_i32(5);
    b.put_slice(rest);
    let mut framed = (b.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&b);
    framed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_close_the_connection_only() {
    let broker = TestBroker::start().await;
    let metadata_v0_header = [0x00, 0x00]; // an empty client id
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversize frame", {
            let mut v = 200_000_000i32.to_be_bytes().to_vec();
            v.extend_from_slice(&[0; 16]);
            v
        }),
        ("short frame", {
            let mut v = 4i32.to_be_bytes().to_vec();
            v.extend_from_slice(&[0, 18, 0, 0]);
            v
        }),
        ("negative size", (-1i32).to_be_bytes().to_vec()),
        ("unknown api key", raw(9999, 0, &[0xff, 0xff])),
        (
            "api not served",
            raw(
                ApiKey::DescribeUserScramCredentials as i16,
                0,
                &[0xff, 0xff],
            ),
        ),
        (
            "version too new",
            raw(ApiKey::Metadata as i16, 99, &[0xff, 0xff]),
        ),
        ("produce v2", raw(ApiKey::Produce as i16, 2, &[0xff, 0xff])),
        (
            "garbage body",
            raw(ApiKey::Metadata as i16, 12, &[0xff, 0xff, 0x01, 0x02, 0x03]),
        ),
        ("lying array count", {
            let mut rest = metadata_v0_header.to_vec();
            rest.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
            raw(ApiKey::Metadata as i16, 0, &rest)
        }),
    ];
    for (name, bytes) in cases {
        let mut s = broker.connect().await;
        s.write_all(&bytes).await.unwrap();
        tokio::time::timeout(TIMEOUT, assert_closed(s))
            .await
            .unwrap_or_else(|_| panic!("{name}: not closed"));
        assert_api_versions_works(&broker).await;
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let mut bytes = frame(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default());
    let none = MetadataRequest::default().with_topics(Some(vec![]));
    bytes.extend(frame(ApiKey::Metadata, 1, 2, &none));
    bytes.extend(frame(
        ApiKey::ApiVersions,
        0,
        3,
        &ApiVersionsRequest::default(),
    ));
    s.write_all(&bytes).await.unwrap();
    let (c1, _) = read_response(&mut s, 0).await;
    let (c2, mut body) = read_response(&mut s, ApiKey::Metadata.response_header_version(1)).await;
    let metadata = MetadataResponse::decode(&mut body, 1).unwrap();
    let (c3, _) = read_response(&mut s, 0).await;
    assert_eq!((c1, c2, c3), (1, 2, 3));
    assert!(metadata.topics.is_empty(), "v1 empty list means no topics");
    broker.shutdown().await;
}

fn wanted(name: &str) -> metadata_request::MetadataRequestTopic {
    metadata_request::MetadataRequestTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
}

fn topic_name(t: &metadata_response::MetadataResponseTopic) -> &str {
    t.name.as_ref().map(|n| n.0.as_str()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_auto_creates_and_reports_errors() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let request = MetadataRequest::default()
        .with_topics(Some(vec![wanted("auto-topic"), wanted("bad name!")]))
        .with_allow_auto_topic_creation(true);
    let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 12, &request).await;
    assert_eq!(r.brokers.len(), 1);
    assert_eq!(r.brokers[0].node_id.0, 1);
    assert_eq!(r.brokers[0].host.as_str(), "127.0.0.1");
    assert_eq!(r.brokers[0].port, i32::from(broker.addr.port()));
    assert_eq!(r.controller_id.0, 1);
    assert_eq!(r.cluster_id.as_ref().map(|c| c.len()), Some(22));
    assert_eq!(r.topics.len(), 2);
    let created = &r.topics[0];
    assert_eq!((topic_name(created), created.error_code), ("auto-topic", 0));
    assert!(!created.topic_id.is_nil());
    assert_eq!(created.partitions.len(), 1);
    let p = &created.partitions[0];
    assert_eq!(
        (p.partition_index, p.leader_id.0, p.leader_epoch),
        (0, 1, 0)
    );
    assert_eq!(
        p.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(p.isr_nodes.iter().map(|b| b.0).collect::<Vec<_>>(), vec![1]);
    assert_eq!(r.topics[1].error_code, 17);

    // Not allowed to auto-create: unknown.
    let request = MetadataRequest::default()
        .with_topics(Some(vec![wanted("other")]))
        .with_allow_auto_topic_creation(false);
    let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 4, &request).await;
    assert_eq!(r.topics[0].error_code, 3);

    // All topics: null in v1+, empty in v0.
    let r: MetadataResponse = call(
        &mut s,
        ApiKey::Metadata,
        1,
        &MetadataRequest::default().with_topics(None),
    )
    .await;
    // Kafka lists its internal topic too, flagged.
    assert_eq!(
        r.topics.iter().map(topic_name).collect::<Vec<_>>(),
        vec!["__consumer_offsets", "auto-topic"]
    );
    assert!(r.topics[0].is_internal && !r.topics[1].is_internal);
    let all_v0 = MetadataRequest::default().with_topics(Some(vec![]));
    let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 0, &all_v0).await;
    assert_eq!(r.topics.len(), 2);

    // By topic id (v10+), known and unknown.
    let id = created.topic_id;
    let by_id = |id| {
        metadata_request::MetadataRequestTopic::default()
            .with_topic_id(id)
            .with_name(None)
    };
    let request = MetadataRequest::default()
        .with_topics(Some(vec![by_id(id), by_id(uuid::Uuid::from_u128(1))]));
    let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 12, &request).await;
    assert_eq!(
        (topic_name(&r.topics[0]), r.topics[0].error_code),
        ("auto-topic", 0)
    );
    assert_eq!(r.topics[1].error_code, 100);
    broker.shutdown().await;
}

fn creatable(
    name: &str,
    partitions: i32,
    replication: i16,
) -> create_topics_request::CreatableTopic {
    create_topics_request::CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
        .with_num_partitions(partitions)
        .with_replication_factor(replication)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_grow_and_delete_topics() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let retention = create_topics_request::CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("retention.ms"))
        .with_value(Some(StrBytes::from_static_str("60000")));
    let request = CreateTopicsRequest::default().with_topics(vec![
        creatable("t1", 3, -1).with_configs(vec![retention]),
        creatable("t2", -1, 3),
        creatable("t3", 0, 1),
        creatable("t4", 2, 1),
    ]);
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 7, &request).await;
    let codes: Vec<i16> = r.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, vec![0, 38, 37, 0]);
    assert_eq!(
        (r.topics[0].num_partitions, r.topics[0].replication_factor),
        (3, 1)
    );
    assert!(!r.topics[0].topic_id.is_nil());
    assert_eq!(r.topics[0].configs.as_ref().map(Vec::len), Some(1));
    assert!(r.topics[1].error_message.is_some());

    let again = CreateTopicsRequest::default()
        .with_topics(vec![creatable("t1", 1, 1), creatable("t5", 1, 1)])
        .with_validate_only(true);
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 4, &again).await;
    assert_eq!(
        r.topics.iter().map(|t| t.error_code).collect::<Vec<_>>(),
        vec![36, 0]
    );

    let grow = |name: &str, count| {
        create_partitions_request::CreatePartitionsTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_count(count)
    };
    let request = CreatePartitionsRequest::default().with_topics(vec![
        grow("t1", 5),
        grow("t4", 1),
        grow("missing", 4),
    ]);
    let r: CreatePartitionsResponse = call(&mut s, ApiKey::CreatePartitions, 3, &request).await;
    let codes: Vec<i16> = r.results.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, vec![0, 37, 3]);

    let request = MetadataRequest::default()
        .with_topics(Some(vec![wanted("t1"), wanted("t5")]))
        .with_allow_auto_topic_creation(false);
    let r: MetadataResponse = call(&mut s, ApiKey::Metadata, 4, &request).await;
    assert_eq!(r.topics[0].partitions.len(), 5);
    assert_eq!(
        r.topics[1].error_code, 3,
        "validate_only must not create t5"
    );

    let t4_id = {
        let r: MetadataResponse = call(
            &mut s,
            ApiKey::Metadata,
            12,
            &MetadataRequest::default().with_topics(None),
        )
        .await;
        r.topics
            .iter()
            .find(|t| topic_name(t) == "t4")
            .unwrap()
            .topic_id
    };
    let request = DeleteTopicsRequest::default().with_topics(vec![
        delete_topics_request::DeleteTopicState::default()
            .with_topic_id(t4_id)
            .with_name(None),
        delete_topics_request::DeleteTopicState::default()
            .with_name(Some(TopicName(StrBytes::from_static_str("t1")))),
        delete_topics_request::DeleteTopicState::default().with_topic_id(uuid::Uuid::from_u128(5)),
    ]);
    let r: DeleteTopicsResponse = call(&mut s, ApiKey::DeleteTopics, 6, &request).await;
    let codes: Vec<i16> = r.responses.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, vec![0, 0, 100]);
    let by_name = DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(StrBytes::from_static_str("t1"))]);
    let r: DeleteTopicsResponse = call(&mut s, ApiKey::DeleteTopics, 1, &by_name).await;
    assert_eq!(r.responses[0].error_code, 3);
    let r: MetadataResponse = call(
        &mut s,
        ApiKey::Metadata,
        1,
        &MetadataRequest::default().with_topics(None),
    )
    .await;
    assert_eq!(
        r.topics.iter().map(topic_name).collect::<Vec<_>>(),
        vec!["__consumer_offsets"]
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_and_cluster_point_at_this_node() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let port = i32::from(broker.addr.port());
    let v0 = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let r: FindCoordinatorResponse = call(&mut s, ApiKey::FindCoordinator, 0, &v0).await;
    assert_eq!(
        (r.error_code, r.node_id.0, r.host.as_str(), r.port),
        (0, 1, "127.0.0.1", port)
    );
    let bad = FindCoordinatorRequest::default().with_key_type(2);
    let r: FindCoordinatorResponse = call(&mut s, ApiKey::FindCoordinator, 3, &bad).await;
    assert_eq!(r.error_code, 42);
    let v4 = FindCoordinatorRequest::default()
        .with_key_type(1)
        .with_coordinator_keys(vec![
            StrBytes::from_static_str("txn-a"),
            StrBytes::from_static_str("txn-b"),
        ]);
    let r: FindCoordinatorResponse = call(&mut s, ApiKey::FindCoordinator, 6, &v4).await;
    assert_eq!(r.coordinators.len(), 2);
    assert_eq!(r.coordinators[1].key.as_str(), "txn-b");
    assert_eq!(
        (r.coordinators[1].node_id.0, r.coordinators[1].port),
        (1, port)
    );

    let r: DescribeClusterResponse = call(
        &mut s,
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default(),
    )
    .await;
    assert_eq!(
        (r.error_code, r.controller_id.0, r.brokers.len()),
        (0, 1, 1)
    );
    assert_eq!(r.brokers[0].port, port);
    assert_eq!(r.cluster_id.len(), 22);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_stops_listening() {
    let broker = TestBroker::start().await;
    let addr = broker.addr;
    let idle = broker.connect().await;
    broker.shutdown().await;
    assert_closed(idle).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn binary_prints_its_address_and_stops_on_sigterm() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_broker"))
        .arg("--override")
        .arg("listeners=PLAINTEXT://127.0.0.1:0")
        .arg("--override")
        .arg(format!("log.dirs={}", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let r: ApiVersionsResponse = call(
            &mut s,
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default(),
        )
        .await;
        assert_eq!(r.error_code, 0);
    });
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn binary_rejects_an_unknown_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_broker"))
        .arg("--override")
        .arg("no.such.setting=1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no.such.setting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_configs_shows_topic_overrides_and_defaults() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let retention = create_topics_request::CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("retention.ms"))
        .with_value(Some(StrBytes::from_static_str("60000")));
    let request = CreateTopicsRequest::default()
        .with_topics(vec![creatable("cfg", 1, 1).with_configs(vec![retention])]);
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 7, &request).await;
    assert_eq!(r.topics[0].error_code, 0);

    let resource = |ty: i8, name: &'static str| {
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(ty)
            .with_resource_name(StrBytes::from_static_str(name))
    };
    let request = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![
            resource(2, "cfg"),
            resource(2, "absent"),
            resource(4, "1"),
            resource(8, "1"),
        ]);
    for version in [1, 4] {
        // include_documentation only exists from v3.
        let request = request.clone().with_include_documentation(version >= 3);
        let r: DescribeConfigsResponse =
            call(&mut s, ApiKey::DescribeConfigs, version, &request).await;
        let codes: Vec<i16> = r.results.iter().map(|x| x.error_code).collect();
        assert_eq!(codes, vec![0, 3, 0, 42], "v{version}");
        let entry = |name: &str| {
            r.results[0]
                .configs
                .iter()
                .find(|c| c.name.as_str() == name)
                .unwrap()
                .clone()
        };
        let retention = entry("retention.ms");
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!((retention.config_source, retention.read_only), (1, false));
        let sources: Vec<(&str, i8)> = retention
            .synonyms
            .iter()
            .map(|s| (s.name.as_str(), s.source))
            .collect();
        assert_eq!(
            sources,
            vec![("retention.ms", 1), ("log.retention.hours", 5)]
        );
        let segment = entry("segment.bytes");
        assert_eq!(segment.value.as_deref(), Some("1073741824"));
        assert_eq!(segment.config_source, 5);
        assert_eq!(segment.config_type, if version >= 3 { 3 } else { 0 });
        if version >= 3 {
            assert!(segment.documentation.is_some_and(|d| !d.is_empty()));
        }
        assert!(r.results[2]
            .configs
            .iter()
            .any(|c| c.name.as_str() == "node.id" && c.value.as_deref() == Some("1")));
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_group_join_sync_heartbeat_commit_fetch() {
    let broker = TestBroker::start().await;
    let mut s = broker.connect().await;
    let group = || GroupId(StrBytes::from_static_str("socket-group"));
    let protocol = join_group_request::JoinGroupRequestProtocol::default()
        .with_name(StrBytes::from_static_str("range"))
        .with_metadata(Bytes::from_static(b"opaque"));
    let join = |member: StrBytes| {
        JoinGroupRequest::default()
            .with_group_id(group())
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(member)
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(vec![protocol.clone()])
    };
    let r: JoinGroupResponse = call(&mut s, ApiKey::JoinGroup, 4, &join(StrBytes::default())).await;
    assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED");
    let member = r.member_id.clone();
    assert!(!member.is_empty());

    let r: JoinGroupResponse = call(&mut s, ApiKey::JoinGroup, 4, &join(member.clone())).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(
        (r.leader.as_str(), r.member_id.as_str()),
        (member.as_str(), member.as_str())
    );
    assert_eq!(r.protocol_name.as_ref().map(|p| p.as_str()), Some("range"));
    assert_eq!(r.members.len(), 1);
    let generation = r.generation_id;
    assert!(generation >= 1);

    let sync = SyncGroupRequest::default()
        .with_group_id(group())
        .with_generation_id(generation)
        .with_member_id(member.clone())
        .with_assignments(vec![
            sync_group_request::SyncGroupRequestAssignment::default()
                .with_member_id(member.clone())
                .with_assignment(Bytes::from_static(b"mine")),
        ]);
    let r: SyncGroupResponse = call(&mut s, ApiKey::SyncGroup, 3, &sync).await;
    assert_eq!((r.error_code, &r.assignment[..]), (0, &b"mine"[..]));

    let hb = HeartbeatRequest::default()
        .with_group_id(group())
        .with_generation_id(generation)
        .with_member_id(member.clone());
    let r: HeartbeatResponse = call(&mut s, ApiKey::Heartbeat, 3, &hb).await;
    assert_eq!(r.error_code, 0);
    let stale = hb.clone().with_generation_id(generation + 5);
    let r: HeartbeatResponse = call(&mut s, ApiKey::Heartbeat, 3, &stale).await;
    assert_eq!(r.error_code, 22, "ILLEGAL_GENERATION");

    let commit = wire::offset_commit(group(), generation, &member, 42, None);
    let r: OffsetCommitResponse = call(&mut s, ApiKey::OffsetCommit, 7, &commit).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    let fetch = OffsetFetchRequest::default()
        .with_group_id(group())
        .with_topics(Some(vec![
            offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partition_indexes(vec![2, 3]),
        ]));
    let r: OffsetFetchResponse = call(&mut s, ApiKey::OffsetFetch, 5, &fetch).await;
    assert_eq!(r.error_code, 0);
    let offsets: Vec<(i32, i64)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    assert_eq!(offsets, vec![(2, 42), (3, -1)]);
    broker.shutdown().await;
}
