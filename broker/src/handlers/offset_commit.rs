//! OffsetCommit (classic consumer groups): handled by the group coordinator.

use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, RequestHeader, ResponseKind,
};

use crate::broker::Broker;

/// Runs the request through the group coordinator, waiting while it is parked.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let response = broker
        .groups
        .call(header, |c, ctx, now| c.offset_commit(ctx, request, now))
        .await;
    match response {
        Some(ResponseKind::OffsetCommit(r)) => r,
        // Never expected: the coordinator answers every request it is given.
        _ => OffsetCommitResponse::default(),
    }
}
