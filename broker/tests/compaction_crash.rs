//! Compaction under `kill -9`: the broker binary cleans a compacted topic of random keys, values
//! and tombstones while it is killed at random moments, round after round, and restarted on the
//! same directory. Acknowledged writes are never lost, offsets only increase, and once the
//! cleaner has caught up a full read holds exactly the latest value of every key.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

mod wire;
use wire::{consume_all, create_topic, produce, BrokerProcess};

const TOPIC: &str = "crash-compacted";
const ROUNDS: u64 = 15;
const KEYS: u64 = 40;

/// A small deterministic generator (xorshift), so a failure replays with the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const OVERRIDES: &[&str] = &[
    "log.cleaner.backoff.ms=5",
    "auto.create.topics.enable=false",
];

/// What the log must show for each key: the offset and value of its last acknowledged write.
type Latest = BTreeMap<String, (i64, Option<String>)>;

/// Checks what holds at any moment: offsets increase, every record read was acknowledged with
/// that value at that offset or is not yet superseded, and each key's last record is its latest.
fn check_read(all: &[(i64, String, Option<String>)], latest: &Latest, round: u64) {
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "round {round}: offsets do not increase"
    );
    let mut last: BTreeMap<&str, (i64, &Option<String>)> = BTreeMap::new();
    for (o, k, v) in all {
        last.insert(k, (*o, v));
    }
    for (k, (o, v)) in latest {
        let got = last.get(k.as_str());
        // A tombstone may already be gone (delete.retention.ms=0); a value never.
        if v.is_none() && got.is_none() {
            continue;
        }
        assert_eq!(
            got,
            Some(&(*o, v)),
            "round {round}: key {k} should end at offset {o} with {v:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_survives_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut latest = Latest::new();
    for round in 0..ROUNDS {
        let mut broker = BrokerProcess::start(dir.path(), OVERRIDES);
        let addr = broker.addr;
        let mut s = TcpStream::connect(addr).await.unwrap();
        if round == 0 {
            let configs = [
                ("cleanup.policy", "compact"),
                ("segment.bytes", "2048"),
                ("min.cleanable.dirty.ratio", "0.01"),
                ("delete.retention.ms", "0"),
            ];
            assert_eq!(create_topic(&mut s, TOPIC, &configs).await, 0);
        }
        check_read(&consume_all(&mut s, TOPIC).await, &latest, round);
        for _ in 0..20 {
            let items: Vec<(Option<String>, Option<String>)> = (0..10)
                .map(|_| {
                    let key = format!("key-{}", rng.next() % KEYS);
                    let value = (rng.next() % 5 != 0).then(|| format!("v{}", rng.next()));
                    (Some(key), value)
                })
                .collect();
            let (code, base) = produce(&mut s, TOPIC, &items).await;
            assert_eq!(code, 0, "round {round}: produce");
            for (i, (k, v)) in items.into_iter().enumerate() {
                latest.insert(k.unwrap(), (base + i as i64, v));
            }
        }
        // The fault injection itself: the kill lands somewhere in the cleaner's work.
        tokio::time::sleep(Duration::from_millis(rng.next() % 120)).await;
        broker.signal("-KILL");
    }
    // A last start: recovery, then the cleaner catches up (deadline, polled).
    let broker = BrokerProcess::start(dir.path(), OVERRIDES);
    let addr = broker.addr;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = consume_all(&mut s, TOPIC).await;
        check_read(&all, &latest, ROUNDS);
        // Only the active segment (at most 2 KiB: about five batches of ten) may still hold
        // superseded records.
        let settled = all.len().saturating_sub(80);
        let mut seen = BTreeMap::new();
        let duplicates = all[..settled]
            .iter()
            .filter(|(_, k, _)| seen.insert(k, ()).is_some())
            .count();
        if duplicates == 0 {
            println!(
                "{} of {} records left after compaction",
                all.len(),
                ROUNDS * 200
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cleaner did not catch up within 30 s ({duplicates} superseded records left)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(broker);
}
