use super::*;
use crate::storage::test_util::{batch, BatchSpec};
use kafka_protocol::records::Compression;

fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// One record with the given offset delta, key and value, framed by its length.
fn record(offset_delta: i64, key: Option<&[u8]>, value: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8]; // attributes
    zigzag(offset_delta * 10, &mut body); // timestamp delta
    zigzag(offset_delta, &mut body);
    match key {
        Some(k) => {
            zigzag(k.len() as i64, &mut body);
            body.extend_from_slice(k);
        }
        None => zigzag(-1, &mut body),
    }
    zigzag(value.len() as i64, &mut body);
    body.extend_from_slice(value);
    zigzag(0, &mut body); // no headers
    let mut out = Vec::new();
    zigzag(body.len() as i64, &mut out);
    out.extend_from_slice(&body);
    out
}

/// A hand-built batch: header fields written one by one, CRC-32C over attributes..end.
fn hand_batch(records: &[Vec<u8>], count: i32, last_delta: i32, attributes: i16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0i64.to_be_bytes()); // baseOffset
    b.extend_from_slice(&0i32.to_be_bytes()); // batchLength, patched below
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partitionLeaderEpoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, patched below
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&last_delta.to_be_bytes());
    b.extend_from_slice(&1000i64.to_be_bytes()); // baseTimestamp
    b.extend_from_slice(&(1000i64 + 10 * i64::from(last_delta)).to_be_bytes()); // maxTimestamp
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    b.extend_from_slice(&count.to_be_bytes());
    for r in records {
        b.extend_from_slice(r);
    }
    fix(&mut b);
    b
}

/// Recomputes batchLength and CRC after a test changed the bytes.
fn fix(b: &mut [u8]) {
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn limits() -> ValidationLimits {
    ValidationLimits {
        max_message_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 20,
        compact: false,
    }
}

fn two_records() -> Vec<Vec<u8>> {
    vec![
        record(0, Some(b"k0"), b"hello"),
        record(1, Some(b"k1"), b"world"),
    ]
}

#[test]
fn hand_built_batch_is_valid() {
    let b = hand_batch(&two_records(), 2, 1, 0);
    let v = validate_batch(&b, &limits()).unwrap();
    assert_eq!(v.record_count, 2);
    assert_eq!(v.max_timestamp, 1010);
    assert_eq!(v.offset_delta_of_max_timestamp, 1);
    assert_eq!(v.producer_id, -1);
    let h = BatchHeader::new(&b).unwrap();
    assert_eq!(h.total_size(), Some(b.len()));
    assert_eq!(h.crc(), compute_crc(&b));
}

#[test]
fn bad_crc_lengths_and_magic_are_corrupt() {
    let good = hand_batch(&two_records(), 2, 1, 0);
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert!(
        matches!(validate_batch(&b, &limits()), Err(AppendError::Corrupt(m)) if m.contains("CRC"))
    );
    let mut b = good.clone();
    b[8..12].copy_from_slice(&((good.len() - 11) as i32).to_be_bytes());
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::Corrupt(_))
    ));
    let mut b = good.clone();
    b[16] = 1;
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::Corrupt(_))
    ));
    assert!(matches!(
        validate_batch(&good[..40], &limits()),
        Err(AppendError::Corrupt(_))
    ));
    // Splitting refuses a batchLength that runs past the buffer, and trailing garbage.
    let mut two = good.clone();
    two.extend_from_slice(&good[..20]);
    assert!(split_batches(&Bytes::from(two)).is_err());
    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert_eq!(split_batches(&Bytes::from(two)).unwrap().len(), 2);
}

#[test]
fn lying_record_count_is_refused() {
    // Count and lastOffsetDelta agree but there are only two records.
    let b = hand_batch(&two_records(), 3, 2, 0);
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::InvalidRecord(_))
    ));
    // Count disagrees with lastOffsetDelta.
    let b = hand_batch(&two_records(), 3, 1, 0);
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::Corrupt(_))
    ));
    // Fewer claimed than present: bytes left over.
    let b = hand_batch(&two_records(), 1, 0, 0);
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::InvalidRecord(_))
    ));
    let b = hand_batch(&[], 0, -1, 0);
    assert!(validate_batch(&b, &limits()).is_err());
}

#[test]
fn wrong_offset_deltas_and_record_lengths_are_invalid() {
    let recs = vec![record(0, Some(b"k"), b"a"), record(5, Some(b"k"), b"b")];
    let b = hand_batch(&recs, 2, 1, 0);
    assert!(
        matches!(validate_batch(&b, &limits()), Err(AppendError::InvalidRecord(m)) if m.contains("offset delta"))
    );
    // A record length one byte too long swallows the next record's first byte.
    let mut r0 = record(0, Some(b"k"), b"a");
    r0[0] += 2; // zigzag: +1 in value
    let b = hand_batch(&[r0, record(1, Some(b"k"), b"b")], 2, 1, 0);
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::InvalidRecord(_))
    ));
}

