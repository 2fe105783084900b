//! `DecayedPop`: popularity where each interaction's weight halves every `half_life_ms`.

use super::{interaction, Histories, ItemIndex, Model};
use crate::event::{Event, TitleId, UserId};

/// Length of one epoch cell, in half-lives: within a cell a weight grows at most 2^16-fold.
const CELL_HALF_LIVES: i64 = 16;

/// Fractional bits of the fixed-point weights: the smallest weight in a cell (one interaction
/// at the cell's start) is 2^40 units, so rounding is below one part in 2^40.
const FRACTION_BITS: i32 = 40;

/// Recency-decayed popularity ("Trending Now").
///
/// Time is cut into cells of [`CELL_HALF_LIVES`] half-lives on a fixed grid (cell k starts at
/// k × cell length since the Unix epoch, whatever the data). An interaction at `t` adds
/// 2^((t - cell start) / half_life) to its item's sum for the cell of `t`, in fixed point.
/// Integer sums are exact and the grid does not depend on which event came first, so the
/// state is a function of the set of interactions, not of their arrival order: a replay that
/// interleaves partitions differently from the live run builds identical state. Decaying to
/// "now" happens at query time, one factor per cell.
#[derive(Debug, Clone)]
pub struct DecayedPop {
    /// Items and who saw them.
    hist: Histories,
    /// Per dense item: (cell, fixed-point weight sum), cells ascending.
    cells: Vec<Vec<(i64, u128)>>,
    /// Half-life of an interaction's weight.
    half_life_ms: i64,
    /// The latest event time learned (the model's clock).
    now_ms: i64,
}

impl DecayedPop {
    /// An empty model with the given half-life (clamped to at least one millisecond).
    pub fn new(half_life_ms: i64) -> DecayedPop {
        DecayedPop {
            hist: Histories::default(),
            cells: Vec::new(),
            half_life_ms: half_life_ms.max(1),
            now_ms: i64::MIN,
        }
    }

    fn cell_ms(&self) -> i64 {
        self.half_life_ms.saturating_mul(CELL_HALF_LIVES)
    }

    /// 2^((to - from) / half_life), computed in f64.
    fn growth(&self, from_ms: i64, to_ms: i64) -> f64 {
        ((to_ms as f64 - from_ms as f64) / self.half_life_ms as f64).exp2()
    }

    /// Each item's decayed count as of the latest event learned, by dense index.
    pub fn current(&self, out: &mut [f32]) {
        let cell_ms = self.cell_ms();
        // Most items share the same one or two cells: remember the last factor computed.
        let mut last: Option<(i64, f64)> = None;
        for (o, item) in out.iter_mut().zip(&self.cells) {
            let mut v = 0.0f64;
            for &(k, sum) in item {
                let f = match last {
                    Some((lk, f)) if lk == k => f,
                    _ => {
                        let f = self.growth(self.now_ms, k.saturating_mul(cell_ms))
                            * (-f64::from(FRACTION_BITS)).exp2();
                        last = Some((k, f));
                        f
                    }
                };
                v += sum as f64 * f;
            }
            *o = v as f32;
        }
    }

    /// The fixed-point sums of one item per cell, cells ascending (empty for an unknown index).
    pub fn cells(&self, dense: u32) -> &[(i64, u128)] {
        self.cells.get(dense as usize).map_or(&[], Vec::as_slice)
    }

    /// The cell of an interaction at `t` and its fixed-point weight there.
    fn weight(&self, t: i64) -> (i64, u128) {
        let k = t.div_euclid(self.cell_ms());
        let w = self.growth(k.saturating_mul(self.cell_ms()), t) * f64::from(FRACTION_BITS).exp2();
        // In [2^40, 2^56]: the float-to-int cast cannot saturate.
        (k, w.round() as u128)
    }

