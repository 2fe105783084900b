//! FindCoordinator (key 10): this node coordinates every group and every transactional id.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;

/// Where a key's coordinator lives, or why there is none.
struct Answer {
    /// 0, or why there is no coordinator.
    error_code: i16,
    /// Set with a non-zero `error_code` (v1+).
    error_message: Option<StrBytes>,
    /// The coordinator's node id, -1 on error.
    node_id: i32,
    /// The coordinator's advertised host, empty on error.
    host: StrBytes,
    /// The coordinator's advertised port, -1 on error.
    port: i32,
}

/// Key types: 0 = consumer group, 1 = transactional id. Share groups (2) are not served.
fn answer(broker: &Broker, key_type: i8) -> Answer {
    if key_type == 0 || key_type == 1 {
        let advertised = broker.advertised();
        Answer {
            error_code: 0,
            error_message: None,
            node_id: broker.config.node_id,
            host: StrBytes::from_string(advertised.host.clone()),
            port: i32::from(advertised.port),
        }
    } else {
        Answer {
            error_code: ResponseError::InvalidRequest.code(),
            error_message: Some(StrBytes::from_string(format!(
                "unsupported coordinator key type {key_type}"
            ))),
            node_id: -1,
            host: StrBytes::default(),
            port: -1,
        }
    }
}

/// Answers FindCoordinator: v0-3 carry one key and answer in top-level fields; v4+ carry a list
/// of keys and answer one `Coordinator` per key (the top-level fields must then stay unset).
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let version = header.request_api_version;
    let a = answer(broker, request.key_type);
    if version < 4 {
        let mut response = FindCoordinatorResponse::default()
            .with_error_code(a.error_code)
            .with_node_id(BrokerId(a.node_id))
            .with_host(a.host)
            .with_port(a.port);
        if version >= 1 {
            response = response.with_error_message(a.error_message);
        }
        return response;
    }
    let coordinators = request
        .coordinator_keys
        .into_iter()
        .map(|key| {
            Coordinator::default()
                .with_key(key)
                .with_error_code(a.error_code)
                .with_error_message(a.error_message.clone())
                .with_node_id(BrokerId(a.node_id))
                .with_host(a.host.clone())
                .with_port(a.port)
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}
