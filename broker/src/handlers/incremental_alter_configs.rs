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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;
    use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

    use super::*;
    use crate::config::BrokerConfig;
    use crate::handlers::{alter_configs, describe_configs};
    use crate::producer_id_manager::ProducerIdManager;
    use crate::storage::LogManager;

    fn broker(dir: &std::path::Path) -> Broker {
        let c = BrokerConfig::from_pairs([("log.dirs".into(), dir.display().to_string())]).unwrap();
        let log_manager = LogManager::open(c.log_manager_config()).unwrap();
        let ids = ProducerIdManager::open(dir).unwrap();
        Broker::new(c, log_manager, ids, crate::group::GroupConfig::default())
    }

    fn request(ty: i8, name: &str, ops: &[(&str, i8, &str)]) -> IncrementalAlterConfigsRequest {
        let configs = ops
            .iter()
            .map(|(k, op, v)| {
                AlterableConfig::default()
                    .with_name(StrBytes::from_string((*k).to_owned()))
                    .with_config_operation(*op)
                    .with_value(Some(StrBytes::from_string((*v).to_owned())))
            })
            .collect();
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(ty)
                .with_resource_name(StrBytes::from_string(name.to_owned()))
                .with_configs(configs),
        ])
    }

    async fn alter(b: &Broker, ty: i8, name: &str, ops: &[(&str, i8, &str)]) -> (i16, String) {
        let r = handle(b, &RequestHeader::default(), request(ty, name, ops)).await;
        let r = &r.responses[0];
        let message = r
            .error_message
            .as_ref()
            .map_or(String::new(), |m| m.to_string());
        (r.error_code, message)
    }

    /// (value, source) of `key` in DescribeConfigs of resource (ty, name).
    fn describe(b: &Broker, ty: i8, name: &str, key: &str) -> (Option<String>, i8) {
        let resource =
            kafka_protocol::messages::describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(ty)
                .with_resource_name(StrBytes::from_string(name.to_owned()))
                .with_configuration_keys(Some(vec![StrBytes::from_string(key.to_owned())]));
        let header = RequestHeader::default().with_request_api_version(4);
        let r: DescribeConfigsResponse = describe_configs::handle(
            b,
            &header,
            DescribeConfigsRequest::default().with_resources(vec![resource]),
        );
        let e = &r.results[0].configs[0];
        (e.value.as_ref().map(|v| v.to_string()), e.config_source)
    }

    #[tokio::test]
    async fn topic_and_broker_changes_apply_and_show_in_describe_configs() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        b.log_manager
            .create_topic("t", 1, Default::default())
            .unwrap();
        let log = b.log_manager.topic("t").unwrap().partition(0).unwrap();
        assert_eq!(alter(&b, 2, "t", &[("retention.ms", 0, "1000")]).await.0, 0);
        assert_eq!(
            describe(&b, 2, "t", "retention.ms"),
            (Some("1000".into()), 1)
        );
        assert_eq!(log.config().retention_ms, 1000);
        // APPEND to cleanup.policy starts from "delete"; SUBTRACT removes.
        assert_eq!(
            alter(&b, 2, "t", &[("cleanup.policy", 2, "compact")])
                .await
                .0,
            0
        );
        assert!(log.config().compact && log.config().delete);
        assert_eq!(
            alter(&b, 2, "t", &[("cleanup.policy", 3, "delete")])
                .await
                .0,
            0
        );
        assert!(log.config().compact && !log.config().delete);
        // Errors: bad value (INVALID_CONFIG naming the key), duplicate keys, unknown topic.
        let (code, message) = alter(&b, 2, "t", &[("retention.ms", 0, "x")]).await;
        assert_eq!(code, 40);
        assert!(message.contains("retention.ms"), "{message}");
        let dup = [("retention.ms", 0, "1"), ("retention.ms", 1, "")];
        assert_eq!(alter(&b, 2, "t", &dup).await.0, 42);
        assert_eq!(alter(&b, 2, "nope", &[("retention.ms", 0, "1")]).await.0, 3);
        // DELETE goes back to the inherited value.
        assert_eq!(alter(&b, 2, "t", &[("retention.ms", 1, "")]).await.0, 0);
        assert_eq!(
            describe(&b, 2, "t", "retention.ms"),
            (Some("604800000".into()), 5)
        );

        // Broker: the cluster default, then this node; a static key is refused.
        let (code, message) = alter(&b, 4, "", &[("num.partitions", 0, "3")]).await;
        assert_eq!(code, 42);
        assert!(message.contains("num.partitions"), "{message}");
        assert_eq!(
            alter(&b, 4, "2", &[("log.retention.ms", 0, "5")]).await.0,
            42
        );
        assert_eq!(
            alter(&b, 4, "", &[("log.retention.ms", 0, "7000")]).await.0,
            0
        );
        assert_eq!(
            alter(&b, 4, "1", &[("log.retention.ms", 0, "6000")])
                .await
                .0,
            0
        );
        assert_eq!(log.config().retention_ms, 6000);
        assert_eq!(
            describe(&b, 4, "", "log.retention.ms"),
            (Some("7000".into()), 3)
        );
        assert_eq!(
            describe(&b, 4, "1", "log.retention.ms"),
            (Some("6000".into()), 2)
        );
        assert_eq!(
            describe(&b, 2, "t", "retention.ms"),
            (Some("6000".into()), 2)
        );

        // AlterConfigs replaces the whole set: retention.ms goes, segment.ms comes.
        let legacy = kafka_protocol::messages::AlterConfigsRequest::default().with_resources(vec![
            kafka_protocol::messages::alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("t"))
                .with_configs(vec![
                    kafka_protocol::messages::alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("segment.ms"))
                        .with_value(Some(StrBytes::from_static_str("90000"))),
                ]),
        ]);
        let r = alter_configs::handle(&b, &RequestHeader::default(), legacy).await;
        assert_eq!(r.responses[0].error_code, 0);
        assert_eq!(
            b.log_manager.topic("t").unwrap().config_overrides().len(),
            1
        );
        assert_eq!(log.config().segment_ms, 90_000);
    }
}
