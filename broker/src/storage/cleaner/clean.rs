//! One cleaning pass over one log: build the [`OffsetMap`] over the dirty section, then rewrite
//! the closed segments below the map's end in groups, each group into one `.cleaned` file that
//! [`Log::replace_segments`] swaps in.
//!
//! Thread-safety: runs on one cleaner thread per log at a time (the scheduler guarantees it);
//! appends and reads continue concurrently (only the closed segments are read, and the final swap
//! takes the log's append mutex briefly).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::error::StorageError;
use super::super::log::Log;
use super::super::record_batch::{BatchHeader, HEADER_LEN};
use super::super::segment::{file_stem, LogSegment};
use super::batch_filter::{delete_horizon, filter_batch, parse_records, Filtered};
use super::offset_map::OffsetMap;
use super::policy::CleaningSettings;
use super::CleanerError;

/// Limits of one pass.
#[derive(Debug, Clone, Copy)]
pub struct PassLimits {
    /// Dedupe buffer bytes for this thread.
    pub dedupe_buffer_bytes: usize,
    /// Write buffer bytes (`log.cleaner.io.buffer.size`).
    pub io_buffer_bytes: usize,
    /// Cap on one batch's decompressed size.
    pub max_decompressed_bytes: usize,
    /// Largest size of a group of segments rewritten into one (`segment.bytes`).
    pub max_segment_bytes: u64,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PassStats {
    /// The new first dirty offset (for the checkpoint).
    pub cleaned_up_to: i64,
    /// Bytes of segments read while rewriting.
    pub bytes_read: u64,
    /// Bytes written to cleaned segments.
    pub bytes_written: u64,
    /// Segments replaced.
    pub segments_replaced: usize,
}

/// Visits the whole batches of `seg` in order, with their bytes.
fn for_each_batch(
    seg: &LogSegment,
    mut f: impl FnMut(&[u8]) -> Result<bool, CleanerError>,
) -> Result<(), CleanerError> {
    let size = seg.size();
    let mut pos = 0u64;
    while let Some(loc) = seg.batch_at(pos, size)? {
        // batch_at checked the size against the file's length.
        let bytes = seg.read(loc.position, loc.size as usize)?;
        if !f(&bytes)? {
            break;
        }
        pos += loc.size;
    }
    Ok(())
}

/// Fills `map` with the latest offset of each key in `[from, until)`; returns the first offset
/// not mapped (the map filled up before it, or `until`).
fn build_map(
    segments: &[Arc<LogSegment>],
    from: i64,
    until: i64,
    map: &mut OffsetMap,
    cap: usize,
) -> Result<i64, CleanerError> {
    let mut end = from;
    for seg in segments
        .iter()
        .filter(|s| s.next_offset() > from && s.base_offset() < until)
    {
        let mut full = false;
        for_each_batch(seg, |batch| {
            let Some(h) = BatchHeader::new(batch) else {
                return Ok(false);
            };
            if h.last_offset() < from {
                return Ok(true);
            }
            if h.base_offset() >= until {
                return Ok(false);
            }
            if !h.is_control() && !h.is_transactional() {
                let codec = h.codec().ok_or(CleanerError::Corrupt("unknown codec"))?;
                let payload = super::batch_filter::decompress(codec, &batch[HEADER_LEN..], cap)?;
                for r in parse_records(&payload, h.record_count())? {
                    let offset = h.base_offset() + i64::from(r.offset_delta);
                    if offset < from || offset >= until {
                        continue;
                    }
                    if let Some((s, e)) = r.key {
                        if !map.put(&payload[s..e], offset) {
                            full = true;
                            return Ok(false);
                        }
                    }
                    end = offset + 1;
                }
            }
            end = end.max(h.last_offset() + 1).min(until);
            Ok(true)
        })?;
        if full {
            return Ok(end);
        }
    }
    Ok(until.max(from))
}

/// Splits `segments` into runs rewritten together: consecutive, at most `max_bytes` of input
/// together, and spanning at most `i32::MAX` offsets (relative offsets in the indexes).
pub fn group_segments(segments: &[Arc<LogSegment>], max_bytes: u64) -> Vec<Vec<Arc<LogSegment>>> {
    let mut groups: Vec<Vec<Arc<LogSegment>>> = Vec::new();
    let mut bytes = 0u64;
    for seg in segments {
        let fits = groups.last().is_some_and(|g| {
            let base = g[0].base_offset();
            bytes + seg.size() <= max_bytes && seg.next_offset() - 1 - base <= i64::from(i32::MAX)
        });
        if fits {
            bytes += seg.size();
            if let Some(g) = groups.last_mut() {
                g.push(seg.clone());
            }
        } else {
            bytes = seg.size();
            groups.push(vec![seg.clone()]);
        }
    }
    groups
}

/// Per-pass decisions the record filter needs.
pub(super) struct Retention<'a> {
    /// The latest offset of each key in the dirty section.
    pub(super) map: &'a OffsetMap,
    /// The pass's clock.
    pub(super) now_ms: i64,
    /// `delete.retention.ms`.
    pub(super) delete_retention_ms: i64,
    /// Producer id → last offset of its newest batch.
    pub(super) producer_last: &'a HashMap<i64, i64>,
    /// Cap on a batch's decompressed size.
    pub(super) cap: usize,
}

