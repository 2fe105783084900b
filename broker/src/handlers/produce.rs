//! Produce (API key 0), versions 3-11: append each partition's record batch to its log.
//!
//! Every partition is answered on its own: one partition's failure never affects another's.
//! Appends that must be durable before the acknowledgement (`flush.messages` reached) are
//! fsynced together, concurrently, before the response is built.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::broker::Broker;
use crate::storage::{AppendError, AppendInfo, Log};

/// Offset of `batchLength` in a v2 record batch header.
const BATCH_LENGTH_OFFSET: usize = 8;
/// Bytes before the part that `batchLength` counts (baseOffset + batchLength).
const BATCH_LOG_OVERHEAD: usize = 12;
/// Offset of `magic` in a record batch header.
const MAGIC_OFFSET: usize = 16;

/// Handles one Produce request. `None` for acks=0, which gets no response at all.
pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    if !(-1..=1).contains(&acks) {
        let code = ResponseError::InvalidRequiredAcks.code();
        return Some(error_for_all(request, code));
    }
    if request.transactional_id.is_some() {
        // Transactions are not implemented, so no coordinator ever mapped a producer id to this
        // transactional id. A Kafka broker verifying a transactional produce (KIP-890) against a
        // coordinator that has no state for the id answers INVALID_PRODUCER_ID_MAPPING; it is
        // non-retriable, so the client fails fast instead of retrying forever.
        let code = ResponseError::InvalidProducerIdMapping.code();
        return (acks != 0).then(|| error_for_all(request, code));
    }

    let now_ms = now_ms();
    let mut topics = Vec::with_capacity(request.topic_data.len());
    let mut pending_flushes = Vec::new();
    let mut appended = false;
    for (topic_index, topic_data) in request.topic_data.into_iter().enumerate() {
        let topic = broker.log_manager.topic(topic_data.name.as_str());
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for partition_data in topic_data.partition_data {
            let index = partition_data.index;
            // Kafka never auto-creates on produce: the client's Metadata request does that.
            let log = topic.as_ref().and_then(|t| t.partition(index));
            let response = match log {
                // Kafka refuses client appends to its internal topics with INVALID_TOPIC_EXCEPTION.
                Some(_) if topic_data.name.as_str() == crate::group_log::OFFSETS_TOPIC => {
                    partition_error(index, ResponseError::InvalidTopicException.code(), None)
                }
                None => partition_error(index, ResponseError::UnknownTopicOrPartition.code(), None),
                Some(log) => match append_partition(&log, partition_data, now_ms) {
                    Ok(info) => {
                        appended = true;
                        if info.needs_flush {
                            pending_flushes.push((topic_index, partitions.len(), log, info));
                        }
                        partition_success(index, &info)
                    }
                    Err((code, message)) => partition_error(index, code, message),
                },
            };
            partitions.push(response);
        }
        topics.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partitions),
        );
    }
    if appended {
        broker.notify_appended();
    }
    if !pending_flushes.is_empty() {
        flush_all(broker, &mut topics, pending_flushes).await;
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(topics))
}

/// Validates and appends one partition's records; the error is the code and, for record
/// validation failures, the message to report.
fn append_partition(
    log: &Log,
    data: PartitionProduceData,
    now_ms: i64,
) -> Result<AppendInfo, (i16, Option<String>)> {
    let records = data.records.unwrap_or_default();
    if let Err(message) = validate_records(&records) {
        return Err((ResponseError::InvalidRecord.code(), Some(message)));
    }
    log.append(records, now_ms).map_err(|e| {
        if matches!(e, AppendError::Storage(_)) {
            tracing::error!(tp = %log.topic_partition(), error = %e, "append failed");
        }
        append_error_code(&e)
    })
}

