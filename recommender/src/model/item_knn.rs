//! `ItemKnn`: incremental item-to-item collaborative filtering, cosine similarity over user
//! histories.

use super::{interaction, CoCounts, Histories, ItemIndex, Model};
use crate::event::{Event, UserId};

/// Item-based k-nearest-neighbours. Co-occurrence counts are updated online: when a user meets
/// item i, every pair (i, j) with j in their history gains one. Similarity is cosine,
/// c(i, j) / sqrt(n(i) n(j)); a user's score for j sums similarities to their most recent
/// `history_limit` items (bounded so that a query costs the same for heavy users).
#[derive(Debug, Clone)]
pub struct ItemKnn {
    /// Items and histories.
    hist: Histories,
    /// Pair counts.
    co: CoCounts,
    /// Distinct users per item.
    counts: Vec<f32>,
    /// How many of the user's latest items vote.
    history_limit: usize,
}

impl ItemKnn {
    /// An empty model scoring from the user's last `history_limit` items.
    pub fn new(history_limit: usize) -> ItemKnn {
        ItemKnn {
            hist: Histories::default(),
            co: CoCounts::default(),
            counts: Vec::new(),
            history_limit,
        }
    }

    /// Cosine similarity of two items.
    pub fn similarity(&self, i: u32, j: u32) -> f32 {
        let n = self.counts[i as usize] * self.counts[j as usize];
        if n > 0.0 {
            self.co.get(i, j) as f32 / n.sqrt()
        } else {
            0.0
        }
    }
}

impl Model for ItemKnn {
    fn name(&self) -> &str {
        "ItemKnn"
    }

    fn learn(&mut self, ev: &Event) {
        let Some((user, title)) = interaction(ev) else {
            return;
        };
        let Some((d, h)) = self.hist.record(user, title, ev.timestamp_ms) else {
            return;
        };
        let prior = &h.items[..h.items.len() - 1];
        for &j in prior {
            self.co.add(d, j, 1);
        }
        if self.counts.len() <= d as usize {
            self.counts.resize(d as usize + 1, 0.0);
        }
        self.counts[d as usize] += 1.0;
    }

    fn items(&self) -> &ItemIndex {
        &self.hist.items
    }

    fn score(&self, user: UserId, out: &mut [f32]) {
        out.fill(0.0);
        let Some(h) = self.hist.user(user) else {
            out.fill(f32::NEG_INFINITY);
            return;
        };
        for &i in h.items.iter().rev().take(self.history_limit) {
            let (nbrs, w) = self.co.row(i);
            let ni = self.counts[i as usize];
            for (&j, &c) in nbrs.iter().zip(w) {
                out[j as usize] += c as f32 / (ni * self.counts[j as usize]).sqrt();
            }
        }
        // Items sharing no user with the history are not candidates.
        for s in out.iter_mut() {
            if *s <= 0.0 {
                *s = f32::NEG_INFINITY;
            }
        }
    }
}
