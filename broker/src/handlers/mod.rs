//! The one dispatch point on `ApiKey`, and one module per Kafka API.
//!
//! Every handler has the shape `handle(&Broker, &RequestHeader, XRequest) -> XResponse` (async
//! where it waits on storage or time). Kafka failures travel as error codes inside the response;
//! a handler never returns `Err`. The request version is `header.request_api_version`. Fetch
//! alone answers a [`fetch::FetchReply`], whose records may be left in segment files for the
//! connection to send with `sendfile(2)`.
//! [`api_versions::SUPPORTED`] lists what the broker decodes and advertises; the connection layer
//! refuses anything outside it before a handler sees it.

pub mod alter_configs;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;

use kafka_protocol::messages::{RequestHeader, RequestKind, ResponseKind};

use crate::broker::Broker;

/// Answer when the group coordinator gave no response (never expected).
const COORDINATOR_NOT_AVAILABLE: i16 =
    kafka_protocol::ResponseError::CoordinatorNotAvailable.code();

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    /// A response, every byte of it in memory.
    Response(ResponseKind),
    /// A Fetch response whose records may stay in segment files, to be sent with `sendfile`.
    Fetch(fetch::FetchReply),
}

/// Runs one decoded request. `None` means no response is sent (Produce with acks=0).
/// `client_host` is the peer's address (`/127.0.0.1`), which JoinGroup records for
/// DescribeGroups.
pub async fn dispatch(
    broker: &Broker,
    header: &RequestHeader,
    request: RequestKind,
    client_host: &str,
) -> Option<Reply> {
    let response = match request {
        RequestKind::ApiVersions(r) => api_versions::handle(broker, header, r).into(),
        RequestKind::Metadata(r) => metadata::handle(broker, header, r).await.into(),
        RequestKind::Produce(r) => {
            let response = produce::handle(broker, header, r).await?;
            return Some(Reply::Response(response.into()));
        }
        RequestKind::Fetch(r) => {
            let in_files = broker.config.socket_sendfile_enable;
            return Some(Reply::Fetch(
                fetch::handle(broker, header, r, in_files).await,
            ));
        }
        RequestKind::ListOffsets(r) => list_offsets::handle(broker, header, r).into(),
        RequestKind::OffsetForLeaderEpoch(r) => {
            offset_for_leader_epoch::handle(broker, header, r).into()
        }
        RequestKind::CreateTopics(r) => create_topics::handle(broker, header, r).await.into(),
        RequestKind::DeleteTopics(r) => delete_topics::handle(broker, header, r).await.into(),
        RequestKind::CreatePartitions(r) => {
            create_partitions::handle(broker, header, r).await.into()
        }
        RequestKind::DescribeCluster(r) => describe_cluster::handle(broker, header, r).into(),
        RequestKind::DescribeConfigs(r) => describe_configs::handle(broker, header, r).into(),
        RequestKind::InitProducerId(r) => init_producer_id::handle(broker, header, r).await.into(),
        RequestKind::FindCoordinator(r) => find_coordinator::handle(broker, header, r).into(),
        RequestKind::JoinGroup(r) => join_group::handle(broker, header, r, client_host)
            .await
            .into(),
        RequestKind::SyncGroup(r) => sync_group::handle(broker, header, r).await.into(),
        RequestKind::Heartbeat(r) => heartbeat::handle(broker, header, r).await.into(),
        RequestKind::LeaveGroup(r) => leave_group::handle(broker, header, r).await.into(),
        RequestKind::OffsetCommit(r) => offset_commit::handle(broker, header, r).await.into(),
        RequestKind::OffsetFetch(r) => offset_fetch::handle(broker, header, r).into(),
        RequestKind::ListGroups(r) => list_groups::handle(broker, header, r).into(),
        RequestKind::DescribeGroups(r) => describe_groups::handle(broker, header, r).into(),
        RequestKind::DeleteGroups(r) => delete_groups::handle(broker, header, r).await.into(),
        RequestKind::OffsetDelete(r) => offset_delete::handle(broker, header, r).await.into(),
        RequestKind::ConsumerGroupHeartbeat(r) => {
            consumer_group_heartbeat::handle(broker, header, r)
                .await
                .into()
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            consumer_group_describe::handle(broker, header, r).into()
        }
        RequestKind::DeleteRecords(r) => delete_records::handle(broker, header, r).await.into(),
        RequestKind::AlterConfigs(r) => alter_configs::handle(broker, header, r).await.into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            incremental_alter_configs::handle(broker, header, r)
                .await
                .into()
        }
        other => {
            // The connection layer only decodes keys in `api_versions::SUPPORTED`, so this is a
            // programming error, not bad input; answer nothing and let the connection log it.
            tracing::error!(?other, "request decoded without a handler");
            return None;
        }
    };
    Some(Reply::Response(response))
}
