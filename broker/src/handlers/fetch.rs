//! Fetch (API key 1), versions 4-16: read record batches, long-polling until `min_bytes` are
//! readable or `max_wait_ms` has passed.
//!
//! Fetch sessions (KIP-227) are not kept: every request is answered as a sessionless full fetch
//! (session id 0), which clients accept by sending full requests from then on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestHeader, TopicName};
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use crate::broker::Broker;
use crate::storage::{FetchDataInfo, FileRange, Log, ReadError};

/// The longest a fetch waits for `min_bytes`. Kafka does not cap `max_wait_ms`, but waiting past
/// the usual client request timeout (30 s in the Java client) only makes the client give up and
/// resend, and answering early with fewer than `min_bytes` is always allowed.
pub const MAX_WAIT_CAP_MS: u64 = 30_000;

/// `isolation_level` value of read_committed.
const READ_COMMITTED: i8 = 1;

/// A Fetch response whose records may be left in segment files.
#[derive(Debug)]
pub struct FetchReply {
    /// The response; a partition whose records are in `files` has empty records here.
    pub response: FetchResponse,
    /// One entry per partition of `response`, in order (topic by topic): the file range that
    /// stands for the partition's records, if they were left in a file.
    pub files: Vec<Option<FileRange>>,
}

/// Handles one Fetch request. With `in_files`, records are named by their place in the segment
/// files rather than read, for the connection to send with `sendfile(2)`; the client gets the
/// same bytes either way.
pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: FetchRequest,
    in_files: bool,
) -> FetchReply {
    let version = header.request_api_version;
    if let Err(code) = check_fetch_session(version, request.session_id, request.session_epoch) {
        let response = FetchResponse::default()
            .with_error_code(code)
            .with_session_id(0);
        return FetchReply {
            response,
            files: Vec::new(),
        };
    }
    let targets = resolve(broker, version, &request.topics);
    let read_committed = request.isolation_level == READ_COMMITTED;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let wait_ms = u64::try_from(request.max_wait_ms)
        .unwrap_or(0)
        .min(MAX_WAIT_CAP_MS);
    let deadline = Instant::now() + Duration::from_millis(wait_ms);

    // Subscribed before the first read, so an append that lands between a read and the wait
    // still wakes us: no lost wake-ups and no polling.
    let mut appended = broker.data_appended.subscribe();
    let (topics, files) = long_poll(&mut appended, deadline, || {
        let mut budget = FetchBudget::new(request.max_bytes, broker.config.fetch_max_bytes);
        let pass = read_pass(&targets, &mut budget, read_committed, in_files);
        let done = pass.bytes >= min_bytes || pass.any_error || targets.is_empty();
        ((pass.topics, pass.files), done)
    })
    .await;
    let response = FetchResponse::default()
        .with_session_id(0)
        .with_responses(topics);
    FetchReply { response, files }
}

/// Calls `read` (which says whether its result is enough) until it is, or until `deadline`,
/// sleeping on `appended` in between. The last read happens at or after the deadline, as Kafka
/// reads once more when a delayed fetch expires.
pub async fn long_poll<T>(
    appended: &mut watch::Receiver<u64>,
    deadline: Instant,
    mut read: impl FnMut() -> (T, bool),
) -> T {
    loop {
        // Marks the current generation as seen before reading: anything appended from now on
        // makes `changed()` return at once.
        appended.borrow_and_update();
        let (result, done) = read();
        if done || Instant::now() >= deadline {
            return result;
        }
        match tokio::time::timeout_at(deadline, appended.changed()).await {
            Ok(Ok(())) | Err(_) => {}
            // No sender: nothing can wake us early any more.
            Ok(Err(_)) => tokio::time::sleep_until(deadline).await,
        }
    }
}

/// Sessions are not kept. A full request (epoch -1 closes or skips a session, epoch 0 asks for a
/// new one) is served sessionless; an incremental one (any other epoch) names a session this
/// broker cannot have, as Kafka answers for an unknown session id.
pub fn check_fetch_session(version: i16, session_id: i32, session_epoch: i32) -> Result<(), i16> {
    let _ = session_id;
    if version < 7 || matches!(session_epoch, -1 | 0) {
        Ok(())
    } else {
        Err(ResponseError::FetchSessionIdNotFound.code())
    }
}

