//! ApiVersions (key 18): the version ranges this broker decodes and advertises.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};

use crate::broker::Broker;

/// Every API this broker serves, with the version range it advertises: `(key, min, max)`.
///
/// The connection layer refuses any key or version outside this table before decoding, so it is
/// also the list of what is decoded. Produce advertises 0-2 although only 3+ is decoded: older
/// librdkafka (kcat's included) turns compression off when Produce's minimum is above 0; a v0-2
/// request closes the connection instead. The maxima match a real Kafka release's (4.x), which
/// some clients use to guess the broker version.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 11),
    (ApiKey::Fetch, 4, 16),
    (ApiKey::ListOffsets, 1, 8),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
];

/// The `(min, max)` versions advertised for `key`, if the broker serves it.
pub fn supported_range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, min, max)| (min, max))
}

/// The response body listing [`SUPPORTED`], with `error_code`. Also used by the connection
/// layer for the KIP-511 answer to a too-new ApiVersions request.
pub fn response(error_code: i16) -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    // The v3+ feature fields are left at their defaults (none, epoch -1) so that no tagged
    // field is written: kcat's librdkafka 2.0.2 refuses an ApiVersions v3 body that has one.
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(api_keys)
        .with_throttle_time_ms(0)
}

/// Answers ApiVersions. The request's client software name/version (v3+) is informational only.
pub fn handle(
    _broker: &Broker,
    _header: &RequestHeader,
    _request: ApiVersionsRequest,
) -> ApiVersionsResponse {
    response(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Message;

    use super::*;

    /// The crate's request type's decodable range, never `ApiKey::valid_versions()` (which
    /// overstates some APIs).
    fn decodable(key: ApiKey) -> (i16, i16) {
        let range = match key {
            ApiKey::Produce => ProduceRequest::VERSIONS,
            ApiKey::Fetch => FetchRequest::VERSIONS,
            ApiKey::ListOffsets => ListOffsetsRequest::VERSIONS,
            ApiKey::Metadata => MetadataRequest::VERSIONS,
            ApiKey::FindCoordinator => FindCoordinatorRequest::VERSIONS,
            ApiKey::ApiVersions => ApiVersionsRequest::VERSIONS,
            ApiKey::CreateTopics => CreateTopicsRequest::VERSIONS,
            ApiKey::DeleteTopics => DeleteTopicsRequest::VERSIONS,
            ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
            ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::VERSIONS,
            ApiKey::CreatePartitions => CreatePartitionsRequest::VERSIONS,
            ApiKey::DescribeCluster => DescribeClusterRequest::VERSIONS,
            ApiKey::DescribeConfigs => DescribeConfigsRequest::VERSIONS,
            ApiKey::JoinGroup => JoinGroupRequest::VERSIONS,
            ApiKey::SyncGroup => SyncGroupRequest::VERSIONS,
            ApiKey::Heartbeat => HeartbeatRequest::VERSIONS,
            ApiKey::LeaveGroup => LeaveGroupRequest::VERSIONS,
            ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
            ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
            ApiKey::ListGroups => ListGroupsRequest::VERSIONS,
            ApiKey::DescribeGroups => DescribeGroupsRequest::VERSIONS,
            ApiKey::DeleteGroups => DeleteGroupsRequest::VERSIONS,
            ApiKey::OffsetDelete => OffsetDeleteRequest::VERSIONS,
            ApiKey::ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest::VERSIONS,
            ApiKey::ConsumerGroupDescribe => ConsumerGroupDescribeRequest::VERSIONS,
            ApiKey::DeleteRecords => DeleteRecordsRequest::VERSIONS,
            ApiKey::AlterConfigs => AlterConfigsRequest::VERSIONS,
            ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::VERSIONS,
            other => panic!("{other:?} is advertised but has no entry in this test"),
        };
        (range.min, range.max)
    }

    #[test]
    fn advertised_maxima_are_decodable() {
        for &(key, min, max) in SUPPORTED {
            let (_, decodable_max) = decodable(key);
            assert!(min <= max, "{key:?}");
            assert!(max <= decodable_max, "{key:?} max {max} > {decodable_max}");
        }
    }

    #[test]
    fn table_has_each_key_once_with_the_agreed_ranges() {
        assert_eq!(SUPPORTED.len(), 28);
        for (i, (key, _, _)) in SUPPORTED.iter().enumerate() {
            assert!(
                SUPPORTED[i + 1..].iter().all(|(k, _, _)| k != key),
                "{key:?}"
            );
        }
        assert_eq!(supported_range(ApiKey::Produce), Some((0, 11)));
        assert_eq!(supported_range(ApiKey::Fetch), Some((4, 16)));
        assert_eq!(supported_range(ApiKey::DescribeConfigs), Some((1, 4)));
        assert_eq!(supported_range(ApiKey::JoinGroup), Some((0, 9)));
        assert_eq!(supported_range(ApiKey::ShareFetch), None);
    }

    #[test]
    fn v3_body_has_no_tagged_fields() {
        use kafka_protocol::protocol::Encodable;
        let mut buf = bytes::BytesMut::new();
        response(0).encode(&mut buf, 3).unwrap();
        // error_code(2) + compact array len(1) + per API (key 2 + min 2 + max 2 + tags 1)
        // + throttle(4) + tagged field count(1), the last byte being 0 tagged fields.
        assert_eq!(buf.len(), 2 + 1 + SUPPORTED.len() * 7 + 4 + 1);
        assert_eq!(buf[buf.len() - 1], 0);
    }
}
