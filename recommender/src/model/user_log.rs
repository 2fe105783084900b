//! Each user's events in event-time order. Kafka keeps a user's events of one topic in order
//! (one partition), but a user's events of different topics (a play, then its rating) may be
//! read in either order, differently live and in a replay. Folding every user's events in one
//! canonical order makes the model independent of that.

use std::collections::HashMap;

use crate::event::{Event, UserId};
use crate::topics;

/// Where a new event went in its user's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// After every event of the user: it can be folded in at once.
    Last,
    /// Before some event already folded in: the user must be folded again.
    Earlier,
}

/// The canonical order: event time, then topic (equal keys therefore come from one topic,
/// whose order the broker keeps).
fn order_key(ev: &Event) -> (i64, usize) {
    let topic = topics::topic_for(&ev.kind);
    let rank = topics::ACTIVITY_TOPICS
        .iter()
        .position(|t| *t == topic)
        .unwrap_or(usize::MAX);
    (ev.timestamp_ms, rank)
}

/// Every user's events so far, each user's in canonical order.
///
/// Thread-safety: plain data; `&mut self` to insert.
#[derive(Debug, Clone, Default)]
pub struct UserLogs {
    /// Per-user events; a HashMap used only for lookups, never iterated.
    logs: HashMap<UserId, Vec<Event>>,
}

impl UserLogs {
    /// Inserts `ev` after every event of its user whose key is not greater.
    pub fn insert(&mut self, ev: &Event) -> Placed {
        let log = self.logs.entry(ev.user_id).or_default();
        let key = order_key(ev);
        let pos = log
            .iter()
            .rposition(|e| order_key(e) <= key)
            .map_or(0, |p| p + 1);
        log.insert(pos, ev.clone());
        if pos + 1 == log.len() {
            Placed::Last
        } else {
            Placed::Earlier
        }
    }

    /// Takes a user's events out (to fold them again); give them back with [`UserLogs::put`].
    pub fn take(&mut self, user: UserId) -> Vec<Event> {
        self.logs.remove(&user).unwrap_or_default()
    }

    /// Gives back a user's events taken with [`UserLogs::take`].
    pub fn put(&mut self, user: UserId, events: Vec<Event>) {
        self.logs.insert(user, events);
    }
}
