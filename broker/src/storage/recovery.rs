//! Opening a partition directory, after a clean or an unclean shutdown.
//!
//! The steps, in order:
//!
//! 1. Create the directory if it is missing.
//! 2. Finish or discard interrupted cleaner swaps. A `<base>.log.swap` is complete (the cleaner
//!    renames its fsynced `.cleaned` file to `.swap` as its commit point), so the swap is
//!    finished: the regular segments whose base offsets fall in `[base, the swap's next
//!    offset)` are deleted with their indexes, and the swap file becomes `<base>.log` (its
//!    indexes are rebuilt in step 6). Any other leftover of an interrupted file operation
//!    (`*.cleaned`, index `*.swap`, `*.deleted`) is deleted: the old segments are still whole.
//! 3. List the segments (`<20 digits>.log`), sorted by base offset; remove index files whose
//!    `.log` is gone.
//! 4. Choose where recovery starts: after a clean shutdown nowhere; otherwise at the segment
//!    containing the recovery point (point 0 = the first segment), and every later segment.
//! 5. Walk every segment's batch headers in order (needed anyway to rebuild the producer state and
//!    find the log end offset). In a recovering segment each batch is also read whole and
//!    CRC-checked. The first invalid, torn, or out-of-order batch ends the log: the `.log` file is
//!    truncated there and every later segment is deleted. A partial batch is never kept.
//! 6. Rebuild a segment's indexes when it was recovered, or when an index file is missing, has a
//!    length that is not a whole number of entries, has entries that do not increase, or points
//!    past the log.
//! 7. Find the exact offset of the largest timestamp (one batch is read), preallocate the last
//!    segment's indexes (it is the active one) and trim the others.
//!
//! Thread-safety: runs before the `Log` is shared; nothing here is called concurrently.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::error::StorageError;
use super::log::LogConfig;
use super::producer_state::{BatchMetadata, ProducerStateManager};
use super::record_batch::{batch_stats, check_header, BatchHeader};
use super::segment::{file_stem, BatchLocation, LogSegment};

/// What loading a partition directory produced.
#[derive(Debug)]
pub struct LoadedLog {
    /// The segments by base offset; the last one is active.
    pub segments: BTreeMap<i64, Arc<LogSegment>>,
    /// The offset the next record will get.
    pub log_end_offset: i64,
    /// Producer state rebuilt from the batch headers.
    pub producers: ProducerStateManager,
    /// (offset, timestamp) of the record with the largest timestamp.
    pub max_timestamp: Option<(i64, i64)>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Runs steps 1–7 on `dir`.
pub fn load(
    dir: &Path,
    config: &LogConfig,
    clean_shutdown: bool,
    recovery_point: i64,
) -> Result<LoadedLog, StorageError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    complete_swaps(dir)?;
    let bases = list_segments(dir)?;
    let recover_from = if clean_shutdown {
        None
    } else {
        Some(
            bases
                .iter()
                .rev()
                .find(|b| **b <= recovery_point)
                .copied()
                .unwrap_or(i64::MIN),
        )
    };
    let mut out = LoadedLog {
        segments: BTreeMap::new(),
        log_end_offset: 0,
        producers: ProducerStateManager::new(),
        max_timestamp: None,
    };
    let mut max_ts: Option<(i64, Arc<LogSegment>, BatchLocation)> = None;
    let mut truncated = false;
    for base in bases {
        if truncated {
            delete_segment_files(dir, base)?;
            continue;
        }
        let (seg, aligned) = LogSegment::open(dir, base, config)?;
        let seg = Arc::new(seg);
        let recover = recover_from.is_some_and(|from| base >= from);
        let scan = scan_segment(&seg, out.log_end_offset, recover, &mut out.producers)?;
        truncated = scan.truncated;
        if recover || !aligned || !indexes_sane(&seg) {
            rebuild_indexes(&seg, config)?;
        }
        if let Some((ts, loc)) = scan.max {
            if max_ts.as_ref().is_none_or(|(t, _, _)| ts > *t) {
                max_ts = Some((ts, seg.clone(), loc));
            }
        }
        out.log_end_offset = seg.next_offset();
        out.segments.insert(base, seg);
    }
    if out.segments.is_empty() {
        let (seg, _) = LogSegment::open(dir, 0, config)?;
        out.segments.insert(0, Arc::new(seg));
    }
    if let Some((ts, seg, loc)) = max_ts {
        out.max_timestamp = Some((
            exact_offset_of_max(&seg, &loc, config).unwrap_or(loc.last_offset),
            ts,
        ));
    }
    let last = out.segments.keys().next_back().copied();
    for (base, seg) in &out.segments {
        if Some(*base) == last {
            seg.make_active(config)?;
        } else {
            seg.make_inactive()?;
        }
    }
    Ok(out)
}