#[test]
fn size_transactions_and_compaction_rules() {
    let b = hand_batch(&two_records(), 2, 1, 0);
    let small = ValidationLimits {
        max_message_bytes: b.len() - 1,
        ..limits()
    };
    assert!(matches!(
        validate_batch(&b, &small),
        Err(AppendError::MessageTooLarge { .. })
    ));
    let b = hand_batch(&two_records(), 2, 1, 0x10);
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::InvalidRecord(_))
    ));
    let b = hand_batch(&two_records(), 2, 1, 0x20);
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::InvalidRecord(_))
    ));
    let keyless = hand_batch(&[record(0, None, b"x")], 1, 0, 0);
    assert!(validate_batch(&keyless, &limits()).is_ok());
    let compact = ValidationLimits {
        compact: true,
        ..limits()
    };
    assert!(matches!(
        validate_batch(&keyless, &compact),
        Err(AppendError::InvalidRecord(_))
    ));
}

#[test]
fn compressed_batches_are_walked_and_capped() {
    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let spec = BatchSpec {
            count: 50,
            compression,
            value_len: 1000,
            ..Default::default()
        };
        let b = batch(spec);
        let v = validate_batch(&b, &limits()).unwrap_or_else(|e| panic!("{compression:?}: {e}"));
        assert_eq!(v.record_count, 50);
        assert_eq!(v.offset_delta_of_max_timestamp, 49);
        // 50 KB of values compress to far less; a 10 KB cap must trip.
        assert!(b.len() < 10_000, "{compression:?} {}", b.len());
        let capped = ValidationLimits {
            max_decompressed_bytes: 10_000,
            ..limits()
        };
        assert!(
            matches!(validate_batch(&b, &capped), Err(AppendError::InvalidRecord(m)) if m.contains("exceeds")),
            "{compression:?}"
        );
        let keyless = batch(BatchSpec {
            keyed: false,
            ..spec
        });
        let compact = ValidationLimits {
            compact: true,
            ..limits()
        };
        assert!(matches!(
            validate_batch(&keyless, &compact),
            Err(AppendError::InvalidRecord(_))
        ));
    }
}

#[test]
fn patches_keep_the_batch_valid() {
    let b = hand_batch(&two_records(), 2, 1, 0);
    let p = PatchedHeader::new(&b, 42, 0, None);
    let mut out = p.0.to_vec();
    out.extend_from_slice(&b[HEADER_LEN..]);
    let h = check_header(&out).unwrap();
    assert_eq!(
        (
            h.base_offset(),
            h.partition_leader_epoch(),
            h.max_timestamp()
        ),
        (42, 0, 1010)
    );
    assert!(!h.is_log_append_time());
    let p = PatchedHeader::new(&b, 7, 0, Some(99_999));
    let mut out = p.0.to_vec();
    out.extend_from_slice(&b[HEADER_LEN..]);
    let h = check_header(&out).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp(), 99_999);
    assert_eq!(
        find_timestamp_in_batch(&out, 5, 1 << 20).unwrap(),
        Some((0, 99_999))
    );
}

#[test]
fn timestamps_are_found_inside_a_batch() {
    let b = hand_batch(&two_records(), 2, 1, 0);
    assert_eq!(
        find_timestamp_in_batch(&b, 1005, 1 << 20).unwrap(),
        Some((1, 1010))
    );
    assert_eq!(
        find_timestamp_in_batch(&b, 0, 1 << 20).unwrap(),
        Some((0, 1000))
    );
    assert_eq!(find_timestamp_in_batch(&b, 2000, 1 << 20).unwrap(), None);
}

#[test]
fn compacted_batches_with_gaps_are_stored_but_not_produced() {
    // What the cleaner writes: records at deltas 0 and 5 of a batch whose lastOffsetDelta is 5.
    let recs = vec![record(0, Some(b"k"), b"a"), record(5, Some(b"j"), b"b")];
    let b = hand_batch(&recs, 2, 5, 0);
    assert!(check_header(&b).is_ok(), "recovery accepts the gap");
    assert!(batch_stats(&b, 1 << 20).is_ok());
    assert!(matches!(
        validate_batch(&b, &limits()),
        Err(AppendError::InvalidRecord(_))
    ));
    // Deltas must still increase.
    let recs = vec![record(3, Some(b"k"), b"a"), record(1, Some(b"j"), b"b")];
    assert!(batch_stats(&hand_batch(&recs, 2, 5, 0), 1 << 20).is_err());
}
