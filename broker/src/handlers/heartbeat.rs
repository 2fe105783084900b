//! Heartbeat (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse, RequestHeader, ResponseKind};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let response = broker
        .groups
        .call(header, |c, ctx, now| c.heartbeat(ctx, request, now))
        .await;
    match response {
        Some(ResponseKind::Heartbeat(r)) => r,
        _ => HeartbeatResponse::default().with_error_code(super::COORDINATOR_NOT_AVAILABLE),
    }
}
