//! End-to-end tests of the pipeline over a real broker (ours, embedded, on a free port; or an
//! existing Kafka named by `RECOMMENDER_TEST_BOOTSTRAP`, to check we rely only on Kafka
//! semantics). Every wait has a deadline and says what it waited for.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recommender::catalogue::Catalogue;
use recommender::consumer::read_to_end;
use recommender::event::{Device, Event, EventKind, TitleId, UserId, SCHEMA_VERSION};
use recommender::features::FeatureRecord;
use recommender::process::tables::load_features;
use recommender::process::{self, ProcessConfig, ProcessCounters};
use recommender::producer::Producer;
use recommender::serve::state::ServeState;
use recommender::serve::{http, Bound, ServeConfig};
use recommender::signals::{SignalStore, UserSignals};
use recommender::simulate::catalogue_gen::{self, GENRES};
use recommender::simulate::users::Simulator;
use recommender::simulate::{self, SimulateConfig};
use recommender::topics;
use tokio::sync::watch;

mod common;
use common::TestBroker;

const T0: i64 = 1_700_000_000_000;
const SEED: u64 = 5;

/// A broker for one test, with the pipeline's topics created.
async fn broker() -> TestBroker {
    let b = common::broker().await;
    topics::create_all(&b.bootstrap).await.unwrap();
    b
}

