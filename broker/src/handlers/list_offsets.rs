//! ListOffsets (API key 2), versions 1-8: offsets by timestamp, or the special "latest",
//! "earliest" and "max timestamp" positions.

use std::collections::HashMap;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, RequestHeader};
use kafka_protocol::ResponseError;

use crate::broker::Broker;
use crate::handlers::fetch::check_current_leader_epoch;
use crate::storage::{Log, StorageError};

/// The high watermark (or, under read_committed, the last stable offset).
pub const LATEST_TIMESTAMP: i64 = -1;
/// The log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// The record with the largest timestamp (v7+, KIP-734).
pub const MAX_TIMESTAMP: i64 = -3;
/// The first offset of the local log (v8+, KIP-405); without tiered storage, the log start.
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;

/// What ListOffsets needs from a partition; implemented by `Log` and by test doubles.
pub trait OffsetLookup {
    /// See [`Log::high_watermark`].
    fn high_watermark(&self) -> i64;
    /// See [`Log::log_start_offset`].
    fn log_start_offset(&self) -> i64;
    /// See [`Log::leader_epoch`].
    fn leader_epoch(&self) -> i32;
    /// See [`Log::offset_for_timestamp`].
    fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError>;
    /// See [`Log::max_timestamp_and_offset`].
    fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, StorageError>;
}

impl OffsetLookup for Log {
    fn high_watermark(&self) -> i64 {
        Log::high_watermark(self)
    }
    fn log_start_offset(&self) -> i64 {
        Log::log_start_offset(self)
    }
    fn leader_epoch(&self) -> i32 {
        Log::leader_epoch(self)
    }
    fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError> {
        Log::offset_for_timestamp(self, timestamp)
    }
    fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
        Log::max_timestamp_and_offset(self)
    }
}

