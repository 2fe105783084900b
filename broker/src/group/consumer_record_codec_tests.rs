//! KIP-848 record codec tests against bytes laid out by hand from Kafka 4.1's
//! `ConsumerGroup*Key`/`*Value` message definitions.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::super::consumer_records::{
    ConsumerCurrentAssignmentValue, ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataValue, ConsumerMemberMetadataValue, PartitionMetadataTopic,
};
use super::super::record_codec::{decode, encode_key, encode_value, CodecError, DecodedRecord};
use super::super::records::GroupRecord;

const T: Uuid = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);

/// Classic int16-length string (keys).
fn s(out: &mut Vec<u8>, v: &str) {
    out.extend_from_slice(&(v.len() as i16).to_be_bytes());
    out.extend_from_slice(v.as_bytes());
}

/// Compact string (values).
fn cs(out: &mut Vec<u8>, v: &str) {
    out.push(v.len() as u8 + 1);
    out.extend_from_slice(v.as_bytes());
}

fn key(key_type: u8, member: Option<&str>) -> Vec<u8> {
    let mut k = vec![0, key_type];
    s(&mut k, "g");
    if let Some(m) = member {
        s(&mut k, m);
    }
    k
}

/// `[{topicId T, partitions [0, 2]}]` with the element's empty tagged fields.
fn assignment_bytes(out: &mut Vec<u8>) {
    out.push(2);
    out.extend_from_slice(T.as_bytes());
    out.push(3);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&2i32.to_be_bytes());
    out.push(0);
}

fn assignment() -> BTreeMap<Uuid, BTreeSet<i32>> {
    BTreeMap::from([(T, BTreeSet::from([0, 2]))])
}

/// Encodes `record`, checks key and value against the expected bytes, and decodes them back.
fn check(record: GroupRecord, want_key: &[u8], want_value: Option<&[u8]>) {
    let k = encode_key(&record);
    let v = encode_value(&record);
    assert_eq!(k.as_ref(), want_key, "key of {record:?}");
    assert_eq!(v.as_deref(), want_value, "value of {record:?}");
    assert_eq!(
        decode(&k, v.as_deref()).unwrap(),
        DecodedRecord::Group(record)
    );
}

#[test]
fn group_metadata_is_type_3_with_the_epoch() {
    let record = GroupRecord::ConsumerGroupMetadata {
        group_id: "g".into(),
        value: Some(ConsumerGroupMetadataValue { epoch: 7 }),
    };
    let mut want = vec![0, 0];
    want.extend_from_slice(&7i32.to_be_bytes());
    want.push(0);
    check(record, &key(3, None), Some(&want));
    check(
        GroupRecord::ConsumerGroupMetadata {
            group_id: "g".into(),
            value: None,
        },
        &key(3, None),
        None,
    );
}

#[test]
fn group_metadata_with_kafkas_metadata_hash_tag_decodes() {
    // Kafka 4.1 writes the subscribed topics' hash as tagged field 0 (int64).
    let mut value = vec![0, 0];
    value.extend_from_slice(&4i32.to_be_bytes());
    value.extend_from_slice(&[1, 0, 8]);
    value.extend_from_slice(&0x1234_5678i64.to_be_bytes());
    assert_eq!(
        decode(&key(3, None), Some(&value)).unwrap(),
        DecodedRecord::Group(GroupRecord::ConsumerGroupMetadata {
            group_id: "g".into(),
            value: Some(ConsumerGroupMetadataValue { epoch: 4 }),
        })
    );
}

#[test]
fn partition_metadata_is_type_4_and_racks_are_skipped() {
    let mut value = vec![0, 0];
    value.extend_from_slice(&3i32.to_be_bytes());
    value.push(2); // one topic
    value.extend_from_slice(T.as_bytes());
    cs(&mut value, "t");
    value.extend_from_slice(&2i32.to_be_bytes());
    value.push(2); // one partition with racks
    value.extend_from_slice(&1i32.to_be_bytes());
    value.push(3);
    cs(&mut value, "r1");
    cs(&mut value, "r2");
    value.extend_from_slice(&[0, 0, 0]); // tagged fields: partition, topic, value
    let decoded = decode(&key(4, None), Some(&value)).unwrap();
    let topics = vec![PartitionMetadataTopic {
        topic_id: T,
        topic_name: "t".into(),
        num_partitions: 2,
    }];
    let record = GroupRecord::ConsumerGroupPartitionMetadata {
        group_id: "g".into(),
        value: Some(ConsumerGroupPartitionMetadataValue { epoch: 3, topics }),
    };
    assert_eq!(decoded, DecodedRecord::Group(record.clone()));
    // Written without racks, it reads back the same.
    let bytes = encode_value(&record).unwrap();
    assert_eq!(
        decode(&key(4, None), Some(&bytes)).unwrap(),
        DecodedRecord::Group(record)
    );
}

