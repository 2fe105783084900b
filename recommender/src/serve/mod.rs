//! `serve`: the HTTP JSON API and the live home page.
//!
//! - `GET /` — the web page (act as a user, watch the rows change live).
//! - `GET /titles` — the catalogue.
//! - `GET /users/{id}/rows[?device=mobile&hour=8]` — the user's rows for a viewing context
//!   (default: their usual device, now); the served set is produced to `recommendations`.
//! - `POST /users/{id}/events` — one event in the documented schema, produced to its topic.
//! - `GET /users/{id}/stream[?device=..&hour=..]` — server-sent events: the page again after
//!   each event of the user.
//! - `GET /status` — counters.
//!
//! It reads every activity topic from offset 0 (a group-less consumer: every `serve` instance
//! sees everything) into the model, and the whole features topic into a table.

pub mod http;
pub mod state;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::message::Message;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

use crate::consumer::{assign_from_start, high_watermarks};
use crate::error::EdgeError;
use crate::event::{Device, Event, UserId};
use crate::process::tables::load_catalogue;
use crate::producer::Producer;
use crate::signals::DayPart;
use crate::topics;
use http::{BadRequest, Request, Response};
use state::{ContextAsked, ServeState};

const PAGE: &str = include_str!("page.html");

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// Where to listen (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Show a progress bar while replaying the topics.
    pub progress: bool,
}

/// A bound server: its address and shared state, before it runs.
#[derive(Debug)]
pub struct Bound {
    /// The listener.
    listener: TcpListener,
    /// Shared state.
    pub state: Arc<ServeState>,
    /// Producer for events posted and served sets.
    producer: Producer,
    /// The configuration.
    cfg: ServeConfig,
}

