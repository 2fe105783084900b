//! OffsetFetch (classic consumer groups): answered from the group coordinator's memory.

use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, RequestHeader};

use crate::broker::Broker;

/// Reads the answer from the group coordinator; nothing waits.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    broker
        .groups
        .read(|c| c.offset_fetch(header.request_api_version, request))
}