/// Handles one ListOffsets request.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let version = header.request_api_version;
    let duplicates = duplicate_partitions(&request);
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let topic = broker.log_manager.topic(t.name.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let index = p.partition_index;
                    let result = if duplicates.contains_key(&(t.name.as_str(), index)) {
                        // Kafka refuses every occurrence of a partition named twice.
                        Err(ResponseError::InvalidRequest.code())
                    } else {
                        match topic.as_ref().and_then(|topic| topic.partition(index)) {
                            None => Err(ResponseError::UnknownTopicOrPartition.code()),
                            Some(log) => check_current_leader_epoch(
                                p.current_leader_epoch,
                                log.leader_epoch(),
                            )
                            .and_then(|()| lookup(log.as_ref(), version, p.timestamp)),
                        }
                    };
                    partition_response(version, index, result)
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// (topic, partition) pairs named more than once in the request.
fn duplicate_partitions(request: &ListOffsetsRequest) -> HashMap<(&str, i32), usize> {
    let mut counts: HashMap<(&str, i32), usize> = HashMap::new();
    for t in &request.topics {
        for p in &t.partitions {
            *counts
                .entry((t.name.as_str(), p.partition_index))
                .or_default() += 1;
        }
    }
    counts.retain(|_, n| *n > 1);
    counts
}

/// A found position: (offset, timestamp, leader epoch). Not found is (-1, -1, -1).
pub type Position = (i64, i64, i32);

/// The position a partition's `timestamp` asks for. Without transactions the last stable
/// offset equals the high watermark, so the isolation level changes nothing.
pub fn lookup(log: &impl OffsetLookup, version: i16, timestamp: i64) -> Result<Position, i16> {
    let epoch = log.leader_epoch();
    let storage_error = |e: StorageError| {
        tracing::error!(error = %e, "list offsets failed");
        ResponseError::KafkaStorageError.code()
    };
    let found = |hit: Option<(i64, i64)>| match hit {
        Some((offset, ts)) => (offset, ts, epoch),
        None => (-1, -1, -1),
    };
    match timestamp {
        LATEST_TIMESTAMP => Ok((log.high_watermark(), -1, epoch)),
        EARLIEST_TIMESTAMP => Ok((log.log_start_offset(), -1, epoch)),
        EARLIEST_LOCAL_TIMESTAMP if version >= 8 => Ok((log.log_start_offset(), -1, epoch)),
        MAX_TIMESTAMP if version >= 7 => log
            .max_timestamp_and_offset()
            .map(found)
            .map_err(storage_error),
        // Any other value, including special values the version predates, is searched as a
        // plain timestamp, as Kafka does.
        _ => log
            .offset_for_timestamp(timestamp)
            .map(found)
            .map_err(storage_error),
    }
}

/// One partition's answer. The leader epoch exists from v4 (the encoder refuses it before).
fn partition_response(
    version: i16,
    index: i32,
    result: Result<Position, i16>,
) -> ListOffsetsPartitionResponse {
    let response = ListOffsetsPartitionResponse::default().with_partition_index(index);
    match result {
        Ok((offset, timestamp, epoch)) => response
            .with_offset(offset)
            .with_timestamp(timestamp)
            .with_leader_epoch(if version >= 4 { epoch } else { -1 }),
        Err(code) => response
            .with_error_code(code)
            .with_offset(-1)
            .with_timestamp(-1),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;

    /// A partition holding offsets 5..20 whose batch timestamps are 1000 + offset.
    struct FakeLog {
        empty: bool,
        broken: bool,
    }

    impl OffsetLookup for FakeLog {
        fn high_watermark(&self) -> i64 {
            if self.empty {
                5
            } else {
                20
            }
        }
        fn log_start_offset(&self) -> i64 {
            5
        }
        fn leader_epoch(&self) -> i32 {
            0
        }
        fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, StorageError> {
            if self.broken {
                return Err(StorageError::Offline("t-0".into()));
            }
            let first = (ts - 1000).max(5);
            Ok((!self.empty && first < 20).then_some((first, first + 1000)))
        }
        fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
            Ok((!self.empty).then_some((19, 1019)))
        }
    }

    const LOG: FakeLog = FakeLog {
        empty: false,
        broken: false,
    };

    #[test]
    fn special_timestamps() {
        assert_eq!(lookup(&LOG, 8, LATEST_TIMESTAMP), Ok((20, -1, 0)));
        assert_eq!(lookup(&LOG, 8, EARLIEST_TIMESTAMP), Ok((5, -1, 0)));
        assert_eq!(lookup(&LOG, 8, EARLIEST_LOCAL_TIMESTAMP), Ok((5, -1, 0)));
        assert_eq!(lookup(&LOG, 7, MAX_TIMESTAMP), Ok((19, 1019, 0)));
        let empty = FakeLog {
            empty: true,
            broken: false,
        };
        assert_eq!(lookup(&empty, 7, MAX_TIMESTAMP), Ok((-1, -1, -1)));
    }

    #[test]
    fn timestamp_search() {
        assert_eq!(lookup(&LOG, 1, 1010), Ok((10, 1010, 0)));
        assert_eq!(lookup(&LOG, 1, 0), Ok((5, 1005, 0)));
        assert_eq!(lookup(&LOG, 1, 5000), Ok((-1, -1, -1)));
        // -3 before v7 is not the max-timestamp query.
        assert_eq!(lookup(&LOG, 6, MAX_TIMESTAMP), Ok((5, 1005, 0)));
        let broken = FakeLog {
            empty: false,
            broken: true,
        };
        assert_eq!(lookup(&broken, 1, 1010), Err(56));
    }

    #[test]
    fn leader_epoch_only_from_v4() {
        let ok = partition_response(3, 1, Ok((7, -1, 0)));
        assert_eq!((ok.offset, ok.leader_epoch), (7, -1));
        let ok = partition_response(4, 1, Ok((7, -1, 0)));
        assert_eq!((ok.offset, ok.leader_epoch), (7, 0));
        let err = partition_response(8, 2, Err(3));
        assert_eq!((err.error_code, err.offset, err.timestamp), (3, -1, -1));
    }

    #[test]
    fn duplicates_are_found() {
        let topic = |name: &'static str, parts: &[i32]| {
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str(name)))
                .with_partitions(
                    parts
                        .iter()
                        .map(|&i| ListOffsetsPartition::default().with_partition_index(i))
                        .collect(),
                )
        };
        let request = ListOffsetsRequest::default().with_topics(vec![
            topic("a", &[0, 1]),
            topic("b", &[0]),
            topic("a", &[1]),
        ]);
        let dups = duplicate_partitions(&request);
        assert_eq!(dups.len(), 1);
        assert!(dups.contains_key(&("a", 1)));
    }
}
