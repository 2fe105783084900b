//! OffsetDelete (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{
    OffsetDeleteRequest, OffsetDeleteResponse, RequestHeader, ResponseKind,
};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let response = broker
        .groups
        .call(header, |c, ctx, now| c.offset_delete(ctx, request, now))
        .await;
    match response {
        Some(ResponseKind::OffsetDelete(r)) => r,
        _ => OffsetDeleteResponse::default().with_error_code(super::COORDINATOR_NOT_AVAILABLE),
    }
}
