//! Which broker a test runs against, from `KAFKA_TARGET`: `ours` (default), `kafka` (the Apache
//! Kafka reference, started by the harness), or a `host:port` of a broker someone else runs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::clients::consumer_config;
use crate::our_broker::OurBroker;
use crate::reference::ReferenceKafka;
use crate::wait::wait_for;

/// The broker kind selected by `KAFKA_TARGET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Our broker binary, one fresh instance per test.
    Ours,
    /// Apache Kafka, one instance per test binary.
    Kafka,
    /// An already running broker at this bootstrap address.
    External(String),
}

impl Target {
    /// Reads `KAFKA_TARGET`.
    pub fn from_env() -> Result<Target> {
        match std::env::var("KAFKA_TARGET") {
            Err(std::env::VarError::NotPresent) => Ok(Target::Ours),
            Err(e) => bail!("KAFKA_TARGET: {e}"),
            Ok(v) if v.is_empty() || v == "ours" => Ok(Target::Ours),
            Ok(v) if v == "kafka" => Ok(Target::Kafka),
            Ok(v) if v.contains(':') => Ok(Target::External(v)),
            Ok(v) => bail!("KAFKA_TARGET={v:?}: expected `ours`, `kafka` or host:port"),
        }
    }

    /// For tests that need our binary (kill -9, restart): true when it is the target; otherwise
    /// prints why `test` is skipped.
    pub fn ours_or_skip(test: &str) -> Result<bool> {
        let target = Target::from_env()?;
        if target == Target::Ours {
            return Ok(true);
        }
        println!(
            "SKIPPED {test}: KAFKA_TARGET is {target:?}; this test kills and restarts our \
             broker binary, which only works with KAFKA_TARGET=ours"
        );
        Ok(false)
    }
}

/// The broker one test talks to.
#[derive(Debug)]
pub enum TestBroker {
    /// A private instance of our broker (killed when dropped).
    Ours(OurBroker),
    /// The binary's shared Apache Kafka instance.
    Kafka(&'static ReferenceKafka),
    /// Someone else's broker.
    External(String),
}

impl TestBroker {
    /// Starts or attaches to the target broker and waits until it answers Metadata.
    ///
    /// `ours_overrides` apply to our broker only; the reference Kafka is started with
    /// [`crate::reference::DEFAULT_PROPS`], which tests keep in step with these overrides.
    pub fn start(ours_overrides: &[(&str, &str)]) -> Result<TestBroker> {
        let broker = match Target::from_env()? {
            Target::Ours => TestBroker::Ours(OurBroker::start(ours_overrides)?),
            Target::Kafka => TestBroker::Kafka(ReferenceKafka::shared()?),
            Target::External(addr) => TestBroker::External(addr),
        };
        wait_until_serving(&broker.bootstrap())?;
        Ok(broker)
    }

    /// The bootstrap address for clients.
    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::Ours(b) => b.bootstrap(),
            TestBroker::Kafka(k) => k.bootstrap(),
            TestBroker::External(addr) => addr.clone(),
        }
    }

    /// The broker's recent log, for failure messages.
    pub fn log_tail(&self) -> String {
        match self {
            TestBroker::Ours(b) => b.stderr_tail(),
            TestBroker::Kafka(k) => k.log_tail(),
            TestBroker::External(_) => "(external broker: no log)".to_string(),
        }
    }
}

/// Waits until a Metadata request to `bootstrap` lists at least one broker.
pub fn wait_until_serving(bootstrap: &str) -> Result<()> {
    let consumer: BaseConsumer = consumer_config(bootstrap).create()?;
    wait_for(
        &format!("{bootstrap} to answer Metadata with a broker list"),
        Duration::from_secs(60),
        || {
            let md = consumer.fetch_metadata(None, Duration::from_secs(2))?;
            Ok((!md.brokers().is_empty()).then_some(()))
        },
    )
}

/// A topic name no other test (or earlier run against a shared broker) uses.
pub fn unique_topic(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}
