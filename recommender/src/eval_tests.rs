//! Evaluation tests on hand-made streams whose answers are worked out by hand.

use std::sync::Arc;

use super::*;
use crate::catalogue::Catalogue;
use crate::model::{build, HybridConfig, ItemKnn, MostPop};

const A: TitleId = 10;
const B: TitleId = 20;
const C: TitleId = 30;

fn stream(pairs: &[(UserId, TitleId)]) -> Vec<Event> {
    pairs
        .iter()
        .enumerate()
        .map(|(n, (u, i))| Event::rating(*u, *i, 4.0, n as i64 * 1000))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn most_pop_prequential_by_hand() {
    // e1 u1 A: nothing known, miss.       e2 u1 B: only A known and excluded, miss.
    // e3 u2 A: [A, B] (tie, A seen first), rank 1.   e4 u2 B: A excluded, [B], rank 1.
    // e5 u3 C: C unknown, miss.           e6 u3 B: [A(2), B(2), C(1)], rank 2.
    let ev = stream(&[(1, A), (1, B), (2, A), (2, B), (3, C), (3, B)]);
    let r = prequential(&mut MostPop::new(), &ev, 2, &mut |_| {});
    assert_eq!((r.all.events, r.all.hits), (6, 3));
    assert!(close(r.all.hr(), 0.5));
    assert!(close(r.all.ndcg(), (2.0 + 1.0 / 3f64.log2()) / 6.0));
    assert_eq!((r.last_half.events, r.last_half.hits), (3, 2));
    let curve: Vec<f64> = r.curve.iter().map(Tally::hr).collect();
    assert_eq!(curve, vec![0.0, 1.0, 0.5]);
}

#[test]
fn item_knn_finds_the_co_watched_item() {
    // Two users watched A then B; a third watches A: B is A's only neighbour.
    let ev = stream(&[(1, A), (1, B), (2, A), (2, B), (3, C), (3, A), (3, B)]);
    let r = prequential(&mut ItemKnn::new(50), &ev, 1, &mut |_| {});
    let hits: Vec<u64> = r.curve.iter().map(|t| t.hits).collect();
    // e4 (u2 B after A, one earlier A-B user) and e7 (u3 B after A) hit at rank 1; e6 (u3 A
    // after C) has no neighbour of C and misses.
    assert_eq!(hits, vec![0, 0, 0, 1, 0, 0, 1]);
    assert!(close(r.all.ndcg(), 2.0 / 7.0));
}

#[test]
fn leave_last_one_out_by_hand() {
    // Held out: u1 C, u2 B, u3 A. Trained: u1 A, u1 B, u2 A -> counts A 2, B 1.
    // u1 (A, B excluded): C never seen, miss. u2 (A excluded): [B], hit. u3: [A, B], hit.
    let ev = stream(&[(1, A), (1, B), (2, A), (1, C), (2, B), (3, A)]);
    let t = leave_last_one_out(&mut MostPop::new(), &ev, &mut |_| {});
    assert_eq!((t.events, t.hits), (3, 2));
    assert!(close(t.ndcg(), 2.0 / 3.0));
}

#[test]
fn repeated_interactions_are_not_scored_twice() {
    let ev = stream(&[(1, A), (2, A), (1, A)]);
    let r = prequential(&mut MostPop::new(), &ev, 10, &mut |_| {});
    assert_eq!(r.all.events, 2);
}

/// A deterministic pseudo-random stream: 60 users, 120 items with skewed popularity, items
/// grouped so that co-occurrence has something to find.
fn synthetic(n: usize) -> Vec<Event> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let u = next() % 60;
        let group = u % 6;
        let r = next() % 100;
        let item = if r < 70 {
            group * 20 + (next() % 20) * (next() % 20) / 20
        } else {
            next() % 120
        };
        pairs.push((u, item as TitleId));
    }
    stream(&pairs)
}

fn run_all(events: &[Event]) -> Vec<Prequential> {
    let cat = Arc::new(Catalogue::new());
    crate::model::MODEL_NAMES
        .iter()
        .map(|n| {
            let mut m = build(n, cat.clone(), &HybridConfig::default()).unwrap();
            prequential(m.as_mut(), events, 1, &mut |_| {})
        })
        .collect()
}

#[test]
fn runs_are_deterministic() {
    let ev = synthetic(3000);
    assert_eq!(run_all(&ev), run_all(&ev));
}

#[test]
fn no_peeking_future_events_do_not_change_past_outcomes() {
    let full = synthetic(3000);
    let mut altered = full[..1500].to_vec();
    // A different future: same users, other items.
    altered.extend(full[1500..].iter().map(|e| {
        let mut e = e.clone();
        if let crate::event::EventKind::Rating { title_id, .. } = &mut e.kind {
            *title_id = (*title_id + 7) % 120;
        }
        e
    }));
    // Scored events among the first 1500 (window 1: one curve point per scored event).
    let n = run_all(&full[..1500])[0].all.events as usize;
    let cut = |r: &Prequential| r.curve[..n].to_vec();
    for (a, b) in run_all(&full).iter().zip(run_all(&altered).iter()) {
        assert_eq!(cut(a), cut(b));
        assert_ne!(
            a.all, b.all,
            "the altered future must change later outcomes"
        );
    }
}

#[test]
fn hybrid_beats_most_pop_on_structured_data() {
    let ev = synthetic(6000);
    let r = run_all(&ev);
    let (most_pop, hybrid) = (&r[0], &r[3]);
    assert!(
        hybrid.all.hr() > most_pop.all.hr(),
        "hybrid {} vs most-pop {}",
        hybrid.all.hr(),
        most_pop.all.hr()
    );
}
