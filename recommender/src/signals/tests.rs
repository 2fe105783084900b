//! Signal tests; every timestamp is explicit.

use super::*;
use crate::catalogue::{Title, TitleKind};
use crate::event::{Device, EventKind, SCHEMA_VERSION};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Movies 1 (Comedy), 2 (Sci-Fi), 3 (Comedy+Romance); series 100 (Sci-Fi) with episodes
/// 101..=104 in season 1 and 201 in season 2.
fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    let comedy = c.intern_genre("Comedy");
    let scifi = c.intern_genre("Sci-Fi");
    let romance = c.intern_genre("Romance");
    let movie = |id, genres: Vec<u16>| Title {
        id,
        name: format!("movie {id}"),
        year: None,
        genres,
        kind: TitleKind::Movie,
    };
    c.insert(movie(1, vec![comedy]));
    c.insert(movie(2, vec![scifi]));
    c.insert(movie(3, vec![comedy, romance]));
    c.insert(Title {
        id: 100,
        name: "Space Saga".into(),
        year: Some(2020),
        genres: vec![scifi],
        kind: TitleKind::Series,
    });
    for (id, season, episode) in [
        (101, 1, 1),
        (102, 1, 2),
        (103, 1, 3),
        (104, 1, 4),
        (201, 2, 1),
    ] {
        c.insert(Title {
            id,
            name: format!("Space Saga S{season}E{episode}"),
            year: Some(2020),
            genres: vec![],
            kind: TitleKind::Episode {
                series_id: 100,
                season,
                episode,
            },
        });
    }
    c
}

fn ev(t: i64, device: Device, kind: EventKind) -> Event {
    Event {
        schema_version: SCHEMA_VERSION,
        user_id: 7,
        device,
        timestamp_ms: t,
        kind,
    }
}

