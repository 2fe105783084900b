//! OffsetForLeaderEpoch (API key 23), versions 2-4: the end offset of a leader epoch, which
//! clients use to detect log truncation after a leader change.
//!
//! A single node never changes leader, so each partition has had exactly one epoch (the log's
//! `leader_epoch()`, 0) from its start offset onwards.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, RequestHeader,
};
use kafka_protocol::ResponseError;

use crate::broker::Broker;
use crate::handlers::fetch::check_current_leader_epoch;

/// Kafka's "no epoch" value, also answered for an epoch this broker has never seen.
const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's "no offset" value that goes with [`UNDEFINED_EPOCH`].
const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// Handles one OffsetForLeaderEpoch request.
pub fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.log_manager.topic(t.topic.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let answer = EpochEndOffset::default().with_partition(p.partition);
                    let Some(log) = topic
                        .as_ref()
                        .and_then(|topic| topic.partition(p.partition))
                    else {
                        return answer
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let epoch = log.leader_epoch();
                    if let Err(code) = check_current_leader_epoch(p.current_leader_epoch, epoch) {
                        return answer.with_error_code(code);
                    }
                    let (leader_epoch, end_offset) = end_offset_for(
                        p.leader_epoch,
                        epoch,
                        log.log_start_offset(),
                        log.log_end_offset(),
                    );
                    answer
                        .with_leader_epoch(leader_epoch)
                        .with_end_offset(end_offset)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// Kafka's leader-side answer for `requested`, given one epoch `current` covering the whole log:
/// the current epoch ends at the log end; an unknown larger (or undefined) epoch has no end; an
/// epoch older than every known one ends where the first known epoch starts.
pub fn end_offset_for(
    requested: i32,
    current: i32,
    log_start_offset: i64,
    log_end_offset: i64,
) -> (i32, i64) {
    if requested == UNDEFINED_EPOCH || requested > current {
        (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
    } else if requested == current {
        (current, log_end_offset)
    } else {
        (requested, log_start_offset)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    #[test]
    fn current_epoch_ends_at_the_log_end() {
        assert_eq!(end_offset_for(0, 0, 3, 42), (0, 42));
    }

    #[test]
    fn unknown_newer_or_undefined_epoch_has_no_end() {
        assert_eq!(end_offset_for(1, 0, 3, 42), (-1, -1));
        assert_eq!(end_offset_for(-1, 0, 3, 42), (-1, -1));
    }

    #[test]
    fn older_epoch_ends_where_the_known_history_starts() {
        assert_eq!(end_offset_for(-5, 0, 3, 42), (-5, 3));
        assert_eq!(end_offset_for(2, 4, 3, 42), (2, 3));
    }
}
