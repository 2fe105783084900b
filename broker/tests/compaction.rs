//! The log cleaner end to end: produce updates to a compacted topic with small segments over a
//! real socket, wait (with a deadline) for the cleaner, then fetch from the start and see only
//! the latest value of each key, at the offset it was produced at.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker::{BrokerConfig, Server};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);
const TOPIC: &str = "compacted";

async fn call<Req: Encodable, Resp: Decodable>(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    request: &Req,
) -> Resp {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1);
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    request.encode(&mut buf, version).unwrap();
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    stream.write_all(&buf).await.unwrap();
    let size = tokio::time::timeout(TIMEOUT, stream.read_i32())
        .await
        .unwrap()
        .unwrap();
    let mut body = vec![0; size as usize];
    stream.read_exact(&mut body).await.unwrap();
    let mut body = Bytes::from(body);
    ResponseHeader::decode(&mut body, key.response_header_version(version)).unwrap();
    let resp = Resp::decode(&mut body, version).unwrap();
    assert_eq!(body.remaining(), 0);
    resp
}

fn records(items: &[(Option<String>, String)]) -> Bytes {
    let recs: Vec<Record> = items
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
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
            timestamp: 1_000,
            key: k.clone().map(Bytes::from),
            value: Some(Bytes::from(v.clone())),
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
async fn produce(s: &mut TcpStream, items: &[(Option<String>, String)]) -> (i16, i64) {
    let part = produce_request::PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(records(items)));
    let topic = produce_request::TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
        .with_partition_data(vec![part]);
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![topic]);
    let resp: ProduceResponse = call(s, ApiKey::Produce, 9, &req).await;
    let p = &resp.responses[0].partition_responses[0];
    if p.error_code != 0 {
        eprintln!("produce error {:?}", p.error_message);
    }
    (p.error_code, p.base_offset)
}

/// Every (offset, key, value) from offset 0 to the high watermark.
async fn consume_all(s: &mut TcpStream) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    let mut next = 0i64;
    loop {
        let part = fetch_request::FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(next)
            .with_partition_max_bytes(1 << 20);
        let topic = fetch_request::FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
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
                let s = |b: Option<Bytes>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                out.push((r.offset, s(r.key), s(r.value)));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_keeps_the_latest_value_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = BrokerConfig::from_pairs(
        [
            ("listeners", "PLAINTEXT://127.0.0.1:0"),
            ("log.dirs", dir.path().to_str().unwrap()),
            ("log.cleaner.backoff.ms", "20"),
            ("auto.create.topics.enable", "false"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut s = TcpStream::connect(addr).await.unwrap();
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "1024"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ]
    .map(|(k, v)| {
        create_topics_request::CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str(k))
            .with_value(Some(StrBytes::from_static_str(v)))
    });
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(configs.to_vec());
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5_000);
    let resp: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 5, &req).await;
    assert_eq!(resp.topics[0].error_code, 0);

    let (code, _) = produce(&mut s, &[(None, "keyless".into())]).await;
    assert_eq!(
        code, 87,
        "INVALID_RECORD for a keyless record on a compacted topic"
    );

    // 10 keys, 30 rounds of updates: many 1 KiB segments.
    let mut latest: BTreeMap<String, (i64, String)> = BTreeMap::new();
    let mut produced = Vec::new();
    for round in 0..30 {
        let items: Vec<(Option<String>, String)> = (0..10)
            .map(|k| (Some(format!("key-{k}")), format!("value-{round}-{k}")))
            .collect();
        let (code, base) = produce(&mut s, &items).await;
        assert_eq!(code, 0);
        for (i, (k, v)) in items.iter().enumerate() {
            latest.insert(k.clone().unwrap(), (base + i as i64, v.clone()));
            produced.push((base + i as i64, k.clone().unwrap(), v.clone()));
        }
    }
    assert_eq!(produced.last().map(|p| p.0), Some(299));

    // Wait for the cleaner: everything before the active segment holds one record per key.
    let deadline = Instant::now() + Duration::from_secs(30);
    let consumed = loop {
        let all = consume_all(&mut s).await;
        // The active segment (about three 300-byte batches of 1 KiB) is never cleaned: below
        // offset 240 every key must appear once.
        let mut seen = BTreeMap::new();
        let duplicates = all
            .iter()
            .filter(|(o, k, _)| *o < 240 && seen.insert(k, ()).is_some())
            .count();
        if duplicates == 0 {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "the cleaner did not compact within 30 s ({} records left)",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Offsets preserved: every record is at its original offset, with its original value.
    for (o, k, v) in &consumed {
        assert!(
            produced.contains(&(*o, k.clone(), v.clone())),
            "{o} {k} {v}"
        );
    }
    // The latest value of every key is there, at the offset it was produced at.
    for (k, (o, v)) in &latest {
        assert!(
            consumed.contains(&(*o, k.clone(), v.clone())),
            "latest {k} lost"
        );
    }
    // Offsets strictly increase (gaps allowed).
    assert!(consumed.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(dir.path().join("cleaner-offset-checkpoint").exists());

    let _ = stop.send(());
    tokio::time::timeout(TIMEOUT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
