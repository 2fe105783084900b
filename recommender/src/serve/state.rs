//! What `serve` knows: the hybrid model fed by every activity event from offset 0 onwards, and
//! the latest features of every user read from the whole features topic.
//!
//! Thread-safety: shared as `Arc<ServeState>`. The model and the feature table sit behind std
//! `RwLock`s because every section under them is short CPU work (one event folded in, one page
//! built) and none is held across an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::catalogue::Catalogue;
use crate::event::{Device, Event, UserId};
use crate::features::{FeatureRecord, FeatureSummary, UserProfile};
use crate::model::{Context, Hybrid, HybridConfig, Model};
use crate::rows::{build_rows_in, usual_context, RowConfig};
use crate::signals::{DayPart, SignalConfig};

/// A user's latest features as served: update time, summary, profile.
type LatestFeatures = (i64, FeatureSummary, Option<UserProfile>);

/// What a request says of its viewing context; what it leaves out is the user's usual device
/// and the model's current time.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextAsked {
    /// The device asking.
    pub device: Option<Device>,
    /// The part of the day.
    pub day_part: Option<DayPart>,
}

/// The server's shared state.
#[derive(Debug)]
pub struct ServeState {
    /// Titles.
    pub catalogue: Arc<Catalogue>,
    /// The model.
    model: RwLock<Hybrid>,
    /// Latest features per user.
    features: RwLock<HashMap<UserId, LatestFeatures>>,
    /// Tells page streams that a user's rows may have changed.
    pub updates: broadcast::Sender<UserId>,
    /// Activity events folded into the model.
    pub events: AtomicU64,
    /// Activity records that were not valid events.
    pub malformed: AtomicU64,
    /// Page sizes.
    rows: RowConfig,
}

impl ServeState {
    /// An empty state over `catalogue`.
    pub fn new(catalogue: Arc<Catalogue>) -> ServeState {
        let model = Hybrid::new(
            catalogue.clone(),
            HybridConfig::default(),
            SignalConfig::default(),
        );
        ServeState {
            catalogue,
            model: RwLock::new(model),
            features: RwLock::new(HashMap::new()),
            updates: broadcast::channel(4096).0,
            events: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            rows: RowConfig::default(),
        }
    }

    /// Folds one activity record into the model.
    pub fn learn(&self, value: &[u8]) {
        match Event::from_json(value) {
            Ok(ev) => {
                if let Ok(mut m) = self.model.write() {
                    m.learn(&ev);
                }
                self.events.fetch_add(1, Ordering::Relaxed);
                // Nobody listening is normal.
                let _ = self.updates.send(ev.user_id);
            }
            Err(_) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Takes a user's latest feature record.
    pub fn features_update(&self, value: &[u8]) {
        let Ok(rec) = serde_json::from_slice::<FeatureRecord>(value) else {
            return;
        };
        if let Ok(mut f) = self.features.write() {
            f.insert(rec.user_id, (rec.updated_ms, rec.summary, rec.profile));
        }
        let _ = self.updates.send(rec.user_id);
    }

    /// The user's home page as JSON in their usual context.
    pub fn page(&self, user: UserId) -> Value {
        self.page_in(user, ContextAsked::default())
    }

    /// The user's home page as JSON: rows with title names and reasons for the context asked,
    /// the context used, and the user's features.
    pub fn page_in(&self, user: UserId, asked: ContextAsked) -> Value {
        let (rows, now_ms, ctx) = match self.model.read() {
            Ok(m) => {
                let usual = usual_context(&m, user);
                let ctx = Context {
                    device: asked.device.unwrap_or(usual.device),
                    day_part: asked.day_part.unwrap_or(usual.day_part),
                };
                (
                    build_rows_in(&m, user, &self.rows, ctx),
                    m.now_ms(),
                    Some(ctx),
                )
            }
            Err(_) => (Vec::new(), 0, None),
        };
        let features = self
            .features
            .read()
            .ok()
            .and_then(|f| f.get(&user).cloned());
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                let items: Vec<Value> = r
                    .items
                    .iter()
                    .map(|i| {
                        let t = self.catalogue.get(i.title_id);
                        json!({
                            "title_id": i.title_id,
                            "name": t.map_or_else(|| format!("title {}", i.title_id), |t| t.name.clone()),
                            "genres": self.catalogue.genres_of(i.title_id).iter()
                                .filter_map(|g| self.catalogue.genre_name(*g)).collect::<Vec<_>>(),
                            "reason": i.reason,
                        })
                    })
                    .collect();
                json!({ "id": r.id, "heading": r.heading, "items": items })
            })
            .collect();
        json!({
            "user_id": user,
            "model_time_ms": now_ms,
            "context": ctx.map(|c| json!({
                "device": c.device,
                "day_part": c.day_part.name(),
            })),
            "rows": rows,
            "features": features.map(|(t, s, p)| json!({ "updated_ms": t, "summary": s, "profile": p })),
        })
    }

    /// The whole catalogue as JSON.
    pub fn titles(&self) -> Value {
        let all: Vec<_> = self
            .catalogue
            .titles()
            .map(|t| crate::features::TitleRecord::of(t, &self.catalogue))
            .collect();
        json!(all)
    }
}
