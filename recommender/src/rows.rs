//! The home page: rows of titles, each title with the reason it is there, built from the
//! [`Hybrid`] model and the user's signals. Pure: the same model state gives the same rows.
//!
//! Rows, in order: "Continue Watching", "Top Picks for You", "Because You Watched X",
//! "Trending Now", "More {genre}". Titles the user finished or abandoned never appear, and a
//! title appears in at most one row.
//!
//! The personalised picks are re-ranked for the viewer's context (device and part of the day):
//! each score is multiplied by the title's context lift (see [`ContextStats`]) raised to
//! [`RowConfig::context_weight`]. Without a context given, it is the user's usual device at
//! the model's current time.
//!
//! [`ContextStats`]: crate::model::ContextStats

use std::collections::BTreeSet;

use serde::Serialize;

use crate::catalogue::TitleKind;
use crate::event::{Device, TitleId, UserId};
use crate::model::{Context, Hybrid, Model, Scored};
use crate::signals::UserSignals;

/// How big the page is.
#[derive(Debug, Clone)]
pub struct RowConfig {
    /// Titles per row.
    pub per_row: usize,
    /// How many "More {genre}" rows.
    pub genre_rows: usize,
    /// Hybrid candidates considered for the personalised rows.
    pub candidates: usize,
    /// Exponent of the context lift in the re-ranking (0 = ignore the context).
    pub context_weight: f64,
    /// Lift from which a pick with no better reason says it is popular in this context.
    pub context_reason_lift: f64,
}

impl Default for RowConfig {
    fn default() -> Self {
        RowConfig {
            per_row: 10,
            genre_rows: 2,
            candidates: 300,
            context_weight: 1.0,
            context_reason_lift: 1.15,
        }
    }
}

/// One title in a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowItem {
    /// The title.
    pub title_id: TitleId,
    /// Why it is shown, for the user.
    pub reason: String,
}

/// One row of the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Stable identifier (used as `row_id` in click and impression events).
    pub id: String,
    /// Heading shown to the user.
    pub heading: String,
    /// The titles, best first.
    pub items: Vec<RowItem>,
}

/// Builds the page for `user` in their usual context. Rows with no title are left out.
pub fn build_rows(model: &Hybrid, user: UserId, cfg: &RowConfig) -> Vec<Row> {
    build_rows_in(model, user, cfg, usual_context(model, user))
}

/// The context a page is built for when the request names none: the user's usual device
/// (a TV for a new user) at the model's current time.
pub fn usual_context(model: &Hybrid, user: UserId) -> Context {
    let device = model
        .user_signals(user)
        .and_then(|s| s.usual_device())
        .unwrap_or(Device::Tv);
    Context::at(device, model.now_ms())
}

/// The model's candidates re-ranked for `ctx`, best first (ties to the lower title id).
fn in_context(model: &Hybrid, picks: Vec<Scored>, ctx: Context, cfg: &RowConfig) -> Vec<Scored> {
    if cfg.context_weight == 0.0 {
        return picks;
    }
    let mut v: Vec<Scored> = picks
        .into_iter()
        .map(|p| Scored {
            title: p.title,
            score: p.score * model.context_lift(p.title, ctx).powf(cfg.context_weight) as f32,
        })
        .collect();
    v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.title.cmp(&b.title)));
    v
}