fn feed(events: &[Event]) -> UserSignals {
    let cat = catalogue();
    let cfg = SignalConfig::default();
    let mut s = UserSignals::default();
    for e in events {
        s.update(e, &cat, &cfg);
    }
    s
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn genre_affinity_halves_every_half_life() {
    let cfg = SignalConfig::default();
    let hl = cfg.genre_half_life_ms;
    let s = feed(&[
        ev(0, Device::Tv, EventKind::Completed { title_id: 1 }),
        ev(hl, Device::Tv, EventKind::Completed { title_id: 2 }),
    ]);
    // Comedy got 1.0 at t=0, Sci-Fi 1.0 at t=hl.
    assert!(close(s.genre_affinity(0, 0, &cfg), 1.0));
    assert!(close(s.genre_affinity(0, hl, &cfg), 0.5));
    assert!(close(s.genre_affinity(0, 2 * hl, &cfg), 0.25));
    assert!(close(s.genre_affinity(1, 2 * hl, &cfg), 0.5));
    assert_eq!(s.genre_affinity(2, hl, &cfg), 0.0);
    let top: Vec<u16> = s.top_genres(hl, &cfg).into_iter().map(|(g, _)| g).collect();
    assert_eq!(top, vec![1, 0]);
}

#[test]
fn episodes_feed_their_series_genres_and_abandonment_is_negative() {
    let cfg = SignalConfig::default();
    let s = feed(&[
        ev(0, Device::Tv, EventKind::Completed { title_id: 101 }),
        ev(HOUR, Device::Tv, EventKind::Play { title_id: 3 }),
        ev(
            HOUR + 2 * MIN,
            Device::Tv,
            EventKind::Stop {
                title_id: 3,
                position_ms: 2 * MIN as u64,
            },
        ),
    ]);
    assert!(close(s.genre_affinity(1, 0, &cfg), 1.0));
    // Romance: +0.3 for the play, -0.5 for giving up two minutes later (same instant, no decay
    // worth counting at this scale).
    assert!(s.genre_affinity(2, HOUR + 2 * MIN, &cfg) < 0.0);
}

#[test]
fn abandoned_after_less_than_threshold_until_finished() {
    let s = feed(&[
        ev(0, Device::Tv, EventKind::Play { title_id: 1 }),
        ev(
            5 * MIN,
            Device::Tv,
            EventKind::Stop {
                title_id: 1,
                position_ms: 5 * MIN as u64,
            },
        ),
        ev(HOUR, Device::Tv, EventKind::Play { title_id: 2 }),
        ev(
            HOUR + 30 * MIN,
            Device::Tv,
            EventKind::Stop {
                title_id: 2,
                position_ms: 30 * MIN as u64,
            },
        ),
    ]);
    assert!(s.abandoned(1));
    assert!(!s.abandoned(2), "stopped after 30 min: not abandoned");
    assert_eq!(
        s.in_progress().iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![2]
    );
    let mut later = s.clone();
    later.update(
        &ev(DAY, Device::Tv, EventKind::Completed { title_id: 1 }),
        &catalogue(),
        &SignalConfig::default(),
    );
    assert!(!later.abandoned(1));
    assert!(later.finished(1));
}

#[test]
fn search_count_slides_over_the_last_hour() {
    let cfg = SignalConfig::default();
    let q = |t, s: &str| ev(t, Device::Mobile, EventKind::Search { query: s.into() });
    let s = feed(&[
        q(0, "romantic comedies"),
        q(10 * MIN, "Romantic  Comedies"),
        q(20 * MIN, "horror"),
        q(50 * MIN, "ROMANTIC comedies "),
    ]);
    assert_eq!(s.search_count("romantic comedies", 55 * MIN, &cfg), 3);
    // At 1h05 the search at 0 has left the window.
    assert_eq!(s.search_count("romantic comedies", 65 * MIN, &cfg), 2);
    assert_eq!(s.search_count("romantic comedies", 2 * HOUR, &cfg), 0);
    assert_eq!(s.search_count("horror", 30 * MIN, &cfg), 1);
    // Searches older than the window are dropped as new events arrive.
    let s2 = {
        let mut s2 = s.clone();
        s2.update(&q(3 * HOUR, "horror"), &catalogue(), &cfg);
        s2
    };
    assert_eq!(s2.searches.len(), 1);
}

#[test]
fn binge_counts_consecutive_distinct_episodes_within_the_gap() {
    let cfg = SignalConfig::default();
    let done = |t, id| ev(t, Device::Tv, EventKind::Completed { title_id: id });
    let s = feed(&[
        done(0, 101),
        done(45 * MIN, 102),
        ev(50 * MIN, Device::Tv, EventKind::Play { title_id: 103 }),
        done(90 * MIN, 103),
    ]);
    let b = s.binge(2 * HOUR, &cfg).unwrap();
    assert_eq!((b.series_id, b.episodes, b.last_episode), (100, 3, 103));
    assert!(
        s.binge(90 * MIN + 7 * HOUR, &cfg).is_none(),
        "streak expired after the gap"
    );
    // The next episode after a gap of more than six hours starts a new streak.
    let mut later = s.clone();
    later.update(&done(90 * MIN + 7 * HOUR, 104), &catalogue(), &cfg);
    assert_eq!(later.binge(90 * MIN + 7 * HOUR, &cfg).unwrap().episodes, 1);
    // A movie does not break or extend the streak.
    let mut movie = s.clone();
    movie.update(&done(100 * MIN, 1), &catalogue(), &cfg);
    assert_eq!(movie.binge(100 * MIN, &cfg).unwrap().episodes, 3);
}

#[test]
fn recency_device_and_time_of_day() {
    let s = feed(&[
        ev(2 * HOUR, Device::Tv, EventKind::Play { title_id: 1 }),
        ev(
            DAY + 20 * HOUR,
            Device::Mobile,
            EventKind::Play { title_id: 2 },
        ),
        ev(
            DAY + 21 * HOUR,
            Device::Mobile,
            EventKind::Play { title_id: 1 },
        ),
    ]);
    let recent: Vec<TitleId> = s.recent_titles().map(|(t, _)| t).collect();
    assert_eq!(recent, vec![1, 2], "most recent first, no duplicates");
    assert_eq!(s.last_event_ms(), Some(DAY + 21 * HOUR));
    assert_eq!(s.idle_ms(DAY + 22 * HOUR), Some(HOUR));
    assert_eq!(s.usual_device(), Some(Device::Mobile));
    assert!(close(s.day_part_share(DayPart::Evening), 2.0 / 3.0));
    assert!(close(s.day_part_share(DayPart::Night), 1.0 / 3.0));
    assert_eq!(s.day_part_share(DayPart::Morning), 0.0);
    assert_eq!(DayPart::of(6 * HOUR), DayPart::Morning);
    assert_eq!(DayPart::of(-HOUR), DayPart::Evening);
}

#[test]
fn progress_tracks_position_and_finishes_near_the_end() {
    let prog = |t, id, pos: i64| {
        ev(
            t,
            Device::Web,
            EventKind::Progress {
                title_id: id,
                position_ms: pos as u64,
                duration_ms: 100 * MIN as u64,
            },
        )
    };
    let s = feed(&[
        prog(0, 1, 40 * MIN),
        prog(MIN, 2, 10 * MIN),
        prog(2 * MIN, 2, 96 * MIN),
        ev(
            3 * MIN,
            Device::Web,
            EventKind::Rating {
                title_id: 3,
                value: 4.0,
            },
        ),
    ]);
    let ip = s.in_progress();
    assert_eq!(ip.len(), 1);
    assert_eq!((ip[0].0, ip[0].1.position_ms), (1, 40 * MIN as u64));
    assert!(s.finished(2), "96% watched counts as finished");
    assert!(s.finished(3), "a rated title counts as watched");
    assert_eq!(s.finished_titles().collect::<Vec<_>>(), vec![2, 3]);
}

#[test]
fn store_keeps_users_apart() {
    let cat = catalogue();
    let mut store = SignalStore::new(SignalConfig::default());
    let mut e = ev(0, Device::Tv, EventKind::Completed { title_id: 1 });
    store.update(&e, &cat);
    e.user_id = 8;
    e.kind = EventKind::Completed { title_id: 2 };
    store.update(&e, &cat);
    assert!(store.user(7).unwrap().finished(1));
    assert!(!store.user(7).unwrap().finished(2));
    assert!(store.user(9).is_none());
}

#[test]
fn signals_do_not_depend_on_how_topics_interleave() {
    use crate::model::replay_tests::{shuffled, stream};
    use crate::topics;
    let (cat, live) = stream();
    let fold = |events: &[Event]| {
        let mut store = SignalStore::new(SignalConfig::default());
        events.iter().for_each(|e| store.update(e, &cat));
        store
    };
    let reference = fold(&live);
    let topic_order = |events: &[Event]| -> Vec<(UserId, &'static str)> {
        events
            .iter()
            .map(|e| (e.user_id, topics::topic_for(&e.kind)))
            .collect()
    };
    let mut users_reordered = 0;
    for seed in 1..=4 {
        // Each user's events of one topic keep their order, as in one Kafka partition.
        let replay = shuffled(&live, seed, |e| (e.user_id, topics::topic_for(&e.kind)));
        let other = fold(&replay);
        for (u, sig) in reference.by_user() {
            let mine = |evs: &[Event]| -> Vec<&'static str> {
                topic_order(evs)
                    .into_iter()
                    .filter(|(x, _)| *x == u)
                    .map(|(_, t)| t)
                    .collect()
            };
            if mine(&live) != mine(&replay) {
                users_reordered += 1;
            }
            assert_eq!(
                serde_json::to_string(other.user(u).unwrap()).unwrap(),
                serde_json::to_string(sig).unwrap(),
                "signals of user {u}, seed {seed}"
            );
        }
    }
    assert!(
        users_reordered > 100,
        "the interleavings should reorder most users' topics ({users_reordered})"
    );
}
