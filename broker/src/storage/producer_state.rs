//! Idempotent producer state (KIP-98): for each producer id, its epoch and its last 5 batches, so
//! a retried batch is acknowledged with its original offsets and gaps or stale epochs are refused.
//!
//! Thread-safety: `ProducerStateManager` is a plain map with no interior locking; the owning
//! `Log` keeps it inside its append mutex. An [`AppendSession`] stages the updates of one append
//! so a request whose later batch fails leaves the state untouched.

use std::collections::HashMap;

use super::error::AppendError;

/// How many batches per producer are remembered for duplicate detection (Kafka's value).
pub const CACHED_BATCHES: usize = 5;

/// What is remembered of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchMetadata {
    /// First sequence number.
    pub first_seq: i32,
    /// Last sequence number.
    pub last_seq: i32,
    /// Offset given to the first record.
    pub first_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// The batch's max timestamp.
    pub timestamp: i64,
}

/// One producer's epoch and recent batches (a small ring, oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProducerEntry {
    /// The producer epoch last seen.
    pub epoch: i16,
    /// Ring buffer of recent batches.
    batches: [BatchMetadata; CACHED_BATCHES],
    /// Batches in the ring.
    len: usize,
    /// Index of the oldest batch.
    head: usize,
}

impl ProducerEntry {
    fn new(epoch: i16) -> Self {
        ProducerEntry {
            epoch,
            ..Default::default()
        }
    }

    fn iter(&self) -> impl Iterator<Item = &BatchMetadata> {
        (0..self.len).map(move |i| &self.batches[(self.head + i) % CACHED_BATCHES])
    }

    /// The most recent batch.
    pub fn last(&self) -> Option<&BatchMetadata> {
        self.len
            .checked_sub(1)
            .map(|i| &self.batches[(self.head + i) % CACHED_BATCHES])
    }

    fn push(&mut self, b: BatchMetadata) {
        if self.len == CACHED_BATCHES {
            self.batches[self.head] = b;
            self.head = (self.head + 1) % CACHED_BATCHES;
        } else {
            self.batches[(self.head + self.len) % CACHED_BATCHES] = b;
            self.len += 1;
        }
    }
}

/// The outcome of checking one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// A new batch: append it.
    Append,
    /// A retry of a batch already in the log, at these offsets: write nothing.
    Duplicate(BatchMetadata),
}

/// Every producer's state for one partition.
#[derive(Debug, Default)]
pub struct ProducerStateManager {
    /// Producer id → state.
    producers: HashMap<i64, ProducerEntry>,
}

/// The sequence number that follows `seq` (sequences wrap from `i32::MAX` to 0).
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

impl ProducerStateManager {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of `producer_id`, if any.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Each producer's id and the last offset of its newest batch.
    pub fn last_offsets(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.producers
            .iter()
            .filter_map(|(id, e)| e.last().map(|b| (*id, b.last_offset)))
    }

    /// Starts staging the producer updates of one append.
    pub fn session(&mut self) -> AppendSession<'_> {
        AppendSession {
            base: self,
            staged: Vec::new(),
        }
    }

    /// Replays a batch found in the log while loading: no checks, newer epochs reset the state.
    pub fn load_batch(&mut self, producer_id: i64, epoch: i16, batch: BatchMetadata) {
        if producer_id < 0 {
            return;
        }
        let e = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::new(epoch));
        if epoch != e.epoch {
            *e = ProducerEntry::new(epoch);
        }
        e.push(batch);
    }

    /// Forgets batches at or past `offset` (after the log was truncated there).
    pub fn truncate_from(&mut self, offset: i64) {
        for e in self.producers.values_mut() {
            let kept: Vec<BatchMetadata> = e
                .iter()
                .filter(|b| b.last_offset < offset)
                .copied()
                .collect();
            let epoch = e.epoch;
            *e = ProducerEntry::new(epoch);
            for b in kept {
                e.push(b);
            }
        }
        self.producers.retain(|_, e| e.len > 0);
    }
}

/// Producer updates of one append, applied by [`AppendSession::commit`].
#[derive(Debug)]
pub struct AppendSession<'a> {
    /// The committed state.
    base: &'a mut ProducerStateManager,
    /// Updated entries of this append, by producer id.
    staged: Vec<(i64, ProducerEntry)>,
}

