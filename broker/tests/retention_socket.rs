//! Raw-socket test of live config changes and log deletion: a topic's `retention.ms` is changed
//! with IncrementalAlterConfigs and its old segments disappear without a restart; DeleteRecords
//! and ListOffsets -2 agree on the log start offset.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::path::Path;
use std::time::{Duration, Instant};

use broker::{BrokerConfig, Server};
use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

mod wire;
use wire::{call, produce_batch, records_at};

const TIMEOUT: Duration = Duration::from_secs(10);

fn s(v: &'static str) -> StrBytes {
    StrBytes::from_static_str(v)
}

/// One batch of 5 records of 100 bytes, all stamped `timestamp`.
fn batch(timestamp: i64) -> Bytes {
    records_at((0..5).map(|_| {
        let value = Bytes::from(vec![b'v'; 100]);
        (Some(Bytes::from_static(b"k")), Some(value), timestamp)
    }))
}

async fn produce(stream: &mut TcpStream, timestamp: i64) {
    let p = produce_batch(stream, "life", 0, batch(timestamp)).await;
    assert_eq!(p.error_code, 0, "{:?}", p.error_message);
}

async fn earliest(stream: &mut TcpStream) -> i64 {
    let partition = list_offsets_request::ListOffsetsPartition::default()
        .with_partition_index(0)
        .with_timestamp(-2);
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(TopicName(s("life")))
            .with_partitions(vec![partition])]);
    let r: ListOffsetsResponse = call(stream, ApiKey::ListOffsets, 7, &request).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("life-0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

async fn alter(stream: &mut TcpStream, op: i8, key: &'static str, value: &'static str) -> i16 {
    let config = incremental_alter_configs_request::AlterableConfig::default()
        .with_name(s(key))
        .with_config_operation(op)
        .with_value(Some(s(value)));
    let resource = incremental_alter_configs_request::AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s("life"))
        .with_configs(vec![config]);
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![resource]);
    let r: IncrementalAlterConfigsResponse =
        call(stream, ApiKey::IncrementalAlterConfigs, 1, &request).await;
    r.responses[0].error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_retention_change_deletes_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::default();
    config.listener.host = "127.0.0.1".into();
    config.listener.port = 0;
    config.log_dirs = vec![dir.path().to_path_buf()];
    config.log_retention_check_interval_ms = 50;
    config.log_segment_delete_delay_ms = 0;
    // Nothing expires until the topic override below (the old batches are from 1970).
    config.log_retention_ms = -1;
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut stream = TcpStream::connect(addr).await.unwrap();

    let segment_bytes = create_topics_request::CreatableTopicConfig::default()
        .with_name(s("segment.bytes"))
        .with_value(Some(s("1024")));
    let topic = create_topics_request::CreatableTopic::default()
        .with_name(TopicName(s("life")))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![segment_bytes]);
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5_000);
    let r: CreateTopicsResponse = call(&mut stream, ApiKey::CreateTopics, 7, &request).await;
    assert_eq!(r.topics[0].error_code, 0);
    // Ten old batches (one per ~600-byte segment), then two recent ones.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for _ in 0..10 {
        produce(&mut stream, 1_000).await;
    }
    produce(&mut stream, now).await;
    produce(&mut stream, now).await;
    let before = segment_files(dir.path());
    assert!(before.len() >= 10, "{before:?}");
    assert_eq!(earliest(&mut stream).await, 0);

    // Invalid values and list operations on a non-list config are refused.
    assert_eq!(alter(&mut stream, 0, "retention.ms", "soon").await, 40);
    assert_eq!(alter(&mut stream, 2, "retention.ms", "1").await, 40);
    assert_eq!(alter(&mut stream, 0, "retention.ms", "3600000").await, 0);
    let deadline = Instant::now() + TIMEOUT;
    while earliest(&mut stream).await != 50 {
        assert!(
            Instant::now() < deadline,
            "old segments not deleted within {TIMEOUT:?}: {:?}",
            segment_files(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The recent segments stay; the deleted ones' files are gone after the (zero) delay.
    let deadline = Instant::now() + TIMEOUT;
    while segment_files(dir.path()).first().map(String::as_str) != Some("00000000000000000050.log")
    {
        assert!(Instant::now() < deadline, "{:?}", segment_files(dir.path()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // DeleteRecords: beyond the high watermark is refused; -1 means the high watermark.
    let delete = |offset: i64| {
        DeleteRecordsRequest::default()
            .with_timeout_ms(1_000)
            .with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
                .with_name(TopicName(s("life")))
                .with_partitions(vec![
                    delete_records_request::DeleteRecordsPartition::default()
                        .with_partition_index(0)
                        .with_offset(offset),
                ])])
    };
    let r: DeleteRecordsResponse = call(&mut stream, ApiKey::DeleteRecords, 2, &delete(61)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 1);
    let r: DeleteRecordsResponse = call(&mut stream, ApiKey::DeleteRecords, 0, &delete(52)).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (0, 52));
    assert_eq!(earliest(&mut stream).await, 52);
    let r: DeleteRecordsResponse = call(&mut stream, ApiKey::DeleteRecords, 1, &delete(-1)).await;
    assert_eq!(r.topics[0].partitions[0].low_watermark, 60);
    assert_eq!(earliest(&mut stream).await, 60);

    let _ = stop.send(());
    tokio::time::timeout(TIMEOUT, task)
        .await
        .expect("shutdown in time")
        .unwrap()
        .unwrap();
}
