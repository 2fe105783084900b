//! DeleteTopics (key 20): by name (v1+) or by topic id (v6+).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    DeleteTopicsRequest, DeleteTopicsResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::create_topics::{run_blocking, topic_error_code};
use crate::broker::Broker;

/// Answers DeleteTopics. v1-5 name topics in `topic_names`; v6+ use `topics`, each with a name
/// or an id.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<TopicName>, Uuid)> = if header.request_api_version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        responses.push(delete_one(broker, name, id).await);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

/// Deletes one topic named by `name` or, when the name is null, by `id`.
async fn delete_one(broker: &Broker, name: Option<TopicName>, id: Uuid) -> DeletableTopicResult {
    // A name that is empty while an id is given counts as absent, as in Metadata.
    let name = name.filter(|n| !n.0.is_empty() || id.is_nil());
    let resolved = match (&name, id.is_nil()) {
        (Some(name), true) => Ok(name.0.to_string()),
        (None, false) => match broker.log_manager.topic_by_id(id) {
            Some(topic) => Ok(topic.name().to_owned()),
            None => Err((
                ResponseError::UnknownTopicId.code(),
                format!("no topic with id {id}"),
            )),
        },
        _ => Err((
            ResponseError::InvalidRequest.code(),
            "give either a topic name or a topic id".to_owned(),
        )),
    };
    let outcome = match resolved {
        Ok(topic_name) if topic_name == crate::group_log::OFFSETS_TOPIC => Err((
            ResponseError::InvalidRequest.code(),
            format!("cannot delete the internal topic {topic_name}"),
        )),
        Ok(topic_name) => {
            let deleted = run_blocking(broker, move |lm| lm.delete_topic(&topic_name)).await;
            match deleted {
                Some(Ok(deleted_id)) => Ok(deleted_id),
                Some(Err(e)) => Err((topic_error_code(&e), e.to_string())),
                None => Err((
                    ResponseError::UnknownServerError.code(),
                    "internal error".into(),
                )),
            }
        }
        Err(refusal) => Err(refusal),
    };
    let result = DeletableTopicResult::default().with_name(name);
    match outcome {
        Ok(deleted_id) => result.with_topic_id(deleted_id),
        Err((code, message)) => result
            .with_topic_id(id)
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message))),
    }
}
