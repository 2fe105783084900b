//! ConsumerGroupDescribe (KIP-848 consumer groups): answered from the group coordinator's
//! memory.

use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, RequestHeader,
};

use crate::broker::Broker;

/// Reads the answer from the group coordinator; nothing waits.
pub fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    broker.groups.read(|c| c.consumer_group_describe(request))
}
