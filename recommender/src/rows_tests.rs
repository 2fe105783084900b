//! Row-building tests on a small hand-made catalogue and stream.

use std::sync::Arc;

use super::*;
use crate::catalogue::{Catalogue, Title, TitleKind};
use crate::event::{Device, Event, EventKind, SCHEMA_VERSION};
use crate::model::HybridConfig;
use crate::signals::SignalConfig;

const MIN: i64 = 60_000;

/// Movies 1..=9 (1-4 Comedy, 5-9 Drama), series 100 with episodes 101..=104.
fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    let comedy = c.intern_genre("Comedy");
    let drama = c.intern_genre("Drama");
    for id in 1..=9 {
        c.insert(Title {
            id,
            name: format!("Movie {id}"),
            year: None,
            genres: vec![if id <= 4 { comedy } else { drama }],
            kind: TitleKind::Movie,
        });
    }
    c.insert(Title {
        id: 100,
        name: "Saga".into(),
        year: None,
        genres: vec![drama],
        kind: TitleKind::Series,
    });
    for e in 1..=4u16 {
        c.insert(Title {
            id: 100 + TitleId::from(e),
            name: format!("Saga E{e}"),
            year: None,
            genres: vec![],
            kind: TitleKind::Episode {
                series_id: 100,
                season: 1,
                episode: e,
            },
        });
    }
    c
}

fn ev(user: UserId, t: i64, kind: EventKind) -> Event {
    Event {
        schema_version: SCHEMA_VERSION,
        user_id: user,
        device: Device::Tv,
        timestamp_ms: t,
        kind,
    }
}

fn done(user: UserId, t: i64, id: TitleId) -> Event {
    ev(user, t, EventKind::Completed { title_id: id })
}

fn model() -> Hybrid {
    let mut m = Hybrid::new(
        Arc::new(catalogue()),
        HybridConfig::default(),
        SignalConfig::default(),
    );
    let mut t = 0;
    // Other users: 1 goes with 2 and 3 (then 5), and with 4 and 9.
    for u in 10..25 {
        let seq: &[TitleId] = if u < 20 { &[1, 2, 3, 5] } else { &[1, 4, 9] };
        for &id in seq {
            t += MIN;
            m.learn(&done(u, t, id));
        }
    }
    // User 7: watched 1, binged three episodes, started 6, gave up on 8.
    for e in [
        done(7, t + MIN, 101),
        done(7, t + 40 * MIN, 102),
        done(7, t + 80 * MIN, 103),
        ev(7, t + 90 * MIN, EventKind::Play { title_id: 6 }),
        ev(
            7,
            t + 100 * MIN,
            EventKind::Progress {
                title_id: 6,
                position_ms: 20 * 60_000,
                duration_ms: 90 * 60_000,
            },
        ),
        ev(7, t + 101 * MIN, EventKind::Play { title_id: 8 }),
        ev(
            7,
            t + 103 * MIN,
            EventKind::Stop {
                title_id: 8,
                position_ms: 2 * 60_000,
            },
        ),
        done(7, t + 110 * MIN, 1),
    ] {
        m.learn(&e);
    }
    m
}