/// Step 2, first half: finishes every interrupted swap whose `.log.swap` file exists.
fn complete_swaps(dir: &Path) -> Result<(), StorageError> {
    let mut swaps = Vec::new();
    let mut regular = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        match ext {
            "log.swap" => swaps.push(base),
            "log" => regular.push(base),
            _ => {}
        }
    }
    for base in swaps {
        let swap = dir.join(format!("{}.log.swap", file_stem(base)));
        let Some(next) = next_offset_of_file(&swap, base)? else {
            // Not whole batches: never a committed swap (it is fsynced before the rename).
            tracing::warn!(swap = %swap.display(), "discarding a malformed swap file");
            std::fs::remove_file(&swap).map_err(io("remove", &swap))?;
            continue;
        };
        tracing::info!(swap = %swap.display(), next, "finishing an interrupted cleaner swap");
        for old in regular
            .iter()
            .filter(|b| **b >= base && **b < next.max(base + 1))
        {
            delete_segment_files(dir, *old)?;
        }
        for ext in ["index", "timeindex"] {
            let p = dir.join(format!("{}.{ext}", file_stem(base)));
            if p.exists() {
                std::fs::remove_file(&p).map_err(io("remove", &p))?;
            }
        }
        let target = dir.join(format!("{}.log", file_stem(base)));
        std::fs::rename(&swap, &target).map_err(io("rename", &swap))?;
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))
}

/// The offset after the last batch of a `.log` file (`base` when it has none), or `None` when
/// the file is not a sequence of whole batches.
fn next_offset_of_file(path: &Path, base: i64) -> Result<Option<i64>, StorageError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).map_err(io("open", path))?;
    let len = file.metadata().map_err(io("stat", path))?.len();
    let (mut pos, mut next) = (0u64, base);
    let mut h = [0u8; super::record_batch::HEADER_LEN];
    while pos + h.len() as u64 <= len {
        file.read_exact_at(&mut h, pos).map_err(io("read", path))?;
        let Some(view) = BatchHeader::new(&h) else {
            break;
        };
        let Some(size) = view.total_size() else {
            break;
        };
        if pos + size as u64 > len {
            break;
        }
        next = next.max(view.last_offset().saturating_add(1));
        pos += size as u64;
    }
    Ok((pos == len).then_some(next))
}

/// Steps 2 (second half) and 3: removes leftovers and orphaned indexes, returns the sorted base
/// offsets.
fn list_segments(dir: &Path) -> Result<Vec<i64>, StorageError> {
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".cleaned") || name.ends_with(".swap") || name.ends_with(".deleted") {
            let p = entry.path();
            std::fs::remove_file(&p).map_err(io("remove", &p))?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        match ext {
            "log" => logs.push(base),
            "index" | "timeindex" => indexes.push((base, entry.path())),
            _ => {}
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            std::fs::remove_file(&path).map_err(io("remove", &path))?;
        }
    }
    Ok(logs)
}

fn delete_segment_files(dir: &Path, base: i64) -> Result<(), StorageError> {
    let stem = file_stem(base);
    for ext in ["log", "index", "timeindex"] {
        let p = dir.join(format!("{stem}.{ext}"));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &p)(e)),
        }
    }
    Ok(())
}

/// The result of walking one segment.
struct SegmentScan {
    /// The log was cut inside this segment; later segments must go.
    truncated: bool,
    /// The largest batch max timestamp in the segment and where its batch is.
    max: Option<(i64, BatchLocation)>,
}

