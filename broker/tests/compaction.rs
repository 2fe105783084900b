//! The log cleaner end to end: produce updates to a compacted topic with small segments over a
//! real socket, wait (with a deadline) for the cleaner, then fetch from the start and see only
//! the latest value of each key, at the offset it was produced at.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker::{BrokerConfig, Server};
use tokio::net::TcpStream;

mod wire;
use wire::{consume_all, create_topic, produce};

const TIMEOUT: Duration = Duration::from_secs(10);
const TOPIC: &str = "compacted";

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
    ];
    assert_eq!(create_topic(&mut s, TOPIC, &configs).await, 0);

    let (code, _) = produce(&mut s, TOPIC, &[(None, Some("keyless".into()))]).await;
    assert_eq!(
        code, 87,
        "INVALID_RECORD for a keyless record on a compacted topic"
    );

    // 10 keys, 30 rounds of updates: many 1 KiB segments.
    let mut latest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    let mut produced = Vec::new();
    for round in 0..30 {
        let items: Vec<(Option<String>, Option<String>)> = (0..10)
            .map(|k| (Some(format!("key-{k}")), Some(format!("value-{round}-{k}"))))
            .collect();
        let (code, base) = produce(&mut s, TOPIC, &items).await;
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
        let all = consume_all(&mut s, TOPIC).await;
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
            "{o} {k} {v:?}"
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