/// Fsyncs every partition whose append asked for it, concurrently, and turns a failed flush
/// into KAFKA_STORAGE_ERROR for that partition only.
async fn flush_all(
    broker: &Broker,
    topics: &mut [TopicProduceResponse],
    pending: Vec<(usize, usize, Arc<Log>, AppendInfo)>,
) {
    let results = join_all(
        pending
            .iter()
            .map(|(_, _, log, info)| log.flush_up_to(info.last_offset))
            .collect(),
    )
    .await;
    for ((topic, partition, log, _), result) in pending.iter().zip(results) {
        if let Err(e) = result {
            tracing::error!(tp = %log.topic_partition(), error = %e, "flush before ack failed");
            let slot = topics
                .get_mut(*topic)
                .and_then(|t| t.partition_responses.get_mut(*partition));
            if let Some(slot) = slot {
                let code = ResponseError::KafkaStorageError.code();
                *slot = partition_error(slot.index, code, None);
            }
        }
    }
    // The storage layer may only move the high watermark once the data is durable.
    broker.notify_appended();
}

/// Checks what Kafka checks before the log sees a v3+ produce: exactly one record batch, of
/// magic 2. Kafka reports these as `InvalidRecordException`, i.e. INVALID_RECORD (87), including
/// for a null or empty records field. Deeper checks (CRC, lengths) are the log's, which answers
/// CORRUPT_MESSAGE for them.
pub fn validate_records(records: &[u8]) -> Result<(), String> {
    if records.is_empty() {
        return Err("produce requests must have at least one record batch per partition".into());
    }
    if let Some(&magic) = records.get(MAGIC_OFFSET) {
        if magic != 2 {
            return Err(format!(
                "record batch magic {magic} is not allowed: only magic 2"
            ));
        }
    }
    let length_bytes = records.get(BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4);
    if let Some(&[a, b, c, d]) = length_bytes {
        let batch_length = i32::from_be_bytes([a, b, c, d]);
        // A nonsensical length is left to the log, which reports it as a corrupt batch.
        if let Ok(batch_length) = usize::try_from(batch_length) {
            let first_batch_end = BATCH_LOG_OVERHEAD.saturating_add(batch_length);
            if first_batch_end < records.len() {
                return Err(
                    "produce requests must have exactly one record batch per partition".into(),
                );
            }
        }
    }
    Ok(())
}

/// The Kafka error code, and the message where Kafka reports one, for a refused append.
pub fn append_error_code(error: &AppendError) -> (i16, Option<String>) {
    match error {
        AppendError::Corrupt(_) => (ResponseError::CorruptMessage.code(), None),
        // No record index comes with the error, so `record_errors` stays empty rather than
        // blaming a record at random; the message says what was wrong.
        AppendError::InvalidRecord(_) => {
            (ResponseError::InvalidRecord.code(), Some(error.to_string()))
        }
        AppendError::MessageTooLarge { .. } => (ResponseError::MessageTooLarge.code(), None),
        AppendError::OutOfOrderSequence(_) => {
            (ResponseError::OutOfOrderSequenceNumber.code(), None)
        }
        AppendError::InvalidProducerEpoch(_) => (ResponseError::InvalidProducerEpoch.code(), None),
        AppendError::UnknownProducerId(_) => (ResponseError::UnknownProducerId.code(), None),
        AppendError::Storage(_) => (ResponseError::KafkaStorageError.code(), None),
    }
}

/// A successful partition answer.
fn partition_success(index: i32, info: &AppendInfo) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_base_offset(info.base_offset)
        .with_log_append_time_ms(info.log_append_time)
        .with_log_start_offset(info.log_start_offset)
}

/// A failed partition answer: offsets are -1, as Kafka sends them for an error.
fn partition_error(index: i32, code: i16, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(StrBytes::from_string))
}

/// The same error for every partition of the request.
fn error_for_all(request: ProduceRequest, code: i16) -> ProduceResponse {
    let topics = request
        .topic_data
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partition_data
                .iter()
                .map(|p| partition_error(p.index, code, None))
                .collect();
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_partition_responses(partitions)
        })
        .collect();
    ProduceResponse::default().with_responses(topics)
}

