//! `Hybrid`: the model the server uses. It blends, per user,
//! - session co-occurrence: items that other users met close (in their own sequence) to the
//!   items this user met most recently, the recent ones weighing more;
//! - recency-decayed popularity ("what is being watched now");
//! - the user's decayed genre affinity from the real-time signals.
//!
//! Beside them it counts what is watched in which context (device × part of the day,
//! [`ContextStats`]), which the row builder uses to re-rank for the viewer's current context.
//!
//! Each part is scaled to a maximum of 1 for the user before blending, so the weights are
//! comparable across users and over time.
//!
//! Replay equals live: every cross-user aggregate is an exact sum (integer counts, fixed-point
//! pair weights, [`DecayedPop`]'s fixed time grid), the signals do not depend on arrival order,
//! each user's interactions are folded in one canonical order (see [`UserLogs`]; a user's
//! interactions are folded again when one from another topic arrives late), and rankings break
//! ties by title id. The model is therefore a function of
//! the events, whatever the interleaving of users, partitions and topics, as long as each
//! user's events of one topic keep their order. [`Hybrid::snapshot`] is the canonical state.

use std::sync::Arc;

use serde::Deserialize;

use super::{
    interaction, order_key, CoCounts, Context, ContextStats, DecayedPop, Histories, HybridSnapshot,
    ItemIndex, Model, Placed, Scored, UserLogs,
};
use crate::catalogue::Catalogue;
use crate::event::{Event, TitleId, UserId};
use crate::signals::{SignalConfig, SignalStore, UserSignals};

/// Tunables of [`Hybrid`]. The defaults come from a one-parameter-at-a-time search with the
/// prequential protocol on ml-100k and ml-latest-small (no separate validation split: the
/// reported figures are tuned-on figures). A target exponent below the source's favours
/// popular neighbours a little, which mattered most on ml-latest-small.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HybridConfig {
    /// How many preceding items of a user's sequence pair with each new item.
    pub window: usize,
    /// Pair weight multiplier per step of distance in the sequence (1 = flat window).
    pub window_decay: f32,
    /// How many of the user's latest items vote for candidates.
    pub recent: usize,
    /// Vote weight multiplier per step back in the user's history.
    pub recent_decay: f32,
    /// Exponent of the voting item's count in the similarity denominator.
    pub alpha_source: f32,
    /// Exponent of the candidate's count in the similarity denominator.
    pub alpha_target: f32,
    /// Weight of session co-occurrence.
    pub w_cooc: f32,
    /// Weight of decayed popularity.
    pub w_pop: f32,
    /// Weight of genre affinity.
    pub w_genre: f32,
    /// Half-life of popularity.
    pub pop_half_life_ms: i64,
}

impl Default for HybridConfig {
    fn default() -> Self {
        HybridConfig {
            window: 50,
            window_decay: 0.9,
            recent: 20,
            recent_decay: 0.8,
            alpha_source: 0.5,
            alpha_target: 0.4,
            w_cooc: 1.0,
            w_pop: 0.2,
            w_genre: 0.1,
            pop_half_life_ms: 10 * 86_400_000,
        }
    }
}

/// The production model; see the module documentation.
#[derive(Debug, Clone)]
pub struct Hybrid {
    /// Tunables.
    cfg: HybridConfig,
    /// Titles, for genres.
    catalogue: Arc<Catalogue>,
    /// Items and histories.
    hist: Histories,
    /// Windowed sequence co-occurrence.
    co: CoCounts,
    /// Distinct users per item.
    counts: Vec<u32>,
    /// Genres per dense item, copied from the catalogue when the item is first seen so that
    /// scoring does not search the catalogue for every candidate.
    item_genres: Vec<Vec<u16>>,
    /// Popularity part (its own item index: same stream, so the same order).
    pop: DecayedPop,
    /// Per-user real-time signals.
    signals: SignalStore,
    /// Interactions per context and title feature.
    context: ContextStats,
    /// Every user's first interaction per title in canonical order, to fold a user's
    /// interactions again when one arrives late.
    logs: UserLogs,
    /// Latest event time learned: the model's clock.
    now_ms: i64,
}

impl Hybrid {
    /// An empty model.
    pub fn new(catalogue: Arc<Catalogue>, cfg: HybridConfig, signal_cfg: SignalConfig) -> Hybrid {
        Hybrid {
            pop: DecayedPop::new(cfg.pop_half_life_ms),
            cfg,
            catalogue,
            hist: Histories::default(),
            co: CoCounts::default(),
            counts: Vec::new(),
            item_genres: Vec::new(),
            signals: SignalStore::new(signal_cfg),
            context: ContextStats::default(),
            logs: UserLogs::default(),
            now_ms: 0,
        }
    }

