//! Kafka's binary layout of `__consumer_offsets` keys and values, for [`GroupRecord`].
//!
//! Every key and value starts with a big-endian int16 version. Key versions 0 and 1 are
//! `OffsetCommitKey` (group, topic, partition) and key version 2 is `GroupMetadataKey` (group);
//! key versions 3-8 are the KIP-848 consumer-group records (see `consumer_record_codec`); higher
//! ones belong to the share and streams coordinators and decode to [`DecodedRecord::Other`].
//! Classic values follow the key's type:
//!
//! - `OffsetCommitValue` v0-v4: offset, leaderEpoch (v3+), metadata, commitTimestamp,
//!   expireTimestamp (v1 only). v4 is flexible (compact strings, tagged fields).
//! - `GroupMetadataValue` v0-v4: protocolType, generation, protocol (nullable), leader (nullable),
//!   currentStateTimestamp (v2+), members: memberId, groupInstanceId (v3+, nullable), clientId,
//!   clientHost, rebalanceTimeout (v1+), sessionTimeout, subscription, assignment. v4 is flexible.
//!
//! We write what Kafka 4.1 writes: key version 1 or 2; `OffsetCommitValue` v3, or v1 when the
//! commit carries an explicit expiry; `GroupMetadataValue` v3. We read every version.
//! A missing value is a tombstone. Thread-safety: stateless functions.

use bytes::{BufMut, Bytes, BytesMut};

use super::consumer_record_codec;
use super::records::{
    GroupMetadataValue, GroupRecord, MemberMetadataValue, OffsetCommitKey, OffsetCommitValue,
};

/// Key version of `OffsetCommitKey` Kafka writes (0 is the same layout, still read).
const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// Key version of `GroupMetadataKey`.
const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// Highest value version we understand, for both value types.
const MAX_VALUE_VERSION: i16 = 4;
/// Value versions at and above this use the flexible (compact, tagged) encoding.
const FIRST_FLEXIBLE_VERSION: i16 = 4;

