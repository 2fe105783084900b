//! CreatePartitions (key 37): grows existing topics.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use super::create_topics::{run_blocking, topic_error_code, MAX_PARTITIONS_PER_TOPIC};
use crate::broker::Broker;
use crate::storage::TopicError;

/// A refusal: error code and message.
type Refusal = (i16, String);

/// Answers CreatePartitions; each topic is handled on its own.
pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let outcome = grow(broker, &topic, request.validate_only).await;
        let result = CreatePartitionsTopicResult::default().with_name(topic.name);
        results.push(match outcome {
            Ok(()) => result,
            Err((code, message)) => result
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_string(message))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}

/// Checks that `topic.count` grows the topic (and any assignment keeps every new partition on
/// this node), then grows it unless `validate_only`.
async fn grow(
    broker: &Broker,
    topic: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), Refusal> {
    let name = topic.name.0.to_string();
    let Some(existing) = broker.log_manager.topic(&name) else {
        let e = TopicError::UnknownTopic(name);
        return Err((topic_error_code(&e), e.to_string()));
    };
    let current = i32::try_from(existing.partitions().len()).unwrap_or(i32::MAX);
    let total = topic.count;
    if total <= current {
        return Err((
            ResponseError::InvalidPartitions.code(),
            format!(
                "topic '{name}' has {current} partitions; the new count {total} must be larger"
            ),
        ));
    }
    if total > MAX_PARTITIONS_PER_TOPIC {
        return Err((
            ResponseError::InvalidPartitions.code(),
            format!("at most {MAX_PARTITIONS_PER_TOPIC} partitions per topic"),
        ));
    }
    // Clients send null (or an empty list) to let the broker place the new partitions.
    if let Some(assignments) = topic.assignments.as_ref().filter(|a| !a.is_empty()) {
        let node = broker.config.node_id;
        let new = usize::try_from(total - current).unwrap_or(0);
        let valid = assignments.len() == new
            && assignments
                .iter()
                .all(|a| !a.broker_ids.is_empty() && a.broker_ids.iter().all(|b| b.0 == node));
        if !valid {
            return Err((
                ResponseError::InvalidReplicaAssignment.code(),
                format!(
                    "give one assignment per new partition ({new}), each on broker {node} only"
                ),
            ));
        }
    }
    if validate_only {
        return Ok(());
    }
    match run_blocking(broker, move |lm| lm.create_partitions(&name, total)).await {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err((topic_error_code(&e), e.to_string())),
        None => Err((
            ResponseError::UnknownServerError.code(),
            "internal error".into(),
        )),
    }
}