    /// The signals store fed by this model.
    pub fn signals(&self) -> &SignalStore {
        &self.signals
    }

    /// One user's signals.
    pub fn user_signals(&self, user: UserId) -> Option<&UserSignals> {
        self.signals.user(user)
    }

    /// How much more likely `title` is watched in `ctx` than overall (1 = no difference).
    pub fn context_lift(&self, title: TitleId, ctx: Context) -> f64 {
        self.context.lift(title, ctx, &self.catalogue)
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The latest event time learned.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The canonical state: equal (and equal once serialised) for two models that learned the
    /// same events with each user's in the same order, however users were interleaved.
    pub fn snapshot(&self) -> HybridSnapshot {
        HybridSnapshot::of(
            &self.hist,
            &self.co,
            &self.counts,
            &self.pop,
            &self.signals,
            self.now_ms,
        )
    }

    /// Similarity of i to j as the model uses it (asymmetric when the exponents differ), from
    /// their fixed-point pair weight and their counts.
    fn sim(&self, c: u64, ni: u32, nj: u32) -> f32 {
        let c = (c as f64 / PAIR_ONE) as f32;
        c / ((ni as f32).powf(self.cfg.alpha_source) * (nj as f32).powf(self.cfg.alpha_target))
    }

    /// The `k` best of `scores` (by dense index) as titles, ties to the lower title id.
    fn best(&self, scores: &[f32], k: usize) -> Vec<(TitleId, f32)> {
        let items = &self.hist.items;
        super::top_k_by(scores, k, |d| u64::from(items.title(d)))
            .into_iter()
            .map(|(d, s)| (items.title(d), s))
            .collect()
    }

    /// The model's similarity of `a` to `b`, `None` if either is unknown.
    pub fn similarity(&self, a: TitleId, b: TitleId) -> Option<f32> {
        let i = self.hist.items.dense(a)?;
        let j = self.hist.items.dense(b)?;
        let c = self.co.get(i, j);
        Some(self.sim(c, self.counts[i as usize], self.counts[j as usize]))
    }

    /// Titles most similar to `title`, best first, without `exclude` ("Because You Watched").
    pub fn similar(&self, title: TitleId, k: usize, exclude: &[TitleId]) -> Vec<(TitleId, f32)> {
        let Some(i) = self.hist.items.dense(title) else {
            return Vec::new();
        };
        let mut out = vec![f32::NEG_INFINITY; self.hist.items.len()];
        let (nbrs, w) = self.co.row(i);
        let ni = self.counts[i as usize];
        for (&j, &c) in nbrs.iter().zip(w) {
            out[j as usize] = self.sim(c, ni, self.counts[j as usize]);
        }
        self.finish(out, k, exclude)
    }

    /// The titles trending now, best first, without `exclude`.
    pub fn trending(&self, k: usize, exclude: &[TitleId]) -> Vec<(TitleId, f32)> {
        let mut out = vec![f32::NEG_INFINITY; self.hist.items.len()];
        self.pop.current(&mut out);
        self.finish(out, k, exclude)
    }

    fn finish(&self, mut out: Vec<f32>, k: usize, exclude: &[TitleId]) -> Vec<(TitleId, f32)> {
        for t in exclude {
            if let Some(d) = self.hist.items.dense(*t) {
                out[d as usize] = f32::NEG_INFINITY;
            }
        }
        self.best(&out, k)
    }

    /// Folds in a user's first interaction with a title, every earlier one already folded in.
    fn apply(&mut self, user: UserId, title: TitleId, t_ms: i64) {
        self.pop.learn_interaction(user, title, t_ms);
        let Some((d, h)) = self.hist.record(user, title, t_ms) else {
            return;
        };
        let prior = &h.items[..h.items.len() - 1];
        for (j, w) in window_pairs(prior, self.cfg.window, self.cfg.window_decay) {
            self.co.add(d, j, w);
        }
        if self.counts.len() <= d as usize {
            self.counts.resize(d as usize + 1, 0);
            let genres = self.catalogue.genres_of(title).to_vec();
            self.item_genres.resize(d as usize + 1, Vec::new());
            self.item_genres[d as usize] = genres;
        }
        self.counts[d as usize] = self.counts[d as usize].saturating_add(1);
    }

    /// Takes back everything `user`'s interactions contributed, then folds them again in
    /// canonical order. Sums are integers, so taking back is exact.
    fn refold(&mut self, user: UserId) {
        self.pop.forget(user);
        if let Some(h) = self.hist.remove(user) {
            for (p, &d) in h.items.iter().enumerate() {
                for (j, w) in window_pairs(&h.items[..p], self.cfg.window, self.cfg.window_decay) {
                    self.co.sub(d, j, w);
                }
                if let Some(c) = self.counts.get_mut(d as usize) {
                    *c = c.saturating_sub(1);
                }
            }
        }
        let sequence = self.logs.sequence(user).to_vec();
        for ((t, _), title) in sequence {
            self.apply(user, title, t);
        }
    }

    fn cooc_part(&self, user: UserId, out: &mut [f32]) {
        let Some(h) = self.hist.user(user) else {
            return;
        };
        let mut vote = 1.0f32;
        for &i in h.items.iter().rev().take(self.cfg.recent) {
            let (nbrs, w) = self.co.row(i);
            let ni = self.counts[i as usize];
            for (&j, &c) in nbrs.iter().zip(w) {
                out[j as usize] += vote * self.sim(c, ni, self.counts[j as usize]);
            }
            vote *= self.cfg.recent_decay;
        }
    }

    fn genre_part(&self, user: UserId, out: &mut [f32]) {
        let Some(sig) = self.signals.user(user) else {
            return;
        };
        let cfg = &self.signals.config;
        let aff: Vec<f64> = (0..self.catalogue.genre_count())
            .map(|g| sig.genre_affinity(g as u16, self.now_ms, cfg).max(0.0))
            .collect();
        for (o, genres) in out.iter_mut().zip(&self.item_genres) {
            if genres.is_empty() {
                continue;
            }
            let sum: f64 = genres
                .iter()
                .map(|g| aff.get(usize::from(*g)).copied().unwrap_or(0.0))
                .sum();
            *o = (sum / (genres.len() as f64).sqrt()) as f32;
        }
    }
}

/// Fixed-point scale of pair weights: exact integer sums make the co-occurrence matrix
/// independent of the order in which users' pairs arrive; 2^-24 is below f32 resolution.
const PAIR_ONE: f64 = 16_777_216.0;

/// A pair weight in fixed point (a negative weight counts as zero).
fn pair_units(w: f32) -> u64 {
    // Saturating float-to-int cast: negative and NaN give 0, huge gives u64::MAX.
    (f64::from(w) * PAIR_ONE).round() as u64
}

/// The items a new item pairs with (the last `window` of `prior`, latest first) and the pair
/// weights in fixed point, `decay` times smaller per step back.
fn window_pairs(prior: &[u32], window: usize, decay: f32) -> impl Iterator<Item = (u32, u64)> + '_ {
    prior.iter().rev().take(window).scan(1.0f32, move |w, &j| {
        let units = pair_units(*w);
        *w *= decay;
        Some((j, units))
    })
}

