//! The JSON records of the compacted topics: `title-metadata` (one [`TitleRecord`] per title,
//! keyed by title id) and `user-behavior-features` (one [`FeatureRecord`] per user, keyed by user
//! id, the latest winning). Pure conversions; the Kafka edges move the bytes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Title, TitleKind};
use crate::event::{Device, TitleId, UserId, SCHEMA_VERSION};
use crate::signals::{DayPart, SignalConfig, UserSignals};

/// One title as written to `title-metadata`. Genres travel by name so that a reader builds its
/// own genre ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TitleRecord {
    /// Catalogue id (also the record key).
    pub id: TitleId,
    /// Display name.
    pub name: String,
    /// `movie`, `series` or `episode`.
    pub kind: String,
    /// Release year.
    #[serde(default)]
    pub year: Option<u16>,
    /// Genre names.
    #[serde(default)]
    pub genres: Vec<String>,
    /// For an episode: its series.
    #[serde(default)]
    pub series_id: Option<TitleId>,
    /// For an episode: season number from 1.
    #[serde(default)]
    pub season: Option<u16>,
    /// For an episode: episode number in the season from 1.
    #[serde(default)]
    pub episode: Option<u16>,
}

impl TitleRecord {
    /// The record of `title` in `cat`.
    pub fn of(title: &Title, cat: &Catalogue) -> TitleRecord {
        let (kind, series_id, season, episode) = match title.kind {
            TitleKind::Movie => ("movie", None, None, None),
            TitleKind::Series => ("series", None, None, None),
            TitleKind::Episode {
                series_id,
                season,
                episode,
            } => ("episode", Some(series_id), Some(season), Some(episode)),
        };
        TitleRecord {
            id: title.id,
            name: title.name.clone(),
            kind: kind.to_string(),
            year: title.year,
            genres: title
                .genres
                .iter()
                .filter_map(|g| cat.genre_name(*g).map(str::to_string))
                .collect(),
            series_id,
            season,
            episode,
        }
    }

    /// Adds (or replaces) the title in `cat`. An episode without its series id is read as a
    /// movie rather than rejected, so that one bad record does not hide a title.
    pub fn insert_into(&self, cat: &mut Catalogue) {
        let kind = match (self.kind.as_str(), self.series_id) {
            ("series", _) => TitleKind::Series,
            ("episode", Some(series_id)) => TitleKind::Episode {
                series_id,
                season: self.season.unwrap_or(1),
                episode: self.episode.unwrap_or(1),
            },
            _ => TitleKind::Movie,
        };
        let mut genres: Vec<_> = self.genres.iter().map(|g| cat.intern_genre(g)).collect();
        genres.sort_unstable();
        genres.dedup();
        cat.insert(Title {
            id: self.id,
            name: self.name.clone(),
            year: self.year,
            genres,
            kind,
        });
    }
}

/// A user profile as written to `user-profiles` (keyed by user id): what the user told the
/// service, as opposed to what their behaviour shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The user (also the record key).
    pub user_id: UserId,
    /// The device the account was set up on.
    pub home_device: Device,
    /// Genres chosen at sign-up.
    #[serde(default)]
    pub declared_genres: Vec<String>,
}

/// The latest features of one user, as written to `user-behavior-features`. It is both the
/// product (readable summary) and the processor's changelog (full signal state plus the input
/// positions already folded in, so a restarted processor neither loses nor double-counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureRecord {
    /// Schema version of this record.
    pub schema_version: u32,
    /// The user (also the record key).
    pub user_id: UserId,
    /// Timestamp of the latest event folded in.
    pub updated_ms: i64,
    /// Human-readable derived features.
    pub summary: FeatureSummary,
    /// The full signal state.
    pub signals: UserSignals,
    /// `topic/partition` → offset of the last input record of this user folded in.
    pub applied: BTreeMap<String, i64>,
    /// The user's profile from `user-profiles`, when there is one (enrichment).
    #[serde(default)]
    pub profile: Option<UserProfile>,
    /// The writer's genre names by genre id: `signals` refers to genres by id, and a reader
    /// whose catalogue numbers them differently renumbers by name.
    #[serde(default)]
    pub genre_names: Vec<String>,
}

impl FeatureRecord {
    /// The signals with genre ids translated into `cat`'s numbering (by name); genres `cat`
    /// does not know are dropped. Records without names are taken as numbered like `cat`.
    pub fn signals_for(&self, cat: &Catalogue) -> UserSignals {
        let mut sig = self.signals.clone();
        let same = self.genre_names.is_empty()
            || (0..cat.genre_count())
                .all(|g| cat.genre_name(g as u16) == self.genre_names.get(g).map(String::as_str))
                && self.genre_names.len() == cat.genre_count();
        if !same {
            let ids: HashMap<&str, u16> = (0..cat.genre_count())
                .filter_map(|g| cat.genre_name(g as u16).map(|n| (n, g as u16)))
                .collect();
            sig.remap_genres(|g| {
                self.genre_names
                    .get(usize::from(g))
                    .and_then(|n| ids.get(n.as_str()).copied())
            });
        }
        sig
    }
}

/// The derived features a reader (or a person with kcat) looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSummary {
    /// Genres by decayed affinity, strongest first (at most 5).
    pub top_genres: Vec<(String, f64)>,
    /// "Watched N episodes of series S in a row".
    pub binge: Option<BingeFeature>,
    /// Titles abandoned after less than the threshold and never finished.
    pub abandoned: Vec<TitleId>,
    /// Queries searched in the last hour with their count.
    pub searches: Vec<(String, usize)>,
    /// Most recent titles (at most 10).
    pub recent: Vec<TitleId>,
    /// Device used most often.
    pub usual_device: Option<Device>,
    /// The part of the day with most activity.
    pub usual_day_part: Option<String>,
}

