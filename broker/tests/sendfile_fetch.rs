//! Raw-socket test of zero-copy fetches: a multi-segment topic with several partitions of
//! batches of mixed sizes is fetched with many offsets, limits and versions, once with records
//! sent from the segment files (`socket.sendfile.enable=true`) and once through memory
//! (`false`), on the same data; the response frames must be equal byte for byte.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::path::Path;
use std::time::Duration;

use broker::{BrokerConfig, Server};
use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

mod wire;
use wire::{call, frame, produce_batch, records_at};

const TIMEOUT: Duration = Duration::from_secs(10);
const PARTITIONS: i32 = 5;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Runs a broker on `dir` until the returned sender is dropped or used.
async fn start(
    dir: &Path,
    sendfile: bool,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut config = BrokerConfig::default();
    config.listener.host = "127.0.0.1".into();
    config.listener.port = 0;
    config.log_dirs = vec![dir.to_path_buf()];
    config.socket_sendfile_enable = sendfile;
    // The batches are stamped in 1970: nothing may expire between the two runs.
    config.log_retention_ms = -1;
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop, task)
}

/// Creates the topic with small segments; returns its id.
async fn create(stream: &mut TcpStream) -> Uuid {
    let config = create_topics_request::CreatableTopicConfig::default()
        .with_name(s("segment.bytes"))
        .with_value(Some(s("3000")));
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(s("zc")))
        .with_num_partitions(PARTITIONS)
        .with_replication_factor(1)
        .with_configs(vec![config]);
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5_000);
    let r: CreateTopicsResponse = call(stream, ApiKey::CreateTopics, 7, &request).await;
    assert_eq!(r.topics[0].error_code, 0);
    r.topics[0].topic_id
}

/// Batches of 1 to 9 records of 10 to 400 bytes, spread over the partitions.
async fn fill(stream: &mut TcpStream) {
    for i in 0..120usize {
        let count = 1 + i * 7 % 9;
        let value_len = 10 + i * 131 % 391;
        let batch = records_at((0..count).map(|r| {
            let value = Bytes::from(vec![b'a' + (r % 26) as u8; value_len]);
            (None, Some(value), 1_000 + i as i64)
        }));
        let partition = (i % PARTITIONS as usize) as i32;
        let p = produce_batch(stream, "zc", partition, batch).await;
        assert_eq!(p.error_code, 0);
    }
}

/// Fetch requests over every partition: many start offsets, partition and response limits,
/// and versions with names and with topic ids.
fn requests(topic_id: Uuid) -> Vec<(i16, FetchRequest)> {
    let mut out = Vec::new();
    for version in [4, 11, 12, 16] {
        for offset in [0, 1, 7, 30, 55, 90, 200] {
            for (partition_max, max) in
                [(1 << 20, 1 << 20), (100, 1 << 20), (1500, 4000), (5000, 1)]
            {
                let partitions = (0..PARTITIONS)
                    .map(|p| {
                        fetch_request::FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(offset + i64::from(p))
                            .with_partition_max_bytes(partition_max)
                    })
                    .collect();
                let mut topic = fetch_request::FetchTopic::default().with_partitions(partitions);
                if version >= 13 {
                    topic = topic.with_topic_id(topic_id);
                } else {
                    topic = topic.with_topic(TopicName(s("zc")));
                }
                let request = FetchRequest::default()
                    .with_max_wait_ms(0)
                    .with_max_bytes(max)
                    .with_isolation_level(i8::from(offset % 2 == 1))
                    .with_topics(vec![topic]);
                out.push((version, request));
            }
        }
    }
    out
}

/// Sends each request and keeps its whole response frame, size prefix included.
async fn raw_frames(addr: std::net::SocketAddr, requests: &[(i16, FetchRequest)]) -> Vec<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut frames = Vec::new();
    for (i, (version, request)) in requests.iter().enumerate() {
        let out = frame(ApiKey::Fetch, *version, i as i32, request);
        stream.write_all(&out).await.unwrap();
        let size = tokio::time::timeout(TIMEOUT, stream.read_i32())
            .await
            .expect("a fetch response within the timeout")
            .unwrap();
        let mut body = vec![0; size as usize];
        stream.read_exact(&mut body).await.unwrap();
        let mut whole = size.to_be_bytes().to_vec();
        whole.extend_from_slice(&body);
        frames.push(whole);
    }
    frames
}

/// Record bytes in a response frame (header v0 below v12, v1 from there).
fn record_bytes(version: i16, frame: &[u8]) -> usize {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    ResponseHeader::decode(&mut body, if version >= 12 { 1 } else { 0 }).unwrap();
    let r = FetchResponse::decode(&mut body, version).unwrap();
    r.responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| p.records.as_ref().map_or(0, Bytes::len))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendfile_and_memory_fetches_send_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop, task) = start(dir.path(), true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let topic_id = create(&mut stream).await;
    fill(&mut stream).await;
    let is_log = |p: std::path::PathBuf| p.extension().is_some_and(|x| x == "log");
    let entries = std::fs::read_dir(dir.path().join("zc-0")).unwrap();
    let segments = entries.flatten().filter(|e| is_log(e.path())).count();
    assert!(
        segments >= 3,
        "3000-byte segments must have rolled: {segments}"
    );
    let requests = requests(topic_id);
    let with_sendfile = raw_frames(addr, &requests).await;
    drop(stream);
    stop.send(()).unwrap();
    tokio::time::timeout(TIMEOUT, task)
        .await
        .expect("the first broker stops")
        .unwrap();

    let (addr, stop, task) = start(dir.path(), false).await;
    let in_memory = raw_frames(addr, &requests).await;
    stop.send(()).unwrap();
    tokio::time::timeout(TIMEOUT, task)
        .await
        .expect("the second broker stops")
        .unwrap();

    let mut records = 0;
    for (i, ((version, _), (a, b))) in requests
        .iter()
        .zip(with_sendfile.iter().zip(&in_memory))
        .enumerate()
    {
        let first = a.iter().zip(b).position(|(x, y)| x != y);
        assert!(
            a == b,
            "request {i} (v{version}): frames differ at {first:?} (lengths {} and {})",
            a.len(),
            b.len()
        );
        records += record_bytes(*version, a);
    }
    assert!(
        records > 200_000,
        "the fetches returned data: {records} bytes"
    );
}