/// Step 5 for one segment: walks its batches from the start, CRC-checking them when `recover`,
/// feeding the counters and the producer state, and truncating at the first bad batch.
fn scan_segment(
    seg: &LogSegment,
    min_offset: i64,
    recover: bool,
    producers: &mut ProducerStateManager,
) -> Result<SegmentScan, StorageError> {
    let size = seg.size();
    let mut pos = 0u64;
    let mut expected = min_offset.max(seg.base_offset());
    let mut buf = Vec::new();
    let mut max: Option<(i64, BatchLocation)> = None;
    let mut first = true;
    let good = loop {
        if pos == size {
            break true;
        }
        let Some(loc) = seg.batch_at(pos, size)? else {
            break false;
        };
        if loc.base_offset < expected || loc.last_offset < loc.base_offset {
            break false;
        }
        let header = match seg.read_header(pos, size)? {
            Some(h) => h,
            None => break false,
        };
        if recover {
            // The size was checked against the file's length, so this allocation is bounded.
            buf.resize(loc.size as usize, 0);
            seg.read_into(pos, &mut buf)?;
            if check_header(&buf).is_err() {
                break false;
            }
        }
        let Some(h) = BatchHeader::new(&header) else {
            break false;
        };
        let max_ts = h.max_timestamp();
        producers.load_batch(
            h.producer_id(),
            h.producer_epoch(),
            BatchMetadata {
                first_seq: h.base_sequence(),
                last_seq: h.last_sequence(),
                first_offset: loc.base_offset,
                last_offset: loc.last_offset,
                timestamp: max_ts,
            },
        );
        if max.as_ref().is_none_or(|(t, _)| max_ts > *t) {
            max = Some((max_ts, loc));
        }
        let rolling_ms = if first { max_ts } else { i64::MIN };
        first = false;
        seg.track_batch(&loc, max_ts, rolling_ms, None);
        expected = loc.last_offset + 1;
        pos += loc.size;
    };
    if !good {
        tracing::warn!(
            segment = %seg.log_path().display(),
            position = pos,
            "truncating log at an invalid or torn batch"
        );
        seg.truncate_to(pos, expected)?;
        producers.truncate_from(expected);
    }
    Ok(SegmentScan {
        truncated: !good,
        max,
    })
}

/// Step 6's checks on existing index files.
fn indexes_sane(seg: &LogSegment) -> bool {
    let idx = seg.indexes();
    idx.offset.sanity_check(seg.size()) && idx.time.sanity_check(seg.next_offset())
}

/// Rebuilds both indexes from the batch headers (the batches were validated by the scan).
pub(crate) fn rebuild_indexes(seg: &LogSegment, config: &LogConfig) -> Result<(), StorageError> {
    let mut idx = seg.indexes_mut();
    idx.offset.clear();
    idx.time.clear();
    idx.offset.resize(config.segment_index_bytes as usize)?;
    idx.time.resize(config.segment_index_bytes as usize)?;
    seg.reset_tracking();
    let size = seg.size();
    let mut pos = 0u64;
    while let Some(loc) = seg.batch_at(pos, size)? {
        let max_ts = seg
            .read_header(pos, size)?
            .and_then(|h| BatchHeader::new(&h).map(|h| h.max_timestamp()))
            .unwrap_or(i64::MIN);
        seg.track_batch(&loc, max_ts, i64::MIN, Some(&mut idx));
        pos += loc.size;
    }
    Ok(())
}

/// Step 7: the offset of the first record with the batch's max timestamp.
fn exact_offset_of_max(seg: &LogSegment, loc: &BatchLocation, config: &LogConfig) -> Option<i64> {
    let bytes = seg.read(loc.position, loc.size as usize).ok()?;
    let stats = batch_stats(&bytes, config.max_decompressed_bytes).ok()?;
    let h = BatchHeader::new(&bytes)?;
    if h.is_log_append_time() {
        return Some(loc.base_offset);
    }
    Some(loc.base_offset + i64::from(stats.offset_delta_of_max_timestamp))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "recovery_tests.rs"]
mod tests;