#[test]
fn member_metadata_is_type_5_keyed_by_group_and_member() {
    let value = ConsumerMemberMetadataValue {
        instance_id: None,
        rack_id: Some("rk".into()),
        client_id: "cid".into(),
        client_host: "/h".into(),
        subscribed_topic_names: vec!["a".into(), "b".into()],
        subscribed_topic_regex: None,
        rebalance_timeout_ms: 300,
        server_assignor: Some("uniform".into()),
    };
    let mut want = vec![0, 0, 0];
    cs(&mut want, "rk");
    cs(&mut want, "cid");
    cs(&mut want, "/h");
    want.push(3);
    cs(&mut want, "a");
    cs(&mut want, "b");
    want.push(0);
    want.extend_from_slice(&300i32.to_be_bytes());
    cs(&mut want, "uniform");
    want.push(0);
    let record = GroupRecord::ConsumerGroupMemberMetadata {
        group_id: "g".into(),
        member_id: "m".into(),
        value: Some(Box::new(value)),
    };
    check(record, &key(5, Some("m")), Some(&want));
}

#[test]
fn target_assignment_records_are_types_6_and_7() {
    let mut want = vec![0, 0];
    want.extend_from_slice(&9i32.to_be_bytes());
    want.push(0);
    let record = GroupRecord::ConsumerGroupTargetAssignmentMetadata {
        group_id: "g".into(),
        value: Some(9),
    };
    check(record, &key(6, None), Some(&want));

    let mut want = vec![0, 0];
    assignment_bytes(&mut want);
    want.push(0);
    let record = GroupRecord::ConsumerGroupTargetAssignmentMember {
        group_id: "g".into(),
        member_id: "m".into(),
        value: Some(assignment()),
    };
    check(record, &key(7, Some("m")), Some(&want));
    let tombstone = GroupRecord::ConsumerGroupTargetAssignmentMember {
        group_id: "g".into(),
        member_id: "m".into(),
        value: None,
    };
    check(tombstone, &key(7, Some("m")), None);
}

#[test]
fn current_member_assignment_is_type_8() {
    let value = ConsumerCurrentAssignmentValue {
        member_epoch: 5,
        previous_member_epoch: 4,
        state: 1,
        assigned: assignment(),
        pending_revocation: BTreeMap::new(),
    };
    let mut want = vec![0, 0];
    want.extend_from_slice(&5i32.to_be_bytes());
    want.extend_from_slice(&4i32.to_be_bytes());
    want.push(1);
    assignment_bytes(&mut want);
    want.push(1); // empty pending revocation
    want.push(0);
    let record = GroupRecord::ConsumerGroupCurrentMemberAssignment {
        group_id: "g".into(),
        member_id: "m".into(),
        value: Some(value),
    };
    check(record, &key(8, Some("m")), Some(&want));
}

#[test]
fn corrupt_consumer_records_are_errors_not_panics() {
    let record = GroupRecord::ConsumerGroupCurrentMemberAssignment {
        group_id: "g".into(),
        member_id: "m".into(),
        value: Some(ConsumerCurrentAssignmentValue {
            assigned: assignment(),
            ..Default::default()
        }),
    };
    let k = encode_key(&record);
    let v = encode_value(&record).unwrap();
    for cut in 0..v.len() {
        assert!(decode(&k, Some(&v[..cut])).is_err(), "cut at {cut}");
    }
    for cut in 2..k.len() {
        assert!(decode(&k[..cut], None).is_err(), "key cut at {cut}");
    }
    // A partition count far beyond the bytes left is refused before any allocation.
    let mut lying = v.to_vec();
    let at = 2 + 4 + 4 + 1 + 1 + 16;
    lying[at] = 0xff;
    lying.splice(at + 1..at + 1, [0xff, 0xff, 0x0f]);
    assert_eq!(
        decode(&k, Some(&lying)),
        Err(CodecError::InvalidLength("partitions"))
    );
    assert_eq!(
        decode(&k, Some(b"\x00\x01")),
        Err(CodecError::UnsupportedVersion(1))
    );
}