#[test]
fn rows_with_reasons_and_exclusions() {
    let m = model();
    let cfg = RowConfig {
        per_row: 2,
        ..RowConfig::default()
    };
    let rows = build_rows(&m, 7, &cfg);
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[0], "continue_watching");
    let cw = &rows[0].items;
    assert_eq!(cw[0].title_id, 104, "next episode of the binge first");
    assert!(cw[0].reason.contains("3 of Saga"), "{}", cw[0].reason);
    assert_eq!(cw[1].title_id, 6);
    assert_eq!(cw[1].reason, "You stopped at 20 of 90 min");

    let because = rows.iter().find(|r| r.id == "because_1").unwrap();
    assert_eq!(because.heading, "Because You Watched Movie 1");
    let because_ids: Vec<TitleId> = because.items.iter().map(|i| i.title_id).collect();
    assert_eq!(because_ids.len(), 2);
    assert!(
        because_ids.iter().all(|t| [2, 3, 4, 5, 9].contains(t)),
        "{because_ids:?}"
    );
    assert!(rows.iter().any(|r| r.id == "trending_now"));

    let all: Vec<TitleId> = rows
        .iter()
        .flat_map(|r| r.items.iter().map(|i| i.title_id))
        .collect();
    for finished in [1, 101, 102, 103] {
        assert!(!all.contains(&finished), "finished title {finished} shown");
    }
    assert!(!all.contains(&8), "abandoned title shown");
    let mut dedup = all.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), all.len(), "a title appears twice: {all:?}");

    // Movies 2, 3 and 5 follow 1 in ten histories; the picks come from them, explained by it.
    let top = rows.iter().find(|r| r.id == "top_picks").unwrap();
    let top_ids: Vec<TitleId> = top.items.iter().map(|i| i.title_id).collect();
    assert_eq!(top_ids.len(), 2);
    assert!(top_ids.iter().all(|t| [2, 3, 5].contains(t)), "{top_ids:?}");
    assert!(top
        .items
        .iter()
        .all(|i| i.reason == "Because you watched Movie 1"));
    assert!(rows.iter().all(|r| !r.items.is_empty()));
}

#[test]
fn cold_user_gets_trending_only() {
    let m = model();
    let rows = build_rows(&m, 999, &RowConfig::default());
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["trending_now"],
        "no personal rows without history"
    );
    assert_eq!(rows[0].items[0].reason, "#1 in trending right now");
    assert_eq!(rows[0].items.len(), 10, "a full row");
    assert_eq!(
        build_rows(&m, 999, &RowConfig::default()),
        rows,
        "deterministic"
    );
}

#[test]
fn top_picks_follow_the_viewers_context() {
    // Everyone watches the films on TV and the episodes on the phone.
    let on = |device: Device, mut e: Event| {
        e.device = device;
        e
    };
    let mut m = Hybrid::new(
        Arc::new(catalogue()),
        HybridConfig::default(),
        SignalConfig::default(),
    );
    for (n, u) in (1..=30).enumerate() {
        let t = n as i64 * 10 * MIN;
        m.learn(&on(Device::Tv, done(u, t, 5)));
        m.learn(&on(Device::Tv, done(u, t + MIN, 6)));
        m.learn(&on(Device::Mobile, done(u, t + 2 * MIN, 101)));
        m.learn(&on(Device::Mobile, done(u, t + 3 * MIN, 102)));
    }
    m.learn(&on(Device::Tv, done(500, 400 * MIN, 5)));
    let cfg = RowConfig::default();
    let first_pick = |ctx: Option<Context>| {
        let rows = match ctx {
            Some(ctx) => build_rows_in(&m, 500, &cfg, ctx),
            None => build_rows(&m, 500, &cfg),
        };
        let top = rows.iter().find(|r| r.id == "top_picks").unwrap();
        (top.items[0].title_id, top.items[0].reason.clone())
    };
    let evening = 20 * 60 * MIN;
    let (tv_pick, _) = first_pick(Some(Context::at(Device::Tv, evening)));
    let (phone_pick, reason) = first_pick(Some(Context::at(Device::Mobile, evening)));
    assert_eq!(tv_pick, 6, "the next film on TV");
    assert_eq!(phone_pick, 101, "the episode on the phone");
    assert_eq!(reason, "Because you watched Movie 5");
    // Without a context, the user's usual device (TV) decides.
    assert_eq!(first_pick(None).0, 6);
    let flat = RowConfig {
        context_weight: 0.0,
        ..RowConfig::default()
    };
    let rows = build_rows_in(&m, 500, &flat, Context::at(Device::Mobile, evening));
    let top = rows.iter().find(|r| r.id == "top_picks").unwrap();
    assert_eq!(top.items[0].title_id, 6, "weight 0 ignores the context");
}
