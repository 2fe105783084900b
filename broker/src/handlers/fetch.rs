//! PLACEHOLDER on the `server` branch so the crate builds; the owner's file replaces it at merge.

use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestHeader};

use crate::broker::Broker;

/// Placeholder: answers with an empty response.
pub async fn handle(
    _broker: &Broker,
    _header: &RequestHeader,
    _request: FetchRequest,
) -> FetchResponse {
    FetchResponse::default()
}