fn ev(user: UserId, t: i64, kind: EventKind) -> Event {
    Event {
        schema_version: SCHEMA_VERSION,
        user_id: user,
        device: Device::Tv,
        timestamp_ms: t,
        kind,
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `deadline` naming `what`.
async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn process_cfg(bootstrap: &str, group: &str) -> ProcessConfig {
    ProcessConfig {
        group: group.to_string(),
        commit_interval: Duration::from_millis(200),
        ..ProcessConfig::new(bootstrap)
    }
}

/// A pure fold of `stream` into signals: what the processors must end up writing.
fn pure_fold(stream: &[Event], cat: &Catalogue) -> SignalStore {
    let mut expected = SignalStore::default();
    for e in stream {
        expected.update(e, cat);
    }
    expected
}

/// The distinct users of `stream`, ascending.
fn users_of(stream: &[Event]) -> Vec<UserId> {
    let mut users: Vec<UserId> = stream.iter().map(|e| e.user_id).collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// Waits until the features topic holds, for every one of `users`, the signals `expected` has
/// for them; returns the latest signals per user read from the topic.
async fn wait_for_features(
    bootstrap: &str,
    expected: &SignalStore,
    users: &[UserId],
) -> BTreeMap<UserId, UserSignals> {
    wait_for(
        "the features of every user to equal a pure fold of the stream",
        Duration::from_secs(90),
        || async move {
            let recs = load_features(bootstrap, topics::USER_BEHAVIOR_FEATURES)
                .await
                .ok()?;
            let by_user: BTreeMap<UserId, _> =
                recs.into_iter().map(|r| (r.user_id, r.signals)).collect();
            users
                .iter()
                .all(|u| by_user.get(u) == expected.user(*u))
                .then_some(by_user)
        },
    )
    .await
}

/// Starts a `serve` on a free port; returns its address, state and task.
async fn start_serve(
    bootstrap: &str,
    stop: &watch::Receiver<bool>,
) -> (
    SocketAddr,
    Arc<ServeState>,
    tokio::task::JoinHandle<Result<(), recommender::error::EdgeError>>,
) {
    let server = Bound::bind(ServeConfig {
        bootstrap: bootstrap.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        progress: false,
    })
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let state = server.state.clone();
    (addr, state, tokio::spawn(server.run(stop.clone())))
}

/// Waits until `state` has folded `events` activity events.
async fn wait_folded(what: &str, state: &ServeState, events: u64) {
    wait_for(what, Duration::from_secs(90), || {
        let n = state.events.load(Ordering::Relaxed);
        async move { (n >= events).then_some(()) }
    })
    .await;
}

/// Share of sci-fi titles in the user's "Top Picks for You" (0 without the row).
async fn sci_fi_share(addr: SocketAddr, user: UserId) -> (f64, serde_json::Value) {
    let (status, body) = http::get(addr, &format!("/users/{user}/rows"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    let share = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "top_picks")
        .map_or(0.0, |r| {
            let items = r["items"].as_array().unwrap();
            let sci = items
                .iter()
                .filter(|i| {
                    i["genres"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|g| g == GENRES[0])
                })
                .count();
            sci as f64 / items.len().max(1) as f64
        });
    (share, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sci_fi_binge_rises_in_top_picks_and_malformed_events_are_skipped() {
    let b = broker().await;
    let (stop_tx, stop) = watch::channel(false);
    let events = simulate::run(
        SimulateConfig {
            bootstrap: b.bootstrap.clone(),
            seed: SEED,
            users: 300,
            rate: 1_000_000.0,
            limit: Some(4_000),
            start_ms: Some(T0),
            serve: None,
        },
        stop.clone(),
    )
    .await
    .unwrap();
    let producer = Producer::new(&b.bootstrap).unwrap();
    for junk in [&b"not json"[..], b"{\"schema_version\":9}", b""] {
        producer.send(topics::PLAY_EVENTS, "1", junk).await.unwrap();
    }
    let counters = Arc::new(ProcessCounters::default());
    let proc = tokio::spawn(process::run(
        process_cfg(&b.bootstrap, "binge-test"),
        stop.clone(),
        counters.clone(),
    ));
    let (addr, state, serve) = start_serve(&b.bootstrap, &stop).await;
    wait_folded("serve to fold the simulated history", &state, events).await;
    assert_eq!(state.malformed.load(Ordering::Relaxed), 3);

    // A new user who has watched comedies only.
    let user: UserId = 900_001;
    let mut t = T0 + 86_400_000;
    for title in catalogue_gen::movies_of(2).take(3) {
        for kind in [
            EventKind::Play { title_id: title },
            EventKind::Completed { title_id: title },
        ] {
            t += 60_000;
            producer.send_event(&ev(user, t, kind)).await.unwrap();
        }
    }
    let before = wait_for(
        "the comedy history in serve",
        Duration::from_secs(20),
        || async {
            let (share, page) = sci_fi_share(addr, user).await;
            page["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == "top_picks")
                .then_some(share)
        },
    )
    .await;

    // The binge: six episodes of a sci-fi series, then two sci-fi films.
    let series = catalogue_gen::series_of(0)[0];
    let cat = catalogue_gen::generate(SEED);
    let mut titles: Vec<TitleId> = vec![catalogue_gen::first_episode(series)];
    while titles.len() < 6 {
        titles.push(cat.next_episode(*titles.last().unwrap()).unwrap());
    }
    titles.extend(catalogue_gen::movies_of(0).take(2));
    let started = Instant::now();
    for title in &titles {
        for kind in [
            EventKind::Play { title_id: *title },
            EventKind::Completed { title_id: *title },
        ] {
            t += 60_000;
            producer.send_event(&ev(user, t, kind)).await.unwrap();
        }
    }
    let after = wait_for(
        "sci-fi to rise in Top Picks",
        Duration::from_secs(20),
        || async {
            let (share, _) = sci_fi_share(addr, user).await;
            (share >= 0.5 && share > before).then_some(share)
        },
    )
    .await;
    eprintln!(
        "sci-fi share of top picks: {before:.2} -> {after:.2} within {:?}",
        started.elapsed()
    );

    // The viewing context: asked for, it is used and reported; nonsense is a 400.
    let (status, body) = http::get(addr, &format!("/users/{user}/rows?device=mobile&hour=8"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["context"]["device"], "mobile");
    assert_eq!(page["context"]["day_part"], "morning");
    let (_, page) = sci_fi_share(addr, user).await;
    assert_eq!(page["context"]["device"], "tv", "the user's usual device");
    for bad in ["device=toaster", "hour=24", "hour=x"] {
        let (status, _) = http::get(addr, &format!("/users/{user}/rows?{bad}"))
            .await
            .unwrap();
        assert_eq!(status, 400, "{bad}");
    }

    // The processor's features reach serve through the compacted topic.
    wait_for(
        "the binge in the user's features",
        Duration::from_secs(60),
        || async {
            let (_, page) = sci_fi_share(addr, user).await;
            let episodes = page["features"]["summary"]["binge"]["episodes"].as_u64();
            (episodes == Some(6)).then_some(())
        },
    )
    .await;
    // Enrichment: a simulated user's features carry their profile from `user-profiles`.
    wait_for(
        "a simulated user's profile in their features",
        Duration::from_secs(30),
        || async {
            let (_, page) = sci_fi_share(addr, 1).await;
            page["features"]["profile"]["declared_genres"]
                .as_array()
                .is_some_and(|g| g.len() == 2)
                .then_some(())
        },
    )
    .await;
    wait_for(
        "malformed events counted by process",
        Duration::from_secs(30),
        || {
            let n = counters.malformed.load(Ordering::Relaxed);
            async move { (n == 3).then_some(()) }
        },
    )
    .await;
    let dead = read_to_end(&b.bootstrap, topics::DEAD_LETTERS)
        .await
        .unwrap();
    assert_eq!(dead.len(), 3);
    assert!(dead[0].key.as_deref().unwrap().starts_with(b"play-events/"));

    stop_tx.send(true).unwrap();
    proc.await.unwrap().unwrap();
    serve.await.unwrap().unwrap();
    b.stop().await;
}

/// The simulated stream over every activity topic. The processor reads a user's topics
/// interleaved in whatever order they arrive, and the signals do not depend on that order, so
/// a pure fold in generation order is the exact expected state.
fn sim_stream(n: usize) -> Vec<Event> {
    let mut sim = Simulator::new(SEED, 40, catalogue_gen::generate(SEED), T0);
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(sim.step(20_000));
    }
    out.truncate(n);
    out
}

/// A broker with the catalogue published, a `sim_stream(n)`, the signals a pure fold of it
/// gives, and a producer for the stream.
async fn stream_setup(n: usize) -> (TestBroker, Vec<Event>, SignalStore, Producer) {
    let b = broker().await;
    let stream = sim_stream(n);
    let cat = catalogue_gen::generate(SEED);
    let expected = pure_fold(&stream, &cat);
    let producer = Producer::new(&b.bootstrap).unwrap();
    simulate::publish_catalogue(&producer, &cat).await.unwrap();
    (b, stream, expected, producer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn process_restart_mid_stream_loses_and_double_counts_nothing() {
    let (b, stream, expected, producer) = stream_setup(3_000).await;
    let (first_half, second_half) = stream.split_at(stream.len() / 2);
    for e in first_half {
        producer.enqueue_event(e).await.unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();

    let (_stop_a_tx, stop_a) = watch::channel(false);
    let a = Arc::new(ProcessCounters::default());
    let task_a = tokio::spawn(process::run(
        process_cfg(&b.bootstrap, "restart-test"),
        stop_a,
        a.clone(),
    ));
    wait_for(
        "the first processor to fold some events",
        Duration::from_secs(60),
        || {
            let n = a.applied.load(Ordering::Relaxed);
            async move { (n >= 500).then_some(()) }
        },
    )
    .await;
    // A crash, not a clean stop: no final commit, records in flight may be lost.
    task_a.abort();
    let _ = task_a.await;
    for e in second_half {
        producer.enqueue_event(e).await.unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();

    let (stop_b_tx, stop_b) = watch::channel(false);
    let bc = Arc::new(ProcessCounters::default());
    let task_b = tokio::spawn(process::run(
        process_cfg(&b.bootstrap, "restart-test"),
        stop_b,
        bc.clone(),
    ));
    let users = users_of(&stream);
    let got = wait_for_features(&b.bootstrap, &expected, &users).await;
    assert_eq!(got.len(), users.len());
    eprintln!(
        "first run applied {}, second run applied {} and skipped {} already folded in, restored {} users",
        a.applied.load(Ordering::Relaxed),
        bc.applied.load(Ordering::Relaxed),
        bc.duplicates.load(Ordering::Relaxed),
        bc.restored.load(Ordering::Relaxed),
    );
    stop_b_tx.send(true).unwrap();
    task_b.await.unwrap().unwrap();
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processors_split_the_partitions_and_produce_the_same_features_as_one() {
    let (b, stream, expected, producer) = stream_setup(2_000).await;
    let (stop_tx, stop) = watch::channel(false);
    let counters = [
        Arc::new(ProcessCounters::default()),
        Arc::new(ProcessCounters::default()),
    ];
    let tasks: Vec<_> = counters
        .iter()
        .map(|c| {
            tokio::spawn(process::run(
                process_cfg(&b.bootstrap, "scale-test"),
                stop.clone(),
                c.clone(),
            ))
        })
        .collect();
    // Both join before the stream starts, so that neither takes everything.
    // The activity topics and the co-partitioned profile table.
    let all = (topics::ACTIVITY_TOPICS.len() as u64 + 1) * topics::USER_PARTITIONS as u64;
    wait_for(
        "both processors to share the partitions",
        Duration::from_secs(60),
        || {
            let a: Vec<u64> = counters
                .iter()
                .map(|c| c.assigned.load(Ordering::Relaxed))
                .collect();
            async move { (a.iter().all(|n| *n > 0) && a.iter().sum::<u64>() == all).then_some(()) }
        },
    )
    .await;
    for e in &stream {
        producer.enqueue_event(e).await.unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();
    wait_for_features(&b.bootstrap, &expected, &users_of(&stream)).await;
    let applied: Vec<u64> = counters
        .iter()
        .map(|c| c.applied.load(Ordering::Relaxed))
        .collect();
    eprintln!("events applied per processor: {applied:?}");
    assert!(
        applied.iter().all(|n| *n > 0),
        "both processors took partitions: {applied:?}"
    );
    stop_tx.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_processor_joining_mid_stream_takes_partitions_without_losing_or_double_counting() {
    let (b, stream, expected, producer) = stream_setup(3_000).await;
    let (stop_tx, stop) = watch::channel(false);
    let a = Arc::new(ProcessCounters::default());
    let task_a = tokio::spawn(process::run(
        process_cfg(&b.bootstrap, "join-test"),
        stop.clone(),
        a.clone(),
    ));
    let (first, second) = stream.split_at(stream.len() / 2);
    for e in first {
        producer.enqueue_event(e).await.unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();
    wait_for(
        "the first processor to be busy",
        Duration::from_secs(60),
        || {
            let n = a.applied.load(Ordering::Relaxed);
            async move { (n >= 300).then_some(()) }
        },
    )
    .await;
    let bc = Arc::new(ProcessCounters::default());
    let task_b = tokio::spawn(process::run(
        process_cfg(&b.bootstrap, "join-test"),
        stop.clone(),
        bc.clone(),
    ));
    // The second half arrives over about six seconds, while the new member joins.
    let paced = {
        let producer = producer.clone();
        let second = second.to_vec();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(4));
            for e in &second {
                tick.tick().await;
                producer.enqueue_event(e).await.unwrap();
            }
            producer.flush(Duration::from_secs(30)).await.unwrap();
        })
    };
    wait_for(
        "the new member to get partitions",
        Duration::from_secs(60),
        || {
            let n = bc.assigned.load(Ordering::Relaxed);
            async move { (n > 0).then_some(()) }
        },
    )
    .await;
    paced.await.unwrap();
    wait_for_features(&b.bootstrap, &expected, &users_of(&stream)).await;
    eprintln!(
        "first processor applied {}, the one that joined applied {} (skipped {})",
        a.applied.load(Ordering::Relaxed),
        bc.applied.load(Ordering::Relaxed),
        bc.duplicates.load(Ordering::Relaxed)
    );
    assert!(
        bc.assigned.load(Ordering::Relaxed) > 0,
        "the new member got partitions"
    );
    stop_tx.send(true).unwrap();
    task_a.await.unwrap().unwrap();
    task_b.await.unwrap().unwrap();
    b.stop().await;
}

/// The latest feature record of every user in `topic`, by user.
async fn features_in(bootstrap: &str, topic: &str) -> BTreeMap<UserId, FeatureRecord> {
    load_features(bootstrap, topic)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.user_id, r))
        .collect()
}

/// The simulated stream over every activity topic: users, partitions and topics interleave
/// differently live and in the replay. Both `serve` and `process` are rebuilt from offset 0
/// and must agree with their live runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilt_from_offset_0_serve_and_process_agree_with_the_live_run() {
    let b = broker().await;
    let users: Vec<UserId> = (1..=150).collect();
    let producer = Producer::new(&b.bootstrap).unwrap();
    simulate::publish_catalogue(&producer, &catalogue_gen::generate(SEED))
        .await
        .unwrap();
    let (stop_tx, stop) = watch::channel(false);
    // The live server and processor fold the events as they arrive (over about three seconds).
    let (live_addr, live, live_task) = start_serve(&b.bootstrap, &stop).await;
    let live_proc = Arc::new(ProcessCounters::default());
    let live_proc_task = tokio::spawn(process::run(
        process_cfg(&b.bootstrap, "live"),
        stop.clone(),
        live_proc.clone(),
    ));
    let events = simulate::run(
        SimulateConfig {
            bootstrap: b.bootstrap.clone(),
            seed: SEED,
            users: users.len() as u64,
            rate: 1_000.0,
            limit: Some(3_000),
            start_ms: Some(T0),
            serve: None,
        },
        stop.clone(),
    )
    .await
    .unwrap();
    wait_folded("the live serve to fold every event", &live, events).await;
    // A fresh server replays the whole backlog from offset 0.
    let (replay_addr, replay, replay_task) = start_serve(&b.bootstrap, &stop).await;
    wait_folded("the replaying serve to fold every event", &replay, events).await;
    assert_eq!(live.events.load(Ordering::Relaxed), events);
    assert_eq!(replay.events.load(Ordering::Relaxed), events);

    let mut personalised = 0;
    for user in &users {
        let path = format!("/users/{user}/rows");
        let (s1, a) = http::get(live_addr, &path).await.unwrap();
        let (s2, b) = http::get(replay_addr, &path).await.unwrap();
        assert_eq!((s1, s2), (200, 200));
        let a: serde_json::Value = serde_json::from_str(&a).unwrap();
        let b: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(a["rows"], b["rows"], "rows of user {user}");
        assert_eq!(a["model_time_ms"], b["model_time_ms"]);
        let rows = a["rows"].as_array().unwrap();
        personalised += usize::from(rows.iter().any(|r| r["id"] == "top_picks"));
    }
    eprintln!(
        "{events} events: rows equal for all {} users ({personalised} with Top Picks)",
        users.len()
    );
    assert!(
        personalised * 2 > users.len(),
        "most users have personalised rows"
    );

    // A fresh processor in a new group rebuilds every user's features into a new topic.
    let rebuilt_topic = "user-behavior-features-rebuilt";
    topics::create_features_topic(&b.bootstrap, rebuilt_topic)
        .await
        .unwrap();
    let rebuild = Arc::new(ProcessCounters::default());
    let rebuild_task = tokio::spawn(process::run(
        ProcessConfig {
            features_topic: rebuilt_topic.to_string(),
            ..process_cfg(&b.bootstrap, "rebuild")
        },
        stop.clone(),
        rebuild.clone(),
    ));
    let (live_features, rebuilt) = wait_for(
        "the rebuilt features to equal the live ones for every user",
        Duration::from_secs(90),
        || async {
            let a = features_in(&b.bootstrap, topics::USER_BEHAVIOR_FEATURES).await;
            let r = features_in(&b.bootstrap, rebuilt_topic).await;
            let all = |c: &ProcessCounters| c.applied.load(Ordering::Relaxed) == events;
            (all(&live_proc) && all(&rebuild) && a.len() == users.len() && a == r).then_some((a, r))
        },
    )
    .await;
    assert_eq!(live_features, rebuilt);
    assert!(
        rebuilt.values().all(|r| r.profile.is_some()),
        "every simulated user has a profile, joined from user-profiles"
    );
    eprintln!(
        "features equal for all {} users after {} events",
        rebuilt.len(),
        rebuild.applied.load(Ordering::Relaxed)
    );

    stop_tx.send(true).unwrap();
    live_task.await.unwrap().unwrap();
    replay_task.await.unwrap().unwrap();
    live_proc_task.await.unwrap().unwrap();
    rebuild_task.await.unwrap().unwrap();
    b.stop().await;
}
