//! Turns responses whose records could not be appended into COORDINATOR_NOT_AVAILABLE answers,
//! which every client treats as "find the coordinator again and retry".

use kafka_protocol::messages::ResponseKind;
use kafka_protocol::ResponseError;

use super::Delivery;

/// The code sent when the records behind a response are not durable.
const CODE: i16 = ResponseError::CoordinatorNotAvailable.code();

/// Replaces every response's error codes.
pub(super) fn fail_all(responses: Vec<Delivery>) -> Vec<Delivery> {
    responses
        .into_iter()
        .map(|(tx, response)| (tx, failed(response)))
        .collect()
}

/// `response` with its error codes set to COORDINATOR_NOT_AVAILABLE; results that would let a
/// client act (an assignment, a generation) are cleared.
fn failed(response: ResponseKind) -> ResponseKind {
    match response {
        ResponseKind::JoinGroup(mut r) => {
            r.error_code = CODE;
            r.generation_id = -1;
            r.members.clear();
            ResponseKind::JoinGroup(r)
        }
        ResponseKind::SyncGroup(mut r) => {
            r.error_code = CODE;
            r.assignment = Default::default();
            ResponseKind::SyncGroup(r)
        }
        ResponseKind::Heartbeat(mut r) => {
            r.error_code = CODE;
            ResponseKind::Heartbeat(r)
        }
        ResponseKind::LeaveGroup(mut r) => {
            r.error_code = CODE;
            for m in &mut r.members {
                m.error_code = CODE;
            }
            ResponseKind::LeaveGroup(r)
        }
        ResponseKind::OffsetCommit(mut r) => {
            for p in r.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
                p.error_code = CODE;
            }
            ResponseKind::OffsetCommit(r)
        }
        ResponseKind::DeleteGroups(mut r) => {
            for g in &mut r.results {
                g.error_code = CODE;
            }
            ResponseKind::DeleteGroups(r)
        }
        ResponseKind::OffsetDelete(mut r) => {
            r.error_code = CODE;
            ResponseKind::OffsetDelete(r)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::{HeartbeatResponse, OffsetCommitResponse};

    #[test]
    fn commit_and_heartbeat_errors_are_replaced() {
        let commit = OffsetCommitResponse::default()
            .with_topics(vec![OffsetCommitResponseTopic::default()
                .with_partitions(vec![OffsetCommitResponsePartition::default()])]);
        let ResponseKind::OffsetCommit(r) = failed(ResponseKind::OffsetCommit(commit)) else {
            panic!("kind changed");
        };
        assert_eq!(r.topics[0].partitions[0].error_code, CODE);
        let ResponseKind::Heartbeat(h) =
            failed(ResponseKind::Heartbeat(HeartbeatResponse::default()))
        else {
            panic!("kind changed");
        };
        assert_eq!(h.error_code, CODE);
    }
}