impl AppendSession<'_> {
    fn current(&self, producer_id: i64) -> Option<ProducerEntry> {
        self.staged
            .iter()
            .rev()
            .find(|(id, _)| *id == producer_id)
            .map(|(_, e)| *e)
            .or_else(|| self.base.producers.get(&producer_id).copied())
    }

    /// Checks a batch's epoch and sequences against the state, KIP-98 style.
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<SequenceCheck, AppendError> {
        if producer_id < 0 {
            return Ok(SequenceCheck::Append);
        }
        let Some(entry) = self.current(producer_id) else {
            if first_seq != 0 {
                return Err(AppendError::UnknownProducerId(producer_id));
            }
            return Ok(SequenceCheck::Append);
        };
        if epoch < entry.epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "producer {producer_id} epoch {epoch} is older than {}",
                entry.epoch
            )));
        }
        if epoch > entry.epoch {
            if first_seq != 0 {
                return Err(AppendError::OutOfOrderSequence(format!(
                    "producer {producer_id} new epoch {epoch} starts at sequence {first_seq}, not 0"
                )));
            }
            return Ok(SequenceCheck::Append);
        }
        if let Some(dup) = entry
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        let expected = entry.last().map_or(0, |b| next_seq(b.last_seq));
        if first_seq != expected {
            return Err(AppendError::OutOfOrderSequence(format!(
                "producer {producer_id} sent sequence {first_seq}, expected {expected}"
            )));
        }
        Ok(SequenceCheck::Append)
    }

    /// Stages a batch that passed [`check`](Self::check) with `Append`.
    pub fn record(&mut self, producer_id: i64, epoch: i16, batch: BatchMetadata) {
        if producer_id < 0 {
            return;
        }
        let mut e = match self.current(producer_id) {
            Some(e) if e.epoch == epoch => e,
            _ => ProducerEntry::new(epoch),
        };
        e.push(batch);
        self.staged.push((producer_id, e));
    }

    /// Applies the staged updates.
    pub fn commit(self) {
        for (id, e) in self.staged {
            self.base.producers.insert(id, e);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMetadata {
        BatchMetadata {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + i64::from(last_seq - first_seq),
            timestamp: 0,
        }
    }

    fn append(
        m: &mut ProducerStateManager,
        pid: i64,
        epoch: i16,
        b: BatchMetadata,
    ) -> Result<SequenceCheck, AppendError> {
        let mut s = m.session();
        let r = s.check(pid, epoch, b.first_seq, b.last_seq)?;
        if r == SequenceCheck::Append {
            s.record(pid, epoch, b);
            s.commit();
        }
        Ok(r)
    }

    #[test]
    fn duplicates_of_last_five_batches_return_original_offsets() {
        let mut m = ProducerStateManager::new();
        for i in 0..7 {
            assert_eq!(
                append(&mut m, 1, 0, meta(i * 10, i * 10 + 9, i64::from(i) * 10)).unwrap(),
                SequenceCheck::Append
            );
        }
        // Batch 2 (seq 20..29) is among the last five; batch 1 is not any more.
        assert_eq!(
            append(&mut m, 1, 0, meta(20, 29, 999)).unwrap(),
            SequenceCheck::Duplicate(meta(20, 29, 20))
        );
        assert!(matches!(
            append(&mut m, 1, 0, meta(10, 19, 999)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
    }

    #[test]
    fn sequence_gaps_and_epochs() {
        let mut m = ProducerStateManager::new();
        assert!(matches!(
            append(&mut m, 7, 0, meta(5, 6, 0)),
            Err(AppendError::UnknownProducerId(7))
        ));
        append(&mut m, 7, 3, meta(0, 4, 0)).unwrap();
        assert!(matches!(
            append(&mut m, 7, 3, meta(6, 7, 5)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
        assert!(matches!(
            append(&mut m, 7, 2, meta(5, 6, 5)),
            Err(AppendError::InvalidProducerEpoch(_))
        ));
        assert!(matches!(
            append(&mut m, 7, 4, meta(5, 6, 5)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
        assert_eq!(
            append(&mut m, 7, 4, meta(0, 1, 5)).unwrap(),
            SequenceCheck::Append
        );
        assert_eq!(m.get(7).unwrap().epoch, 4);
        assert_eq!(
            append(&mut m, 7, 4, meta(2, 2, 7)).unwrap(),
            SequenceCheck::Append
        );
        // Non-idempotent producers skip every check.
        assert_eq!(
            append(&mut m, -1, -1, meta(77, 77, 8)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn sequence_wraps_around() {
        let mut m = ProducerStateManager::new();
        m.load_batch(9, 0, meta(i32::MAX - 1, i32::MAX, 100));
        assert_eq!(
            append(&mut m, 9, 0, meta(0, 3, 102)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn uncommitted_session_changes_nothing() {
        let mut m = ProducerStateManager::new();
        let mut s = m.session();
        s.record(3, 0, meta(0, 0, 0));
        assert_eq!(s.check(3, 0, 1, 1).unwrap(), SequenceCheck::Append);
        drop(s);
        assert!(m.get(3).is_none());
    }
}
