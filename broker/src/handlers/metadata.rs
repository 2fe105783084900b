//! Metadata (key 3): brokers, controller, cluster id and topic layout; auto-creates topics.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, MetadataRequest, MetadataResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::create_topics::{run_blocking, topic_error_code};
use crate::broker::Broker;
use crate::storage::{LogManager, Topic, TopicError};

/// Answers Metadata. "All topics" is an empty list in v0 and a null list in v1+ (where an empty
/// list means none). Unknown topics are created when both the broker and (v4+) the request allow.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: MetadataRequest,
) -> MetadataResponse {
    let version = header.request_api_version;
    let node = broker.config.node_id;
    let advertised = broker.advertised();
    let this_node = MetadataResponseBroker::default()
        .with_node_id(BrokerId(node))
        .with_host(StrBytes::from_string(advertised.host.clone()))
        .with_port(i32::from(advertised.port));
    let topics = match request.topics {
        None => all_topics(broker),
        Some(list) if list.is_empty() && version == 0 => all_topics(broker),
        Some(list) => {
            let auto_create = broker.config.auto_create_topics_enable
                && (version < 4 || request.allow_auto_topic_creation);
            requested_topics(broker, list, auto_create).await
        }
    };
    MetadataResponse::default()
        .with_brokers(vec![this_node])
        .with_cluster_id(Some(StrBytes::from_string(
            broker.log_manager.cluster_id().to_owned(),
        )))
        .with_controller_id(BrokerId(node))
        .with_topics(topics)
}

fn all_topics(broker: &Broker) -> Vec<MetadataResponseTopic> {
    broker
        .log_manager
        .topics()
        .iter()
        .map(|t| describe(broker, t))
        .collect()
}

/// Looks up each requested topic once (duplicates are answered once, like Kafka's set).
async fn requested_topics(
    broker: &Broker,
    list: Vec<MetadataRequestTopic>,
    auto_create: bool,
) -> Vec<MetadataResponseTopic> {
    let mut answered: Vec<MetadataResponseTopic> = Vec::with_capacity(list.len());
    for wanted in list {
        let already = answered.iter().any(|t| match &wanted.name {
            Some(name) => t.name.as_ref() == Some(name),
            None => !wanted.topic_id.is_nil() && t.topic_id == wanted.topic_id,
        });
        if !already {
            answered.push(one_topic(broker, wanted, auto_create).await);
        }
    }
    answered
}

async fn one_topic(
    broker: &Broker,
    wanted: MetadataRequestTopic,
    auto_create: bool,
) -> MetadataResponseTopic {
    // By id when a topic id is given and the name is null (or, from lenient clients, empty).
    let by_id = !wanted.topic_id.is_nil();
    let Some(name) = wanted.name.filter(|n| !(by_id && n.0.is_empty())) else {
        // v10+: a topic asked for by id only.
        return match broker.log_manager.topic_by_id(wanted.topic_id) {
            Some(topic) => describe(broker, &topic),
            None => failed(None, wanted.topic_id, ResponseError::UnknownTopicId.code()),
        };
    };
    let text = name.0.to_string();
    if let Err(e) = LogManager::validate_topic_name(&text) {
        return failed(Some(name), Uuid::nil(), topic_error_code(&e));
    }
    if let Some(topic) = broker.log_manager.topic(&text) {
        return describe(broker, &topic);
    }
    if !auto_create {
        return failed(
            Some(name),
            Uuid::nil(),
            ResponseError::UnknownTopicOrPartition.code(),
        );
    }
    let partitions = broker.config.num_partitions;
    let created = run_blocking(broker, move |lm| {
        match lm.create_topic(&text, partitions, Default::default()) {
            // Another connection created it between our lookup and now: that is fine.
            Err(TopicError::AlreadyExists(_)) => lm
                .topic(&text)
                .ok_or_else(|| TopicError::UnknownTopic(text.clone())),
            other => other,
        }
    })
    .await;
    match created {
        Some(Ok(topic)) => {
            tracing::info!(topic = topic.name(), partitions, "auto-created topic");
            describe(broker, &topic)
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "auto-creating a topic failed");
            failed(Some(name), Uuid::nil(), topic_error_code(&e))
        }
        None => failed(
            Some(name),
            Uuid::nil(),
            ResponseError::UnknownServerError.code(),
        ),
    }
}

fn failed(name: Option<TopicName>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name)
        .with_topic_id(id)
        .with_error_code(code)
}

/// A topic with every partition led by this node, which is also the only replica and the ISR.
/// Leader epoch 0 matches the epoch the log writes into batches.
fn describe(broker: &Broker, topic: &Arc<Topic>) -> MetadataResponseTopic {
    let node = BrokerId(broker.config.node_id);
    let partitions = topic
        .partitions()
        .iter()
        .enumerate()
        .map(|(index, log)| {
            MetadataResponsePartition::default()
                .with_partition_index(i32::try_from(index).unwrap_or(i32::MAX))
                .with_leader_id(node)
                .with_leader_epoch(log.leader_epoch())
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(
            topic.name().to_owned(),
        ))))
        .with_topic_id(topic.id())
        // Kafka flags its own topics so clients skip them in pattern subscriptions.
        .with_is_internal(topic.name() == crate::group_log::OFFSETS_TOPIC)
        .with_partitions(partitions)
}
