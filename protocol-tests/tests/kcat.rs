//! kcat (Debian's 1.7.1 on librdkafka 2.0.2, an older client than our rdkafka) against the
//! target broker: metadata listing, a keyed round trip with headers, and every codec.

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use protocol_tests::command::{run_with_timeout, CommandOutput};
use protocol_tests::wait::wait_for;
use protocol_tests::{unique_topic, TestBroker};

const OURS: &[(&str, &str)] = &[("num.partitions", "6")];
const KCAT_TIMEOUT: Duration = Duration::from_secs(60);
/// Consumer output format: everything a record carries that kcat can print.
const FORMAT: &str = "p=%p o=%o k=%k v=%s h=%h\\n";

fn kcat(bootstrap: &str, args: &[&str], stdin: &[u8]) -> Result<CommandOutput> {
    let bin = std::env::var("KCAT").unwrap_or_else(|_| "/usr/bin/kcat".to_string());
    let mut cmd = Command::new(bin);
    cmd.args(["-b", bootstrap])
        // A broken broker should fail the test long before KCAT_TIMEOUT.
        .args(["-X", "message.timeout.ms=30000"])
        .args(args);
    run_with_timeout(cmd, stdin, KCAT_TIMEOUT)
}

/// Runs kcat and requires exit status 0; returns its stdout as text.
fn kcat_ok(bootstrap: &str, args: &[&str], stdin: &[u8]) -> Result<String> {
    let out = kcat(bootstrap, args, stdin)?;
    ensure!(
        out.status.success(),
        "kcat {args:?} exited with {}; stderr:\n{}",
        out.status,
        out.stderr
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Produces `lines` (`key:value` each) to partition 0 with headers, then reads the partition
/// back with kcat and checks the printed records byte for byte.
fn round_trip(broker: &TestBroker, topic: &str, lines: &[String], extra: &[&str]) -> Result<()> {
    let bootstrap = broker.bootstrap();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut produce = vec!["-P", "-t", topic, "-p", "0", "-K", ":"];
    produce.extend([
        "-H",
        "trace=abc",
        "-H",
        "dup=1",
        "-H",
        "dup=2",
        "-H",
        "empty=",
    ]);
    produce.extend(extra);
    kcat_ok(&bootstrap, &produce, input.as_bytes())?;

    let consume = [
        "-C",
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-f",
        FORMAT,
    ];
    let got = kcat_ok(&bootstrap, &consume, b"")?;
    let want: String = lines
        .iter()
        .enumerate()
        .map(|(offset, line)| {
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            format!("p=0 o={offset} k={key} v={value} h=trace=abc,dup=1,dup=2,empty=\n")
        })
        .collect();
    ensure!(
        got == want,
        "kcat read back something else {extra:?}:\n--- want\n{want}--- got\n{got}\n--- broker \
         log tail:\n{}",
        broker.log_tail()
    );
    Ok(())
}

#[test]
fn kcat_lists_brokers_and_topics() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("kcat-list");
    kcat_ok(&bootstrap, &["-P", "-t", &topic, "-p", "0"], b"hello\n")?;

    let listing = wait_for(
        &format!("kcat -L to list {topic} with its 6 partitions"),
        Duration::from_secs(30),
        || {
            let out = kcat_ok(&bootstrap, &["-L"], b"")?;
            Ok(out
                .contains(&format!("topic \"{topic}\" with 6 partitions:"))
                .then_some(out))
        },
    )?;
    ensure!(listing.contains(" 1 brokers:"), "kcat -L:\n{listing}");
    let port = bootstrap.rsplit(':').next().unwrap_or_default();
    ensure!(
        listing.contains(&format!(":{port}")),
        "kcat -L does not show the advertised port {port}:\n{listing}"
    );
    let one = kcat_ok(&bootstrap, &["-L", "-t", &topic], b"")?;
    ensure!(
        one.contains(&format!("topic \"{topic}\" with 6 partitions:"))
            && one.contains("partition 0, leader "),
        "kcat -L -t {topic}:\n{one}"
    );
    Ok(())
}

#[test]
fn kcat_keyed_round_trip_with_headers() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    let topic = unique_topic("kcat-keyed");
    let lines = [
        "key-1:value one",
        "key-2:ünïcödé välüé",
        "key-3:value with spaces\tand a tab",
        "key-4:",
        "key-1:same key again",
    ]
    .map(String::from);
    round_trip(&broker, &topic, &lines, &[])
}

#[test]
fn kcat_round_trips_through_every_codec() -> Result<()> {
    let broker = TestBroker::start(OURS)?;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = unique_topic(&format!("kcat-{codec}"));
        // Repetitive values so the compressed batches really are compressed.
        let lines: Vec<String> = (0..500)
            .map(|i| format!("k{i}:{codec} value {i} {}", "abc".repeat(i % 20)))
            .collect();
        let setting = format!("compression.codec={codec}");
        round_trip(&broker, &topic, &lines, &["-X", &setting])?;
    }
    Ok(())
}