/// Why a key or value could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The bytes end before the field being read.
    #[error("truncated while reading {0}")]
    Truncated(&'static str),
    /// A length or count is negative (and not the null marker) or otherwise impossible.
    #[error("invalid length for {0}")]
    InvalidLength(&'static str),
    /// A string is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// A non-nullable field holds null.
    #[error("{0} is null")]
    UnexpectedNull(&'static str),
    /// A value version newer than any we know.
    #[error("unsupported value version {0}")]
    UnsupportedVersion(i16),
    /// A negative key version.
    #[error("invalid key version {0}")]
    InvalidKeyVersion(i16),
}

/// What one `__consumer_offsets` record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedRecord {
    /// A record the coordinator replays.
    Group(GroupRecord),
    /// A record type this coordinator does not own (share and streams groups...);
    /// replay skips it.
    Other {
        /// The key's version, which names the record type.
        key_version: i16,
    },
}

/// Kafka's key bytes for `record`.
pub fn encode_key(record: &GroupRecord) -> Bytes {
    let mut w = Writer::default();
    match record {
        GroupRecord::OffsetCommit { key, .. } => {
            w.i16(OFFSET_COMMIT_KEY_VERSION);
            w.string(&key.group_id);
            w.string(&key.topic);
            w.i32(key.partition);
        }
        GroupRecord::GroupMetadata { group_id, .. } => {
            w.i16(GROUP_METADATA_KEY_VERSION);
            w.string(group_id);
        }
        consumer => consumer_record_codec::write_key(consumer, &mut w),
    }
    w.0.freeze()
}

/// Kafka's value bytes for `record`; `None` for a tombstone.
pub fn encode_value(record: &GroupRecord) -> Option<Bytes> {
    let mut w = Writer::default();
    match record {
        GroupRecord::OffsetCommit { value, .. } => {
            let v = value.as_ref()?;
            match v.expire_timestamp {
                Some(expire) => {
                    w.i16(1);
                    w.i64(v.offset);
                    w.string(&v.metadata);
                    w.i64(v.commit_timestamp);
                    w.i64(expire);
                }
                None => {
                    w.i16(3);
                    w.i64(v.offset);
                    w.i32(v.leader_epoch);
                    w.string(&v.metadata);
                    w.i64(v.commit_timestamp);
                }
            }
        }
        GroupRecord::GroupMetadata { value, .. } => {
            let v = value.as_ref()?;
            w.i16(3);
            w.string(&v.protocol_type);
            w.i32(v.generation);
            w.nullable_string(v.protocol.as_deref());
            w.nullable_string(v.leader.as_deref());
            w.i64(v.current_state_timestamp);
            w.i32(i32::try_from(v.members.len()).unwrap_or(i32::MAX));
            for m in &v.members {
                w.string(&m.member_id);
                w.nullable_string(m.group_instance_id.as_deref());
                w.string(&m.client_id);
                w.string(&m.client_host);
                w.i32(m.rebalance_timeout_ms);
                w.i32(m.session_timeout_ms);
                w.bytes(&m.subscription);
                w.bytes(&m.assignment);
            }
        }
        consumer => return consumer_record_codec::write_value(consumer, w),
    }
    Some(w.0.freeze())
}

/// Decodes one record's key and value (`None` = tombstone).
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<DecodedRecord, CodecError> {
    let mut k = Reader::new(key, false);
    let key_version = k.i16("key version")?;
    match key_version {
        0 | 1 => {
            let key = OffsetCommitKey {
                group_id: k.string("group")?,
                topic: k.string("topic")?,
                partition: k.i32("partition")?,
            };
            let value = value.map(decode_offset_commit_value).transpose()?;
            Ok(DecodedRecord::Group(GroupRecord::OffsetCommit {
                key,
                value,
            }))
        }
        2 => {
            let group_id = k.string("group")?;
            let value = value.map(decode_group_metadata_value).transpose()?;
            Ok(DecodedRecord::Group(GroupRecord::GroupMetadata {
                group_id,
                value,
            }))
        }
        consumer_record_codec::FIRST_KEY_TYPE..=consumer_record_codec::LAST_KEY_TYPE => {
            consumer_record_codec::decode(key_version, &mut k, value).map(DecodedRecord::Group)
        }
        v if v < 0 => Err(CodecError::InvalidKeyVersion(v)),
        v => Ok(DecodedRecord::Other { key_version: v }),
    }
}

/// Reads the leading version and a reader set up for that version's encoding.
fn versioned(bytes: &[u8]) -> Result<(i16, Reader<'_>), CodecError> {
    let version = Reader::new(bytes, false).i16("value version")?;
    if !(0..=MAX_VALUE_VERSION).contains(&version) {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let mut r = Reader::new(bytes, version >= FIRST_FLEXIBLE_VERSION);
    r.pos = 2;
    Ok((version, r))
}

fn decode_offset_commit_value(bytes: &[u8]) -> Result<OffsetCommitValue, CodecError> {
    let (version, mut r) = versioned(bytes)?;
    let offset = r.i64("offset")?;
    let leader_epoch = if version >= 3 {
        r.i32("leaderEpoch")?
    } else {
        -1
    };
    let metadata = r.string("metadata")?;
    let commit_timestamp = r.i64("commitTimestamp")?;
    let expire_timestamp = if version == 1 {
        Some(r.i64("expireTimestamp")?).filter(|t| *t != -1)
    } else {
        None
    };
    r.tagged_fields()?;
    Ok(OffsetCommitValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
        expire_timestamp,
    })
}

fn decode_group_metadata_value(bytes: &[u8]) -> Result<GroupMetadataValue, CodecError> {
    let (version, mut r) = versioned(bytes)?;
    let protocol_type = r.string("protocolType")?;
    let generation = r.i32("generation")?;
    let protocol = r.nullable_string("protocol")?;
    let leader = r.nullable_string("leader")?;
    let current_state_timestamp = if version >= 2 {
        r.i64("currentStateTimestamp")?
    } else {
        -1
    };
    let count = r.array_len("members")?;
    let mut members = Vec::new();
    for _ in 0..count {
        members.push(decode_member(&mut r, version)?);
    }
    r.tagged_fields()?;
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

fn decode_member(r: &mut Reader<'_>, version: i16) -> Result<MemberMetadataValue, CodecError> {
    let member_id = r.string("memberId")?;
    let group_instance_id = if version >= 3 {
        r.nullable_string("groupInstanceId")?
    } else {
        None
    };
    let client_id = r.string("clientId")?;
    let client_host = r.string("clientHost")?;
    let rebalance_timeout = if version >= 1 {
        Some(r.i32("rebalanceTimeout")?)
    } else {
        None
    };
    let session_timeout_ms = r.i32("sessionTimeout")?;
    let subscription = r.bytes("subscription")?;
    let assignment = r.bytes("assignment")?;
    r.tagged_fields()?;
    Ok(MemberMetadataValue {
        member_id,
        group_instance_id,
        client_id,
        client_host,
        // v0 had no rebalance timeout: the session timeout served as both.
        rebalance_timeout_ms: rebalance_timeout.unwrap_or(session_timeout_ms),
        session_timeout_ms,
        subscription,
        assignment,
    })
}

/// Appends Kafka's encodings: classic ones, and the flexible (compact) ones of the KIP-848
/// values.
#[derive(Default)]
pub(super) struct Writer(pub(super) BytesMut);

impl Writer {
    pub(super) fn i8(&mut self, v: i8) {
        self.0.put_i8(v);
    }
    pub(super) fn i16(&mut self, v: i16) {
        self.0.put_i16(v);
    }
    pub(super) fn i32(&mut self, v: i32) {
        self.0.put_i32(v);
    }
    fn i64(&mut self, v: i64) {
        self.0.put_i64(v);
    }
    pub(super) fn uuid(&mut self, v: &uuid::Uuid) {
        self.0.put_slice(v.as_bytes());
    }
    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.0.put_u8((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.put_u8(v as u8);
    }
    /// A compact array's length marker (also a compact string's, before its bytes).
    pub(super) fn compact_len(&mut self, n: usize) {
        self.uvarint(u32::try_from(n).unwrap_or(u32::MAX - 1).saturating_add(1));
    }
    /// Compact string, cut at the same limit as [`Writer::string`] (Kafka refuses longer ones).
    pub(super) fn compact_string(&mut self, s: &str) {
        let len = s.len().min(i16::MAX as usize);
        self.compact_len(len);
        self.0.put_slice(&s.as_bytes()[..len]);
    }
    pub(super) fn compact_nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.compact_string(s),
            None => self.0.put_u8(0),
        }
    }
    /// An empty tagged-field section: we write no tagged fields.
    pub(super) fn no_tagged_fields(&mut self) {
        self.0.put_u8(0);
    }
    /// int16 length + UTF-8; the coordinator bounds every string well below 32 KiB, a longer one
    /// is cut at the limit rather than written with a wrapped length.
    pub(super) fn string(&mut self, s: &str) {
        let len = s.len().min(i16::MAX as usize);
        self.0.put_i16(len as i16);
        self.0.put_slice(&s.as_bytes()[..len]);
    }
    fn nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.0.put_i16(-1),
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        let len = b.len().min(i32::MAX as usize);
        self.0.put_i32(len as i32);
        self.0.put_slice(&b[..len]);
    }
}