/// Kafka's check of a request's `current_leader_epoch`: a negative epoch skips it, an older one
/// is fenced, a newer one is unknown to this broker.
pub fn check_current_leader_epoch(requested: i32, ours: i32) -> Result<(), i16> {
    if requested < 0 || requested == ours {
        Ok(())
    } else if requested < ours {
        Err(ResponseError::FencedLeaderEpoch.code())
    } else {
        Err(ResponseError::UnknownLeaderEpoch.code())
    }
}

/// The response-wide byte budget: `max_bytes` (capped by `fetch.max.bytes`) shared by the
/// partitions in request order, with KIP-74's exception for the first batch of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchBudget {
    /// Bytes still allowed in the response.
    remaining: usize,
    /// True until some partition has returned data: the next partition's first batch is then
    /// returned whole even if it is over the limits, so a consumer never stalls on a big batch.
    min_one_batch: bool,
}

impl FetchBudget {
    /// A budget of the request's `max_bytes`, capped by the broker's `fetch.max.bytes`.
    pub fn new(request_max_bytes: i32, broker_max_bytes: usize) -> FetchBudget {
        let requested = usize::try_from(request_max_bytes).unwrap_or(0);
        FetchBudget {
            remaining: requested.min(broker_max_bytes),
            min_one_batch: true,
        }
    }

    /// The `max_bytes` and `min_one_batch` to read the next partition with.
    pub fn limit(&self, partition_max_bytes: i32) -> (usize, bool) {
        let partition_max = usize::try_from(partition_max_bytes).unwrap_or(0);
        (partition_max.min(self.remaining), self.min_one_batch)
    }

    /// Accounts for `bytes` returned by a partition.
    pub fn consume(&mut self, bytes: usize) {
        if bytes > 0 {
            self.min_one_batch = false;
            self.remaining = self.remaining.saturating_sub(bytes);
        }
    }
}

/// One requested topic, resolved once before the long poll.
struct TopicTarget {
    /// The name to answer with (v12 and below).
    name: TopicName,
    /// The id to answer with (v13 and above).
    topic_id: Uuid,
    /// The requested partitions, in request order.
    partitions: Vec<PartitionTarget>,
}

/// One requested partition.
struct PartitionTarget {
    /// The partition index.
    index: i32,
    /// Where to start reading.
    fetch_offset: i64,
    /// The request's `partition_max_bytes`.
    max_bytes: i32,
    /// The log, or the error code to answer with.
    log: Result<Arc<Log>, i16>,
}

/// Finds each requested partition's log: by name up to v12, by topic id from v13.
fn resolve(broker: &Broker, version: i16, topics: &[FetchTopic]) -> Vec<TopicTarget> {
    topics
        .iter()
        .map(|t| {
            let (topic, missing) = if version >= 13 {
                let topic = broker.log_manager.topic_by_id(t.topic_id);
                (topic, ResponseError::UnknownTopicId.code())
            } else {
                let topic = broker.log_manager.topic(t.topic.as_str());
                (topic, ResponseError::UnknownTopicOrPartition.code())
            };
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let log = match &topic {
                        None => Err(missing),
                        Some(topic) => topic
                            .partition(p.partition)
                            .ok_or(ResponseError::UnknownTopicOrPartition.code()),
                    };
                    let log = log.and_then(|log| {
                        check_current_leader_epoch(p.current_leader_epoch, log.leader_epoch())
                            .map(|()| log)
                    });
                    PartitionTarget {
                        index: p.partition,
                        fetch_offset: p.fetch_offset,
                        max_bytes: p.partition_max_bytes,
                        log,
                    }
                })
                .collect();
            TopicTarget {
                name: t.topic.clone(),
                topic_id: t.topic_id,
                partitions,
            }
        })
        .collect()
}

/// What one read of every partition produced.
struct ReadPass {
    /// The per-topic answers.
    topics: Vec<FetchableTopicResponse>,
    /// Per partition, in order: the records left in a file (see [`FetchReply::files`]).
    files: Vec<Option<FileRange>>,
    /// Record bytes across all partitions.
    bytes: usize,
    /// True when some partition is answered with an error (the fetch then returns at once).
    any_error: bool,
}

