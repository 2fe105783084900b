//! `simulate`: publishes the catalogue and user profiles, then produces user activity at a
//! configured rate; optionally reads the rows `serve` gives its users and clicks them by taste,
//! closing the loop. The event sequence is a function of the seed (and, when the loop is
//! closed, of the rows served).

pub mod catalogue_gen;
pub mod rng;
pub mod users;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;

use crate::catalogue::Catalogue;
use crate::error::EdgeError;
use crate::features::{TitleRecord, UserProfile};
use crate::producer::Producer;
use crate::serve::http;
use crate::topics;
use users::Simulator;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimulateConfig {
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// Seed of the catalogue and of the users.
    pub seed: u64,
    /// Number of users.
    pub users: u64,
    /// Events per second (wall clock).
    pub rate: f64,
    /// Stop after this many events.
    pub limit: Option<u64>,
    /// `Some(t)`: a simulated clock from `t` (20 s per action, fully reproducible);
    /// `None`: wall-clock timestamps.
    pub start_ms: Option<i64>,
    /// Where `serve` listens (host:port), to fetch served rows and click them.
    pub serve: Option<String>,
}

/// Writes the catalogue to `title-metadata` and waits for the acknowledgements.
pub async fn publish_catalogue(p: &Producer, cat: &Catalogue) -> Result<usize, EdgeError> {
    for t in cat.titles() {
        let json = serde_json::to_vec(&TitleRecord::of(t, cat))?;
        p.enqueue(topics::TITLE_METADATA, &t.id.to_string(), &json)
            .await?;
    }
    p.flush(Duration::from_secs(30)).await?;
    Ok(cat.len())
}

/// Publishes the catalogue and profiles, then runs until the limit or `stop` turns true.
/// Returns the number of activity events produced.
pub async fn run(cfg: SimulateConfig, mut stop: watch::Receiver<bool>) -> Result<u64, EdgeError> {
    let producer = Producer::new(&cfg.bootstrap)?;
    let cat = catalogue_gen::generate(cfg.seed);
    publish_catalogue(&producer, &cat).await?;
    let start = cfg.start_ms.unwrap_or_else(wall_ms);
    let mut sim = Simulator::new(cfg.seed, cfg.users, cat, start);
    for u in sim.users() {
        let rec = UserProfile {
            user_id: u.id,
            home_device: u.device,
            declared_genres: u
                .favourites
                .iter()
                .map(|g| catalogue_gen::GENRES[*g].to_string())
                .collect(),
        };
        let json = serde_json::to_vec(&rec)?;
        producer
            .enqueue(topics::USER_PROFILES, &u.id.to_string(), &json)
            .await?;
    }
    if cfg.start_ms.is_none() {
        sim.set_event_gap_ms(1);
    }
    tracing::info!(users = cfg.users, rate = cfg.rate, "simulator started");
    let mut produced = 0u64;
    let mut budget = 0.0f64;
    let mut steps = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !*stop.borrow() && cfg.limit.is_none_or(|l| produced < l) {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        budget = (budget + cfg.rate / 100.0).min(cfg.rate.max(1.0));
        while budget >= 1.0 && cfg.limit.is_none_or(|l| produced < l) {
            steps += 1;
            if let (Some(addr), 0) = (cfg.serve.as_deref(), steps % 25) {
                offer_served_rows(&mut sim, addr).await;
            }
            let step = match cfg.start_ms {
                Some(_) => 20_000,
                None => (wall_ms() - sim.now_ms()).max(0),
            };
            for ev in sim.step(step) {
                producer.enqueue_event(&ev).await?;
                produced += 1;
                budget -= 1.0;
            }
        }
    }
    producer.flush(Duration::from_secs(30)).await?;
    tracing::info!(produced, "simulator stopped");
    Ok(produced)
}

/// Fetches one random user's rows from `serve` and offers them to the simulator; a failure
/// (serve not up yet, its name not resolvable yet) only skips this round. The name is resolved
/// each round because in a container network `serve` may start after the simulator.
async fn offer_served_rows(sim: &mut Simulator, serve: &str) {
    let Some(addr) = resolve(serve).await else {
        return;
    };
    let user = sim.pick_user();
    let Ok((200, body)) = http::get(addr, &format!("/users/{user}/rows")).await else {
        return;
    };
    let Ok(page) = serde_json::from_str::<serde_json::Value>(&body) else {
        return;
    };
    let rows = page["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| {
                    let id = r["id"].as_str()?.to_string();
                    let titles = r["items"]
                        .as_array()?
                        .iter()
                        .filter_map(|i| i["title_id"].as_u64().and_then(|t| u32::try_from(t).ok()))
                        .collect();
                    Some((id, titles))
                })
                .collect()
        })
        .unwrap_or_default();
    sim.offer(user, rows);
}

async fn resolve(host_port: &str) -> Option<SocketAddr> {
    tokio::net::lookup_host(host_port).await.ok()?.next()
}

/// Milliseconds since the Unix epoch now.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