/// Reads Kafka's encodings from a slice, classic or flexible.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pub(super) pos: usize,
    flexible: bool,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], flexible: bool) -> Self {
        Self {
            buf,
            pos: 0,
            flexible,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(CodecError::Truncated(what))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(super) fn i8(&mut self, what: &'static str) -> Result<i8, CodecError> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }
    pub(super) fn i16(&mut self, what: &'static str) -> Result<i16, CodecError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }
    pub(super) fn uuid(&mut self, what: &'static str) -> Result<uuid::Uuid, CodecError> {
        Ok(uuid::Uuid::from_bytes(self.array(what)?))
    }
    pub(super) fn i32(&mut self, what: &'static str) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    fn uvarint(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let mut value = 0u32;
        for i in 0..5 {
            let b = self.array::<1>(what)?[0];
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError::InvalidLength(what))
    }

    /// A length that may be null: `None` for null. Classic: int16/int32 -1; compact: 0.
    fn length(&mut self, what: &'static str, wide: bool) -> Result<Option<usize>, CodecError> {
        let raw: i64 = if self.flexible {
            i64::from(self.uvarint(what)?) - 1
        } else if wide {
            i64::from(self.i32(what)?)
        } else {
            i64::from(self.i16(what)?)
        };
        match raw {
            -1 => Ok(None),
            n if n < 0 => Err(CodecError::InvalidLength(what)),
            n => usize::try_from(n)
                .map(Some)
                .map_err(|_| CodecError::InvalidLength(what)),
        }
    }

    pub(super) fn nullable_string(
        &mut self,
        what: &'static str,
    ) -> Result<Option<String>, CodecError> {
        let Some(len) = self.length(what, false)? else {
            return Ok(None);
        };
        let raw = self.take(len, what)?;
        std::str::from_utf8(raw)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| CodecError::InvalidUtf8(what))
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        self.nullable_string(what)?
            .ok_or(CodecError::UnexpectedNull(what))
    }

    fn bytes(&mut self, what: &'static str) -> Result<Bytes, CodecError> {
        let len = self
            .length(what, true)?
            .ok_or(CodecError::UnexpectedNull(what))?;
        Ok(Bytes::copy_from_slice(self.take(len, what)?))
    }

    /// An array's element count, checked against the bytes left (every element takes at least
    /// one byte) so a lying count cannot drive a long loop.
    pub(super) fn array_len(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let n = self
            .length(what, true)?
            .ok_or(CodecError::UnexpectedNull(what))?;
        if n > self.buf.len() - self.pos {
            return Err(CodecError::InvalidLength(what));
        }
        Ok(n)
    }

    /// Skips a flexible struct's tagged fields (none of which we need); no-op when classic.
    pub(super) fn tagged_fields(&mut self) -> Result<(), CodecError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint("tagged fields")?;
        for _ in 0..count {
            self.uvarint("tag")?;
            let size = self.uvarint("tag size")?;
            self.take(size as usize, "tagged field")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "record_codec_tests.rs"]
mod tests;
