//! Fetch response frames whose record bytes are sent from their own buffers.
//!
//! Encoding a `FetchResponse` with the crate copies every partition's records into the output
//! buffer, which at consume rates is a large share of the broker's CPU. Here the crate still
//! encodes every field, but each struct that has a variable-length child (the response's topic
//! array, a topic's partition array, a partition's records) is encoded with that child empty.
//! In every Fetch version the child is the struct's last regular field, so the encoding ends in
//! the empty child's length marker followed by the tagged-field section: the marker is replaced
//! by the real length, the child follows, then the tagged section again. Record bytes become
//! parts of their own in the frame, to be written with a vectored write, or, when the read left
//! them in a segment file, to be sent from the file with `sendfile(2)`.
//!
//! The split relies on the tagged-field section of flexible versions (12 and up) being the single
//! byte 0. A response that carries tagged fields (none does today) is encoded whole by the crate,
//! after file ranges are read into memory.
//!
//! Thread-safety: pure functions.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;

use crate::storage::FileRange;

/// First flexible Fetch version: compact lengths and tagged fields.
const FIRST_FLEXIBLE: i16 = 12;

/// Why a frame could not be built; a bug in the broker, never the client's doing.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The crate refused to encode a part.
    #[error("{0}")]
    Encode(String),
    /// An encoded struct did not end as the split expects.
    #[error("unexpected encoding of an empty {0}")]
    Layout(&'static str),
    /// A length does not fit the wire format.
    #[error("response larger than 2 GiB")]
    TooLarge,
    /// Records left in a segment file could not be read into memory.
    #[error("cannot read records: {0}")]
    Read(#[from] std::io::Error),
}

/// A piece of a response frame, written in order with the others.
#[derive(Debug, Clone)]
pub enum FramePart {
    /// Bytes in memory.
    Bytes(Bytes),
    /// Whole record batches left in a segment file.
    File(FileRange),
}

impl FramePart {
    /// Bytes in the part.
    pub fn len(&self) -> usize {
        match self {
            FramePart::Bytes(b) => b.len(),
            FramePart::File(r) => r.len(),
        }
    }
}

/// Builds the frame of a Fetch response: size prefix, response header and body, as parts to be
/// written in order. Record bytes are moved out of `response` into parts of their own. `files`
/// has one entry per partition of `response` in order (missing entries count as `None`): a
/// range there stands for that partition's records, which `response` leaves empty.
pub fn encode(
    correlation_id: i32,
    header_version: i16,
    mut response: FetchResponse,
    files: Vec<Option<FileRange>>,
    version: i16,
) -> Result<Vec<FramePart>, FrameError> {
    let mut files = files.into_iter();
    let mut parts = Vec::new();
    let mut head = BytesMut::with_capacity(1024);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut head, header_version)
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    let flexible = version >= FIRST_FLEXIBLE;
    if flexible && !tagged_free(&response) {
        fill_records(&mut response, files)?;
        response
            .encode(&mut head, version)
            .map_err(|e| FrameError::Encode(e.to_string()))?;
    } else {
        let topics = std::mem::take(&mut response.responses);
        encode_open(&mut head, &response, version, "topic array")?;
        put_len(&mut head, topics.len(), flexible)?;
        for mut topic in topics {
            let partitions = std::mem::take(&mut topic.partitions);
            encode_open(&mut head, &topic, version, "partition array")?;
            put_len(&mut head, partitions.len(), flexible)?;
            for partition in partitions {
                let file = files.next().flatten();
                encode_partition(&mut head, &mut parts, partition, file, version)?;
            }
            close(&mut head, flexible);
        }
        close(&mut head, flexible);
    }
    parts.push(FramePart::Bytes(head.freeze()));
    let size: usize = parts.iter().map(FramePart::len).sum();
    let size = i32::try_from(size).map_err(|_| FrameError::TooLarge)?;
    parts.insert(
        0,
        FramePart::Bytes(Bytes::copy_from_slice(&size.to_be_bytes())),
    );
    Ok(parts)
}

/// Reads the records of `files` into the partitions they stand for.
fn fill_records(
    response: &mut FetchResponse,
    mut files: impl Iterator<Item = Option<FileRange>>,
) -> Result<(), FrameError> {
    for topic in &mut response.responses {
        for partition in &mut topic.partitions {
            if let Some(range) = files.next().flatten() {
                partition.records = Some(range.read_bytes()?);
            }
        }
    }
    Ok(())
}

