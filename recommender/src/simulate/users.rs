//! Simulated users and the pure, seeded generator of their activity: sessions on a device at a
//! time of day (more episodes on phones and tablets, more films on TVs and consoles), binges on
//! series, abandoned films outside their taste, repeated searches, slowly drifting tastes, and
//! clicks on the rows they were served.

use std::collections::HashMap;

use crate::catalogue::Catalogue;
use crate::event::{Device, Event, EventKind, TitleId, UserId, SCHEMA_VERSION};

use super::catalogue_gen::{first_episode, movies_of, series_of, GENRES};
use super::rng::Rng;

const DEVICES: [Device; 5] = [
    Device::Tv,
    Device::Mobile,
    Device::Tablet,
    Device::Web,
    Device::Console,
];

/// One simulated user.
#[derive(Debug, Clone)]
pub struct SimUser {
    /// Identity.
    pub id: UserId,
    /// The two favourite genres (indexes into [`GENRES`]).
    pub favourites: [usize; 2],
    /// Usual device.
    pub device: Device,
    /// The series being binged and its last episode watched.
    binge: Option<(TitleId, TitleId)>,
    /// The last query, searched again now and then.
    last_query: Option<String>,
    /// Titles finished, for ratings.
    finished: Vec<TitleId>,
}

/// The generator: users, the catalogue, a seeded random stream and a simulated clock.
#[derive(Debug)]
pub struct Simulator {
    /// The users, indexed by `id - 1`.
    users: Vec<SimUser>,
    /// The catalogue the users watch.
    catalogue: Catalogue,
    /// The random stream.
    rng: Rng,
    /// Simulated time, ms since the epoch.
    now_ms: i64,
    /// Rows served to users and not yet acted on: row id and titles.
    offered: HashMap<UserId, Vec<(String, Vec<TitleId>)>>,
    /// Simulated time between two events of one action.
    event_gap_ms: i64,
    /// The device of the action under way (one action, one device).
    device: Device,
}

impl Simulator {
    /// `users` users (ids 1..=users) starting at `start_ms`.
    pub fn new(seed: u64, users: u64, catalogue: Catalogue, start_ms: i64) -> Simulator {
        let mut rng = Rng::new(seed);
        let users = (1..=users)
            .map(|id| {
                let a = rng.below(GENRES.len());
                let b = (a + 1 + rng.below(GENRES.len() - 1)) % GENRES.len();
                SimUser {
                    id,
                    favourites: [a, b],
                    device: DEVICES[rng.below(DEVICES.len())],
                    binge: None,
                    last_query: None,
                    finished: Vec::new(),
                }
            })
            .collect();
        Simulator {
            users,
            catalogue,
            rng,
            now_ms: start_ms,
            offered: HashMap::new(),
            event_gap_ms: 1_000,
            device: Device::Tv,
        }
    }

    /// Sets the simulated time between two events of one action (1 s by default; the live
    /// system uses 1 ms and wall-clock steps).
    pub fn set_event_gap_ms(&mut self, gap: i64) {
        self.event_gap_ms = gap.max(1);
    }

    /// The users.
    pub fn users(&self) -> &[SimUser] {
        &self.users
    }

    /// The simulated clock.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Tells the simulator which rows `user` was served; the next action of that user may be a
    /// click on one of them that matches their taste.
    pub fn offer(&mut self, user: UserId, rows: Vec<(String, Vec<TitleId>)>) {
        self.offered.insert(user, rows);
    }

    /// A random user id, for the caller that fetches served rows.
    pub fn pick_user(&mut self) -> UserId {
        self.users
            .get(self.rng.below(self.users.len()))
            .map_or(1, |u| u.id)
    }

    /// The next action of one random user, as its events in order; `step_ms` of simulated time
    /// pass before it.
    pub fn step(&mut self, step_ms: i64) -> Vec<Event> {
        self.now_ms += step_ms;
        if self.users.is_empty() {
            return Vec::new();
        }
        let i = self.rng.below(self.users.len());
        if self.rng.chance(0.02) {
            // Tastes drift: one favourite is replaced now and then.
            let g = self.rng.below(GENRES.len());
            let u = &mut self.users[i];
            if !u.favourites.contains(&g) {
                u.favourites[1] = g;
            }
        }
        let mut out = Vec::new();
        let user = self.users[i].id;
        self.device = if self.rng.chance(0.8) {
            self.users[i].device
        } else {
            DEVICES[self.rng.below(DEVICES.len())]
        };
        // Context shapes the choice: episodes on phones and tablets, films on the big screen.
        let episode_until = match self.device {
            Device::Mobile | Device::Tablet => 0.70,
            Device::Tv | Device::Console => 0.45,
            _ => 0.55,
        };
        let roll = self.rng.unit();
        if let Some(rows) = self.offered.remove(&user) {
            if self.click_offered(i, &rows, &mut out) {
                return out;
            }
        }
        if roll < 0.08 {
            self.search(i, &mut out);
        } else if roll < 0.15 {
            let e = self.ev(
                i,
                EventKind::Browse {
                    row_id: Some("trending_now".into()),
                },
            );
            out.push(e);
        } else if roll < episode_until {
            self.episode(i, &mut out);
        } else if roll < 0.92 {
            self.movie(i, &mut out);
        } else {
            self.rate(i, &mut out);
        }
        out
    }

    fn ev(&mut self, i: usize, kind: EventKind) -> Event {
        // Events of one action are a few simulated seconds apart, in order.
        self.now_ms += self.event_gap_ms;
        Event {
            schema_version: SCHEMA_VERSION,
            user_id: self.users[i].id,
            device: self.device,
            timestamp_ms: self.now_ms,
            kind,
        }
    }

