//! The processor's state, sans-IO: records in (topic, partition, offset, bytes), feature
//! records out. It remembers, per user, the last input offset folded in for each input
//! partition; that map travels in every feature record, so after a restart (state restored from
//! the compacted features topic, consumption resumed from the committed offsets, which may lag)
//! a record already folded in is recognised and skipped: nothing lost, nothing counted twice.
//!
//! Thread-safety: plain data, `&mut self` updates; one consumer task owns it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::catalogue::Catalogue;
use crate::event::{Event, EventError, UserId};
use crate::features::{FeatureRecord, UserProfile};
use crate::signals::{SignalConfig, SignalStore};

/// What one input record did.
#[derive(Debug)]
pub enum Outcome {
    /// Folded in; the user's new features.
    Applied(Box<FeatureRecord>),
    /// Already folded in before a restart; skipped.
    Duplicate,
    /// A profile from `user-profiles`: the table changed, and the user's features with it
    /// (`None` while no event of the user has been seen).
    Profile(Option<Box<FeatureRecord>>),
    /// Not a valid event; skipped.
    Malformed(EventError),
}

/// Signals of the users of the assigned partitions, with their input positions.
#[derive(Debug)]
pub struct ProcessorState {
    /// Titles, for genres and series.
    catalogue: Arc<Catalogue>,
    /// Per-user signals.
    signals: SignalStore,
    /// Per user: `topic/partition` → last offset folded in.
    applied: HashMap<UserId, BTreeMap<String, i64>>,
    /// The profile table, for enrichment.
    profiles: HashMap<UserId, UserProfile>,
}

impl ProcessorState {
    /// An empty state over `catalogue`.
    pub fn new(catalogue: Arc<Catalogue>, cfg: SignalConfig) -> ProcessorState {
        ProcessorState {
            catalogue,
            signals: SignalStore::new(cfg),
            applied: HashMap::new(),
            profiles: HashMap::new(),
        }
    }

    /// Sets (or replaces) a user's profile.
    pub fn set_profile(&mut self, profile: UserProfile) {
        self.profiles.insert(profile.user_id, profile);
    }

    /// Restores one user from their latest feature record.
    pub fn restore(&mut self, rec: FeatureRecord) {
        let signals = rec.signals_for(&self.catalogue);
        self.signals.restore(rec.user_id, signals);
        self.applied.insert(rec.user_id, rec.applied);
    }

    /// Number of users known.
    pub fn users(&self) -> usize {
        self.signals.len()
    }

    /// The current feature record of `user`.
    pub fn features(&self, user: UserId) -> Option<FeatureRecord> {
        let sig = self.signals.user(user)?;
        let applied = self.applied.get(&user).cloned().unwrap_or_default();
        let mut rec = FeatureRecord::new(user, sig, applied, &self.catalogue, &self.signals.config);
        rec.profile = self.profiles.get(&user).cloned();
        Some(rec)
    }

    /// Takes one record of `user-profiles` (the latest per user wins, in that topic's order);
    /// a tombstone (no value) under a user id key removes the profile.
    pub fn apply_profile(&mut self, key: Option<UserId>, value: Option<&[u8]>) -> Outcome {
        let user = match (key, value) {
            (Some(user), None) => {
                self.profiles.remove(&user);
                user
            }
            (_, Some(v)) => match serde_json::from_slice::<UserProfile>(v) {
                Ok(p) => {
                    let user = p.user_id;
                    self.set_profile(p);
                    user
                }
                Err(e) => return Outcome::Malformed(EventError::Malformed(e)),
            },
            (None, None) => return Outcome::Duplicate,
        };
        Outcome::Profile(self.features(user).map(Box::new))
    }