/// Rewrites one batch into `out`, returning the bytes written.
pub(super) fn clean_batch(
    batch: &[u8],
    r: &Retention<'_>,
    out: &mut impl Write,
) -> Result<u64, CleanerError> {
    let Some(h) = BatchHeader::new(batch) else {
        return Ok(0);
    };
    // Transaction markers and transactional batches are kept whole: this broker refuses them on
    // append, and Kafka's rules for them depend on transaction state we do not keep.
    let filtered = if h.is_control() || h.is_transactional() {
        Filtered::Unchanged
    } else {
        // KIP-534: the first pass over a tombstone stamps its batch with a delete horizon;
        // a pass after the horizon removes it.
        let drop_tombstones = delete_horizon(&h).is_some_and(|t| r.now_ms > t);
        let set_horizon = r.now_ms.saturating_add(r.delete_retention_ms);
        let base = h.base_offset();
        filter_batch(batch, r.cap, Some(set_horizon), |rec, payload| {
            let Some((s, e)) = rec.key else {
                return false;
            };
            let offset = base + i64::from(rec.offset_delta);
            let latest = r.map.get(&payload[s..e]).is_none_or(|o| offset >= o);
            latest && !(rec.tombstone && drop_tombstones)
        })?
    };
    let bytes: &[u8] = match &filtered {
        Filtered::Unchanged => batch,
        Filtered::Rewritten(b) => b,
        // The newest batch of a producer is kept whole: its sequence numbers are what a restart
        // rebuilds the producer's state from (Kafka keeps an empty batch header instead).
        Filtered::Empty if r.producer_last.get(&h.producer_id()) == Some(&h.last_offset()) => batch,
        Filtered::Empty => return Ok(0),
    };
    out.write_all(bytes)?;
    Ok(bytes.len() as u64)
}

fn io_err(op: &'static str, path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the cleaned version of `group` to `<base>.log.cleaned`, fsynced; returns its path and
/// the bytes read and written.
fn write_cleaned(
    dir: &Path,
    group: &[Arc<LogSegment>],
    r: &Retention<'_>,
    io_buffer: usize,
) -> Result<(PathBuf, u64, u64), CleanerError> {
    let base = group.first().map_or(0, |s| s.base_offset());
    let path = dir.join(format!("{}.log.cleaned", file_stem(base)));
    let file = File::create(&path).map_err(|e| io_err("create", &path, e))?;
    let mut out = BufWriter::with_capacity(io_buffer.max(4096), file);
    let (mut read, mut written) = (0u64, 0u64);
    let write_all = || -> Result<(), CleanerError> {
        for seg in group {
            read += seg.size();
            for_each_batch(seg, |batch| {
                written += clean_batch(batch, r, &mut out)?;
                Ok(true)
            })?;
        }
        let file = out
            .into_inner()
            .map_err(|e| io_err("write", &path, e.into_error()))?;
        file.sync_all().map_err(|e| io_err("fsync", &path, e))?;
        Ok(())
    };
    if let Err(e) = write_all() {
        // Never leave a half-written file behind (recovery would also remove it).
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok((path, read, written))
}

/// One pass over `log`: compacts the closed segments below `until` (the first uncleanable
/// offset) using the keys of `[first_dirty, until)`.
pub fn clean_log(
    log: &Log,
    first_dirty: i64,
    until: i64,
    settings: &CleaningSettings,
    limits: &PassLimits,
    now_ms: i64,
) -> Result<PassStats, CleanerError> {
    clean_log_until_stopped(log, first_dirty, until, settings, limits, now_ms, &|| false)
}

/// [`clean_log`] that checks `stop` between groups (broker shutdown); a stopped pass keeps the
/// groups already swapped and leaves the checkpoint where it was (re-cleaning is harmless).
pub fn clean_log_until_stopped(
    log: &Log,
    first_dirty: i64,
    until: i64,
    settings: &CleaningSettings,
    limits: &PassLimits,
    now_ms: i64,
    stop: &dyn Fn() -> bool,
) -> Result<PassStats, CleanerError> {
    let closed = log.closed_segments();
    let mut map = OffsetMap::new(limits.dedupe_buffer_bytes);
    let cap = limits.max_decompressed_bytes;
    let end = build_map(&closed, first_dirty, until, &mut map, cap)?;
    let mut stats = PassStats {
        cleaned_up_to: end,
        ..Default::default()
    };
    if end <= first_dirty {
        return Ok(stats);
    }
    let producer_last = log.producer_last_offsets();
    let retention = Retention {
        map: &map,
        now_ms,
        delete_retention_ms: settings.delete_retention_ms,
        producer_last: &producer_last,
        cap,
    };
    let to_clean: Vec<_> = closed
        .into_iter()
        .filter(|s| s.base_offset() < end)
        .collect();
    let dir = log.dir();
    for group in group_segments(&to_clean, limits.max_segment_bytes) {
        if stop() {
            stats.cleaned_up_to = first_dirty;
            return Ok(stats);
        }
        let base = group[0].base_offset();
        let (path, read, written) =
            write_cleaned(&dir, &group, &retention, limits.io_buffer_bytes)?;
        if !log.replace_segments(&path, base, &group)? {
            // The log changed under us (retention, truncation, deletion): stop this pass.
            stats.cleaned_up_to = first_dirty;
            return Ok(stats);
        }
        stats.bytes_read += read;
        stats.bytes_written += written;
        stats.segments_replaced += group.len();
    }
    Ok(stats)
}