/// Reads every partition once, within `budget`; with `in_files`, records stay in the files.
fn read_pass(
    targets: &[TopicTarget],
    budget: &mut FetchBudget,
    read_committed: bool,
    in_files: bool,
) -> ReadPass {
    let mut pass = ReadPass {
        topics: Vec::with_capacity(targets.len()),
        files: Vec::new(),
        bytes: 0,
        any_error: false,
    };
    for topic in targets {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let result = p.log.as_ref().map_err(|&code| code).and_then(|log| {
                let (max_bytes, min_one_batch) = budget.limit(p.max_bytes);
                let read = if in_files {
                    log.read_range(p.fetch_offset, max_bytes, min_one_batch)
                } else {
                    log.read(p.fetch_offset, max_bytes, min_one_batch)
                        .map(|info| (info, None))
                };
                read.map_err(|e| read_error_code(log, &e))
            });
            let (data, file) = match result {
                Ok((info, file)) => {
                    let len = file.as_ref().map_or(info.records.len(), FileRange::len);
                    budget.consume(len);
                    pass.bytes = pass.bytes.saturating_add(len);
                    (partition_data(p.index, info, read_committed), file)
                }
                Err(code) => {
                    pass.any_error = true;
                    (partition_error(p.index, code), None)
                }
            };
            partitions.push(data);
            pass.files.push(file);
        }
        pass.topics.push(
            FetchableTopicResponse::default()
                .with_topic(topic.name.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions),
        );
    }
    pass
}

/// The error code for a failed read.
fn read_error_code(log: &Log, error: &ReadError) -> i16 {
    match error {
        ReadError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
        ReadError::Storage(e) => {
            tracing::error!(tp = %log.topic_partition(), error = %e, "fetch read failed");
            ResponseError::KafkaStorageError.code()
        }
    }
}

/// A partition's answer with data. Without transactions the last stable offset is the high
/// watermark; like Kafka, aborted transactions are an (empty) list under read_committed and null
/// under read_uncommitted.
pub fn partition_data(index: i32, info: FetchDataInfo, read_committed: bool) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_high_watermark(info.high_watermark)
        .with_last_stable_offset(info.high_watermark)
        .with_log_start_offset(info.log_start_offset)
        .with_aborted_transactions(read_committed.then(Vec::new))
        .with_preferred_read_replica((-1).into())
        .with_records(Some(info.records))
}

