//! ConsumerGroupHeartbeat (KIP-848 consumer groups): handled by the group coordinator, fed a
//! snapshot of the topics' metadata so that assignments use the ids Metadata reports.

use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, RequestHeader, ResponseKind,
};

use crate::broker::Broker;
use crate::group::TopicsSnapshot;

/// Every topic's id and partition count, as Metadata would report them now.
pub fn topics_snapshot(broker: &Broker) -> TopicsSnapshot {
    crate::group_log::topics_snapshot(&broker.log_manager)
}

/// Runs the heartbeat through the group coordinator (it never waits).
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let topics = topics_snapshot(broker);
    let response = broker
        .groups
        .call(header, |c, ctx, now| {
            c.consumer_group_heartbeat(ctx, request, &topics, now)
        })
        .await;
    match response {
        Some(ResponseKind::ConsumerGroupHeartbeat(r)) => r,
        _ => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(super::COORDINATOR_NOT_AVAILABLE),
    }
}
