//! What people watch in which context: interactions counted per device and per part of the day,
//! and per title feature (its genres, and whether it is a film or an episode). The ranker reads
//! a lift from it: how much more likely a title's features are in the viewer's current context
//! than overall ("episodes on the phone", "comedy in the evening"). Device and part of the day
//! are counted apart and their lifts multiplied (as if independent), so that a rare pairing
//! still gets an estimate from each side.
//!
//! Integer counts, so the state does not depend on the order events arrive in.
//!
//! Thread-safety: plain data; `&mut self` to learn, owned by the model.

use crate::catalogue::{Catalogue, TitleKind};
use crate::event::{Device, TitleId};
use crate::signals::DayPart;

/// Where and when a page is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The device asking.
    pub device: Device,
    /// The part of the day.
    pub day_part: DayPart,
}

impl Context {
    /// The context of a moment on a device.
    pub fn at(device: Device, timestamp_ms: i64) -> Context {
        Context {
            device,
            day_part: DayPart::of(timestamp_ms),
        }
    }

    /// The two slots this context is counted in: its device, then its part of the day.
    fn slots(self) -> [usize; 2] {
        let device = match self.device {
            Device::Tv => 0,
            Device::Mobile => 1,
            Device::Tablet => 2,
            Device::Web => 3,
            Device::Console => 4,
            Device::Other => 5,
        };
        [device, DEVICES + self.day_part as usize]
    }

    /// How people say it: "on TV in the evening".
    pub fn describe(self) -> String {
        let device = match self.device {
            Device::Tv => "on TV",
            Device::Mobile => "on phones",
            Device::Tablet => "on tablets",
            Device::Web => "on the web",
            Device::Console => "on consoles",
            Device::Other => "on this device",
        };
        let part = match self.day_part {
            DayPart::Night => "at night",
            DayPart::Morning => "in the morning",
            DayPart::Afternoon => "in the afternoon",
            DayPart::Evening => "in the evening",
        };
        format!("{device} {part}")
    }
}

const DEVICES: usize = 6;
const DAY_PARTS: usize = 4;
/// Device slots, then part-of-the-day slots.
const SLOTS: usize = DEVICES + DAY_PARTS;
/// Feature slots after the genres: film, episode.
const KINDS: usize = 2;
/// Additive smoothing: a context with few interactions reads as no lift.
const PRIOR: f64 = 20.0;

/// Interaction counts per slot (a device, or a part of the day) and feature.
#[derive(Debug, Clone, Default)]
pub struct ContextStats {
    /// `counts[slot][feature]`; features are genre ids, then film, then episode.
    counts: Vec<Vec<u64>>,
    /// Interactions per slot.
    totals: Vec<u64>,
    /// Interactions per feature, all contexts together.
    overall: Vec<u64>,
    /// Interactions, all contexts together.
    all: u64,
}

/// A title's features: its (series') genres, then its kind.
fn features(title: TitleId, cat: &Catalogue) -> Vec<usize> {
    let kind = match cat.get(title).map(|t| &t.kind) {
        Some(TitleKind::Episode { .. }) => 1,
        _ => 0,
    };
    let mut f: Vec<usize> = cat
        .genres_with_series(title)
        .iter()
        .map(|g| usize::from(*g))
        .collect();
    f.push(cat.genre_count() + kind);
    f
}

impl ContextStats {
    /// Counts one interaction with `title` in `ctx`.
    pub fn learn(&mut self, title: TitleId, ctx: Context, cat: &Catalogue) {
        let width = cat.genre_count() + KINDS;
        if self.totals.is_empty() {
            self.totals = vec![0; SLOTS];
            self.counts = vec![vec![0; width]; SLOTS];
            self.overall = vec![0; width];
        }
        self.all += 1;
        let feats = features(title, cat);
        for f in &feats {
            if let Some(n) = self.overall.get_mut(*f) {
                *n += 1;
            }
        }
        for s in ctx.slots() {
            self.totals[s] += 1;
            for f in &feats {
                if let Some(n) = self.counts[s].get_mut(*f) {
                    *n += 1;
                }
            }
        }
    }

    /// How much more (> 1) or less (< 1) likely the title's features are in `ctx` than in
    /// every context together: the product of the device's and the part of the day's lifts.
    pub fn lift(&self, title: TitleId, ctx: Context, cat: &Catalogue) -> f64 {
        let feats = features(title, cat);
        ctx.slots()
            .iter()
            .map(|s| self.slot_lift(*s, &feats))
            .product()
    }

    /// The mean over `feats` of the smoothed ratio of the feature's share in slot `s` to its
    /// share overall.
    fn slot_lift(&self, s: usize, feats: &[usize]) -> f64 {
        let (Some(counts), Some(&total)) = (self.counts.get(s), self.totals.get(s)) else {
            return 1.0;
        };
        let ratios: Vec<f64> = feats
            .iter()
            .filter_map(|&f| {
                let here = *counts.get(f)? as f64;
                let overall = (*self.overall.get(f)? as f64 + 1.0) / (self.all as f64 + 1.0);
                // Shrink the slot's share towards the overall one when it has few events.
                let share = (here + PRIOR * overall) / (total as f64 + PRIOR);
                Some(share / overall)
            })
            .collect();
        if ratios.is_empty() {
            1.0
        } else {
            ratios.iter().sum::<f64>() / ratios.len() as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::catalogue_gen::{self, first_episode, movies_of, series_of};

    #[test]
    fn episodes_lift_on_phones_where_people_watch_them() {
        let cat = catalogue_gen::generate(1);
        let movie = movies_of(0).start;
        let episode = first_episode(series_of(0)[0]);
        let phone = Context::at(Device::Mobile, 20 * 3_600_000);
        let tv = Context::at(Device::Tv, 20 * 3_600_000);
        let mut s = ContextStats::default();
        assert_eq!(s.lift(movie, tv, &cat), 1.0, "nothing learned: no lift");
        for _ in 0..300 {
            s.learn(episode, phone, &cat);
            s.learn(movie, tv, &cat);
        }
        for _ in 0..100 {
            s.learn(movie, phone, &cat);
            s.learn(episode, tv, &cat);
        }
        assert!(s.lift(episode, phone, &cat) > 1.2);
        assert!(s.lift(movie, phone, &cat) < 0.8);
        assert!(s.lift(movie, tv, &cat) > 1.2);
        // The same genre on both sides: only the kind differs.
        assert!(s.lift(episode, phone, &cat) > s.lift(movie, phone, &cat));
        assert_eq!(tv.describe(), "on TV in the evening");
    }
}
