//! JoinGroup (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse, RequestHeader, ResponseKind};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: JoinGroupRequest,
    client_host: &str,
) -> JoinGroupResponse {
    let response = broker
        .groups
        .call_from(header, client_host, |c, ctx, now| {
            c.join_group(ctx, request, now)
        })
        .await;
    match response {
        Some(ResponseKind::JoinGroup(r)) => r,
        _ => JoinGroupResponse::default().with_error_code(super::COORDINATOR_NOT_AVAILABLE),
    }
}
