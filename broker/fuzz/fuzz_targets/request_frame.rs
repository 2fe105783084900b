//! Feeds arbitrary bytes, as one request frame without its size prefix, through the broker's
//! request checks and decoding. Any panic or abort is a bug: bad input must only ever be
//! refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// As in the broker binary: a lying array count must not abort on the up-front allocation.
#[global_allocator]
static ALLOCATOR: broker::alloc::GuardedAllocator = broker::alloc::GuardedAllocator;

fuzz_target!(|data: &[u8]| {
    let _ = broker::connection::parse_request(bytes::Bytes::copy_from_slice(data));
});
