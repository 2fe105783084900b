//! SyncGroup (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{RequestHeader, ResponseKind, SyncGroupRequest, SyncGroupResponse};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let response = broker
        .groups
        .call(header, |c, ctx, now| c.sync_group(ctx, request, now))
        .await;
    match response {
        Some(ResponseKind::SyncGroup(r)) => r,
        _ => SyncGroupResponse::default().with_error_code(super::COORDINATOR_NOT_AVAILABLE),
    }
}
