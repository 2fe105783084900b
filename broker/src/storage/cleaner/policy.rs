//! When a compacted log is worth cleaning, and how far: Kafka's `min.cleanable.dirty.ratio`,
//! `min.compaction.lag.ms` and `max.compaction.lag.ms` rules, as pure functions of segment
//! facts and the current time (tests drive them with a fake clock).
//!
//! Thread-safety: plain values and stateless functions.

use std::collections::BTreeMap;

/// A topic's cleaning settings: the broker's `log.cleaner.*` defaults with topic overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct CleaningSettings {
    /// `cleanup.policy` contains `compact`.
    pub compact: bool,
    /// `delete.retention.ms`: how long a tombstone outlives the pass that cleaned past it.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this forces a pass.
    pub max_compaction_lag_ms: i64,
}

impl CleaningSettings {
    /// `defaults` with the topic's overrides (Kafka's topic key names) applied. A value that
    /// does not parse keeps the default: overrides were validated when they were set.
    pub fn with_overrides(&self, overrides: &BTreeMap<String, String>) -> CleaningSettings {
        let mut s = self.clone();
        let long = |k: &str, d: i64| {
            overrides
                .get(k)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(d)
        };
        if let Some(p) = overrides.get("cleanup.policy") {
            s.compact = p.split(',').any(|x| x.trim() == "compact");
        }
        s.delete_retention_ms = long("delete.retention.ms", s.delete_retention_ms);
        s.min_compaction_lag_ms = long("min.compaction.lag.ms", s.min_compaction_lag_ms);
        s.max_compaction_lag_ms = long("max.compaction.lag.ms", s.max_compaction_lag_ms);
        if let Some(r) = overrides
            .get("min.cleanable.dirty.ratio")
            .and_then(|v| v.trim().parse::<f64>().ok())
        {
            s.min_cleanable_ratio = r;
        }
        s
    }
}

/// What the policy needs to know of one closed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentFacts {
    /// The segment's base offset.
    pub base_offset: i64,
    /// The offset after its last batch.
    pub next_offset: i64,
    /// Bytes in its `.log` file.
    pub size: u64,
    /// Its largest batch max timestamp (`i64::MIN` when empty).
    pub max_timestamp: i64,
    /// Its first batch's max timestamp (`i64::MAX` when empty): the age of its oldest record.
    pub first_timestamp: i64,
}

/// How dirty a log is and how far a pass may clean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cleanable {
    /// Where the dirty section starts.
    pub first_dirty_offset: i64,
    /// The first offset a pass may not compact (the active segment, or the first segment
    /// younger than `min.compaction.lag.ms`).
    pub first_uncleanable_offset: i64,
    /// Bytes of closed segments below the dirty section.
    pub clean_bytes: u64,
    /// Bytes of the cleanable dirty segments.
    pub dirty_bytes: u64,
    /// True when a dirty record is older than `max.compaction.lag.ms`.
    pub overdue: bool,
}

impl Cleanable {
    /// dirty / (clean + dirty), 0 for an empty log.
    pub fn dirty_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }

    /// Kafka's rule: something is dirty and cleanable, and the ratio reaches
    /// `min.cleanable.dirty.ratio` or a record waited past `max.compaction.lag.ms`.
    pub fn needs_cleaning(&self, s: &CleaningSettings) -> bool {
        self.dirty_bytes > 0 && (self.overdue || self.dirty_ratio() >= s.min_cleanable_ratio)
    }
}

