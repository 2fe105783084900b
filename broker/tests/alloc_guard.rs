//! A request whose array count lies (0x7fffffff topics in a 30-byte Metadata request) must fail
//! to decode instead of aborting the process on the huge up-front allocation. This binary
//! installs the broker's allocator guard, as the `broker` binary does.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

#[global_allocator]
static ALLOCATOR: broker::alloc::GuardedAllocator = broker::alloc::GuardedAllocator;

/// Metadata v0 (header v1): key, version, correlation id, a 16-byte client id, then the topic
/// array count and nothing after it.
fn lying_metadata_request() -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    b.put_i16(0);
    b.put_i32(42);
    b.put_i16(16);
    b.put_slice(b"lying-client-id!");
    b.put_i32(0x7fff_ffff);
    assert_eq!(b.len(), 30);
    b.freeze()
}

#[test]
fn lying_array_count_is_a_decode_error() {
    let mut buf = lying_metadata_request();
    let header = RequestHeader::decode(&mut buf, ApiKey::Metadata.request_header_version(0))
        .expect("the header itself is valid");
    assert_eq!(header.correlation_id, 42);
    let result = RequestKind::decode(ApiKey::Metadata, &mut buf, 0);
    assert!(
        result.is_err(),
        "a 2^31-element array cannot decode from 0 bytes"
    );
}

#[test]
fn lying_compact_array_count_is_a_decode_error() {
    // Metadata v9+ uses a compact array: unsigned varint count + 1; 0xffffffff claims ~4e9.
    let mut b = BytesMut::new();
    b.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let mut buf = b.freeze();
    let result = RequestKind::decode(ApiKey::Metadata, &mut buf, 12);
    assert!(result.is_err());
}
