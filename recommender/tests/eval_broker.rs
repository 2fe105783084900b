//! `recommender eval` through a real broker (ours, embedded, on a free port; or the Kafka named
//! by `RECOMMENDER_TEST_BOOTSTRAP`): the replay keeps every event and its order, the scores of a
//! hand-made data set are the ones worked out by hand, they equal the in-memory scores, and two
//! runs print the same thing. Every wait has a deadline and says what it waited for.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use recommender::dataset::Dataset;
use recommender::eval::prequential;
use recommender::eval::replay::round_trip;
use recommender::event::{Event, TitleId, UserId};
use recommender::model::MostPop;

mod common;
use common::{broker, TestBroker};

/// Names of the replay topics of data set `dataset` that still exist (tests may share a
/// Kafka, so each looks at its own data set's topics only).
fn replay_topics(b: &TestBroker, dataset: &str) -> Vec<String> {
    let prefix = format!("eval-ratings-{dataset}-");
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &b.bootstrap)
        .create()
        .unwrap();
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// ml-latest-small layout, titles A = 10, B = 20, C = 30. Rows are out of time order and two pairs share a timestamp, so
/// only the (timestamp, row) order gives the stream worked out below:
/// u1 A, u1 B, u2 A, u1 C, u2 B, u3 A.
fn write_tiny_dataset(dir: &Path) {
    std::fs::write(
        dir.join("movies.csv"),
        "movieId,title,genres\n10,Alpha (1990),Drama\n20,Beta (1991),Comedy\n\
         30,\"Gamma, The (1992)\",Drama|Comedy\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n2,20,3.5,300\n1,10,4.0,100\n1,20,5.0,200\n\
         2,10,0.5,200\n1,30,4.5,250\n3,10,2.0,300\n",
    )
    .unwrap();
}

/// Runs the binary with `args`, waiting at most two minutes; returns its stdout.
fn run_eval(args: &[&str], scratch: &Path) -> String {
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_recommender"))
        .arg("eval")
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "timed out waiting for `recommender eval {}`",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "eval failed: {stderr}");
    std::fs::read_to_string(&out_path).unwrap()
}

/// The JSON line of `model` and `protocol`: (HR@10, NDCG@10, events).
fn result(stdout: &str, model: &str, protocol: &str) -> (f64, f64, u64) {
    let line = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["model"] == model && v["protocol"] == protocol)
        .unwrap_or_else(|| panic!("no {model} {protocol} line in:\n{stdout}"));
    (
        line["hr_at_10"].as_f64().unwrap(),
        line["ndcg_at_10"].as_f64().unwrap(),
        line["events"].as_u64().unwrap(),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_through_the_broker_gives_the_hand_worked_answers() {
    let b = broker().await;
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("tiny");
    std::fs::create_dir(&data).unwrap();
    write_tiny_dataset(&data);
    let svg = |name: &str| scratch.path().join(name);
    let run = |extra: &[&str], plot: PathBuf| {
        let data = data.display().to_string();
        let plot = plot.display().to_string();
        let mut args = vec!["--dataset", data.as_str(), "--plot", plot.as_str()];
        args.extend_from_slice(extra);
        let scratch = scratch.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_eval(&args, &scratch)
        })
    };
    let bootstrap = b.bootstrap.clone();
    let first = run(&["--bootstrap", &bootstrap], svg("1.svg"))
        .await
        .unwrap();
    let second = run(&["--bootstrap", &bootstrap], svg("2.svg"))
        .await
        .unwrap();
    let memory = run(&["--no-broker"], svg("3.svg")).await.unwrap();

    // MostPop, worked by hand (ties go to the item seen first):
    // u1 A: nothing known, miss.  u1 B: only A, excluded, miss.  u2 A: [A, B], rank 1.
    // u1 C: A, B excluded, miss.  u2 B: A excluded, [B, C], rank 1.  u3 A: [A, B, C], rank 1.
    let (hr, ndcg, events) = result(&first, "MostPop", "prequential");
    assert_eq!(events, 6);
    assert!(close(hr, 0.5) && close(ndcg, 0.5), "{hr} {ndcg}");
    let (hr, _, events) = result(&first, "MostPop", "prequential_last_half");
    assert_eq!(events, 3);
    assert!(close(hr, 2.0 / 3.0), "{hr}");
    // Held out: u1 C, u2 B, u3 A; learned u1 A, u1 B, u2 A (A 2, B 1). u1: C unknown, miss;
    // u2 (A excluded): [B], rank 1; u3: [A, B], rank 1.
    let (hr, ndcg, events) = result(&first, "MostPop", "leave_last_one_out");
    assert_eq!(events, 3);
    assert!(
        close(hr, 2.0 / 3.0) && close(ndcg, 2.0 / 3.0),
        "{hr} {ndcg}"
    );
    assert_eq!(first.lines().filter(|l| l.starts_with('{')).count(), 12);

    assert_eq!(first, second, "two runs through the broker differ");
    assert_eq!(
        first, memory,
        "the broker run differs from the in-memory run"
    );
    let read = |n: &str| std::fs::read(svg(n)).unwrap();
    assert_eq!(read("1.svg"), read("2.svg"));
    assert_eq!(read("1.svg"), read("3.svg"));
    assert_eq!(
        replay_topics(&b, "tiny"),
        Vec::<String>::new(),
        "replay topic left"
    );
    b.stop().await;
}

/// A stream with many users, ties in time and fractional ratings.
fn varied_events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|k| {
            let user: UserId = k * 7919 % 97;
            let title = (k * 104_729 % 311) as TitleId;
            let value = 0.5 + (k % 10) as f32 * 0.5;
            Event::rating(user, title, value, 1_000_000 + (k / 3) as i64 * 1000)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_returns_every_event_in_order_and_deletes_its_topic() {
    let b = broker().await;
    let events = varied_events(5000);
    let mut last = (None, 0);
    let back = round_trip(&b.bootstrap, "varied", &events, &mut |p, n| {
        last = (Some(p), n)
    })
    .await
    .unwrap();
    assert_eq!(back, events);
    assert_eq!(
        last,
        (Some(recommender::eval::replay::Phase::Consume), 5000)
    );
    assert_eq!(
        replay_topics(&b, "varied"),
        Vec::<String>::new(),
        "replay topic left"
    );
    // A topic of the same prefix shows that the listing does see such topics.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &b.bootstrap)
        .create()
        .unwrap();
    let canary = NewTopic::new("eval-ratings-varied-canary", 1, TopicReplication::Fixed(1));
    for r in admin
        .create_topics([&canary], &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
    assert_eq!(
        replay_topics(&b, "varied"),
        vec!["eval-ratings-varied-canary".to_string()]
    );
    b.stop().await;
}

/// ml-100k, when present: MostPop's prequential HR@10 through the broker is the reference one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_pop_through_the_broker_reproduces_the_reference_on_ml_100k() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ml-100k");
    if !dir.is_dir() {
        eprintln!("skipped: {} not found", dir.display());
        return;
    }
    let data = Dataset::load(&dir).unwrap();
    let b = broker().await;
    let events = round_trip(&b.bootstrap, &data.name, &data.events, &mut |_, _| {})
        .await
        .unwrap();
    b.stop().await;
    assert_eq!(events.len(), 100_000);
    let r = prequential(&mut MostPop::new(), &events, 5000, &mut |_| {});
    assert_eq!(r.all.events, 100_000);
    assert!(
        (r.all.hr() - 0.0770).abs() <= 0.0005,
        "HR@10 {}",
        r.all.hr()
    );
}
