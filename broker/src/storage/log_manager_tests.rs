use super::*;
use crate::storage::dir_files::{read_checkpoint, uuid_from_base64, CLEAN_SHUTDOWN_FILE};
use crate::storage::test_util::{simple, small_config};

fn config(dirs: &[&Path]) -> LogManagerConfig {
    LogManagerConfig {
        log_dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        node_id: 1,
        default_log_config: small_config(),
    }
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

#[test]
fn topic_names_follow_kafka_rules() {
    for ok in ["a", "A.b_c-9", &"x".repeat(249)] {
        LogManager::validate_topic_name(ok).unwrap();
    }
    for bad in ["", ".", "..", "a b", "é", "a/b", &"x".repeat(250)] {
        assert!(
            matches!(
                LogManager::validate_topic_name(bad),
                Err(TopicError::InvalidName(..))
            ),
            "{bad}"
        );
    }
}

#[test]
fn create_append_restart_and_delete() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let m = LogManager::open(config(&[d1.path(), d2.path()])).unwrap();
    let cluster = m.cluster_id().to_string();
    assert_eq!(cluster.len(), 22);
    let mut cfgs = BTreeMap::new();
    cfgs.insert("segment.bytes".to_string(), "2000".to_string());
    cfgs.insert("retention.ms".to_string(), "-1".to_string());
    let t = m.create_topic("orders", 4, cfgs.clone()).unwrap();
    assert!(matches!(
        m.create_topic("orders", 1, BTreeMap::new()),
        Err(TopicError::AlreadyExists(_))
    ));
    assert!(matches!(
        m.create_topic("bad", 0, BTreeMap::new()),
        Err(TopicError::InvalidPartitions(_))
    ));
    let mut unknown = BTreeMap::new();
    unknown.insert("nope".to_string(), "1".to_string());
    assert!(matches!(
        m.create_topic("x", 1, unknown),
        Err(TopicError::InvalidConfig(_))
    ));
    assert!(m.topic("x").is_none());
    // Partitions are spread over both dirs.
    let in_d1 = t
        .partitions()
        .iter()
        .filter(|l| l.dir().starts_with(d1.path()))
        .count();
    assert_eq!(in_d1, 2);
    assert_eq!(t.partition(3).unwrap().config().segment_bytes, 2000);
    let meta =
        std::fs::read_to_string(t.partition(0).unwrap().dir().join("partition.metadata")).unwrap();
    let id = meta
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("topic_id: ")
        .unwrap();
    assert_eq!(uuid_from_base64(id), Some(t.id()));
    for p in 0..4 {
        m.log(&tp("orders", p))
            .unwrap()
            .append(simple(2, 0), 0)
            .unwrap();
    }
    m.create_partitions("orders", 5).unwrap();
    assert!(m.create_partitions("orders", 5).is_err());
    let id = t.id();
    m.shutdown().unwrap();
    assert!(d1.path().join(CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(
        read_checkpoint(d1.path()).iter().map(|e| e.2).sum::<i64>()
            + read_checkpoint(d2.path()).iter().map(|e| e.2).sum::<i64>(),
        8
    );
    drop((m, t));

    let m = LogManager::open(config(&[d1.path(), d2.path()])).unwrap();
    assert!(!d1.path().join(CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(m.cluster_id(), cluster);
    let t = m.topic("orders").unwrap();
    assert_eq!((t.id(), t.partitions().len()), (id, 5));
    assert_eq!(m.topic_by_id(id).unwrap().name(), "orders");
    assert_eq!(t.config_overrides(), cfgs);
    assert_eq!(t.partition(2).unwrap().log_end_offset(), 2);
    assert_eq!(t.partition(4).unwrap().log_end_offset(), 0);

    assert_eq!(m.delete_topic("orders").unwrap(), id);
    assert!(m.topic("orders").is_none());
    assert!(matches!(
        m.delete_topic("orders"),
        Err(TopicError::UnknownTopic(_))
    ));
    let leftovers = std::fs::read_dir(d1.path())
        .unwrap()
        .chain(std::fs::read_dir(d2.path()).unwrap())
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("orders")
        })
        .count();
    assert_eq!(leftovers, 0);
    m.shutdown().unwrap();
    drop(m);
    let m = LogManager::open(config(&[d1.path(), d2.path()])).unwrap();
    assert!(m.topics().is_empty());
}

#[test]
fn meta_properties_has_kafka_keys() {
    let d = tempfile::tempdir().unwrap();
    let m = LogManager::open(config(&[d.path()])).unwrap();
    let text = std::fs::read_to_string(d.path().join("meta.properties")).unwrap();
    for key in ["version=1", "node.id=1", "cluster.id=", "directory.id="] {
        assert!(text.contains(key), "{text}");
    }
    assert!(text.contains(&format!("cluster.id={}", m.cluster_id())));
}

#[test]
fn flush_by_time_writes_recovery_points() {
    let d = tempfile::tempdir().unwrap();
    let mut c = config(&[d.path()]);
    c.default_log_config.flush_ms = 100;
    let m = LogManager::open(c).unwrap();
    m.create_topic("t", 1, BTreeMap::new()).unwrap();
    m.log(&tp("t", 0))
        .unwrap()
        .append(simple(3, 0), 1_000)
        .unwrap();
    m.flush_by_time(1_050);
    assert_eq!(read_checkpoint(d.path()), vec![("t".to_string(), 0, 0)]);
    m.flush_by_time(1_100);
    assert_eq!(read_checkpoint(d.path()), vec![("t".to_string(), 0, 3)]);
}