/// A running binge streak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BingeFeature {
    /// The series.
    pub series_id: TitleId,
    /// Its name.
    pub series_name: String,
    /// Its genres.
    pub genres: Vec<String>,
    /// Episodes in a row.
    pub episodes: u32,
}

impl FeatureSummary {
    /// The summary of `sig` at `now_ms`.
    pub fn of(sig: &UserSignals, now_ms: i64, cat: &Catalogue, cfg: &SignalConfig) -> Self {
        let genre_names = |gs: &[u16]| {
            gs.iter()
                .filter_map(|g| cat.genre_name(*g).map(str::to_string))
                .collect::<Vec<_>>()
        };
        let binge = sig.binge(now_ms, cfg).map(|b| BingeFeature {
            series_id: b.series_id,
            series_name: cat
                .get(b.series_id)
                .map_or_else(|| format!("title {}", b.series_id), |t| t.name.clone()),
            genres: genre_names(cat.genres_of(b.series_id)),
            episodes: b.episodes,
        });
        let parts = [
            DayPart::Night,
            DayPart::Morning,
            DayPart::Afternoon,
            DayPart::Evening,
        ];
        let usual_day_part = parts
            .iter()
            .filter(|p| sig.day_part_share(**p) > 0.0)
            .max_by(|a, b| sig.day_part_share(**a).total_cmp(&sig.day_part_share(**b)))
            .map(|p| p.name().to_string());
        FeatureSummary {
            top_genres: sig
                .top_genres(now_ms, cfg)
                .into_iter()
                .take(5)
                .filter_map(|(g, a)| cat.genre_name(g).map(|n| (n.to_string(), a)))
                .collect(),
            binge,
            abandoned: sig.abandoned_titles().collect(),
            searches: sig.search_counts(now_ms, cfg),
            recent: sig.recent_titles().take(10).map(|(t, _)| t).collect(),
            usual_device: sig.usual_device(),
            usual_day_part,
        }
    }
}

impl FeatureRecord {
    /// The record for `user` with signals `sig`, as of its latest event.
    pub fn new(
        user: UserId,
        sig: &UserSignals,
        applied: BTreeMap<String, i64>,
        cat: &Catalogue,
        cfg: &SignalConfig,
    ) -> FeatureRecord {
        let now = sig.last_event_ms().unwrap_or(0);
        FeatureRecord {
            schema_version: SCHEMA_VERSION,
            user_id: user,
            updated_ms: now,
            summary: FeatureSummary::of(sig, now, cat, cfg),
            signals: sig.clone(),
            applied,
            profile: None,
            genre_names: (0..cat.genre_count())
                .filter_map(|g| cat.genre_name(g as u16).map(str::to_string))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventKind};

    fn cat() -> Catalogue {
        let mut c = Catalogue::new();
        for r in [
            TitleRecord {
                id: 10,
                name: "Orbit".into(),
                kind: "series".into(),
                year: Some(2020),
                genres: vec!["Sci-Fi".into()],
                series_id: None,
                season: None,
                episode: None,
            },
            TitleRecord {
                id: 11,
                name: "Orbit S1E1".into(),
                kind: "episode".into(),
                year: None,
                genres: vec![],
                series_id: Some(10),
                season: Some(1),
                episode: Some(1),
            },
        ] {
            r.insert_into(&mut c);
        }
        c
    }

    #[test]
    fn title_records_round_trip_through_a_catalogue() {
        let c = cat();
        let back = TitleRecord::of(c.get(11).unwrap(), &c);
        assert_eq!(back.series_id, Some(10));
        assert_eq!(back.kind, "episode");
        assert_eq!(
            TitleRecord::of(c.get(10).unwrap(), &c).genres,
            vec!["Sci-Fi"]
        );
    }

    #[test]
    fn feature_record_round_trips_the_full_signal_state() {
        let c = cat();
        let cfg = SignalConfig::default();
        let mut sig = UserSignals::default();
        for (t, kind) in [
            (1_000, EventKind::Play { title_id: 11 }),
            (2_000, EventKind::Completed { title_id: 11 }),
            (
                3_000,
                EventKind::Search {
                    query: "Space  Opera".into(),
                },
            ),
        ] {
            let ev = Event {
                schema_version: SCHEMA_VERSION,
                user_id: 7,
                device: Device::Tv,
                timestamp_ms: t,
                kind,
            };
            sig.update(&ev, &c, &cfg);
        }
        let mut applied = BTreeMap::new();
        applied.insert("play-events/0".to_string(), 41);
        let rec = FeatureRecord::new(7, &sig, applied, &c, &cfg);
        assert_eq!(rec.summary.binge.as_ref().unwrap().episodes, 1);
        assert_eq!(rec.summary.searches, vec![("space opera".to_string(), 1)]);
        assert_eq!(rec.summary.top_genres[0].0, "Sci-Fi");
        let json = serde_json::to_string(&rec).unwrap();
        let back: FeatureRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.signals_for(&c), sig);
        // A reader whose catalogue numbers genres differently gets them by name.
        let mut other = Catalogue::new();
        other.intern_genre("Drama");
        let scifi = other.intern_genre("Sci-Fi");
        let moved = back.signals_for(&other);
        assert!(moved.genre_affinity(scifi, 2_000, &cfg) > 0.0);
        assert_eq!(moved.genre_affinity(0, 2_000, &cfg), 0.0);
    }
}
