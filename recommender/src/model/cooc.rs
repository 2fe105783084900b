//! A sparse, symmetric, weighted item-item co-occurrence matrix that grows one pair at a time.
//!
//! Weights are integers: integer sums are exact, so the matrix is the same whatever order the
//! pairs arrive in (a replay that interleaves users differently from the live run must build
//! the same matrix). Callers wanting fractional weights use fixed point.

/// One row: neighbour indexes ascending, with their weights.
#[derive(Debug, Clone, Default)]
struct Row {
    /// Neighbour dense indexes, ascending (binary-searchable, deterministic to iterate).
    nbrs: Vec<u32>,
    /// Weight of each neighbour.
    weights: Vec<u64>,
}

impl Row {
    fn sub(&mut self, j: u32, w: u64) {
        if let Ok(p) = self.nbrs.binary_search(&j) {
            self.weights[p] = self.weights[p].saturating_sub(w);
            if self.weights[p] == 0 {
                self.nbrs.remove(p);
                self.weights.remove(p);
            }
        }
    }

    fn add(&mut self, j: u32, w: u64) {
        match self.nbrs.binary_search(&j) {
            // Saturating: wrapping would be worse, and no real stream comes near 2^64.
            Ok(p) => self.weights[p] = self.weights[p].saturating_add(w),
            Err(p) => {
                self.nbrs.insert(p, j);
                self.weights.insert(p, w);
            }
        }
    }
}

/// Co-occurrence weights between items (dense indexes), kept symmetric.
///
/// Thread-safety: plain data; `&mut self` to add.
#[derive(Debug, Clone, Default)]
pub struct CoCounts {
    /// Row per item.
    rows: Vec<Row>,
}

impl CoCounts {
    /// Adds `w` to the pair (i, j) in both directions; `i == j` and `w == 0` are ignored (a
    /// pair is listed only while its weight is positive).
    pub fn add(&mut self, i: u32, j: u32, w: u64) {
        if i == j || w == 0 {
            return;
        }
        let need = i.max(j) as usize + 1;
        if self.rows.len() < need {
            self.rows.resize_with(need, Row::default);
        }
        self.rows[i as usize].add(j, w);
        self.rows[j as usize].add(i, w);
    }

    /// Takes back `w` added to the pair (i, j) earlier; a pair whose weight reaches 0 is
    /// removed, as if never added.
    pub fn sub(&mut self, i: u32, j: u32, w: u64) {
        for (a, b) in [(i, j), (j, i)] {
            if let Some(r) = self.rows.get_mut(a as usize) {
                r.sub(b, w);
            }
        }
    }

    /// The neighbours of `i` and their weights, neighbours ascending.
    pub fn row(&self, i: u32) -> (&[u32], &[u64]) {
        self.rows
            .get(i as usize)
            .map_or((&[], &[]), |r| (&r.nbrs, &r.weights))
    }

    /// The weight of the pair (i, j), 0 if never seen.
    pub fn get(&self, i: u32, j: u32) -> u64 {
        let (n, w) = self.row(i);
        n.binary_search(&j).map_or(0, |p| w[p])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_accumulation() {
        let mut c = CoCounts::default();
        c.add(3, 1, 2);
        c.add(1, 3, 1);
        c.add(1, 0, 4);
        c.add(2, 2, 9);
        assert_eq!(c.get(1, 3), 3);
        assert_eq!(c.get(3, 1), 3);
        assert_eq!(c.row(1), (&[0u32, 3][..], &[4u64, 3][..]));
        assert_eq!(c.get(2, 2), 0);
        assert_eq!(c.row(7).0.len(), 0);
        c.sub(1, 3, 1);
        assert_eq!(c.get(3, 1), 2);
        c.sub(3, 1, 2);
        assert_eq!(c.row(1), (&[0u32][..], &[4u64][..]));
        assert_eq!(c.row(3).0.len(), 0);
        c.add(5, 6, 0);
        assert_eq!(c.row(5).0.len(), 0);
    }
}
