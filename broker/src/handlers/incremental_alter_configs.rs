//! IncrementalAlterConfigs (key 44), versions 0-1: SET, DELETE, APPEND and SUBTRACT on single
//! keys of a resource's overrides (APPEND / SUBTRACT only on list configs such as
//! `cleanup.policy`). Topic changes apply live; see `LogManager::incremental_alter_topic_configs`.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use super::alter_configs::{
    alter_broker, bad_resource_type, topic_failure, Outcome, RESOURCE_BROKER, RESOURCE_TOPIC,
};
use super::create_topics::run_blocking;
use crate::broker::Broker;
use crate::storage::log_manager::AlterConfigOp;

/// Answers IncrementalAlterConfigs, one result per resource, in request order.
pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let validate_only = request.validate_only;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let (code, message) = alter_one(broker, &resource, validate_only).await;
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

async fn alter_one(
    broker: &Broker,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Outcome {
    let mut seen = HashSet::new();
    if !resource
        .configs
        .iter()
        .all(|c| seen.insert(c.name.as_str()))
    {
        return (
            ResponseError::InvalidRequest.code(),
            Some("Error due to duplicate config keys".to_owned()),
        );
    }
    if resource.resource_type != RESOURCE_TOPIC && resource.resource_type != RESOURCE_BROKER {
        return bad_resource_type(resource.resource_type);
    }
    let mut ops = Vec::with_capacity(resource.configs.len());
    for c in &resource.configs {
        let Some(op) = AlterConfigOp::from_code(c.config_operation) else {
            return (
                ResponseError::InvalidRequest.code(),
                Some(format!(
                    "unknown config operation {} for '{}'",
                    c.config_operation,
                    c.name.as_str()
                )),
            );
        };
        ops.push((
            c.name.to_string(),
            op,
            c.value.as_ref().map(|v| v.to_string()),
        ));
    }
    if resource.resource_type == RESOURCE_BROKER {
        let name = resource.resource_name.to_string();
        return alter_broker(broker, &name, validate_only, move |layer| {
            broker_ops(layer, &ops)
        })
        .await;
    }
    let topic = resource.resource_name.to_string();
    // Writing the overrides file blocks: run it on the blocking pool.
    run_blocking(broker, move |logs| {
        logs.incremental_alter_topic_configs(&topic, &ops, validate_only)
    })
    .await
    .map_or((ResponseError::UnknownServerError.code(), None), |r| {
        r.map_or_else(|e| topic_failure(&e), |()| (0, None))
    })
}

/// Broker list configs this broker makes dynamic, with Kafka's static default.
const BROKER_LIST_CONFIGS: &[(&str, &str)] = &[("log.cleanup.policy", "delete")];

/// Applies incremental operations to a dynamic broker layer.
fn broker_ops(
    layer: &BTreeMap<String, String>,
    ops: &[(String, AlterConfigOp, Option<String>)],
) -> Result<BTreeMap<String, String>, String> {
    let mut next = layer.clone();
    for (key, op, value) in ops {
        let value = value.as_deref().unwrap_or("");
        let items = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match op {
            AlterConfigOp::Set => {
                next.insert(key.clone(), value.to_owned());
            }
            AlterConfigOp::Delete => {
                next.remove(key);
            }
            AlterConfigOp::Append | AlterConfigOp::Subtract => {
                let Some((_, default)) = BROKER_LIST_CONFIGS.iter().find(|(k, _)| k == key) else {
                    return Err(format!(
                        "config '{key}' is not a list: {op:?} is not allowed"
                    ));
                };
                let mut list = items(next.get(key).map_or(*default, String::as_str));
                let given = items(value);
                if *op == AlterConfigOp::Append {
                    given.into_iter().for_each(|i| {
                        if !list.contains(&i) {
                            list.push(i);
                        }
                    });
                } else {
                    list.retain(|i| !given.contains(i));
                }
                next.insert(key.clone(), list.join(","));
            }
        }
    }
    Ok(next)
}