/// Builds the page for `user` in `ctx`. Rows with no title are left out.
pub fn build_rows_in(model: &Hybrid, user: UserId, cfg: &RowConfig, ctx: Context) -> Vec<Row> {
    let sig = model.user_signals(user);
    let mut used: BTreeSet<TitleId> = BTreeSet::new();
    let mut exclude: Vec<TitleId> = Vec::new();
    if let Some(s) = sig {
        exclude.extend(s.finished_titles());
        exclude.extend(s.abandoned_titles());
    }
    used.extend(exclude.iter().copied());
    let mut rows = Vec::new();
    let cat = model.catalogue();
    let name = |t: TitleId| {
        cat.get(t)
            .map_or_else(|| format!("title {t}"), |x| x.name.clone())
    };

    if let Some(s) = sig {
        push(
            &mut rows,
            &mut used,
            "continue_watching",
            "Continue Watching",
            continue_watching(model, s),
        );
    }

    let picks = in_context(
        model,
        model.recommend(user, cfg.candidates, &exclude),
        ctx,
        cfg,
    );
    let recent: Vec<TitleId> =
        sig.map_or(Vec::new(), |s| s.recent_titles().map(|(t, _)| t).collect());
    let top: Vec<RowItem> = picks
        .iter()
        .take(cfg.per_row * 2)
        .map(|p| RowItem {
            title_id: p.title,
            reason: pick_reason(model, p.title, &recent, ctx, cfg),
        })
        .collect();
    // Without any history the picks would only repeat "Trending Now".
    if !recent.is_empty() {
        push_n(
            &mut rows,
            &mut used,
            "top_picks",
            "Top Picks for You",
            top,
            cfg.per_row,
        );
    }

    if let Some(&anchor) = recent.iter().find(|t| sig.is_some_and(|s| s.finished(**t))) {
        let items = model
            .similar(anchor, cfg.per_row * 3, &exclude)
            .into_iter()
            .map(|(t, _)| RowItem {
                title_id: t,
                reason: format!("Viewers who watched {} also watched this", name(anchor)),
            })
            .collect();
        let heading = format!("Because You Watched {}", name(anchor));
        push_n(
            &mut rows,
            &mut used,
            &format!("because_{anchor}"),
            &heading,
            items,
            cfg.per_row,
        );
    }

    let trending = model
        .trending(cfg.per_row * 3, &exclude)
        .into_iter()
        .enumerate()
        .map(|(n, (t, _))| RowItem {
            title_id: t,
            reason: format!("#{} in trending right now", n + 1),
        })
        .collect();
    push_n(
        &mut rows,
        &mut used,
        "trending_now",
        "Trending Now",
        trending,
        cfg.per_row,
    );

    if let Some(s) = sig {
        let genres = s.top_genres(model.now_ms(), &model.signals().config);
        for (g, _) in genres
            .into_iter()
            .filter(|(_, a)| *a > 0.0)
            .take(cfg.genre_rows)
        {
            let Some(gname) = cat.genre_name(g) else {
                continue;
            };
            let items = picks
                .iter()
                .filter(|p| cat.genres_of(p.title).contains(&g))
                .map(|p| RowItem {
                    title_id: p.title,
                    reason: format!("Because you enjoy {gname}"),
                })
                .collect();
            push_n(
                &mut rows,
                &mut used,
                &format!("more_{g}"),
                &format!("More {gname}"),
                items,
                cfg.per_row,
            );
        }
    }
    rows
}

/// Titles in progress (most recent first), plus the next episode of a running binge.
fn continue_watching(model: &Hybrid, s: &UserSignals) -> Vec<RowItem> {
    let cat = model.catalogue();
    let mut items = Vec::new();
    if let Some(b) = s.binge(model.now_ms(), &model.signals().config) {
        if let Some(next) = cat
            .next_episode(b.last_episode)
            .filter(|_| s.finished(b.last_episode))
        {
            let series = cat
                .get(b.series_id)
                .map_or("this series", |t| t.name.as_str());
            items.push(RowItem {
                title_id: next,
                reason: format!(
                    "Next episode: you watched {} of {series} in a row",
                    b.episodes
                ),
            });
        }
    }
    for (t, p) in s.in_progress() {
        let reason = match p.duration_ms {
            Some(d) if d > 0 => format!(
                "You stopped at {} of {} min",
                p.position_ms / 60_000,
                d / 60_000
            ),
            _ => format!("You stopped at {} min", p.position_ms / 60_000),
        };
        if !matches!(cat.get(t).map(|x| &x.kind), Some(TitleKind::Series)) {
            items.push(RowItem {
                title_id: t,
                reason,
            });
        }
    }
    items
}

/// Why a top pick is there: the recent title it is most similar to, else its popularity in
/// this context, else its popularity.
fn pick_reason(
    model: &Hybrid,
    title: TitleId,
    recent: &[TitleId],
    ctx: Context,
    cfg: &RowConfig,
) -> String {
    let cat = model.catalogue();
    let best = recent
        .iter()
        .take(10)
        .filter_map(|r| model.similarity(*r, title).map(|s| (*r, s)))
        .filter(|(_, s)| *s > 0.0)
        .fold(None::<(TitleId, f32)>, |acc, x| match acc {
            Some(a) if a.1 >= x.1 => Some(a),
            _ => Some(x),
        });
    match best {
        Some((r, _)) => format!(
            "Because you watched {}",
            cat.get(r).map_or("something similar", |t| t.name.as_str())
        ),
        None if model.context_lift(title, ctx) >= cfg.context_reason_lift => {
            format!("Popular {}", ctx.describe())
        }
        None => "Popular with viewers right now".to_string(),
    }
}

fn push(
    rows: &mut Vec<Row>,
    used: &mut BTreeSet<TitleId>,
    id: &str,
    heading: &str,
    items: Vec<RowItem>,
) {
    push_n(rows, used, id, heading, items, usize::MAX);
}

/// Adds a row of at most `n` items not already on the page; empty rows are dropped.
fn push_n(
    rows: &mut Vec<Row>,
    used: &mut BTreeSet<TitleId>,
    id: &str,
    heading: &str,
    items: Vec<RowItem>,
    n: usize,
) {
    let mut kept = Vec::new();
    for it in items {
        if kept.len() == n {
            break;
        }
        if used.insert(it.title_id) {
            kept.push(it);
        }
    }
    if !kept.is_empty() {
        rows.push(Row {
            id: id.to_string(),
            heading: heading.to_string(),
            items: kept,
        });
    }
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