/// Measures `closed` (every segment but the active one, in order) against `first_dirty_offset`
/// (the cleaner checkpoint, at least the log start offset) at `now_ms`.
pub fn cleanable(
    closed: &[SegmentFacts],
    first_dirty_offset: i64,
    active_base: i64,
    now_ms: i64,
    s: &CleaningSettings,
) -> Cleanable {
    let lag_limit = now_ms.saturating_sub(s.min_compaction_lag_ms);
    let first_uncleanable_offset = closed
        .iter()
        .filter(|f| f.next_offset > first_dirty_offset)
        .find(|f| f.max_timestamp > lag_limit)
        .map_or(active_base, |f| f.base_offset);
    let mut c = Cleanable {
        first_dirty_offset,
        first_uncleanable_offset,
        clean_bytes: 0,
        dirty_bytes: 0,
        overdue: false,
    };
    for f in closed {
        if f.next_offset <= first_dirty_offset {
            c.clean_bytes += f.size;
        } else if f.base_offset < first_uncleanable_offset {
            c.dirty_bytes += f.size;
            let overdue_limit = now_ms.saturating_sub(s.max_compaction_lag_ms);
            c.overdue |= f.first_timestamp < overdue_limit;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CleaningSettings {
        CleaningSettings {
            compact: true,
            delete_retention_ms: 86_400_000,
            min_cleanable_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }

    fn seg(base: i64, next: i64, size: u64, ts: i64) -> SegmentFacts {
        SegmentFacts {
            base_offset: base,
            next_offset: next,
            size,
            max_timestamp: ts,
            first_timestamp: ts,
        }
    }

    #[test]
    fn dirty_ratio_decides() {
        let segs = [seg(0, 10, 100, 1_000), seg(10, 20, 100, 2_000)];
        let s = settings();
        let c = cleanable(&segs, 10, 20, 10_000, &s);
        assert_eq!((c.clean_bytes, c.dirty_bytes), (100, 100));
        assert!(c.needs_cleaning(&s), "ratio 0.5 reaches 0.5");
        let strict = CleaningSettings {
            min_cleanable_ratio: 0.6,
            ..s.clone()
        };
        assert!(!c.needs_cleaning(&strict));
        let all_clean = cleanable(&segs, 20, 20, 10_000, &s);
        assert!(!all_clean.needs_cleaning(&s), "nothing dirty");
    }

    #[test]
    fn min_lag_holds_back_young_segments() {
        let segs = [seg(0, 10, 100, 1_000), seg(10, 20, 100, 9_500)];
        let s = CleaningSettings {
            min_compaction_lag_ms: 1_000,
            ..settings()
        };
        // At 10_000 the second segment (newest record 9_500) is too young.
        let c = cleanable(&segs, 0, 20, 10_000, &s);
        assert_eq!(c.first_uncleanable_offset, 10);
        assert_eq!(c.dirty_bytes, 100);
        // Later the clock passes its lag and it becomes cleanable.
        let c = cleanable(&segs, 0, 20, 10_600, &s);
        assert_eq!(c.first_uncleanable_offset, 20);
        assert_eq!(c.dirty_bytes, 200);
    }

    #[test]
    fn max_lag_forces_a_pass_below_the_ratio() {
        let segs = [
            seg(0, 10, 1_000, 1_000),
            seg(10, 20, 1_000, 1_000),
            seg(20, 30, 10, 5_000),
        ];
        let s = CleaningSettings {
            max_compaction_lag_ms: 3_000,
            ..settings()
        };
        let c = cleanable(&segs, 20, 30, 7_000, &s);
        assert!(c.dirty_ratio() < 0.5);
        assert!(
            !c.needs_cleaning(&s),
            "at 7_000 the dirty record is 2 s old"
        );
        let c = cleanable(&segs, 20, 30, 8_001, &s);
        assert!(c.overdue);
        assert!(c.needs_cleaning(&s), "past max.compaction.lag.ms");
    }

    #[test]
    fn overrides_apply() {
        let o: BTreeMap<String, String> = [
            ("cleanup.policy", "compact,delete"),
            ("min.cleanable.dirty.ratio", "0.1"),
            ("delete.retention.ms", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let base = CleaningSettings {
            compact: false,
            ..settings()
        };
        let s = base.with_overrides(&o);
        assert!(s.compact);
        assert_eq!(s.min_cleanable_ratio, 0.1);
        assert_eq!(s.delete_retention_ms, 5);
    }
}
