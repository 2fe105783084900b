//! Raw-socket Kafka calls shared by the socket-level tests: request framing, one
//! request/response, a produce of keyed records (values may be null: tombstones), a full read
//! of partition 0, and a broker process to run them against.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A broker process on a free port; killed (SIGKILL) if still running when dropped.
pub struct BrokerProcess {
    /// The running binary.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl BrokerProcess {
    /// Starts the broker binary on `dir` with `overrides` (key=value) and reads the address it
    /// prints.
    pub fn start(dir: &Path, overrides: &[&str]) -> BrokerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_broker"));
        cmd.args(["--override", "listeners=PLAINTEXT://127.0.0.1:0"])
            .arg("--override")
            .arg(format!("log.dirs={}", dir.display()));
        for o in overrides {
            cmd.args(["--override", o]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        BrokerProcess { child, addr }
    }

    /// Sends `signal` (as `kill` spells it, e.g. `-KILL`) and waits for the exit.
    pub fn signal(&mut self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A size-prefixed request frame.
pub fn frame<R: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("socket-test")));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf.to_vec()
}

/// Reads one response frame: returns the correlation id and the body bytes after the header.
pub async fn read_response(stream: &mut TcpStream, header_version: i16) -> (i32, Bytes) {
    let size = tokio::time::timeout(TIMEOUT, stream.read_i32())
        .await
        .unwrap()
        .unwrap();
    let mut body = vec![0; size as usize];
    stream.read_exact(&mut body).await.unwrap();
    let mut body = Bytes::from(body);
    let header = ResponseHeader::decode(&mut body, header_version).unwrap();
    (header.correlation_id, body)
}

/// Sends one request and decodes its response, checking the correlation id and that the body
/// was consumed exactly.
pub async fn call<Req: Encodable, Resp: Decodable>(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    request: &Req,
) -> Resp {
    stream
        .write_all(&frame(key, version, 7, request))
        .await
        .unwrap();
    let header_version = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(version)
    };
    let (correlation_id, mut body) = read_response(stream, header_version).await;
    assert_eq!(correlation_id, 7);
    let response = Resp::decode(&mut body, version).unwrap();
    assert_eq!(body.remaining(), 0, "{key:?} v{version}: trailing bytes");
    response
}

fn records(items: &[(Option<String>, Option<String>)]) -> Bytes {
    records_at(items.iter().map(|(k, v)| {
        (
            k.clone().map(Bytes::from),
            v.clone().map(Bytes::from),
            1_000,
        )
    }))
}

/// One uncompressed v2 batch of `(key, value, timestamp)` records from offset 0.
pub fn records_at(items: impl Iterator<Item = (Option<Bytes>, Option<Bytes>, i64)>) -> Bytes {
    let recs: Vec<Record> = items
        .enumerate()
        .map(|(i, (key, value, timestamp))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder splits batches where offset - sequence changes.
            sequence: i as i32,
            timestamp,
            key,
            value,
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &recs, &opts).unwrap();
    buf.freeze()
}

/// Produces one batch; returns (error code, base offset).
pub async fn produce(
    s: &mut TcpStream,
    topic_name: &str,
    items: &[(Option<String>, Option<String>)],
) -> (i16, i64) {
    let p = produce_batch(s, topic_name, 0, records(items)).await;
    if p.error_code != 0 {
        eprintln!("produce error {:?}", p.error_message);
    }
    (p.error_code, p.base_offset)
}

/// Produces an encoded batch to one partition with acks=1; returns the partition's answer.
pub async fn produce_batch(
    s: &mut TcpStream,
    topic_name: &str,
    partition: i32,
    batch: Bytes,
) -> produce_response::PartitionProduceResponse {
    let part = produce_request::PartitionProduceData::default()
        .with_index(partition)
        .with_records(Some(batch));
    let topic = produce_request::TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic_name.to_string())))
        .with_partition_data(vec![part]);
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![topic]);
    let mut resp: ProduceResponse = call(s, ApiKey::Produce, 9, &req).await;
    resp.responses.remove(0).partition_responses.remove(0)
}

/// Every (offset, key, value) from offset 0 to the high watermark.
pub async fn consume_all(
    s: &mut TcpStream,
    topic_name: &str,
) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let mut next = 0i64;
    loop {
        let part = fetch_request::FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(next)
            .with_partition_max_bytes(1 << 20);
        let topic = fetch_request::FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic_name.to_string())))
            .with_partitions(vec![part]);
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_topics(vec![topic]);
        let resp: FetchResponse = call(s, ApiKey::Fetch, 11, &req).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let mut bytes = p.records.clone().unwrap_or_default();
        let before = out.len();
        for set in RecordBatchDecoder::decode_all(&mut bytes).unwrap() {
            for r in set.records.into_iter().filter(|r| r.offset >= next) {
                let s = |b: Bytes| String::from_utf8(b.to_vec()).unwrap();
                out.push((r.offset, s(r.key.unwrap()), r.value.map(s)));
            }
        }
        match out.last() {
            Some((o, _, _)) if out.len() > before => next = o + 1,
            _ => return out,
        }
        if next >= p.high_watermark {
            return out;
        }
    }
}

/// Creates a one-partition topic with `configs`; returns its error code.
pub async fn create_topic(s: &mut TcpStream, name: &str, configs: &[(&str, &str)]) -> i16 {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            create_topics_request::CreatableTopicConfig::default()
                .with_name(StrBytes::from_string((*k).to_string()))
                .with_value(Some(StrBytes::from_string((*v).to_string())))
        })
        .collect();
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.to_string())))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(configs);
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5_000);
    let resp: CreateTopicsResponse = call(s, ApiKey::CreateTopics, 5, &req).await;
    resp.topics[0].error_code
}

/// An OffsetCommit of `offset` (with `metadata`) for partition 2 of topic `t`.
pub fn offset_commit(
    group: GroupId,
    generation: i32,
    member: &StrBytes,
    offset: i64,
    metadata: Option<&'static str>,
) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(group)
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(member.clone())
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(2)
                        .with_committed_offset(offset)
                        .with_committed_metadata(metadata.map(StrBytes::from_static_str)),
                ]),
        ])
}
