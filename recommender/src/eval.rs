//! Offline evaluation: the prequential protocol (test-then-learn on the time-ordered stream,
//! Vinagre, Jorge & Gama 2014) and leave-last-one-out.
//!
//! The models see events through [`Model::learn`], the very path the live consumer uses; the
//! harness only adds the questions asked before each event is learned. No peeking: an event is
//! scored before anything about it (its title, time or rating) reaches the model.
//!
//! [`replay`] routes a data set's events through a Kafka broker first, so that the scored
//! stream is the one the broker delivered.

use std::collections::HashMap;

use serde::Serialize;

use crate::event::{Event, TitleId, UserId};
use crate::model::{interaction, Model};

pub mod replay;

/// List length evaluated.
pub const K: usize = 10;

/// Accumulated hit rate and NDCG over some events.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Events evaluated.
    pub events: u64,
    /// Events whose item was in the top K.
    pub hits: u64,
    /// Sum of 1 / log2(rank + 1) over hits.
    pub dcg: f64,
}

impl Tally {
    /// Records one outcome: the 1-based rank of the held item in the list, if present.
    pub fn add(&mut self, rank: Option<usize>) {
        self.events += 1;
        if let Some(r) = rank {
            self.hits += 1;
            self.dcg += 1.0 / ((r + 1) as f64).log2();
        }
    }

    /// HR@K.
    pub fn hr(&self) -> f64 {
        ratio(self.hits as f64, self.events)
    }

    /// NDCG@K (one relevant item, so the ideal DCG is 1).
    pub fn ndcg(&self) -> f64 {
        ratio(self.dcg, self.events)
    }
}

fn ratio(x: f64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        x / n as f64
    }
}

/// Result of a prequential run.
#[derive(Debug, Clone, PartialEq)]
pub struct Prequential {
    /// Over all evaluated events.
    pub all: Tally,
    /// Over the second half of them.
    pub last_half: Tally,
    /// One tally per consecutive window of `window` events (the last may be shorter).
    pub curve: Vec<Tally>,
}

/// One JSON result line.
#[derive(Debug, Clone, Serialize)]
pub struct ResultLine {
    /// Data set name.
    pub dataset: String,
    /// `prequential`, `prequential_last_half` or `leave_last_one_out`.
    pub protocol: String,
    /// Model name.
    pub model: String,
    /// HR@10.
    pub hr_at_10: f64,
    /// NDCG@10.
    pub ndcg_at_10: f64,
    /// Events evaluated.
    pub events: u64,
}

impl ResultLine {
    /// A line from a tally.
    pub fn new(dataset: &str, protocol: &str, model: &str, t: &Tally) -> ResultLine {
        ResultLine {
            dataset: dataset.to_string(),
            protocol: protocol.to_string(),
            model: model.to_string(),
            hr_at_10: t.hr(),
            ndcg_at_10: t.ndcg(),
            events: t.events,
        }
    }
}

/// 1-based rank of `title` in `list`.
fn rank_of(list: &[crate::model::Scored], title: TitleId) -> Option<usize> {
    list.iter().position(|s| s.title == title).map(|p| p + 1)
}

/// Runs the prequential protocol over `events` (already in stream order). For each interaction
/// (u, i) not seen before, asks for u's top K excluding what u already met, scores it, then
/// learns the event. Non-interaction events are learned without a question. `progress` gets the
/// number of events processed so far, now and then.
pub fn prequential(
    model: &mut dyn Model,
    events: &[Event],
    window: usize,
    progress: &mut dyn FnMut(u64),
) -> Prequential {
    let mut seen: HashMap<UserId, Vec<TitleId>> = HashMap::new();
    let mut outcomes: Vec<Option<usize>> = Vec::with_capacity(events.len());
    for (n, ev) in events.iter().enumerate() {
        if let Some((u, i)) = interaction(ev) {
            let past = seen.entry(u).or_default();
            if !past.contains(&i) {
                let list = model.recommend(u, K, past);
                outcomes.push(rank_of(&list, i));
                past.push(i);
            }
        }
        model.learn(ev);
        if n % 1000 == 999 {
            progress(n as u64 + 1);
        }
    }
    progress(events.len() as u64);
    summarise(&outcomes, window.max(1))
}

fn summarise(outcomes: &[Option<usize>], window: usize) -> Prequential {
    let mut all = Tally::default();
    let mut last_half = Tally::default();
    let half = outcomes.len() / 2;
    let mut curve = Vec::new();
    for (n, o) in outcomes.iter().enumerate() {
        all.add(*o);
        if n >= half {
            last_half.add(*o);
        }
        if n % window == 0 {
            curve.push(Tally::default());
        }
        if let Some(c) = curve.last_mut() {
            c.add(*o);
        }
    }
    Prequential {
        all,
        last_half,
        curve,
    }
}

/// Leave-last-one-out: each user's last interaction (in stream order) is held out, the model
/// learns every other event in order, then each user (ascending id) is asked for the top K over
/// the items they have not met.
pub fn leave_last_one_out(
    model: &mut dyn Model,
    events: &[Event],
    progress: &mut dyn FnMut(u64),
) -> Tally {
    let mut last: HashMap<UserId, usize> = HashMap::new();
    for (n, ev) in events.iter().enumerate() {
        if let Some((u, _)) = interaction(ev) {
            last.insert(u, n);
        }
    }
    let mut seen: HashMap<UserId, Vec<TitleId>> = HashMap::new();
    for (n, ev) in events.iter().enumerate() {
        if let Some((u, i)) = interaction(ev) {
            if last.get(&u) == Some(&n) {
                continue;
            }
            seen.entry(u).or_default().push(i);
        }
        model.learn(ev);
        if n % 1000 == 999 {
            progress(n as u64 + 1);
        }
    }
    let mut held: Vec<(UserId, usize)> = last.into_iter().collect();
    held.sort_unstable();
    let mut tally = Tally::default();
    for (u, n) in held {
        let Some((_, i)) = interaction(&events[n]) else {
            continue;
        };
        let past = seen.get(&u).map_or(&[][..], Vec::as_slice);
        let list = model.recommend(u, K, past);
        tally.add(if past.contains(&i) {
            None
        } else {
            rank_of(&list, i)
        });
    }
    progress(events.len() as u64);
    tally
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
