//! `DecayedPop`: popularity where each interaction's weight halves every `half_life_ms`.

use super::{interaction, Histories, ItemIndex, Model};
use crate::event::{Event, UserId};

/// Largest exponent (in half-lives) stored before all values are rescaled, keeping them far
/// from f64 overflow.
const RESCALE_AFTER_HALF_LIVES: f64 = 64.0;

/// Recency-decayed popularity ("Trending Now").
///
/// Every value is stored scaled to a reference time `t_ref`: an interaction at `t` adds
/// 2^((t - t_ref) / half_life). Decaying all items to "now" multiplies every value by the same
/// factor, so rankings need no per-query work; the values are renormalised when the exponent
/// grows large.
#[derive(Debug, Clone)]
pub struct DecayedPop {
    /// Items and who saw them.
    hist: Histories,
    /// Scaled decayed counts per dense item.
    values: Vec<f64>,
    /// The reference time of `values`.
    t_ref: Option<i64>,
    /// Half-life of an interaction's weight.
    half_life_ms: f64,
    /// The latest event time learned (the model's clock).
    now_ms: i64,
}

impl DecayedPop {
    /// An empty model with the given half-life (clamped to at least one millisecond).
    pub fn new(half_life_ms: i64) -> DecayedPop {
        DecayedPop {
            hist: Histories::default(),
            values: Vec::new(),
            t_ref: None,
            half_life_ms: half_life_ms.max(1) as f64,
            now_ms: i64::MIN,
        }
    }

    /// Each item's decayed count as of the latest event learned, by dense index.
    pub fn current(&self, out: &mut [f32]) {
        let scale = match self.t_ref {
            Some(r) => (-((self.now_ms - r) as f64) / self.half_life_ms).exp2(),
            None => 1.0,
        };
        for (o, v) in out.iter_mut().zip(&self.values) {
            *o = (v * scale) as f32;
        }
    }
}

impl Model for DecayedPop {
    fn name(&self) -> &str {
        "DecayedPop"
    }

    fn learn(&mut self, ev: &Event) {
        let Some((user, title)) = interaction(ev) else {
            return;
        };
        let t = ev.timestamp_ms;
        let Some((d, _)) = self.hist.record(user, title, t) else {
            return;
        };
        self.now_ms = self.now_ms.max(t);
        let t_ref = *self.t_ref.get_or_insert(t);
        let mut exp = (t - t_ref) as f64 / self.half_life_ms;
        if exp > RESCALE_AFTER_HALF_LIVES {
            let factor = (-exp).exp2();
            self.values.iter_mut().for_each(|v| *v *= factor);
            self.t_ref = Some(t);
            exp = 0.0;
        }
        if self.values.len() <= d as usize {
            self.values.resize(d as usize + 1, 0.0);
        }
        self.values[d as usize] += exp.exp2();
    }

    fn items(&self) -> &ItemIndex {
        &self.hist.items
    }

    fn score(&self, _user: UserId, out: &mut [f32]) {
        self.current(out);
    }
}
