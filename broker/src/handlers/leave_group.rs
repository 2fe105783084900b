//! LeaveGroup (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{
    LeaveGroupRequest, LeaveGroupResponse, RequestHeader, ResponseKind,
};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let response = broker
        .groups
        .call(header, |c, ctx, now| c.leave_group(ctx, request, now))
        .await;
    match response {
        Some(ResponseKind::LeaveGroup(r)) => r,
        _ => LeaveGroupResponse::default().with_error_code(super::COORDINATOR_NOT_AVAILABLE),
    }
}
