//! DescribeGroups (classic consumer groups): answered from the group coordinator's memory.

use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, RequestHeader};

use crate::broker::Broker;

/// Reads the answer from the group coordinator; nothing waits.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    broker
        .groups
        .read(|c| c.describe_groups(header.request_api_version, request))
}
