//! AlterConfigs (key 33), versions 0-2: replaces a resource's whole set of overrides.
//!
//! Topic overrides are validated, persisted and applied to the topic's partitions at once (see
//! `LogManager::alter_topic_configs`). Broker resources change the dynamic broker configs
//! ([`alter_broker`], see `DynamicBrokerConfig`): only the partition defaults are dynamic.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use super::create_topics::{run_blocking, topic_error_code};
use crate::broker::Broker;
use crate::storage::TopicError;

/// Kafka's `ConfigResource.Type` code for a topic.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
/// Kafka's `ConfigResource.Type` code for a broker.
pub(crate) const RESOURCE_BROKER: i8 = 4;

/// An error code and message for one resource; `(0, None)` is success.
pub(crate) type Outcome = (i16, Option<String>);

/// The outcome of a topic config change that failed with `e`.
pub(crate) fn topic_failure(e: &TopicError) -> Outcome {
    (topic_error_code(e), Some(e.to_string()))
}

/// Changes the dynamic broker configs of the broker resource `name` (empty = cluster default)
/// with `edit`, on the blocking pool (a small file write). Refusals are INVALID_REQUEST, as in
/// Kafka.
pub(crate) async fn alter_broker<F>(
    broker: &Broker,
    name: &str,
    validate_only: bool,
    edit: F,
) -> Outcome
where
    F: FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String>
        + Send
        + 'static,
{
    let store = Arc::clone(&broker.dynamic_config);
    let scope = match store.scope(name) {
        Ok(s) => s,
        Err(e) => return (ResponseError::InvalidRequest.code(), Some(e.to_string())),
    };
    let logs = Arc::clone(&broker.log_manager);
    let job = move || store.alter(scope, &logs, validate_only, edit);
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(())) => (0, None),
        Ok(Err(e)) => (ResponseError::InvalidRequest.code(), Some(e.to_string())),
        Err(e) => (
            ResponseError::UnknownServerError.code(),
            Some(e.to_string()),
        ),
    }
}

/// The outcome for a resource type that cannot be altered.
pub(crate) fn bad_resource_type(resource_type: i8) -> Outcome {
    (
        ResponseError::InvalidRequest.code(),
        Some(format!("resource type {resource_type} cannot be altered")),
    )
}

/// Answers AlterConfigs. Entries with a null value are left out of the new set.
pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let validate_only = request.validate_only;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.to_string();
        let (code, message) = match resource.resource_type {
            RESOURCE_TOPIC => {
                let overrides: BTreeMap<String, String> = resource
                    .configs
                    .iter()
                    .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                    .collect();
                let topic = name.clone();
                // Writing the overrides file blocks: run it on the blocking pool.
                run_blocking(broker, move |logs| {
                    logs.alter_topic_configs(&topic, overrides, validate_only)
                })
                .await
                .map_or((ResponseError::UnknownServerError.code(), None), |r| {
                    r.map_or_else(|e| topic_failure(&e), |()| (0, None))
                })
            }
            RESOURCE_BROKER => {
                let layer: BTreeMap<String, String> = resource
                    .configs
                    .iter()
                    .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                    .collect();
                alter_broker(broker, &name, validate_only, move |_| Ok(layer)).await
            }
            other => bad_resource_type(other),
        };
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}