/// A partition's answer for an error: offsets -1 and empty (never null) records, which
/// librdkafka requires.
pub fn partition_error(index: i32, code: i16) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_error_code(code)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
        .with_aborted_transactions(None)
        .with_records(Some(Bytes::new()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    #[test]
    fn sessionless_full_fetches_are_served() {
        assert_eq!(check_fetch_session(12, 0, -1), Ok(()));
        assert_eq!(check_fetch_session(12, 0, 0), Ok(()));
        assert_eq!(check_fetch_session(12, 55, -1), Ok(()));
        assert_eq!(check_fetch_session(12, 55, 0), Ok(()));
        assert_eq!(check_fetch_session(4, 55, 3), Ok(()));
    }

    #[test]
    fn incremental_fetches_name_an_unknown_session() {
        assert_eq!(check_fetch_session(7, 55, 1), Err(70));
        assert_eq!(check_fetch_session(16, 0, 3), Err(70));
    }

    #[test]
    fn leader_epoch_check_follows_kafka() {
        assert_eq!(check_current_leader_epoch(-1, 0), Ok(()));
        assert_eq!(check_current_leader_epoch(0, 0), Ok(()));
        assert_eq!(check_current_leader_epoch(1, 0), Err(75));
        assert_eq!(check_current_leader_epoch(2, 5), Err(74));
    }

    #[test]
    fn budget_is_capped_by_broker_and_partition_limits() {
        let budget = FetchBudget::new(1000, 500);
        assert_eq!(budget.limit(800), (500, true));
        assert_eq!(budget.limit(100), (100, true));
        assert_eq!(FetchBudget::new(-5, 500).limit(100), (0, true));
        assert_eq!(FetchBudget::new(100, 500).limit(-1), (0, true));
    }

    #[test]
    fn min_one_batch_holds_only_until_data_is_returned() {
        let mut budget = FetchBudget::new(1000, usize::MAX);
        budget.consume(0);
        assert_eq!(budget.limit(300), (300, true));
        budget.consume(300);
        assert_eq!(budget.limit(900), (700, false));
        // KIP-74: an oversized first batch drives the budget to zero, not below.
        budget.consume(5000);
        assert_eq!(budget.limit(900), (0, false));
    }

    #[test]
    fn partition_answers_have_the_shapes_clients_expect() {
        let info = FetchDataInfo {
            records: Bytes::new(),
            high_watermark: 42,
            log_start_offset: 7,
        };
        let ok = partition_data(3, info, true);
        assert_eq!((ok.partition_index, ok.error_code), (3, 0));
        assert_eq!((ok.high_watermark, ok.last_stable_offset), (42, 42));
        assert_eq!(ok.log_start_offset, 7);
        assert_eq!(ok.aborted_transactions, Some(vec![]));
        assert_eq!(ok.records, Some(Bytes::new()));
        assert_eq!(ok.preferred_read_replica, -1);
        let info = FetchDataInfo {
            records: Bytes::from_static(b"x"),
            high_watermark: 1,
            log_start_offset: 0,
        };
        assert_eq!(partition_data(0, info, false).aborted_transactions, None);

        let err = partition_error(1, 1);
        assert_eq!(
            (err.error_code, err.high_watermark, err.log_start_offset),
            (1, -1, -1)
        );
        assert_eq!(err.records, Some(Bytes::new()));
    }

    #[tokio::test]
    async fn long_poll_returns_at_once_when_satisfied() {
        let (_tx, mut rx) = watch::channel(0u64);
        let start = Instant::now();
        let mut reads = 0;
        let deadline = start + Duration::from_secs(10);
        let got = long_poll(&mut rx, deadline, || {
            reads += 1;
            (reads, true)
        })
        .await;
        assert_eq!(got, 1);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn long_poll_wakes_on_append() {
        let (tx, mut rx) = watch::channel(0u64);
        let notifier = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            tx.send_modify(|g| *g += 1);
            tx
        });
        let start = Instant::now();
        let mut reads = 0;
        let got = long_poll(&mut rx, start + Duration::from_secs(10), || {
            reads += 1;
            (reads, reads >= 2)
        })
        .await;
        assert_eq!(got, 2);
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(notifier.await.unwrap());
    }

    #[tokio::test]
    async fn long_poll_does_not_lose_an_append_made_during_a_read() {
        let (tx, mut rx) = watch::channel(0u64);
        let start = Instant::now();
        let mut reads = 0;
        let got = long_poll(&mut rx, start + Duration::from_secs(10), || {
            reads += 1;
            if reads == 1 {
                // Data arrives after this read looked at the log but before the wait.
                tx.send_modify(|g| *g += 1);
            }
            (reads, reads >= 2)
        })
        .await;
        assert_eq!(got, 2);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn long_poll_reads_once_more_at_the_deadline() {
        let (_tx, mut rx) = watch::channel(0u64);
        let start = Instant::now();
        let wait = Duration::from_millis(100);
        let mut reads = 0;
        let got = long_poll(&mut rx, start + wait, || {
            reads += 1;
            (reads, false)
        })
        .await;
        assert_eq!(got, 2, "one read, a wait without appends, one final read");
        assert!(start.elapsed() >= wait);
    }

    #[tokio::test]
    async fn long_poll_without_sender_waits_for_the_deadline() {
        let (tx, mut rx) = watch::channel(0u64);
        drop(tx);
        let start = Instant::now();
        let wait = Duration::from_millis(50);
        let mut reads = 0;
        let got = long_poll(&mut rx, start + wait, || {
            reads += 1;
            (reads, false)
        })
        .await;
        assert_eq!(got, 2);
        assert!(start.elapsed() >= wait);
    }
}