    fn taste_genre(&mut self, i: usize) -> usize {
        if self.rng.chance(0.85) {
            self.users[i].favourites[self.rng.below(2)]
        } else {
            self.rng.below(GENRES.len())
        }
    }

    fn search(&mut self, i: usize, out: &mut Vec<Event>) {
        let query = match &self.users[i].last_query {
            Some(q) if self.rng.chance(0.5) => q.clone(),
            _ => format!("{} films", GENRES[self.taste_genre(i)].to_lowercase()),
        };
        self.users[i].last_query = Some(query.clone());
        let e = self.ev(i, EventKind::Search { query });
        out.push(e);
    }

    fn watch(&mut self, i: usize, title: TitleId, finish: bool, out: &mut Vec<Event>) {
        let duration_ms = 45 * 60_000;
        out.push(self.ev(i, EventKind::Play { title_id: title }));
        if finish {
            out.push(self.ev(
                i,
                EventKind::Progress {
                    title_id: title,
                    position_ms: duration_ms / 2,
                    duration_ms,
                },
            ));
            out.push(self.ev(i, EventKind::Completed { title_id: title }));
            self.users[i].finished.push(title);
        } else {
            let position_ms = 60_000 * (1 + self.rng.below(8) as u64);
            out.push(self.ev(
                i,
                EventKind::Stop {
                    title_id: title,
                    position_ms,
                },
            ));
        }
    }

    fn episode(&mut self, i: usize, out: &mut Vec<Event>) {
        let next = self.users[i]
            .binge
            .and_then(|(_, last)| self.catalogue.next_episode(last));
        let (series, ep) = match (self.users[i].binge, next) {
            (Some((s, _)), Some(n)) if self.rng.chance(0.85) => (s, n),
            _ => {
                let g = self.taste_genre(i);
                let all = series_of(g);
                let s = all[self.rng.below(all.len())];
                (s, first_episode(s))
            }
        };
        self.users[i].binge = Some((series, ep));
        self.watch(i, ep, true, out);
    }

    fn movie(&mut self, i: usize, out: &mut Vec<Event>) {
        let g = self.taste_genre(i);
        let range = movies_of(g);
        // A skewed choice: a few films of each genre are much more popular.
        let u = self.rng.unit();
        let n = (range.end - range.start) as f64;
        let title = range.start + (u * u * n) as TitleId;
        let liked = self.users[i].favourites.contains(&g);
        let finish = liked || self.rng.chance(0.3);
        self.watch(i, title, finish, out);
    }

    fn rate(&mut self, i: usize, out: &mut Vec<Event>) {
        let n = self.users[i].finished.len();
        if n == 0 {
            return self.movie(i, out);
        }
        let title = self.users[i].finished[n - 1 - self.rng.below(n.min(5))];
        let value = 3.0 + self.rng.below(5) as f32 * 0.5;
        let e = self.ev(
            i,
            EventKind::Rating {
                title_id: title,
                value,
            },
        );
        out.push(e);
    }

    /// Clicks the first offered title of a favourite genre, then watches it.
    fn click_offered(
        &mut self,
        i: usize,
        rows: &[(String, Vec<TitleId>)],
        out: &mut Vec<Event>,
    ) -> bool {
        let fav = self.users[i].favourites;
        let fav_names: Vec<&str> = fav.iter().map(|g| GENRES[*g]).collect();
        for (row, titles) in rows {
            for (pos, t) in titles.iter().enumerate() {
                let matches = self.catalogue.genres_of(*t).iter().any(|g| {
                    self.catalogue
                        .genre_name(*g)
                        .is_some_and(|n| fav_names.contains(&n))
                });
                if matches && !self.users[i].finished.contains(t) {
                    let e = self.ev(
                        i,
                        EventKind::Click {
                            title_id: *t,
                            row_id: row.clone(),
                            position: pos as u32,
                        },
                    );
                    out.push(e);
                    self.watch(i, *t, true, out);
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalogue_gen::generate;
    use super::*;

    #[test]
    fn one_seed_gives_one_stream_of_valid_events() {
        let run = |seed| {
            let mut s = Simulator::new(seed, 50, generate(seed), 1_700_000_000_000);
            (0..500).flat_map(|_| s.step(20_000)).collect::<Vec<_>>()
        };
        let a = run(3);
        assert_eq!(a, run(3));
        assert_ne!(a, run(4));
        assert!(a.len() > 500);
        let cat = generate(3);
        for e in &a {
            e.validate().unwrap();
            if let Some(t) = e.title_id() {
                assert!(cat.get(t).is_some(), "unknown title {t}");
            }
        }
        assert!(a.iter().any(|e| matches!(e.kind, EventKind::Stop { .. })));
        assert!(a.iter().any(|e| matches!(e.kind, EventKind::Search { .. })));
        assert!(a.windows(2).all(|w| w[0].timestamp_ms < w[1].timestamp_ms));
    }

    #[test]
    fn offered_rows_are_clicked_by_taste() {
        let cat = generate(1);
        let mut s = Simulator::new(1, 1, cat, 0);
        let fav = s.users()[0].favourites[0];
        let other = (0..GENRES.len())
            .find(|g| !s.users()[0].favourites.contains(g))
            .unwrap();
        let liked = movies_of(fav).start + 3;
        let cat = generate(1);
        let disliked = movies_of(other)
            .find(|t| cat.genres_of(*t).len() == 1)
            .unwrap();
        s.offer(1, vec![("top_picks".into(), vec![disliked, liked])]);
        let evs = s.step(1000);
        assert_eq!(
            evs[0].kind,
            EventKind::Click {
                title_id: liked,
                row_id: "top_picks".into(),
                position: 1
            }
        );
        assert!(
            matches!(evs.last().unwrap().kind, EventKind::Completed { title_id } if title_id == liked)
        );
    }
}
