//! A user's decayed affinity for one genre, kept so that it does not depend on the order the
//! weights arrive in: a play, its rating and a click travel on three topics, and a live run and
//! a replay read those topics interleaved differently.
//!
//! Time is cut into cells of [`CELL_HALF_LIVES`] half-lives on a grid fixed to the Unix epoch.
//! A weight `w` at time `t` adds `w · 2^((t − cell start) / half-life)` to the sum of `t`'s cell,
//! rounded to fixed point first. Integer sums commute, so the state is a function of the set of
//! weights. Decaying to "now" happens when the value is read.

use serde::{Deserialize, Deserializer, Serialize};
use smallvec::SmallVec;

/// Cell length in half-lives: within one cell a weight grows at most 2^8-fold.
const CELL_HALF_LIVES: i64 = 8;

/// Fractional bits of the fixed-point sums. A weight of 0.1 at a cell's start is about 4·10^8
/// units, so rounding costs less than one part in 10^8; a weight of ±1 at a cell's end is 2^40
/// units, so a cell holds millions of them before the saturating sum could clip.
const FRACTION_BITS: i32 = 32;

/// Cells kept behind the newest event's cell. Older cells are worth less than 2^-32 of their
/// weight and are dropped; because the cut depends only on the newest event time seen, which
/// only grows, every arrival order drops the same cells.
const CELLS_KEPT_BEHIND: i64 = 4;

/// Decayed affinity for one genre: fixed-point sums per time cell, cells ascending. Nearly
/// always one cell (a cell spans 8 half-lives), kept inline so that a user's genres cost no
/// allocation each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(super) struct Affinity {
    cells: SmallVec<[(i64, i64); 1]>,
}

fn cell_ms(half_life_ms: i64) -> i64 {
    half_life_ms.max(1).saturating_mul(CELL_HALF_LIVES)
}

/// The oldest cell kept once an event at `newest_ms` has been seen; weights in older cells are
/// dropped, on arrival or later.
pub(super) fn oldest_cell(newest_ms: i64, half_life_ms: i64) -> i64 {
    newest_ms.div_euclid(cell_ms(half_life_ms)) - CELLS_KEPT_BEHIND
}

/// Whether a weight at `t_ms` is still kept once an event at `newest_ms` has been seen.
pub(super) fn kept(t_ms: i64, newest_ms: i64, half_life_ms: i64) -> bool {
    t_ms.div_euclid(cell_ms(half_life_ms)) >= oldest_cell(newest_ms, half_life_ms)
}

impl Affinity {
    /// Adds weight `w` at `t_ms`. The caller drops weights older than [`oldest_cell`].
    pub(super) fn add(&mut self, w: f64, t_ms: i64, half_life_ms: i64) {
        let cell = cell_ms(half_life_ms);
        let k = t_ms.div_euclid(cell);
        let growth = ((t_ms - k * cell) as f64 / half_life_ms.max(1) as f64).exp2();
        // |w| ≤ a few units and growth ≤ 2^8: far inside i64 after scaling by 2^32.
        let units = (w * growth * f64::from(FRACTION_BITS).exp2()).round() as i64;
        match self.cells.binary_search_by_key(&k, |(c, _)| *c) {
            Ok(p) => self.cells[p].1 = self.cells[p].1.saturating_add(units),
            Err(p) => self.cells.insert(p, (k, units)),
        }
    }

    /// Drops the cells before `oldest`; true when none is left.
    pub(super) fn prune(&mut self, oldest: i64) -> bool {
        self.cells.retain(|(c, _)| *c >= oldest);
        self.cells.is_empty()
    }

    /// The affinity decayed to `now_ms`.
    pub(super) fn value_at(&self, now_ms: i64, half_life_ms: i64) -> f64 {
        let hl = half_life_ms.max(1) as f64;
        let cell = cell_ms(half_life_ms);
        self.cells
            .iter()
            .map(|&(k, sum)| {
                let exponent = ((k * cell) as f64 - now_ms as f64) / hl - f64::from(FRACTION_BITS);
                sum as f64 * exponent.exp2()
            })
            .sum()
    }
}

/// What a features record may hold for a genre: the cells, or the decayed float of records
/// written before schema 2 (a value at a time), read as one weight at that time.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Cells { cells: SmallVec<[(i64, i64); 1]> },
    Legacy { value: f64, at_ms: i64 },
}

impl<'de> Deserialize<'de> for Affinity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Stored::deserialize(d)? {
            Stored::Cells { cells } => Affinity { cells },
            Stored::Legacy { value, at_ms } => {
                // The half-life is not stored; legacy records used the default of 14 days.
                let mut a = Affinity::default();
                a.add(
                    value,
                    at_ms,
                    super::SignalConfig::default().genre_half_life_ms,
                );
                a
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HL: i64 = 14 * 86_400_000;

    #[test]
    fn value_halves_every_half_life_across_cells() {
        let mut a = Affinity::default();
        let t = 5 * HL + 123;
        a.add(1.0, t, HL);
        assert!((a.value_at(t, HL) - 1.0).abs() < 1e-9);
        assert!((a.value_at(t + HL, HL) - 0.5).abs() < 1e-9);
        // Nine half-lives later the reading crosses a cell boundary.
        assert!((a.value_at(t + 9 * HL, HL) - 2f64.powi(-9)).abs() < 1e-12);
    }

    #[test]
    fn the_state_does_not_depend_on_arrival_order() {
        let weights = [
            (0.3, 10 * HL + 5),
            (-0.5, 3 * HL),
            (1.0, 11 * HL),
            (0.1, 9 * HL),
        ];
        let fold = |order: &[usize]| {
            let mut a = Affinity::default();
            for &i in order {
                let (w, t) = weights[i];
                a.add(w, t, HL);
            }
            a
        };
        let first = fold(&[0, 1, 2, 3]);
        for order in [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
            assert_eq!(fold(&order), first);
        }
    }

    #[test]
    fn cells_far_behind_the_newest_event_are_dropped() {
        let mut a = Affinity::default();
        a.add(1.0, 0, HL);
        a.add(1.0, 60 * HL, HL);
        assert!(!a.prune(oldest_cell(60 * HL, HL)));
        assert_eq!(a.cells.len(), 1);
        assert!(a.value_at(60 * HL, HL) - 1.0 < 1e-9);
        assert!(a.prune(oldest_cell(200 * HL, HL)));
    }

    #[test]
    fn legacy_records_read_as_one_weight() {
        let a: Affinity = serde_json::from_str(r#"{"value":0.75,"at_ms":86400000}"#).unwrap();
        assert!((a.value_at(86_400_000, HL) - 0.75).abs() < 1e-9);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Affinity>(&json).unwrap(), a);
    }
}
