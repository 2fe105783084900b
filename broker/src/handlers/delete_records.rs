//! DeleteRecords (key 21), versions 0-2: moves partitions' log start offsets forward
//! (offset -1 = the high watermark) and deletes the segments wholly below them.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, RequestHeader};

use super::create_topics::run_blocking;
use crate::broker::Broker;
use crate::storage::retention::{schedule_removal, PendingDeletion};
use crate::storage::{DeleteRecordsError, LogManager};

/// Answers DeleteRecords. On a single node every replica is the leader, so the request's
/// `timeout_ms` is never waited on: the answer is complete at once.
pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let names: Vec<_> = request.topics.iter().map(|t| t.name.clone()).collect();
    // Renames and the checkpoint write block: one trip to the blocking pool for the request.
    let outcome = run_blocking(broker, move |logs| delete_all(logs, &request)).await;
    let (topics, pending) = outcome.unwrap_or_else(|| {
        let failed = names
            .into_iter()
            .map(|n| DeleteRecordsTopicResult::default().with_name(n))
            .collect();
        (failed, Vec::new())
    });
    pending.into_iter().for_each(schedule_removal);
    DeleteRecordsResponse::default().with_topics(topics)
}

/// Applies every partition's request; returns the results and the files to remove later.
fn delete_all(
    logs: &LogManager,
    request: &DeleteRecordsRequest,
) -> (Vec<DeleteRecordsTopicResult>, Vec<PendingDeletion>) {
    let mut pending = Vec::new();
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let topic = logs.topic(t.name.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    let Some(log) = topic.as_ref().and_then(|t| t.partition(p.partition_index))
                    else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    match log.delete_records(p.offset) {
                        Ok((low_watermark, files)) => {
                            if !files.is_empty() {
                                let delay_ms = log.config().file_delete_delay_ms;
                                pending.push(PendingDeletion { files, delay_ms });
                            }
                            result.with_low_watermark(low_watermark)
                        }
                        Err(e) => result.with_error_code(error_code(&e)),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    // The new log start offsets must survive a restart.
    logs.checkpoint_log_start_offsets();
    (topics, pending)
}

fn error_code(error: &DeleteRecordsError) -> i16 {
    match error {
        DeleteRecordsError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
        DeleteRecordsError::PolicyViolation(_) => ResponseError::PolicyViolation.code(),
        DeleteRecordsError::Storage(_) => ResponseError::KafkaStorageError.code(),
    }
}
