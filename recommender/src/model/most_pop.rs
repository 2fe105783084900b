//! `MostPop`: how many distinct users interacted with each item so far.

use super::{interaction, Histories, ItemIndex, Model};
use crate::event::{Event, UserId};

/// Global popularity baseline; the same list for everyone, ties to the item seen first.
#[derive(Debug, Clone, Default)]
pub struct MostPop {
    /// Items and who saw them (to count each user once per item).
    hist: Histories,
    /// Distinct users per dense item.
    counts: Vec<f32>,
}

impl MostPop {
    /// An empty model.
    pub fn new() -> MostPop {
        MostPop::default()
    }
}

impl Model for MostPop {
    fn name(&self) -> &str {
        "MostPop"
    }

    fn learn(&mut self, ev: &Event) {
        let Some((user, title)) = interaction(ev) else {
            return;
        };
        if let Some((d, _)) = self.hist.record(user, title, ev.timestamp_ms) {
            if self.counts.len() <= d as usize {
                self.counts.resize(d as usize + 1, 0.0);
            }
            self.counts[d as usize] += 1.0;
        }
    }

    fn items(&self) -> &ItemIndex {
        &self.hist.items
    }

    fn score(&self, _user: UserId, out: &mut [f32]) {
        out.copy_from_slice(&self.counts[..out.len()]);
    }
}