/// Appends one partition; non-empty records (or `file`, which stands for them) become a part of
/// their own.
fn encode_partition(
    head: &mut BytesMut,
    parts: &mut Vec<FramePart>,
    mut partition: PartitionData,
    file: Option<FileRange>,
    version: i16,
) -> Result<(), FrameError> {
    let flexible = version >= FIRST_FLEXIBLE;
    let records = match (file, partition.records.take()) {
        (Some(range), _) if !range.is_empty() => FramePart::File(range),
        (_, Some(records)) if !records.is_empty() => FramePart::Bytes(records),
        (_, other) => {
            // Null or empty: nothing worth a part of its own.
            partition.records = other;
            return partition
                .encode(head, version)
                .map_err(|e| FrameError::Encode(e.to_string()));
        }
    };
    partition.records = Some(Bytes::new());
    encode_open(head, &partition, version, "records")?;
    put_len(head, records.len(), flexible)?;
    parts.push(FramePart::Bytes(head.split().freeze()));
    parts.push(records);
    close(head, flexible);
    Ok(())
}

/// Encodes `item`, whose last regular field is empty, and removes that field's length marker and
/// the tagged section after it, leaving `head` where the field's real length goes.
fn encode_open<E: Encodable>(
    head: &mut BytesMut,
    item: &E,
    version: i16,
    what: &'static str,
) -> Result<(), FrameError> {
    let start = head.len();
    item.encode(head, version)
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    // An empty array or byte string is a zero i32, or the varint 1 (length + 1) then no tagged
    // fields in flexible versions.
    let tail: &[u8] = if version >= FIRST_FLEXIBLE {
        &[1, 0]
    } else {
        &[0, 0, 0, 0]
    };
    if head.len() < start + tail.len() || !head.ends_with(tail) {
        return Err(FrameError::Layout(what));
    }
    head.truncate(head.len() - tail.len());
    Ok(())
}

