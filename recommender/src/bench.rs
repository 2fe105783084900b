//! `bench`: the measurements the README reports.
//!
//! - Freshness: a probe user's `play` is produced while the simulator loads the broker at a
//!   given rate; the time until the page `serve` builds for that user shows the title in
//!   "Continue Watching" (the same page `GET /users/{id}/rows` returns), p50/p99.
//! - Processing throughput on one core: the processor's pure fold (parse, signals, feature
//!   record, JSON) over simulated events, without Kafka.
//! - Memory per 100,000 users: resident-set growth while the processor state takes 100,000
//!   users with a few events each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::error::EdgeError;
use crate::event::{Device, Event, EventKind, UserId, SCHEMA_VERSION};
use crate::process::state::{Outcome, ProcessorState};
use crate::producer::Producer;
use crate::serve::{Bound, ServeConfig};
use crate::signals::SignalConfig;
use crate::simulate::{self, catalogue_gen, users::Simulator, SimulateConfig};
use crate::topics;

/// Freshness at one load.
#[derive(Debug, Serialize)]
pub struct Freshness {
    /// Background events per second asked of the simulator.
    pub rate: f64,
    /// Background events actually produced per second.
    pub achieved_rate: f64,
    /// Probes measured.
    pub probes: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// Measures freshness at `rate` events/s with `probes` probe users.
pub async fn freshness(bootstrap: &str, rate: f64, probes: usize) -> Result<Freshness, EdgeError> {
    let (stop_tx, stop) = watch::channel(false);
    let sim_cfg = SimulateConfig {
        bootstrap: bootstrap.to_string(),
        seed: 11,
        users: 10_000,
        rate,
        limit: None,
        start_ms: None,
        serve: None,
    };
    let sim = tokio::spawn(simulate::run(sim_cfg, stop.clone()));
    let server = Bound::bind(ServeConfig {
        bootstrap: bootstrap.to_string(),
        listen: "127.0.0.1:0"
            .parse()
            .map_err(|_| EdgeError::Timeout("address".into()))?,
        progress: false,
    })
    .await?;
    let state = server.state.clone();
    let serve = tokio::spawn(server.run(stop.clone()));
    let producer = Producer::new(bootstrap)?;
    if probes == 0 {
        return Err(EdgeError::Timeout("no probes asked for".into()));
    }
    // Let the simulator and serve reach their steady load before probing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let events_before = state.events.load(std::sync::atomic::Ordering::Relaxed);
    let mut samples = Vec::with_capacity(probes);
    let title = catalogue_gen::movies_of(0).start;
    for i in 0..probes {
        let user: UserId = 1_000_000_000 + i as UserId;
        let mut updates = state.updates.subscribe();
        let ev = Event {
            schema_version: SCHEMA_VERSION,
            user_id: user,
            device: Device::Web,
            timestamp_ms: simulate::wall_ms(),
            kind: EventKind::Play { title_id: title },
        };
        let t0 = Instant::now();
        producer.enqueue_event(&ev).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let page = state.page(user);
            let shown = page["rows"].as_array().is_some_and(|rows| {
                rows.iter().any(|r| {
                    r["id"] == "continue_watching"
                        && r["items"]
                            .as_array()
                            .is_some_and(|items| items.iter().any(|it| it["title_id"] == title))
                })
            });
            if shown {
                samples.push(t0.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Ok(_) => {}
                Err(_) => return Err(EdgeError::Timeout(format!("probe {i} never served"))),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let events = state.events.load(std::sync::atomic::Ordering::Relaxed) - events_before;
    let _ = stop_tx.send(true);
    sim.await??;
    serve.await??;
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    Ok(Freshness {
        rate,
        achieved_rate: events as f64 / elapsed,
        probes: samples.len(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

/// The processor through Kafka: `events` simulated events are produced first, then one
/// processor folds them; events per second from its start to the last one folded (catalogue
/// load, group join and restore included).
pub async fn process_throughput(bootstrap: &str, events: usize) -> Result<f64, EdgeError> {
    let cat = catalogue_gen::generate(3);
    let producer = Producer::new(bootstrap)?;
    simulate::publish_catalogue(&producer, &cat).await?;
    let mut sim = Simulator::new(3, 10_000, cat, 1_700_000_000_000);
    let mut produced = 0usize;
    while produced < events {
        for ev in sim.step(20_000) {
            producer.enqueue_event(&ev).await?;
            produced += 1;
        }
    }
    producer.flush(Duration::from_secs(60)).await?;
    let counters = Arc::new(crate::process::ProcessCounters::default());
    let (stop_tx, stop) = watch::channel(false);
    let cfg = crate::process::ProcessConfig {
        group: "bench-throughput".to_string(),
        ..crate::process::ProcessConfig::new(bootstrap)
    };
    let t0 = Instant::now();
    let task = tokio::spawn(crate::process::run(cfg, stop, counters.clone()));
    let deadline = Instant::now() + Duration::from_secs(300);
    while counters.applied.load(std::sync::atomic::Ordering::Relaxed) < produced as u64 {
        if Instant::now() > deadline || task.is_finished() {
            return Err(EdgeError::Timeout("processor throughput run".into()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = produced as f64 / t0.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    task.await??;
    Ok(rate)
}

/// The processor's fold on one thread: events per second.
pub fn fold_throughput(events: usize) -> f64 {
    let cat = catalogue_gen::generate(3);
    let mut sim = Simulator::new(3, 10_000, cat.clone(), 1_700_000_000_000);
    let mut input = Vec::with_capacity(events);
    while input.len() < events {
        for ev in sim.step(20_000) {
            if let Ok(json) = serde_json::to_vec(&ev) {
                input.push((topics::topic_for(&ev.kind), json));
            }
        }
    }
    let mut state = ProcessorState::new(Arc::new(cat), SignalConfig::default());
    let t0 = Instant::now();
    let mut bytes = 0usize;
    for (offset, (topic, json)) in input.iter().enumerate() {
        if let Outcome::Applied(rec) = state.apply(topic, 0, offset as i64, json) {
            bytes += serde_json::to_vec(&rec).map_or(0, |v| v.len());
        }
    }
    let rate = input.len() as f64 / t0.elapsed().as_secs_f64();
    tracing::debug!(bytes, "feature bytes");
    rate
}

/// Resident-set growth, in bytes, for 100,000 users with `per_user` events each.
pub fn memory_per_100k_users(per_user: usize) -> Option<u64> {
    let cat = Arc::new(catalogue_gen::generate(3));
    let mut sim = Simulator::new(3, 1, (*cat).clone(), 1_700_000_000_000);
    let template: Vec<Event> = std::iter::repeat_with(|| sim.step(60_000))
        .flatten()
        .take(per_user)
        .collect();
    let before = rss_bytes()?;
    let mut state = ProcessorState::new(cat, SignalConfig::default());
    for user in 0..100_000u64 {
        for (i, ev) in template.iter().enumerate() {
            let mut e = ev.clone();
            e.user_id = user;
            if let Ok(json) = serde_json::to_vec(&e) {
                state.apply(topics::PLAY_EVENTS, 0, i as i64, &json);
            }
        }
    }
    let after = rss_bytes()?;
    tracing::debug!(users = state.users(), "memory measured");
    Some(after.saturating_sub(before))
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
