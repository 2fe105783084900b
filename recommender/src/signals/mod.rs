//! Per-user behavioural signals, updated one event at a time with the event's own timestamp:
//! binge streaks on a series, titles abandoned early, repeated searches in a sliding window,
//! genre affinity with exponential time decay, recency, device and time-of-day habits, titles in
//! progress and titles finished.
//!
//! Kafka keeps a user's events in order within one topic only. A user's play, their rating of
//! the title and their clicks travel on three topics, and a live run and a replay from offset 0
//! read those topics interleaved differently. So the state is built in two parts:
//! - what comes from `play-events` alone (binge, positions, abandonment, finishing by playback)
//!   is folded in that topic's order, which every reader sees the same;
//! - what several topics feed (genre affinity, recency, searches, counts, ratings) is kept in a
//!   form that does not depend on arrival order: integer sums, maxima, sets, and windows cut at
//!   the newest event time seen.
//!
//! Views that combine the two (finished, abandoned, in progress) are worked out when read.
//! A replay therefore rebuilds exactly the live state.
//!
//! Thread-safety: plain data with `&mut self` updates; the owner serialises access (one
//! partition consumer per store, or a lock around it).

mod affinity;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use affinity::Affinity;

use crate::catalogue::{Catalogue, GenreId, TitleKind};
use crate::event::{Device, Event, EventKind, TitleId, UserId};

/// Tunables of the signals; the defaults are the product's.
#[derive(Debug, Clone)]
pub struct SignalConfig {
    /// A stop before this position marks the title abandoned ("gave up after < X minutes").
    pub abandon_before_ms: u64,
    /// Width of the sliding window for search counts.
    pub search_window_ms: i64,
    /// Half-life of genre affinity.
    pub genre_half_life_ms: i64,
    /// Longest pause between two episodes that still continues a binge streak.
    pub binge_gap_ms: i64,
    /// How many distinct recent titles to remember, most recent first.
    pub recent_titles: usize,
    /// Watched fraction from which a title counts as finished even without `completed`.
    pub finished_fraction: f64,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            abandon_before_ms: 10 * 60_000,
            search_window_ms: 3_600_000,
            genre_half_life_ms: 14 * 86_400_000,
            binge_gap_ms: 6 * 3_600_000,
            recent_titles: 50,
            finished_fraction: 0.95,
        }
    }
}

/// Coarse time of day (UTC; the events carry no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DayPart {
    /// 00:00 to 05:59.
    Night,
    /// 06:00 to 11:59.
    Morning,
    /// 12:00 to 17:59.
    Afternoon,
    /// 18:00 to 23:59.
    Evening,
}

impl DayPart {
    /// The part of the day a timestamp falls in.
    pub fn of(timestamp_ms: i64) -> DayPart {
        match timestamp_ms.rem_euclid(86_400_000) / 3_600_000 {
            0..=5 => DayPart::Night,
            6..=11 => DayPart::Morning,
            12..=17 => DayPart::Afternoon,
            _ => DayPart::Evening,
        }
    }

    /// Its name in JSON and on the page: `night`, `morning`, `afternoon`, `evening`.
    pub fn name(self) -> &'static str {
        match self {
            DayPart::Night => "night",
            DayPart::Morning => "morning",
            DayPart::Afternoon => "afternoon",
            DayPart::Evening => "evening",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A run of consecutive episodes of one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BingeStreak {
    /// The series.
    pub series_id: TitleId,
    /// Distinct episodes watched in a row.
    pub episodes: u32,
    /// The last episode watched.
    pub last_episode: TitleId,
    /// When it was watched.
    pub last_ms: i64,
}

/// Where the user stopped in a title not yet finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InProgress {
    /// Last known position.
    pub position_ms: u64,
    /// Running time, when a progress event told it.
    pub duration_ms: Option<u64>,
    /// When the position was reported.
    pub updated_ms: i64,
}

/// Everything known about one user's recent behaviour. Serialisable so that the stream
/// processor can write it to its compacted changelog and restore it after a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserSignals {
    /// Decayed affinity per genre (order-free sums).
    genres: BTreeMap<GenreId, Affinity>,
    /// Distinct titles with the time of their latest interaction, most recent first (ties by
    /// title): the top of that order over every event, whatever order they came in.
    recent: Vec<(TitleId, i64)>,
    /// Searches inside the window before the newest event: (time, normalised query), ascending.
    searches: Vec<(i64, String)>,
    /// Current binge streak, if any (`play-events` order).
    binge: Option<BingeStreak>,
    /// Titles stopped early while not finished by playback, with when (`play-events` order).
    abandoned: BTreeMap<TitleId, i64>,
    /// Titles started and not finished by playback (`play-events` order).
    in_progress: BTreeMap<TitleId, InProgress>,
    /// Titles finished by playback: completed or watched past the threshold.
    #[serde(rename = "finished")]
    played_through: BTreeSet<TitleId>,
    /// Titles rated (a rating means the user saw the title).
    #[serde(default)]
    rated: BTreeSet<TitleId>,
    /// Events per device.
    devices: BTreeMap<Device, u32>,
    /// Events per part of the day.
    day_parts: [u32; 4],
    /// Time of the latest event seen.
    last_event_ms: Option<i64>,
}