/// Adds `w * part / max(part)` into `acc` (nothing if the part is all zero).
fn blend(acc: &mut [f32], part: &[f32], w: f32) {
    let max = part.iter().copied().fold(0.0f32, f32::max);
    if max <= 0.0 || w == 0.0 {
        return;
    }
    let k = w / max;
    for (a, p) in acc.iter_mut().zip(part) {
        *a += k * p;
    }
}

impl Model for Hybrid {
    fn name(&self) -> &str {
        "Hybrid"
    }

    /// Folds `ev` in; an interaction that belongs before some of its user's interactions
    /// already folded in (another topic read in another order) makes the user's interactions
    /// fold again in canonical order.
    fn learn(&mut self, ev: &Event) {
        self.now_ms = self.now_ms.max(ev.timestamp_ms);
        self.signals.update(ev, &self.catalogue);
        let Some((user, title)) = interaction(ev) else {
            return;
        };
        let ctx = Context::at(ev.device, ev.timestamp_ms);
        self.context.learn(title, ctx, &self.catalogue);
        match self.logs.insert(user, title, order_key(ev)) {
            Placed::Last => self.apply(user, title, ev.timestamp_ms),
            Placed::Repeat => {}
            Placed::Earlier => self.refold(user),
        }
    }

    fn items(&self) -> &ItemIndex {
        &self.hist.items
    }

    /// As the trait's, but ties go to the lower title id: first-seen order differs between a
    /// live run and a replay.
    fn recommend(&self, user: UserId, k: usize, exclude: &[TitleId]) -> Vec<Scored> {
        let mut scores = vec![f32::NEG_INFINITY; self.hist.items.len()];
        self.score(user, &mut scores);
        self.finish(scores, k, exclude)
            .into_iter()
            .map(|(title, score)| Scored { title, score })
            .collect()
    }

    fn score(&self, user: UserId, out: &mut [f32]) {
        let n = out.len();
        out.fill(0.0);
        let mut part = vec![0.0f32; n];
        self.cooc_part(user, &mut part);
        blend(out, &part, self.cfg.w_cooc);
        part.fill(0.0);
        self.pop.current(&mut part);
        blend(out, &part, self.cfg.w_pop);
        part.fill(0.0);
        self.genre_part(user, &mut part);
        blend(out, &part, self.cfg.w_genre);
    }
}