    /// Learns that `user` interacted with `title` at `t`; only a user's first interaction with a
    /// title counts. The clock moves with every interaction, counted or not, so that it is the
    /// same whichever of a user's interactions with a title came first.
    pub fn learn_interaction(&mut self, user: UserId, title: TitleId, t: i64) {
        self.now_ms = self.now_ms.max(t);
        let Some((d, _)) = self.hist.record(user, title, t) else {
            return;
        };
        let (k, w) = self.weight(t);
        if self.cells.len() <= d as usize {
            self.cells.resize_with(d as usize + 1, Vec::new);
        }
        let item = &mut self.cells[d as usize];
        match item.binary_search_by_key(&k, |c| c.0) {
            Ok(p) => item[p].1 = item[p].1.saturating_add(w),
            Err(p) => item.insert(p, (k, w)),
        }
    }

    /// Takes back everything `user`'s interactions added (to fold them again); a cell whose
    /// sum reaches 0 is removed, as if never added. The clock stays where it is.
    pub fn forget(&mut self, user: UserId) {
        let Some(h) = self.hist.remove(user) else {
            return;
        };
        for (&d, &t) in h.items.iter().zip(&h.times) {
            let (k, w) = self.weight(t);
            let Some(item) = self.cells.get_mut(d as usize) else {
                continue;
            };
            if let Ok(p) = item.binary_search_by_key(&k, |c| c.0) {
                item[p].1 = item[p].1.saturating_sub(w);
                if item[p].1 == 0 {
                    item.remove(p);
                }
            }
        }
    }

    /// The latest event time learned.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }
}

impl Model for DecayedPop {
    fn name(&self) -> &str {
        "DecayedPop"
    }

    fn learn(&mut self, ev: &Event) {
        if let Some((user, title)) = interaction(ev) {
            self.learn_interaction(user, title, ev.timestamp_ms);
        }
    }
    fn items(&self) -> &ItemIndex {
        &self.hist.items
    }

    fn score(&self, _user: UserId, out: &mut [f32]) {
        self.current(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Device, EventKind, SCHEMA_VERSION};

    fn play(user: UserId, t: i64, title_id: u32) -> Event {
        Event {
            schema_version: SCHEMA_VERSION,
            user_id: user,
            device: Device::Tv,
            timestamp_ms: t,
            kind: EventKind::Play { title_id },
        }
    }

    #[test]
    fn halves_per_half_life_and_spans_cells() {
        let hl = 1000;
        let mut m = DecayedPop::new(hl);
        // Title 1 at t0, title 2 one half-life later, title 3 in a later cell.
        let t0 = 5 * CELL_HALF_LIVES * hl - 500;
        m.learn(&play(1, t0, 1));
        m.learn(&play(2, t0 + hl, 2));
        m.learn(&play(3, t0 + 3 * hl, 3));
        m.learn(&play(3, t0 + 3 * hl, 3));
        assert_eq!(m.cells(0).len(), 1);
        assert_ne!(m.cells(0)[0].0, m.cells(2)[0].0);
        let mut out = [0.0f32; 3];
        m.current(&mut out);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(out[0], 0.125), "{out:?}");
        assert!(close(out[1], 0.25), "{out:?}");
        assert!(close(out[2], 1.0), "{out:?}");
    }

    #[test]
    fn state_does_not_depend_on_arrival_order() {
        let hl = 700;
        let evs: Vec<Event> = (0..60)
            .map(|i| play(UserId::from(i % 12), i64::from(i) * 913 % 40_000, i / 12))
            .collect();
        let mut a = DecayedPop::new(hl);
        let mut b = DecayedPop::new(hl);
        evs.iter().for_each(|e| a.learn(e));
        evs.iter().rev().for_each(|e| b.learn(e));
        for title in 0..5 {
            let (da, db) = (a.items().dense(title), b.items().dense(title));
            assert_eq!(a.cells(da.unwrap()), b.cells(db.unwrap()));
        }
        assert_eq!(a.now_ms(), b.now_ms());
    }
}
