//! DeleteGroups (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, RequestHeader, ResponseKind,
};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let response = broker
        .groups
        .call(header, |c, ctx, now| c.delete_groups(ctx, request, now))
        .await;
    match response {
        Some(ResponseKind::DeleteGroups(r)) => r,
        // Never expected: the coordinator answers every request it is given.
        _ => DeleteGroupsResponse::default(),
    }
}
