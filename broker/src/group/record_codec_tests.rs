//! Codec tests against bytes laid out by hand from Kafka's message definitions.

use super::*;

/// int16-length string.
fn s(out: &mut Vec<u8>, v: &str) {
    out.extend_from_slice(&(v.len() as i16).to_be_bytes());
    out.extend_from_slice(v.as_bytes());
}

/// Compact (flexible) string.
fn cs(out: &mut Vec<u8>, v: &str) {
    out.push(v.len() as u8 + 1);
    out.extend_from_slice(v.as_bytes());
}

fn offset_key() -> OffsetCommitKey {
    OffsetCommitKey {
        group_id: "g1".into(),
        topic: "t".into(),
        partition: 7,
    }
}

#[test]
fn offset_commit_key_is_version_1_group_topic_partition() {
    let record = GroupRecord::OffsetCommit {
        key: offset_key(),
        value: None,
    };
    let mut want = vec![0, 1];
    s(&mut want, "g1");
    s(&mut want, "t");
    want.extend_from_slice(&7i32.to_be_bytes());
    assert_eq!(encode_key(&record).as_ref(), want.as_slice());
    assert_eq!(encode_value(&record), None);
    assert_eq!(decode(&want, None).unwrap(), DecodedRecord::Group(record));
}

#[test]
fn offset_commit_value_v3_round_trips_and_matches_layout() {
    let value = OffsetCommitValue {
        offset: 42,
        leader_epoch: 5,
        metadata: "m".into(),
        commit_timestamp: 1_000,
        expire_timestamp: None,
    };
    let record = GroupRecord::OffsetCommit {
        key: offset_key(),
        value: Some(value.clone()),
    };
    let mut want = vec![0, 3];
    want.extend_from_slice(&42i64.to_be_bytes());
    want.extend_from_slice(&5i32.to_be_bytes());
    s(&mut want, "m");
    want.extend_from_slice(&1_000i64.to_be_bytes());
    let bytes = encode_value(&record).unwrap();
    assert_eq!(bytes.as_ref(), want.as_slice());
    let key = encode_key(&record);
    assert_eq!(
        decode(&key, Some(&bytes)).unwrap(),
        DecodedRecord::Group(record)
    );
}

#[test]
fn explicit_expiry_is_written_as_version_1() {
    let record = GroupRecord::OffsetCommit {
        key: offset_key(),
        value: Some(OffsetCommitValue {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: 10,
            expire_timestamp: Some(99),
        }),
    };
    let bytes = encode_value(&record).unwrap();
    assert_eq!(&bytes[..2], &[0, 1]);
    assert_eq!(bytes.len(), 2 + 8 + 2 + 8 + 8);
    let decoded = decode(&encode_key(&record), Some(&bytes)).unwrap();
    assert_eq!(decoded, DecodedRecord::Group(record));
}

#[test]
fn offset_commit_value_v0_and_key_v0_decode_with_defaults() {
    let mut key = vec![0, 0];
    s(&mut key, "g1");
    s(&mut key, "t");
    key.extend_from_slice(&7i32.to_be_bytes());
    let mut value = vec![0, 0];
    value.extend_from_slice(&9i64.to_be_bytes());
    s(&mut value, "meta");
    value.extend_from_slice(&123i64.to_be_bytes());
    let DecodedRecord::Group(GroupRecord::OffsetCommit { key: k, value: v }) =
        decode(&key, Some(&value)).unwrap()
    else {
        panic!("not an offset commit");
    };
    assert_eq!(k, offset_key());
    let v = v.unwrap();
    assert_eq!((v.offset, v.leader_epoch, v.commit_timestamp), (9, -1, 123));
    assert_eq!((v.metadata.as_str(), v.expire_timestamp), ("meta", None));
}

#[test]
fn offset_commit_value_v4_flexible_skips_tagged_fields() {
    let mut value = vec![0, 4];
    value.extend_from_slice(&9i64.to_be_bytes());
    value.extend_from_slice(&3i32.to_be_bytes());
    cs(&mut value, "md");
    value.extend_from_slice(&77i64.to_be_bytes());
    // One tagged field (tag 0, 16 bytes: a topic id in later versions).
    value.extend_from_slice(&[1, 0, 16]);
    value.extend_from_slice(&[0xab; 16]);
    let key = encode_key(&GroupRecord::OffsetCommit {
        key: offset_key(),
        value: None,
    });
    let DecodedRecord::Group(GroupRecord::OffsetCommit { value: Some(v), .. }) =
        decode(&key, Some(&value)).unwrap()
    else {
        panic!("not an offset commit");
    };
    assert_eq!(
        (v.offset, v.leader_epoch, v.metadata.as_str()),
        (9, 3, "md")
    );
    assert_eq!(v.commit_timestamp, 77);
}

fn group_value() -> GroupMetadataValue {
    GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 3,
        protocol: Some("range".into()),
        leader: Some("m-1".into()),
        current_state_timestamp: 5_000,
        members: vec![MemberMetadataValue {
            member_id: "m-1".into(),
            group_instance_id: Some("i-1".into()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout_ms: 300_000,
            session_timeout_ms: 45_000,
            subscription: Bytes::from_static(b"sub"),
            assignment: Bytes::from_static(b"asg"),
        }],
    }
}

