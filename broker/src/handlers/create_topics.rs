//! CreateTopics (key 19), and the helpers the topic admin handlers share: the `TopicError` to
//! Kafka error code mapping and running `LogManager` work off the async threads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::storage::{LogManager, TopicError};

/// The most partitions one topic may have. Kafka has no fixed cap, but each partition is a
/// directory and open files, so a single request must not be able to ask for billions.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;

/// `config_source` DYNAMIC_TOPIC_CONFIG: the value is a topic-level override.
const CONFIG_SOURCE_TOPIC: i8 = 1;

/// The Kafka error code for a refused topic operation.
pub(crate) fn topic_error_code(error: &TopicError) -> i16 {
    match error {
        TopicError::AlreadyExists(_) => ResponseError::TopicAlreadyExists.code(),
        TopicError::UnknownTopic(_) => ResponseError::UnknownTopicOrPartition.code(),
        TopicError::InvalidName(..) => ResponseError::InvalidTopicException.code(),
        TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions.code(),
        TopicError::InvalidConfig(_) => ResponseError::InvalidConfig.code(),
        TopicError::Storage(_) => ResponseError::KafkaStorageError.code(),
    }
}

/// Runs `LogManager` work that touches the file system (create, delete, grow) on tokio's
/// blocking pool, so directory creation and fsyncs never stall the async threads. `None` means
/// the work panicked; the caller answers UNKNOWN_SERVER_ERROR.
pub(crate) async fn run_blocking<T, F>(broker: &Broker, work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&LogManager) -> T + Send + 'static,
{
    let log_manager = Arc::clone(&broker.log_manager);
    match tokio::task::spawn_blocking(move || work(&log_manager)).await {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::error!(%error, "storage task failed");
            None
        }
    }
}

/// A refusal: error code and message.
type Refusal = (i16, String);

/// What a valid topic request asks for.
struct Plan {
    /// Partitions to create (the broker default already applied).
    partitions: i32,
    /// Topic-level config overrides, validated.
    configs: BTreeMap<String, String>,
}

