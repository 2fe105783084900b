//! The canonical state of the production model: everything [`Hybrid`](super::Hybrid) has
//! learned, keyed by title and user id instead of by first-seen order, so that two models that
//! learned the same events (each user's in the same order) serialise to the same bytes however
//! the users' events were interleaved. It is what the replay tests compare.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CoCounts, DecayedPop, Histories, Model};
use crate::event::{TitleId, UserId};
use crate::signals::{SignalStore, UserSignals};

/// What the model knows of one title.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemState {
    /// The title.
    pub title: TitleId,
    /// Distinct users who interacted with it.
    pub users: u32,
    /// Decayed popularity: (time cell, fixed-point sum), cells ascending.
    pub pop_cells: Vec<(i64, u128)>,
    /// Co-occurring titles and fixed-point pair weights, titles ascending.
    pub pairs: Vec<(TitleId, u64)>,
}

/// What the model knows of one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserState {
    /// Distinct titles interacted with, oldest first, with the time of the first interaction.
    pub history: Vec<(TitleId, i64)>,
    /// The real-time signals, if any event of the user was seen.
    pub signals: Option<UserSignals>,
}

/// The canonical state of a [`Hybrid`](super::Hybrid); see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HybridSnapshot {
    /// The model's clock (latest event time learned).
    pub now_ms: i64,
    /// Every known title, ascending.
    pub items: Vec<ItemState>,
    /// Every known user, ascending.
    pub users: BTreeMap<UserId, UserState>,
}

impl HybridSnapshot {
    /// Builds the snapshot from the parts of a hybrid model.
    pub(super) fn of(
        hist: &Histories,
        co: &CoCounts,
        counts: &[u32],
        pop: &DecayedPop,
        signals: &SignalStore,
        now_ms: i64,
    ) -> HybridSnapshot {
        let index = &hist.items;
        let mut items: Vec<ItemState> = (0..index.len() as u32)
            .map(|d| {
                let (nbrs, weights) = co.row(d);
                let mut pairs: Vec<(TitleId, u64)> = nbrs
                    .iter()
                    .map(|j| index.title(*j))
                    .zip(weights.iter().copied())
                    .collect();
                pairs.sort_unstable();
                // Hybrid and its popularity part learn the same stream: same dense indexes.
                let pop_d = pop.items().dense(index.title(d));
                ItemState {
                    title: index.title(d),
                    users: counts.get(d as usize).copied().unwrap_or(0),
                    pop_cells: pop_d.map_or_else(Vec::new, |p| pop.cells(p).to_vec()),
                    pairs,
                }
            })
            .collect();
        items.sort_unstable_by_key(|i| i.title);
        let mut users: BTreeMap<UserId, UserState> = hist
            .by_user()
            .into_iter()
            .map(|(u, h)| {
                let history = h.items.iter().map(|d| index.title(*d));
                let state = UserState {
                    history: history.zip(h.times.iter().copied()).collect(),
                    signals: None,
                };
                (u, state)
            })
            .collect();
        for (u, s) in signals.by_user() {
            users
                .entry(u)
                .or_insert_with(|| UserState {
                    history: Vec::new(),
                    signals: None,
                })
                .signals = Some(s.clone());
        }
        HybridSnapshot {
            now_ms,
            items,
            users,
        }
    }
}