#[test]
fn group_metadata_v3_matches_layout_and_round_trips() {
    let record = GroupRecord::GroupMetadata {
        group_id: "g1".into(),
        value: Some(group_value()),
    };
    let mut key = vec![0, 2];
    s(&mut key, "g1");
    assert_eq!(encode_key(&record).as_ref(), key.as_slice());
    let mut want = vec![0, 3];
    s(&mut want, "consumer");
    want.extend_from_slice(&3i32.to_be_bytes());
    s(&mut want, "range");
    s(&mut want, "m-1");
    want.extend_from_slice(&5_000i64.to_be_bytes());
    want.extend_from_slice(&1i32.to_be_bytes());
    s(&mut want, "m-1");
    s(&mut want, "i-1");
    s(&mut want, "c");
    s(&mut want, "/127.0.0.1");
    want.extend_from_slice(&300_000i32.to_be_bytes());
    want.extend_from_slice(&45_000i32.to_be_bytes());
    want.extend_from_slice(&3i32.to_be_bytes());
    want.extend_from_slice(b"sub");
    want.extend_from_slice(&3i32.to_be_bytes());
    want.extend_from_slice(b"asg");
    let bytes = encode_value(&record).unwrap();
    assert_eq!(bytes.as_ref(), want.as_slice());
    assert_eq!(
        decode(&key, Some(&bytes)).unwrap(),
        DecodedRecord::Group(record)
    );
}

#[test]
fn group_metadata_v0_uses_session_timeout_as_rebalance_timeout() {
    let mut value = vec![0, 0];
    s(&mut value, "consumer");
    value.extend_from_slice(&1i32.to_be_bytes());
    value.extend_from_slice(&(-1i16).to_be_bytes());
    value.extend_from_slice(&(-1i16).to_be_bytes());
    value.extend_from_slice(&1i32.to_be_bytes());
    s(&mut value, "m");
    s(&mut value, "c");
    s(&mut value, "h");
    value.extend_from_slice(&10_000i32.to_be_bytes());
    value.extend_from_slice(&0i32.to_be_bytes());
    value.extend_from_slice(&0i32.to_be_bytes());
    let mut key = vec![0, 2];
    s(&mut key, "g");
    let DecodedRecord::Group(GroupRecord::GroupMetadata { value: Some(v), .. }) =
        decode(&key, Some(&value)).unwrap()
    else {
        panic!("not group metadata");
    };
    assert_eq!(
        (v.protocol, v.leader, v.current_state_timestamp),
        (None, None, -1)
    );
    assert_eq!(v.members[0].rebalance_timeout_ms, 10_000);
    assert_eq!(v.members[0].group_instance_id, None);
}

#[test]
fn group_metadata_v4_flexible_decodes() {
    let mut value = vec![0, 4];
    cs(&mut value, "consumer");
    value.extend_from_slice(&2i32.to_be_bytes());
    cs(&mut value, "range");
    value.push(0); // leader: null
    value.extend_from_slice(&8i64.to_be_bytes());
    value.push(2); // one member
    cs(&mut value, "m");
    value.push(0); // instance id: null
    cs(&mut value, "c");
    cs(&mut value, "h");
    value.extend_from_slice(&1i32.to_be_bytes());
    value.extend_from_slice(&2i32.to_be_bytes());
    value.extend_from_slice(&[3, b'x', b'y']); // subscription
    value.push(1); // assignment: empty
    value.push(0); // member tags
    value.push(0); // top-level tags
    let mut key = vec![0, 2];
    s(&mut key, "g");
    let DecodedRecord::Group(GroupRecord::GroupMetadata { value: Some(v), .. }) =
        decode(&key, Some(&value)).unwrap()
    else {
        panic!("not group metadata");
    };
    assert_eq!((v.generation, v.leader), (2, None));
    assert_eq!(v.members[0].subscription.as_ref(), b"xy");
    assert!(v.members[0].assignment.is_empty());
}

#[test]
fn other_record_types_decode_to_other() {
    // 9: ConsumerGroupRegularExpression, which this coordinator does not use.
    let mut key = vec![0, 9];
    s(&mut key, "g");
    assert_eq!(
        decode(&key, Some(b"\x00\x00junk")).unwrap(),
        DecodedRecord::Other { key_version: 9 }
    );
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let record = GroupRecord::GroupMetadata {
        group_id: "g1".into(),
        value: Some(group_value()),
    };
    let key = encode_key(&record);
    let value = encode_value(&record).unwrap();
    for cut in 0..value.len() {
        assert!(decode(&key, Some(&value[..cut])).is_err(), "cut at {cut}");
    }
    for cut in 0..key.len() {
        assert!(decode(&key[..cut], None).is_err(), "key cut at {cut}");
    }
    let mut lying = value.to_vec();
    // The member count sits after version, protocolType, generation, protocol, leader, timestamp.
    let at = 2 + 2 + 8 + 4 + 2 + 5 + 2 + 3 + 8;
    lying[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_eq!(
        decode(&key, Some(&lying)),
        Err(CodecError::InvalidLength("members"))
    );
    assert_eq!(
        decode(&key, Some(b"\x00\x09")),
        Err(CodecError::UnsupportedVersion(9))
    );
    assert_eq!(
        decode(b"\xff\xff", None),
        Err(CodecError::InvalidKeyVersion(-1))
    );
}