impl UserSignals {
    /// Genre affinity at `now_ms` (0 for never-seen genres; negative after abandonments).
    pub fn genre_affinity(&self, genre: GenreId, now_ms: i64, cfg: &SignalConfig) -> f64 {
        self.genres
            .get(&genre)
            .map_or(0.0, |d| d.value_at(now_ms, cfg.genre_half_life_ms))
    }

    /// All genre affinities at `now_ms`, strongest first (ties by genre id).
    pub fn top_genres(&self, now_ms: i64, cfg: &SignalConfig) -> Vec<(GenreId, f64)> {
        let mut v: Vec<(GenreId, f64)> = self
            .genres
            .iter()
            .map(|(g, d)| (*g, d.value_at(now_ms, cfg.genre_half_life_ms)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Distinct titles interacted with, most recent first, with the time of the last one.
    pub fn recent_titles(&self) -> impl Iterator<Item = (TitleId, i64)> + '_ {
        self.recent.iter().copied()
    }

    /// How many searches for `query` (case- and space-insensitive) fall in the window ending
    /// at `now_ms`.
    pub fn search_count(&self, query: &str, now_ms: i64, cfg: &SignalConfig) -> usize {
        let q = normalise_query(query);
        let from = now_ms.saturating_sub(cfg.search_window_ms);
        self.searches
            .iter()
            .filter(|(t, s)| *t > from && *t <= now_ms && *s == q)
            .count()
    }

    /// Every query searched in the window ending at `now_ms`, with its count, most searched
    /// first (ties by query).
    pub fn search_counts(&self, now_ms: i64, cfg: &SignalConfig) -> Vec<(String, usize)> {
        let from = now_ms.saturating_sub(cfg.search_window_ms);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (t, q) in &self.searches {
            if *t > from && *t <= now_ms {
                *counts.entry(q.as_str()).or_insert(0) += 1;
            }
        }
        let mut v: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(q, n)| (q.to_string(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The binge streak still running at `now_ms`.
    pub fn binge(&self, now_ms: i64, cfg: &SignalConfig) -> Option<&BingeStreak> {
        self.binge
            .as_ref()
            .filter(|b| now_ms - b.last_ms <= cfg.binge_gap_ms)
    }

    /// Whether the user gave up on the title early and never finished it.
    pub fn abandoned(&self, title: TitleId) -> bool {
        self.abandoned.contains_key(&title) && !self.rated.contains(&title)
    }

    /// The titles abandoned early and never finished, ascending.
    pub fn abandoned_titles(&self) -> impl Iterator<Item = TitleId> + '_ {
        self.abandoned
            .keys()
            .copied()
            .filter(|t| !self.rated.contains(t))
    }

    /// Titles started and not finished, most recently updated first.
    pub fn in_progress(&self) -> Vec<(TitleId, InProgress)> {
        let mut v: Vec<_> = self
            .in_progress
            .iter()
            .filter(|(t, _)| !self.rated.contains(t))
            .map(|(t, p)| (*t, *p))
            .collect();
        v.sort_by(|a, b| b.1.updated_ms.cmp(&a.1.updated_ms).then(a.0.cmp(&b.0)));
        v
    }

    /// Whether the user finished the title: played it through, or rated it.
    pub fn finished(&self, title: TitleId) -> bool {
        self.played_through.contains(&title) || self.rated.contains(&title)
    }

    /// The titles finished, ascending.
    pub fn finished_titles(&self) -> impl Iterator<Item = TitleId> + '_ {
        self.played_through.union(&self.rated).copied()
    }

    /// The device used most often (ties: the smaller enum value).
    pub fn usual_device(&self) -> Option<Device> {
        let mut best: Option<(Device, u32)> = None;
        for (d, n) in &self.devices {
            if best.is_none_or(|(_, m)| *n > m) {
                best = Some((*d, *n));
            }
        }
        best.map(|(d, _)| d)
    }

    /// Share of the user's events that fell in `part` of the day (0 with no events).
    pub fn day_part_share(&self, part: DayPart) -> f64 {
        let total: u32 = self.day_parts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        f64::from(self.day_parts[part.index()]) / f64::from(total)
    }

    /// Time of the latest event.
    pub fn last_event_ms(&self) -> Option<i64> {
        self.last_event_ms
    }

    /// Milliseconds since the latest event, as of `now_ms`.
    pub fn idle_ms(&self, now_ms: i64) -> Option<i64> {
        self.last_event_ms.map(|t| (now_ms - t).max(0))
    }

    /// Renumbers genres (after a catalogue change); genres that `map` drops are forgotten.
    pub fn remap_genres(&mut self, map: impl Fn(GenreId) -> Option<GenreId>) {
        let old = std::mem::take(&mut self.genres);
        for (g, d) in old {
            if let Some(n) = map(g) {
                self.genres.insert(n, d);
            }
        }
    }

    /// Folds one event of this user into the signals.
    pub fn update(&mut self, ev: &Event, cat: &Catalogue, cfg: &SignalConfig) {
        let t = ev.timestamp_ms;
        *self.devices.entry(ev.device).or_insert(0) += 1;
        self.day_parts[DayPart::of(t).index()] += 1;
        let newest = self.last_event_ms.map_or(t, |l| l.max(t));
        self.last_event_ms = Some(newest);
        self.forget_before(newest, cfg);
        match &ev.kind {
            EventKind::Search { query } => self.search(t, normalise_query(query), newest, cfg),
            EventKind::Play { title_id } | EventKind::Resume { title_id } => {
                self.touch(*title_id, t, cfg);
                self.genre_weight(*title_id, 0.3, t, cat, cfg);
                self.watch_episode(*title_id, t, cat, cfg);
                self.in_progress.entry(*title_id).or_insert(InProgress {
                    position_ms: 0,
                    duration_ms: None,
                    updated_ms: t,
                });
            }
            EventKind::Pause {
                title_id,
                position_ms,
            } => {
                self.set_position(*title_id, *position_ms, None, t, cfg);
            }
            EventKind::Progress {
                title_id,
                position_ms,
                duration_ms,
            } => self.set_position(*title_id, *position_ms, Some(*duration_ms), t, cfg),
            EventKind::Stop {
                title_id,
                position_ms,
            } => {
                self.set_position(*title_id, *position_ms, None, t, cfg);
                if *position_ms < cfg.abandon_before_ms && !self.played_through.contains(title_id) {
                    self.abandoned.insert(*title_id, t);
                    self.in_progress.remove(title_id);
                    self.genre_weight(*title_id, -0.5, t, cat, cfg);
                }
            }
            EventKind::Completed { title_id } => {
                self.touch(*title_id, t, cfg);
                self.play_through(*title_id);
                self.genre_weight(*title_id, 1.0, t, cat, cfg);
                self.watch_episode(*title_id, t, cat, cfg);
            }
            EventKind::Rating { title_id, value } => {
                self.touch(*title_id, t, cfg);
                self.rated.insert(*title_id);
                self.genre_weight(*title_id, f64::from(*value) / 5.0, t, cat, cfg);
            }
            EventKind::Click { title_id, .. } => {
                self.genre_weight(*title_id, 0.1, t, cat, cfg);
            }
            EventKind::Impression { .. } | EventKind::Browse { .. } => {}
        }
    }

    /// Forgets what fell out of the windows once an event at `newest` has been seen. The cut
    /// depends only on the newest time, which only grows, so every arrival order forgets the
    /// same things (an event already behind the cut when it arrives is dropped the same way).
    fn forget_before(&mut self, newest: i64, cfg: &SignalConfig) {
        let from = newest.saturating_sub(cfg.search_window_ms);
        self.searches.retain(|(s, _)| *s > from);
        let oldest = affinity::oldest_cell(newest, cfg.genre_half_life_ms);
        self.genres.retain(|_, a| !a.prune(oldest));
    }

    fn search(&mut self, t: i64, query: String, newest: i64, cfg: &SignalConfig) {
        if t <= newest.saturating_sub(cfg.search_window_ms) {
            return;
        }
        let item = (t, query);
        let at = self.searches.partition_point(|s| *s <= item);
        self.searches.insert(at, item);
    }

    /// Keeps the title's latest interaction time, and the `recent_titles` titles with the
    /// latest times (ties by title). A title pushed out cannot come back with an older time, so
    /// the result is the same for any arrival order.
    fn touch(&mut self, title: TitleId, t: i64, cfg: &SignalConfig) {
        match self.recent.iter_mut().find(|(x, _)| *x == title) {
            Some(entry) => entry.1 = entry.1.max(t),
            None => self.recent.push((title, t)),
        }
        self.recent
            .sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.recent.truncate(cfg.recent_titles);
    }

    fn play_through(&mut self, title: TitleId) {
        self.played_through.insert(title);
        self.in_progress.remove(&title);
        self.abandoned.remove(&title);
    }

    fn set_position(
        &mut self,
        title: TitleId,
        pos: u64,
        dur: Option<u64>,
        t: i64,
        cfg: &SignalConfig,
    ) {
        if self.played_through.contains(&title) {
            return;
        }
        let entry = self.in_progress.entry(title).or_insert(InProgress {
            position_ms: 0,
            duration_ms: None,
            updated_ms: t,
        });
        entry.position_ms = pos;
        entry.duration_ms = dur.or(entry.duration_ms);
        entry.updated_ms = t;
        if let Some(d) = entry.duration_ms {
            if d > 0 && pos as f64 >= cfg.finished_fraction * d as f64 {
                self.play_through(title);
            }
        }
    }

    fn genre_weight(
        &mut self,
        title: TitleId,
        w: f64,
        t: i64,
        cat: &Catalogue,
        cfg: &SignalConfig,
    ) {
        let newest = self.last_event_ms.unwrap_or(t);
        if !affinity::kept(t, newest, cfg.genre_half_life_ms) {
            return;
        }
        for g in cat.genres_with_series(title) {
            self.genres
                .entry(*g)
                .or_default()
                .add(w, t, cfg.genre_half_life_ms);
        }
    }

    fn watch_episode(&mut self, title: TitleId, t: i64, cat: &Catalogue, cfg: &SignalConfig) {
        let Some(TitleKind::Episode { series_id, .. }) = cat.get(title).map(|x| &x.kind) else {
            return;
        };
        match &mut self.binge {
            Some(b) if b.series_id == *series_id && t - b.last_ms <= cfg.binge_gap_ms => {
                if b.last_episode != title {
                    b.episodes += 1;
                    b.last_episode = title;
                }
                b.last_ms = t;
            }
            _ => {
                self.binge = Some(BingeStreak {
                    series_id: *series_id,
                    episodes: 1,
                    last_episode: title,
                    last_ms: t,
                })
            }
        }
    }
}

fn normalise_query(q: &str) -> String {
    q.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Signals of all users.
#[derive(Debug, Clone, Default)]
pub struct SignalStore {
    /// Tunables.
    pub config: SignalConfig,
    /// Per-user state; a HashMap iterated only into user order (see [`SignalStore::by_user`]).
    users: HashMap<UserId, UserSignals>,
}

impl SignalStore {
    /// An empty store.
    pub fn new(config: SignalConfig) -> SignalStore {
        SignalStore {
            config,
            users: HashMap::new(),
        }
    }

    /// Folds one event in.
    pub fn update(&mut self, ev: &Event, cat: &Catalogue) {
        let cfg = &self.config;
        self.users
            .entry(ev.user_id)
            .or_default()
            .update(ev, cat, cfg);
    }

    /// One user's signals, if any event of theirs was seen.
    pub fn user(&self, user: UserId) -> Option<&UserSignals> {
        self.users.get(&user)
    }

    /// Every user's signals, users ascending (an order that does not depend on the stream's).
    pub fn by_user(&self) -> Vec<(UserId, &UserSignals)> {
        let mut all: Vec<_> = self.users.iter().map(|(u, s)| (*u, s)).collect();
        all.sort_unstable_by_key(|(u, _)| *u);
        all
    }

    /// Replaces one user's signals (a restore from a changelog).
    pub fn restore(&mut self, user: UserId, signals: UserSignals) {
        self.users.insert(user, signals);
    }

    /// Number of users with signals.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user has signals.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests;
