//! InitProducerId (API key 22), versions 0-5: producer ids for idempotent producers.
//!
//! Transactions are not implemented: only a null transactional id is served.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, RequestHeader};
use kafka_protocol::ResponseError;

use crate::broker::Broker;

/// Kafka's "no producer id" / "no epoch" values.
const NO_PRODUCER_ID: i64 = -1;
/// See [`NO_PRODUCER_ID`].
const NO_PRODUCER_EPOCH: i16 = -1;

/// Handles one InitProducerId request.
pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if let Err(code) = validate(&request) {
        return error_response(code);
    }
    // Like Kafka's coordinator, a null transactional id always gets a fresh id with epoch 0,
    // whatever id and epoch the request carries: idempotent producers bump their epoch
    // themselves (KIP-360) and only come back here when they want a new id.
    match broker.producer_ids.next_id_async().await {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(id.into())
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "cannot allocate a producer id");
            error_response(ResponseError::UnknownServerError.code())
        }
    }
}

/// The checks Kafka makes before allocating: a producer id and epoch given together or not at
/// all (v3+), a non-empty transactional id, and (here) no transactional id at all.
pub fn validate(request: &InitProducerIdRequest) -> Result<(), i16> {
    let id = i64::from(request.producer_id);
    let epoch = request.producer_epoch;
    if (id == NO_PRODUCER_ID) != (epoch == NO_PRODUCER_EPOCH) {
        return Err(ResponseError::InvalidRequest.code());
    }
    match request.transactional_id.as_ref() {
        None => Ok(()),
        Some(txn) if txn.is_empty() => Err(ResponseError::InvalidRequest.code()),
        // No transaction coordinator exists. COORDINATOR_NOT_AVAILABLE is what Kafka answers
        // while its transaction coordinator cannot serve the id (e.g. `__transaction_state` not
        // yet loaded); it is also what FindCoordinator gives for transactions here, so a
        // transactional client fails with a clear "coordinator not available" timeout instead
        // of an authorization error that would send its operator looking for ACLs.
        Some(_) => Err(ResponseError::CoordinatorNotAvailable.code()),
    }
}

/// An error answer: no id, no epoch, as Kafka sends.
fn error_response(code: i16) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(code)
        .with_producer_id(NO_PRODUCER_ID.into())
        .with_producer_epoch(NO_PRODUCER_EPOCH)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;
    use kafka_protocol::messages::TransactionalId;
    use kafka_protocol::protocol::StrBytes;

    fn request(txn: Option<&'static str>, id: i64, epoch: i16) -> InitProducerIdRequest {
        InitProducerIdRequest::default()
            .with_transactional_id(txn.map(|t| TransactionalId(StrBytes::from_static_str(t))))
            .with_producer_id(id.into())
            .with_producer_epoch(epoch)
    }

    #[test]
    fn idempotent_producers_are_served() {
        assert_eq!(validate(&request(None, -1, -1)), Ok(()));
        assert_eq!(validate(&request(None, 17, 3)), Ok(()));
    }

    #[test]
    fn transactional_ids_are_refused() {
        assert_eq!(validate(&request(Some("txn"), -1, -1)), Err(15));
        assert_eq!(validate(&request(Some(""), -1, -1)), Err(42));
    }

    #[test]
    fn half_given_id_and_epoch_is_invalid() {
        assert_eq!(validate(&request(None, 17, -1)), Err(42));
        assert_eq!(validate(&request(None, -1, 0)), Err(42));
    }

    #[test]
    fn errors_carry_no_id_or_epoch() {
        let r = error_response(15);
        assert_eq!(
            (r.error_code, r.producer_id, r.producer_epoch),
            (15, (-1).into(), -1)
        );
    }
}
