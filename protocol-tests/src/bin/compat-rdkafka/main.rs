//! `compat-rdkafka`: the compatibility-matrix driver for the rdkafka crate (librdkafka).
//!
//! ```text
//! compat-rdkafka --bootstrap HOST:PORT --scenario ID --topic NAME
//! compat-rdkafka --versions
//! ```
//!
//! Runs one scenario of `protocol-tests/compat/scenarios.json` and prints exactly one JSON line
//! `{"scenario", "result": "pass"|"fail"|"unsupported", "detail", "seconds"}`, the contract of
//! `protocol-tests/compat/run.py`. Topics are auto-created with 3 partitions by the runner.

mod admin;
mod basic;
mod groups;
mod util;

use std::time::Instant;

use anyhow::{bail, Context, Result};

/// One scenario: `fn(bootstrap, topic)`; `Err` is a failed check or a client error.
type Scenario = fn(&str, &str) -> Result<()>;

/// The scenario table. `None` marks a scenario librdkafka cannot express (it needs Kafka's own
/// command-line tools).
fn scenario(id: &str) -> Option<Option<Scenario>> {
    let f: Scenario = match id {
        "metadata-autocreate" => admin::metadata_autocreate,
        "admin-topics" => admin::admin_topics,
        "produce-consume" => |b, t| basic::round_trip(b, t, "pc", &[]),
        "codec-gzip" => |b, t| basic::round_trip(b, t, "gzip", &[("compression.type", "gzip")]),
        "codec-snappy" => {
            |b, t| basic::round_trip(b, t, "snappy", &[("compression.type", "snappy")])
        }
        "codec-lz4" => |b, t| basic::round_trip(b, t, "lz4", &[("compression.type", "lz4")]),
        "codec-zstd" => |b, t| basic::round_trip(b, t, "zstd", &[("compression.type", "zstd")]),
        "max-message-size" => basic::max_message,
        "idempotent-producer" => {
            |b, t| basic::round_trip(b, t, "idem", &[("enable.idempotence", "true")])
        }
        "consume-earliest-latest" => basic::earliest_latest,
        "offsets-for-times" => basic::offsets_for_times,
        "empty-partition-eof" => basic::empty_eof,
        "describe-configs" => admin::describe_configs,
        "alter-configs" => admin::alter_configs,
        "delete-records" => admin::delete_records,
        "consumer-group-resume" => groups::resume,
        "consumer-group-rebalance" => groups::rebalance,
        "static-membership" => groups::static_membership,
        "cooperative-rebalance" => groups::cooperative,
        "consumer-protocol-group" => groups::consumer_protocol,
        "consumer-group-lag" => groups::lag,
        "consumer-group-reset-offsets" => groups::reset_offsets,
        "perf-tools" | "dump-log" => return Some(None),
        _ => return None,
    };
    Some(Some(f))
}

struct Args {
    bootstrap: String,
    scenario: String,
    topic: String,
}

fn parse_args() -> Result<Option<Args>> {
    let mut args = std::env::args().skip(1);
    let (mut bootstrap, mut scenario, mut topic) = (None, None, None);
    while let Some(a) = args.next() {
        let slot = match a.as_str() {
            "--versions" => return Ok(None),
            "--bootstrap" => &mut bootstrap,
            "--scenario" => &mut scenario,
            "--topic" => &mut topic,
            other => bail!("unknown argument {other}"),
        };
        *slot = Some(args.next().with_context(|| format!("{a} needs a value"))?);
    }
    Ok(Some(Args {
        bootstrap: bootstrap.context("--bootstrap is required")?,
        scenario: scenario.context("--scenario is required")?,
        topic: topic.context("--topic is required")?,
    }))
}

fn main() -> Result<()> {
    let Some(args) = parse_args()? else {
        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        println!(
            "{{\"client\": \"rdkafka\", \"versions\": {{\"rdkafka\": \"{}\", \"librdkafka\": {}}}}}",
            RDKAFKA_CRATE_VERSION,
            util::json_string(&librdkafka)
        );
        return Ok(());
    };
    let started = Instant::now();
    let (result, detail) = match scenario(&args.scenario) {
        None => (
            "unsupported",
            "rdkafka has no driver for this scenario".to_string(),
        ),
        Some(None) => (
            "unsupported",
            "needs Kafka's command-line tools, not a client library".to_string(),
        ),
        Some(Some(f)) => match f(&args.bootstrap, &args.topic) {
            Ok(()) => ("pass", String::new()),
            Err(e) => ("fail", format!("{e:#}")),
        },
    };
    println!(
        "{{\"scenario\": {}, \"result\": \"{result}\", \"detail\": {}, \"seconds\": {:.2}}}",
        util::json_string(&args.scenario),
        util::json_string(&detail),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The rdkafka crate version this binary is built against (Cargo.lock).
const RDKAFKA_CRATE_VERSION: &str = "0.39.0";
