//! Item identities in first-seen order and per-user interaction histories, shared building
//! blocks of the models.

use std::collections::{HashMap, HashSet};

use crate::event::{TitleId, UserId};

/// Maps titles to dense indexes in the order they were first seen; that order is the
/// tie-break of every ranking.
#[derive(Debug, Clone, Default)]
pub struct ItemIndex {
    /// Title of each dense index.
    ids: Vec<TitleId>,
    /// Dense index of each title; a HashMap used only for lookups, never iterated.
    dense: HashMap<TitleId, u32>,
}

impl ItemIndex {
    /// Dense index of `title`, adding it if new.
    pub fn intern(&mut self, title: TitleId) -> u32 {
        let next = self.ids.len() as u32;
        let d = *self.dense.entry(title).or_insert(next);
        if d == next {
            self.ids.push(title);
        }
        d
    }

    /// Dense index of a known title.
    pub fn dense(&self, title: TitleId) -> Option<u32> {
        self.dense.get(&title).copied()
    }

    /// Title of a dense index; callers only pass indexes this index handed out.
    pub fn title(&self, dense: u32) -> TitleId {
        self.ids.get(dense as usize).copied().unwrap_or_default()
    }

    /// Number of known items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no item is known.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One user's distinct items in the order first interacted with.
#[derive(Debug, Clone, Default)]
pub struct UserHistory {
    /// Dense item indexes, oldest first.
    pub items: Vec<u32>,
    /// Time of each interaction in `items`.
    pub times: Vec<i64>,
    /// Membership of `items`.
    seen: HashSet<u32>,
}

impl UserHistory {
    /// Whether the user interacted with the item.
    pub fn contains(&self, dense: u32) -> bool {
        self.seen.contains(&dense)
    }
}

/// Items and histories of all users.
#[derive(Debug, Clone, Default)]
pub struct Histories {
    /// The item index.
    pub items: ItemIndex,
    /// Per-user histories; a HashMap iterated only into user order (see [`Histories::by_user`]).
    users: HashMap<UserId, UserHistory>,
}

impl Histories {
    /// Records that `user` interacted with `title` at `t_ms`. Returns the item's dense index
    /// and the user's history, this interaction last, or `None` for a repeat interaction
    /// (models count each user-item pair once).
    pub fn record(
        &mut self,
        user: UserId,
        title: TitleId,
        t_ms: i64,
    ) -> Option<(u32, &UserHistory)> {
        let d = self.items.intern(title);
        let h = self.users.entry(user).or_default();
        if !h.seen.insert(d) {
            return None;
        }
        h.items.push(d);
        h.times.push(t_ms);
        Some((d, h))
    }

    /// A user's history.
    pub fn user(&self, user: UserId) -> Option<&UserHistory> {
        self.users.get(&user)
    }

    /// Removes a user's history (to fold the user's events again), returning it.
    pub fn remove(&mut self, user: UserId) -> Option<UserHistory> {
        self.users.remove(&user)
    }

    /// Every user's history, users ascending (an order that does not depend on the stream's).
    pub fn by_user(&self) -> Vec<(UserId, &UserHistory)> {
        let mut all: Vec<_> = self.users.iter().map(|(u, h)| (*u, h)).collect();
        all.sort_unstable_by_key(|(u, _)| *u);
        all
    }
}