/// Answers CreateTopics. Each topic is validated and created on its own; one bad topic does not
/// fail the others.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let version = header.request_api_version;
    let mut seen: HashMap<StrBytes, usize> = HashMap::new();
    for topic in &request.topics {
        *seen.entry(topic.name.0.clone()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.clone();
        let outcome = if seen.get(&name).copied().unwrap_or(0) > 1 {
            Err((
                ResponseError::InvalidRequest.code(),
                format!("topic '{name}' appears more than once in the request"),
            ))
        } else {
            create_one(broker, &topic, request.validate_only).await
        };
        results.push(result(version, topic, outcome));
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// Validates one topic and, unless `validate_only`, creates it; returns its id (nil when only
/// validated) and partition count.
async fn create_one(
    broker: &Broker,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<(uuid::Uuid, i32), Refusal> {
    let name = topic.name.0.to_string();
    LogManager::validate_topic_name(&name).map_err(|e| (topic_error_code(&e), e.to_string()))?;
    let plan = plan(broker, topic)?;
    if broker.log_manager.topic(&name).is_some() {
        let e = TopicError::AlreadyExists(name);
        return Err((topic_error_code(&e), e.to_string()));
    }
    if validate_only {
        return Ok((uuid::Uuid::nil(), plan.partitions));
    }
    let partitions = plan.partitions;
    let created = run_blocking(broker, move |lm| {
        lm.create_topic(&name, partitions, plan.configs)
            .map(|t| t.id())
    })
    .await;
    match created {
        Some(Ok(id)) => Ok((id, partitions)),
        Some(Err(e)) => Err((topic_error_code(&e), e.to_string())),
        None => Err((
            ResponseError::UnknownServerError.code(),
            "internal error".into(),
        )),
    }
}

/// Checks partitions, replication and configs the way a one-broker Kafka cluster would.
fn plan(broker: &Broker, topic: &CreatableTopic) -> Result<Plan, Refusal> {
    let partitions = if topic.assignments.is_empty() {
        check_counts(broker, topic)?
    } else {
        check_assignments(broker, topic)?
    };
    let mut configs = BTreeMap::new();
    for config in &topic.configs {
        let Some(value) = &config.value else {
            return Err((
                ResponseError::InvalidConfig.code(),
                format!("config '{}' has a null value", config.name),
            ));
        };
        configs.insert(config.name.to_string(), value.to_string());
    }
    LogManager::validate_topic_configs(&configs)
        .map_err(|e| (ResponseError::InvalidConfig.code(), e.to_string()))?;
    Ok(Plan {
        partitions,
        configs,
    })
}

/// Partition count and replication factor without manual assignments.
fn check_counts(broker: &Broker, topic: &CreatableTopic) -> Result<i32, Refusal> {
    let partitions = match topic.num_partitions {
        -1 => broker.config.num_partitions,
        n if (1..=MAX_PARTITIONS_PER_TOPIC).contains(&n) => n,
        n => {
            return Err((
                ResponseError::InvalidPartitions.code(),
                format!(
                    "number of partitions {n} must be between 1 and {MAX_PARTITIONS_PER_TOPIC}, \
                     or -1 for the default"
                ),
            ))
        }
    };
    match topic.replication_factor {
        -1 | 1 => Ok(partitions),
        n => Err((
            ResponseError::InvalidReplicationFactor.code(),
            format!("replication factor {n} is not possible with 1 broker (use 1 or -1)"),
        )),
    }
}

/// Manual assignments: partitions 0..n, each on exactly this node.
fn check_assignments(broker: &Broker, topic: &CreatableTopic) -> Result<i32, Refusal> {
    if topic.num_partitions != -1 || topic.replication_factor != -1 {
        return Err((
            ResponseError::InvalidRequest.code(),
            "with replica assignments, num_partitions and replication_factor must be -1".into(),
        ));
    }
    let count = topic.assignments.len();
    if count > MAX_PARTITIONS_PER_TOPIC as usize {
        return Err((
            ResponseError::InvalidPartitions.code(),
            format!("at most {MAX_PARTITIONS_PER_TOPIC} partitions per topic"),
        ));
    }
    let mut indexes: Vec<i32> = topic
        .assignments
        .iter()
        .map(|a| a.partition_index)
        .collect();
    indexes.sort_unstable();
    let consecutive = indexes
        .iter()
        .enumerate()
        .all(|(i, &p)| p as usize == i && p >= 0);
    let node = broker.config.node_id;
    let on_this_node = topic
        .assignments
        .iter()
        .all(|a| !a.broker_ids.is_empty() && a.broker_ids.iter().all(|b| b.0 == node));
    if !consecutive || !on_this_node {
        return Err((
            ResponseError::InvalidReplicaAssignment.code(),
            format!("assignments must cover partitions 0..{count}, each on broker {node} only"),
        ));
    }
    Ok(count as i32)
}

/// Builds one topic's result for `version`.
fn result(
    version: i16,
    topic: CreatableTopic,
    outcome: Result<(uuid::Uuid, i32), Refusal>,
) -> CreatableTopicResult {
    let base = CreatableTopicResult::default().with_name(topic.name);
    match outcome {
        Ok((id, partitions)) => {
            let mut r = base.with_topic_id(id).with_error_message(None);
            if version >= 5 {
                let configs = topic
                    .configs
                    .into_iter()
                    .map(|c| {
                        CreatableTopicConfigs::default()
                            .with_name(c.name)
                            .with_value(c.value)
                            .with_config_source(CONFIG_SOURCE_TOPIC)
                    })
                    .collect();
                r = r
                    .with_num_partitions(partitions)
                    .with_replication_factor(1)
                    .with_configs(Some(configs));
            }
            r
        }
        Err((code, message)) => base
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message)))
            .with_configs(None),
    }
}
