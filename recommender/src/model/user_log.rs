//! Each user's first interaction with each title, in event-time order. Kafka keeps a user's
//! events of one topic in order (one partition), but a user's events of different topics (a
//! play, then its rating) may be read in either order, differently live and in a replay. The
//! parts of the model that depend on a user's sequence (co-occurrence windows, the time an
//! item counts from) are folded from this canonical sequence, so they do not depend on that.
//!
//! Only what the sequence needs is kept: one entry per (user, title), not every event.

use std::collections::HashMap;

use crate::event::{Event, TitleId, UserId};
use crate::topics;

/// Where a new interaction went in its user's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// A new title after every other: it can be folded in at once.
    Last,
    /// A title the sequence already has at an earlier or equal place: nothing changes.
    Repeat,
    /// Before some interaction already folded in: the user must be folded again.
    Earlier,
}

/// The canonical order: event time, then topic (equal keys therefore come from one topic,
/// whose order the broker keeps).
pub type OrderKey = (i64, u8);

/// The canonical key of `ev`.
pub fn order_key(ev: &Event) -> OrderKey {
    let topic = topics::topic_for(&ev.kind);
    let rank = topics::ACTIVITY_TOPICS
        .iter()
        .position(|t| *t == topic)
        .unwrap_or(topics::ACTIVITY_TOPICS.len());
    (ev.timestamp_ms, rank as u8)
}

/// Every user's distinct titles, each at its first interaction, in canonical order.
///
/// Thread-safety: plain data; `&mut self` to insert.
#[derive(Debug, Clone, Default)]
pub struct UserLogs {
    /// Per-user sequences; a HashMap used only for lookups, never iterated.
    logs: HashMap<UserId, Vec<(OrderKey, TitleId)>>,
}

impl UserLogs {
    /// Records that `user` interacted with `title` at `key`.
    pub fn insert(&mut self, user: UserId, title: TitleId, key: OrderKey) -> Placed {
        let log = self.logs.entry(user).or_default();
        let mut moved = false;
        if let Some(p) = log.iter().position(|(_, t)| *t == title) {
            if log[p].0 <= key {
                return Placed::Repeat;
            }
            // Folded in already at a later key: its time changes, so the user folds again even
            // if it stays last.
            log.remove(p);
            moved = true;
        }
        let pos = log.partition_point(|(k, _)| *k <= key);
        log.insert(pos, (key, title));
        if pos + 1 == log.len() && !moved {
            Placed::Last
        } else {
            Placed::Earlier
        }
    }

    /// A user's sequence, oldest first.
    pub fn sequence(&self, user: UserId) -> &[(OrderKey, TitleId)] {
        self.logs.get(&user).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_title_once_at_its_earliest_key() {
        let mut l = UserLogs::default();
        assert_eq!(l.insert(1, 10, (100, 0)), Placed::Last);
        assert_eq!(l.insert(1, 11, (200, 0)), Placed::Last);
        assert_eq!(l.insert(1, 10, (300, 0)), Placed::Repeat);
        assert_eq!(l.insert(1, 12, (150, 3)), Placed::Earlier);
        assert_eq!(l.insert(1, 11, (50, 3)), Placed::Earlier);
        assert_eq!(
            l.insert(1, 12, (120, 0)),
            Placed::Earlier,
            "moved, though still last"
        );
        let titles: Vec<TitleId> = l.sequence(1).iter().map(|(_, t)| *t).collect();
        assert_eq!(titles, vec![11, 10, 12]);
        assert!(l.sequence(2).is_empty());
    }
}