impl Bound {
    /// Loads the catalogue and binds the listener.
    pub async fn bind(cfg: ServeConfig) -> Result<Bound, EdgeError> {
        let catalogue = Arc::new(load_catalogue(&cfg.bootstrap, Duration::from_secs(30)).await?);
        let listener = TcpListener::bind(cfg.listen).await?;
        Ok(Bound {
            listener,
            state: Arc::new(ServeState::new(catalogue)),
            producer: Producer::new(&cfg.bootstrap)?,
            cfg,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, EdgeError> {
        Ok(self.listener.local_addr()?)
    }

    /// Consumes and serves until `stop` turns true.
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<(), EdgeError> {
        let feed = tokio::spawn(feed(
            self.cfg.bootstrap.clone(),
            self.state.clone(),
            self.cfg.progress,
            stop.clone(),
        ));
        let mut stop_accept = stop.clone();
        tracing::info!(address = %self.listener.local_addr()?, "serving");
        loop {
            tokio::select! {
                _ = stop_accept.changed() => break,
                accepted = self.listener.accept() => {
                    let (socket, _) = match accepted {
                        Ok(a) => a,
                        Err(error) => {
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let state = self.state.clone();
                    let producer = self.producer.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move { connection(socket, state, producer, stop).await });
                }
            }
        }
        feed.await??;
        Ok(())
    }
}

/// Folds the activity topics (from offset 0) and the features topic into the state.
async fn feed(
    bootstrap: String,
    state: Arc<ServeState>,
    progress: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<(), EdgeError> {
    let mut all: Vec<&str> = topics::ACTIVITY_TOPICS.to_vec();
    all.push(topics::USER_BEHAVIOR_FEATURES);
    let backlog: i64 = high_watermarks(&bootstrap, &all)
        .await?
        .iter()
        .map(|(_, _, h)| *h)
        .sum();
    let consumer = assign_from_start(&bootstrap, &all).await?;
    let bar = if progress && backlog > 0 {
        let b = ProgressBar::new(backlog.unsigned_abs());
        if let Ok(style) = ProgressStyle::with_template("replaying topics [{bar:40}] {pos}/{len}") {
            b.set_style(style.progress_chars("=> "));
        }
        Some(b)
    } else {
        None
    };
    let mut seen = 0i64;
    loop {
        let m = tokio::select! {
            _ = stop.changed() => break,
            m = consumer.recv() => m,
        };
        let m = match m {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, "consumer error");
                continue;
            }
        };
        let value = m.payload().unwrap_or_default();
        if m.topic() == topics::USER_BEHAVIOR_FEATURES {
            state.features_update(value);
        } else {
            state.learn(value);
        }
        seen += 1;
        if let Some(b) = &bar {
            b.set_position(seen.min(backlog).unsigned_abs());
            if seen >= backlog {
                b.finish_and_clear();
            }
        }
        if seen == backlog {
            tracing::info!(records = seen, "replay done; now live");
        }
    }
    Ok(())
}

async fn connection(
    mut socket: TcpStream,
    state: Arc<ServeState>,
    producer: Producer,
    stop: watch::Receiver<bool>,
) {
    let req = match http::read_request(&mut socket).await {
        Ok(r) => r,
        Err(BadRequest::Gone) => return,
        Err(BadRequest::Malformed(what)) => {
            let r = Response::error(400, &format!("malformed request: {what}"));
            let _ = http::write_response(&mut socket, &r).await;
            return;
        }
        Err(BadRequest::TooLarge) => {
            let _ = http::write_response(&mut socket, &Response::error(413, "too large")).await;
            return;
        }
    };
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    if let (Some(user), ["users", _, "stream"]) = (user_of(&segments), segments.as_slice()) {
        match context_of(&req) {
            Ok(asked) => stream_page(socket, state, user, asked, stop).await,
            Err(msg) => {
                let _ = http::write_response(&mut socket, &Response::error(400, msg)).await;
            }
        }
        return;
    }
    let response = route(&req, &segments, &state, &producer).await;
    // A client that went away is not an error of ours.
    let _ = http::write_response(&mut socket, &response).await;
}

fn user_of(segments: &[&str]) -> Option<UserId> {
    match segments {
        ["users", id, ..] => id.parse().ok(),
        _ => None,
    }
}

async fn route(
    req: &Request,
    segments: &[&str],
    state: &ServeState,
    producer: &Producer,
) -> Response {
    match (req.method.as_str(), segments) {
        ("GET", [""]) => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: PAGE.as_bytes().to_vec(),
        },
        ("GET", ["titles"]) => Response::json(200, &state.titles()),
        ("GET", ["status"]) => Response::json(
            200,
            &json!({
                "events": state.events.load(Ordering::Relaxed),
                "malformed": state.malformed.load(Ordering::Relaxed),
                "titles": state.catalogue.len(),
            }),
        ),
        ("GET", ["users", id, "rows"]) => match (id.parse::<UserId>(), context_of(req)) {
            (Ok(user), Ok(ctx)) => {
                let page = state.page_in(user, ctx);
                served(producer, user, &page).await;
                Response::json(200, &page)
            }
            (Err(_), _) => Response::error(400, "user id must be an unsigned integer"),
            (_, Err(msg)) => Response::error(400, msg),
        },
        ("POST", ["users", id, "events"]) => post_event(id, &req.body, producer).await,
        (_, ["users", _, "rows" | "events"]) => Response::error(405, "method not allowed"),
        _ => Response::error(404, "not found"),
    }
}

/// The viewing context a rows request asks for: `device` (tv, mobile, tablet, web, console)
/// and `hour` (0-23, UTC), each optional.
fn context_of(req: &Request) -> Result<ContextAsked, &'static str> {
    let device = match req.param("device") {
        None => None,
        Some(d) => Some(
            serde_json::from_value::<Device>(json!(d))
                .ok()
                .filter(|d| *d != Device::Other)
                .ok_or("device must be one of tv, mobile, tablet, web, console")?,
        ),
    };
    let hour = match req.param("hour") {
        None => None,
        Some(h) => Some(
            h.parse::<i64>()
                .ok()
                .filter(|h| (0..24).contains(h))
                .ok_or("hour must be 0 to 23")?,
        ),
    };
    Ok(ContextAsked {
        device,
        day_part: hour.map(|h| DayPart::of(h * 3_600_000)),
    })
}

/// Produces the served set to `recommendations` (impressions for the feedback loop).
async fn served(producer: &Producer, user: UserId, page: &serde_json::Value) {
    let rows: Vec<serde_json::Value> = page["rows"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let ids: Vec<&serde_json::Value> = r["items"]
                        .as_array()
                        .map(|i| i.iter().map(|x| &x["title_id"]).collect())
                        .unwrap_or_default();
                    json!({ "row_id": r["id"], "title_ids": ids })
                })
                .collect()
        })
        .unwrap_or_default();
    let rec = json!({
        "user_id": user,
        "served_ms": crate::simulate::wall_ms(),
        "model_time_ms": page["model_time_ms"],
        "rows": rows,
    });
    if let Err(error) = producer
        .enqueue(
            topics::RECOMMENDATIONS,
            &user.to_string(),
            rec.to_string().as_bytes(),
        )
        .await
    {
        tracing::warn!(%error, "cannot record a served set");
    }
}

async fn post_event(id: &str, body: &[u8], producer: &Producer) -> Response {
    let Ok(user) = id.parse::<UserId>() else {
        return Response::error(400, "user id must be an unsigned integer");
    };
    let ev = match Event::from_json(body) {
        Ok(ev) => ev,
        Err(e) => return Response::error(400, &e.to_string()),
    };
    if ev.user_id != user {
        return Response::error(400, "user_id in the body differs from the path");
    }
    match producer.send_event(&ev).await {
        Ok((partition, offset)) => Response::json(
            202,
            &json!({ "topic": topics::topic_for(&ev.kind), "partition": partition, "offset": offset }),
        ),
        Err(e) => Response::error(503, &e.to_string()),
    }
}

/// Sends the page now and after every change for `user`, until the client leaves or the server
/// stops.
async fn stream_page(
    mut socket: TcpStream,
    state: Arc<ServeState>,
    user: UserId,
    asked: ContextAsked,
    mut stop: watch::Receiver<bool>,
) {
    let mut updates = state.updates.subscribe();
    if http::start_events(&mut socket).await.is_err() {
        return;
    }
    loop {
        let page = state.page_in(user, asked).to_string();
        if http::send_event(&mut socket, "rows", &page).await.is_err() {
            return;
        }
        // Wait for this user's next change; a lagging receiver just refreshes.
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                u = updates.recv() => match u {
                    Ok(u) if u != user => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                    _ => break,
                },
            }
        }
    }
}
