//! ListGroups (classic consumer groups): answered from the group coordinator's memory.

use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse, RequestHeader};

use crate::broker::Broker;

/// Reads the answer from the group coordinator; nothing waits.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    broker
        .groups
        .read(|c| c.list_groups(header.request_api_version, request))
}