/// Writes an array or byte string length: `i32`, or in flexible versions varint(len + 1).
fn put_len(head: &mut BytesMut, len: usize, flexible: bool) -> Result<(), FrameError> {
    if flexible {
        let mut v = u32::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(1))
            .ok_or(FrameError::TooLarge)?;
        while v >= 0x80 {
            head.put_u8((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        head.put_u8(v as u8);
    } else {
        head.put_i32(i32::try_from(len).map_err(|_| FrameError::TooLarge)?);
    }
    Ok(())
}

/// Ends a struct opened by [`encode_open`]: its (empty) tagged-field section.
fn close(head: &mut BytesMut, flexible: bool) {
    if flexible {
        head.put_u8(0);
    }
}

/// True when nothing in the response has tagged fields, so each struct's tagged section is the
/// single byte 0 the split expects.
fn tagged_free(response: &FetchResponse) -> bool {
    response.node_endpoints.is_empty()
        && response.unknown_tagged_fields.is_empty()
        && response.responses.iter().all(topic_tagged_free)
}

/// [`tagged_free`] for one topic and its partitions.
fn topic_tagged_free(topic: &FetchableTopicResponse) -> bool {
    let default = PartitionData::default();
    topic.unknown_tagged_fields.is_empty()
        && topic.partitions.iter().all(|p| {
            p.unknown_tagged_fields.is_empty()
                && p.diverging_epoch == default.diverging_epoch
                && p.current_leader == default.current_leader
                && p.snapshot_id == default.snapshot_id
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use kafka_protocol::messages::fetch_response::{AbortedTransaction, EpochEndOffset};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;
    use uuid::Uuid;

    use super::*;

    /// What the crate encodes for the whole frame, copying the records.
    fn reference(response: &FetchResponse, version: i16, header_version: i16) -> Vec<u8> {
        let mut body = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(41)
            .encode(&mut body, header_version)
            .unwrap();
        response.encode(&mut body, version).unwrap();
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    fn partition(index: i32, records: Option<Bytes>) -> PartitionData {
        PartitionData::default()
            .with_partition_index(index)
            .with_high_watermark(1000 + i64::from(index))
            .with_last_stable_offset(900)
            .with_log_start_offset(3)
            .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                .with_producer_id(7.into())
                .with_first_offset(5)]))
            .with_preferred_read_replica((-1).into())
            .with_records(records)
    }

    /// Several topics, with partitions with records (one over 127 bytes, for a two-byte
    /// varint), empty records, null records and none at all.
    fn response(version: i16, with_records: bool) -> FetchResponse {
        let data = |n: usize, b: u8| with_records.then(|| Bytes::from(vec![b; n]));
        let topic = |name: &str, id: u128, partitions| {
            let t = FetchableTopicResponse::default().with_partitions(partitions);
            if version >= 13 {
                t.with_topic_id(Uuid::from_u128(id))
            } else {
                t.with_topic(TopicName(StrBytes::from_string(name.to_owned())))
            }
        };
        FetchResponse::default()
            .with_throttle_time_ms(2)
            .with_responses(vec![
                topic(
                    "alpha",
                    1,
                    vec![
                        partition(0, data(300, 0xab)),
                        partition(1, Some(Bytes::new())),
                        partition(2, data(5, 0x01)),
                    ],
                ),
                topic("beta", 2, vec![]),
                topic(
                    "gamma",
                    3,
                    vec![partition(4, None), partition(5, data(70_000, 0x7f))],
                ),
            ])
    }

    /// The frame's bytes, file ranges read back.
    fn flatten(parts: &[FramePart]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            match part {
                FramePart::Bytes(b) => out.extend_from_slice(b),
                FramePart::File(r) => out.extend_from_slice(&r.read_bytes().unwrap()),
            }
        }
        out
    }

    fn ours(response: FetchResponse, version: i16, header_version: i16) -> Vec<u8> {
        flatten(&encode(41, header_version, response, Vec::new(), version).unwrap())
    }

    /// Moves every partition's non-empty records into a file, leaving them empty in `r`.
    fn into_files(r: &mut FetchResponse) -> Vec<Option<FileRange>> {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"ahead of the records").unwrap();
        let file = std::sync::Arc::new(file);
        let mut files = Vec::new();
        for p in r.responses.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            match &p.records {
                Some(records) if !records.is_empty() => {
                    let position = file.metadata().unwrap().len();
                    (&*file).write_all(records).unwrap();
                    files.push(Some(FileRange::new(file.clone(), position, records.len())));
                    p.records = Some(Bytes::new());
                }
                _ => files.push(None),
            }
        }
        files
    }

    #[test]
    fn file_ranges_frame_like_the_bytes_they_hold() {
        for version in [4, 11, 12, 16] {
            let header_version = if version >= FIRST_FLEXIBLE { 1 } else { 0 };
            let mut r = response(version, true);
            let expected = reference(&r, version, header_version);
            let files = into_files(&mut r);
            let parts = encode(41, header_version, r, files, version).unwrap();
            let in_files = parts
                .iter()
                .filter(|p| matches!(p, FramePart::File(_)))
                .count();
            assert_eq!(in_files, 3, "v{version}");
            assert_eq!(flatten(&parts), expected, "v{version}");
        }
        // Tagged fields: the crate encodes the whole response, the ranges read into it.
        let mut r = response(16, true);
        r.responses[2].partitions[1].diverging_epoch =
            EpochEndOffset::default().with_epoch(4).with_end_offset(10);
        let expected = reference(&r, 16, 1);
        let files = into_files(&mut r);
        assert_eq!(flatten(&encode(41, 1, r, files, 16).unwrap()), expected);
    }

    #[test]
    fn frames_match_the_crate_byte_for_byte() {
        for version in [4, 5, 7, 11, 12, 13, 15, 16] {
            let header_version = if version >= FIRST_FLEXIBLE { 1 } else { 0 };
            for with_records in [false, true] {
                let r = response(version, with_records);
                let expected = reference(&r, version, header_version);
                assert_eq!(
                    ours(r, version, header_version),
                    expected,
                    "v{version} records {with_records}"
                );
            }
            let empty = FetchResponse::default().with_error_code(if version >= 7 { 70 } else { 0 });
            let expected = reference(&empty, version, header_version);
            assert_eq!(ours(empty, version, header_version), expected, "v{version}");
        }
    }

    #[test]
    fn records_are_parts_of_their_own() {
        let r = response(16, true);
        let records = r.responses[0].partitions[0].records.clone().unwrap();
        let parts = encode(41, 1, r, Vec::new(), 16).unwrap();
        assert!(parts.iter().any(
            |p| matches!(p, FramePart::Bytes(b) if b.as_ptr() == records.as_ptr() && b.len() == 300)
        ));
    }

    #[test]
    fn tagged_fields_fall_back_to_the_crate() {
        for version in [12, 16] {
            let mut r = response(version, true);
            r.responses[2].partitions[1].diverging_epoch =
                EpochEndOffset::default().with_epoch(4).with_end_offset(10);
            let expected = reference(&r, version, 1);
            assert_eq!(ours(r, version, 1), expected, "v{version}");
        }
    }
}