    /// Folds one input record in.
    pub fn apply(&mut self, topic: &str, partition: i32, offset: i64, value: &[u8]) -> Outcome {
        let ev = match Event::from_json(value) {
            Ok(ev) => ev,
            Err(e) => return Outcome::Malformed(e),
        };
        let position = format!("{topic}/{partition}");
        let applied = self.applied.entry(ev.user_id).or_default();
        if applied.get(&position).is_some_and(|o| *o >= offset) {
            return Outcome::Duplicate;
        }
        applied.insert(position, offset);
        self.signals.update(&ev, &self.catalogue);
        match self.features(ev.user_id) {
            Some(rec) => Outcome::Applied(Box::new(rec)),
            None => Outcome::Duplicate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Device, EventKind, SCHEMA_VERSION};
    use crate::simulate::catalogue_gen;

    fn json(user: UserId, t: i64, kind: EventKind) -> Vec<u8> {
        serde_json::to_vec(&Event {
            schema_version: SCHEMA_VERSION,
            user_id: user,
            device: Device::Tv,
            timestamp_ms: t,
            kind,
        })
        .unwrap()
    }

    #[test]
    fn restart_from_a_lagging_commit_neither_loses_nor_double_counts() {
        let cat = Arc::new(catalogue_gen::generate(1));
        let input: Vec<Vec<u8>> = (0..20)
            .map(|i| {
                json(
                    7,
                    1_000 * i,
                    EventKind::Search {
                        query: "space".into(),
                    },
                )
            })
            .collect();
        let mut straight = ProcessorState::new(cat.clone(), SignalConfig::default());
        for (o, v) in input.iter().enumerate() {
            straight.apply("search-queries", 0, o as i64, v);
        }
        // First run folds 15 records, but its last feature record written is after record 12
        // and the committed offset is only 5.
        let mut first = ProcessorState::new(cat.clone(), SignalConfig::default());
        let mut last_written = None;
        for (o, v) in input.iter().enumerate().take(15) {
            if let Outcome::Applied(rec) = first.apply("search-queries", 0, o as i64, v) {
                if o <= 12 {
                    last_written = Some(*rec);
                }
            }
        }
        let mut second = ProcessorState::new(cat, SignalConfig::default());
        second.restore(last_written.unwrap());
        let mut dup = 0;
        for (o, v) in input.iter().enumerate().skip(5) {
            if matches!(
                second.apply("search-queries", 0, o as i64, v),
                Outcome::Duplicate
            ) {
                dup += 1;
            }
        }
        assert_eq!(dup, 8, "offsets 5..=12 were already folded in");
        let a = straight.features(7).unwrap();
        let b = second.features(7).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.summary.searches, vec![("space".to_string(), 20)]);
    }

    #[test]
    fn the_profile_table_follows_its_topic() {
        let cat = Arc::new(catalogue_gen::generate(1));
        let mut s = ProcessorState::new(cat, SignalConfig::default());
        let profile = |device: &str| {
            format!(r#"{{"user_id":7,"home_device":"{device}","declared_genres":["Drama"]}}"#)
        };
        // No events yet: the table changes, but there are no features to write.
        let p = profile("tv");
        assert!(matches!(
            s.apply_profile(Some(7), Some(p.as_bytes())),
            Outcome::Profile(None)
        ));
        let ev = json(7, 1_000, EventKind::Search { query: "x".into() });
        let Outcome::Applied(rec) = s.apply("search-queries", 0, 0, &ev) else {
            panic!("the event should apply");
        };
        assert_eq!(rec.profile.unwrap().home_device, Device::Tv);
        let p = profile("mobile");
        let Outcome::Profile(Some(rec)) = s.apply_profile(Some(7), Some(p.as_bytes())) else {
            panic!("a profile change rewrites the user's features");
        };
        assert_eq!(rec.profile.unwrap().home_device, Device::Mobile);
        let Outcome::Profile(Some(rec)) = s.apply_profile(Some(7), None) else {
            panic!("a tombstone rewrites the user's features");
        };
        assert!(rec.profile.is_none());
        assert!(matches!(
            s.apply_profile(Some(7), Some(b"{")),
            Outcome::Malformed(_)
        ));
    }

    #[test]
    fn malformed_records_are_reported_not_applied() {
        let cat = Arc::new(catalogue_gen::generate(1));
        let mut s = ProcessorState::new(cat, SignalConfig::default());
        assert!(matches!(
            s.apply("play-events", 0, 0, b"{not json"),
            Outcome::Malformed(_)
        ));
        assert_eq!(s.users(), 0);
    }
}
