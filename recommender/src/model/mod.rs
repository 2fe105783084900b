//! Recommendation models. All learn one event at a time, in stream order, and are
//! deterministic: scores are dense vectors indexed by the order in which items were first seen.
//! The evaluation baselines break ties by that order (the reference MostPop protocol does);
//! the production [`Hybrid`] keeps state that does not depend on how users' events interleave
//! (integer and fixed-point sums, decay on a fixed time grid) and breaks ties by title id, so
//! a replay from offset 0 rebuilds the live model exactly (see [`Hybrid::snapshot`]).
//!
//! Thread-safety of every model: plain data, `learn` takes `&mut self` and `recommend` `&self`;
//! the owner serialises writers (e.g. one consumer task, or an `RwLock` around the model).

mod context;
mod cooc;
mod decayed_pop;
mod history;
mod hybrid;
mod item_knn;
mod most_pop;
mod snapshot;
mod user_log;

pub use context::{Context, ContextStats};
pub use cooc::CoCounts;
pub use decayed_pop::DecayedPop;
pub use history::{Histories, ItemIndex, UserHistory};
pub use hybrid::{Hybrid, HybridConfig};
pub use item_knn::ItemKnn;
pub use most_pop::MostPop;
pub use snapshot::{HybridSnapshot, ItemState, UserState};
pub use user_log::{order_key, OrderKey, Placed, UserLogs};

use crate::event::{Event, EventKind, TitleId, UserId};

/// A recommended title and its model score (comparable only within one answer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The title.
    pub title: TitleId,
    /// Higher is better.
    pub score: f32,
}

/// The user-item interaction an event stands for, if it stands for one: a rating, a play or a
/// completion. Browsing, clicks, searches and heartbeats feed the signals only.
pub fn interaction(ev: &Event) -> Option<(UserId, TitleId)> {
    match ev.kind {
        EventKind::Rating { title_id, .. }
        | EventKind::Play { title_id }
        | EventKind::Completed { title_id } => Some((ev.user_id, title_id)),
        _ => None,
    }
}

/// What every model offers.
pub trait Model: std::fmt::Debug + Send {
    /// Short name for reports (`MostPop`, ...).
    fn name(&self) -> &str;

    /// Learns one event. Events that are not interactions may be ignored.
    fn learn(&mut self, ev: &Event);

    /// The items known so far, in first-seen order (the index space of [`Model::score`]).
    fn items(&self) -> &ItemIndex;

    /// Writes the score of every known item for `user` into `out` (length
    /// `items().len()`); `f32::NEG_INFINITY` marks an item the model would not recommend.
    fn score(&self, user: UserId, out: &mut [f32]);

    /// The `k` best items for `user`, excluding `exclude`, best first, ties by first-seen order.
    fn recommend(&self, user: UserId, k: usize, exclude: &[TitleId]) -> Vec<Scored> {
        let items = self.items();
        let mut scores = vec![f32::NEG_INFINITY; items.len()];
        self.score(user, &mut scores);
        for t in exclude {
            if let Some(d) = items.dense(*t) {
                scores[d as usize] = f32::NEG_INFINITY;
            }
        }
        top_k(&scores, k)
            .into_iter()
            .map(|(d, score)| Scored {
                title: items.title(d),
                score,
            })
            .collect()
    }
}

/// The `k` highest finite scores as (dense index, score), best first; a tie goes to the lower
/// index, i.e. the item seen first. NaN and infinities are never returned.
pub fn top_k(scores: &[f32], k: usize) -> Vec<(u32, f32)> {
    top_k_by(scores, k, u64::from)
}

/// The `k` highest finite scores as (dense index, score), best first; a tie goes to the lower
/// `tie_key` of the dense index. With the title id as the key the answer depends only on the
/// scores per title, not on the order in which items were first seen. NaN and infinities are
/// never returned.
pub fn top_k_by(scores: &[f32], k: usize, tie_key: impl Fn(u32) -> u64) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32, u64)> = Vec::with_capacity(k.min(scores.len()) + 1);
    if k == 0 {
        return Vec::new();
    }
    // Whether (s, key) ranks strictly before the entry b.
    let before = |s: f32, key: u64, b: &(u32, f32, u64)| s > b.1 || (s == b.1 && key < b.2);
    for (i, &s) in scores.iter().enumerate() {
        if !s.is_finite() {
            continue;
        }
        let i = i as u32;
        if best.len() == k && best.last().is_some_and(|l| s < l.1) {
            continue;
        }
        let key = tie_key(i);
        if best.len() == k && best.last().is_some_and(|l| !before(s, key, l)) {
            continue;
        }
        let pos = best
            .iter()
            .position(|b| before(s, key, b))
            .unwrap_or(best.len());
        best.insert(pos, (i, s, key));
        best.truncate(k);
    }
    best.into_iter().map(|(i, s, _)| (i, s)).collect()
}

/// Names accepted by [`build`], in report order.
pub const MODEL_NAMES: [&str; 4] = ["MostPop", "DecayedPop", "ItemKnn", "Hybrid"];

/// Half-life of the `DecayedPop` baseline (30 days: the best of 1, 7, 30 and 90 days on
/// ml-100k, and better than `MostPop` on ml-latest-small too).
pub const DECAYED_POP_HALF_LIFE_MS: i64 = 30 * 86_400_000;

/// History items voting in the `ItemKnn` baseline.
pub const ITEM_KNN_HISTORY: usize = 50;

/// A fresh model by name (case-insensitive), `None` for an unknown name.
pub fn build(
    name: &str,
    catalogue: std::sync::Arc<crate::catalogue::Catalogue>,
    hybrid: &HybridConfig,
) -> Option<Box<dyn Model>> {
    match name.to_ascii_lowercase().as_str() {
        "mostpop" => Some(Box::new(MostPop::new())),
        "decayedpop" => Some(Box::new(DecayedPop::new(DECAYED_POP_HALF_LIFE_MS))),
        "itemknn" => Some(Box::new(ItemKnn::new(ITEM_KNN_HISTORY))),
        "hybrid" => Some(Box::new(Hybrid::new(
            catalogue,
            hybrid.clone(),
            crate::signals::SignalConfig::default(),
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_and_breaks_ties_by_index() {
        let s = [1.0, 3.0, f32::NEG_INFINITY, 3.0, 2.0, f32::NAN, 1.0];
        assert_eq!(top_k(&s, 3), vec![(1, 3.0), (3, 3.0), (4, 2.0)]);
        assert_eq!(top_k(&s, 10).len(), 5);
        assert_eq!(top_k(&s, 10)[3], (0, 1.0));
        assert!(top_k(&s, 0).is_empty());
    }

    #[test]
    fn top_k_by_breaks_ties_by_the_key() {
        let s = [3.0, 1.0, 3.0, 3.0, f32::NAN, 2.0];
        let keys = [30u64, 5, 10, 20, 0, 1];
        let key = |i: u32| keys[i as usize];
        assert_eq!(top_k_by(&s, 2, key), vec![(2, 3.0), (3, 3.0)]);
        assert_eq!(
            top_k_by(&s, 10, key),
            vec![(2, 3.0), (3, 3.0), (0, 3.0), (5, 2.0), (1, 1.0)]
        );
        assert!(top_k_by(&s, 0, key).is_empty());
    }
}

#[cfg(test)]
pub(crate) mod replay_tests;