/// The broker clock in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs every future concurrently on the current task and returns their outputs in order.
/// (No task is spawned, so the futures may borrow, and dropping this drops them all.)
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;
    use crate::storage::StorageError;
    use kafka_protocol::messages::produce_request::TopicProduceData;
    use kafka_protocol::messages::TopicName;

    /// A header-only batch of `len` bytes in total, with a consistent `batchLength`.
    fn batch(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        let batch_length = i32::try_from(len - BATCH_LOG_OVERHEAD).unwrap();
        b[8..12].copy_from_slice(&batch_length.to_be_bytes());
        b[16] = 2;
        b
    }

    #[test]
    fn empty_records_are_invalid_record() {
        assert!(validate_records(&[]).is_err());
    }

    #[test]
    fn one_batch_is_accepted() {
        assert_eq!(validate_records(&batch(61)), Ok(()));
        // A lying length is the log's business (CORRUPT_MESSAGE), not ours.
        let mut lying = batch(61);
        lying[8..12].copy_from_slice(&1000i32.to_be_bytes());
        assert_eq!(validate_records(&lying), Ok(()));
        assert_eq!(validate_records(&[0u8; 5]), Ok(()));
    }

    #[test]
    fn two_batches_or_old_magic_are_refused() {
        let mut two = batch(61);
        two.extend_from_slice(&batch(70));
        assert!(validate_records(&two).unwrap_err().contains("exactly one"));
        let mut old = batch(61);
        old[16] = 1;
        assert!(validate_records(&old).unwrap_err().contains("magic"));
    }

    #[test]
    fn append_errors_map_to_kafka_codes() {
        let io = || StorageError::Offline("t-0".into());
        let cases: Vec<(AppendError, i16)> = vec![
            (AppendError::Corrupt("crc".into()), 2),
            (AppendError::InvalidRecord("no key".into()), 87),
            (AppendError::MessageTooLarge { size: 10, max: 5 }, 10),
            (AppendError::OutOfOrderSequence("gap".into()), 45),
            (AppendError::InvalidProducerEpoch("old".into()), 47),
            (AppendError::UnknownProducerId(7), 59),
            (AppendError::Storage(io()), 56),
        ];
        for (error, code) in cases {
            let (got, message) = append_error_code(&error);
            assert_eq!(got, code, "{error}");
            assert_eq!(message.is_some(), code == 87, "{error}");
        }
    }

    #[test]
    fn error_for_all_covers_every_partition_with_minus_one_offsets() {
        let topic = |name: &'static str, parts: &[i32]| {
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(name)))
                .with_partition_data(
                    parts
                        .iter()
                        .map(|&i| PartitionProduceData::default().with_index(i))
                        .collect(),
                )
        };
        let request = ProduceRequest::default()
            .with_acks(5)
            .with_topic_data(vec![topic("a", &[0, 2]), topic("b", &[1])]);
        let response = error_for_all(request, 21);
        let got: Vec<(String, i32, i16, i64)> = response
            .responses
            .iter()
            .flat_map(|t| {
                t.partition_responses
                    .iter()
                    .map(|p| (t.name.to_string(), p.index, p.error_code, p.base_offset))
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), 0, 21, -1),
                ("a".into(), 2, 21, -1),
                ("b".into(), 1, 21, -1)
            ]
        );
    }

    #[tokio::test]
    async fn join_all_runs_concurrently_and_keeps_order() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        // The first future can only finish once the second has run: sequential awaiting would
        // hang, so the timeout makes this test fail if the futures are not polled together.
        let first: Pin<Box<dyn Future<Output = u32>>> =
            Box::pin(async move { rx.await.unwrap() + 1 });
        let second: Pin<Box<dyn Future<Output = u32>>> = Box::pin(async move {
            tx.send(41).unwrap();
            7
        });
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            join_all(vec![first, second]),
        )
        .await
        .unwrap();
        assert_eq!(out, vec![42, 7]);
    }

    #[test]
    fn partition_success_copies_append_info() {
        let info = AppendInfo {
            base_offset: 10,
            last_offset: 12,
            log_append_time: -1,
            log_start_offset: 3,
            needs_flush: false,
        };
        let p = partition_success(4, &info);
        assert_eq!((p.index, p.error_code, p.base_offset), (4, 0, 10));
        assert_eq!((p.log_append_time_ms, p.log_start_offset), (-1, 3));
    }
}
