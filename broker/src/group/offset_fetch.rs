//! OffsetFetch v1-9: committed offsets of one group (v1-7) or several (v8+), -1 where nothing
//! is committed, and every committed partition when the topic list is null (v2+).

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::codes;
use super::coordinator::GroupCoordinator;
use super::rebalance::s;
use super::records::OffsetCommitValue;

/// One partition's answer: (partition, offset, leader epoch, metadata).
type Fetched = (i32, i64, i32, String);

impl GroupCoordinator {
    /// OffsetFetch v1-9. A read: it changes nothing and answers at once. Unknown groups are
    /// not an error: their partitions read as -1, as in Kafka. (`require_stable` needs nothing:
    /// this coordinator has no pending transactional offsets.)
    pub fn offset_fetch(
        &self,
        api_version: i16,
        request: OffsetFetchRequest,
    ) -> OffsetFetchResponse {
        if api_version >= 8 {
            let groups = request
                .groups
                .into_iter()
                .map(|g| {
                    let member = g.member_id.as_deref();
                    let verdict =
                        self.validate_fetch(g.group_id.0.as_str(), member, g.member_epoch);
                    if verdict != codes::NONE {
                        return OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id)
                            .with_error_code(verdict);
                    }
                    let wanted = g.topics.map(|ts| {
                        ts.into_iter()
                            .map(|t| (t.name, t.partition_indexes))
                            .collect()
                    });
                    let topics = self
                        .fetch_group(g.group_id.0.as_str(), wanted)
                        .into_iter()
                        .map(|(name, partitions)| {
                            OffsetFetchResponseTopics::default()
                                .with_name(name)
                                .with_partitions(partitions.into_iter().map(v8_partition).collect())
                        })
                        .collect();
                    OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id)
                        .with_topics(topics)
                        .with_error_code(codes::NONE)
                })
                .collect();
            return OffsetFetchResponse::default().with_groups(groups);
        }
        let wanted = request.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name, t.partition_indexes))
                .collect()
        });
        let topics = self
            .fetch_group(request.group_id.0.as_str(), wanted)
            .into_iter()
            .map(|(name, partitions)| {
                OffsetFetchResponseTopic::default()
                    .with_name(name)
                    .with_partitions(
                        partitions
                            .into_iter()
                            .map(|p| v1_partition(p, api_version))
                            .collect(),
                    )
            })
            .collect();
        OffsetFetchResponse::default()
            .with_topics(topics)
            .with_error_code(codes::NONE)
    }

    /// OffsetFetch v9's member check for KIP-848 consumer groups (Kafka's
    /// `validateOffsetFetch`): a request naming a member must come from a current member at its
    /// current epoch. Requests without a member, and other groups, are not checked.
    fn validate_fetch(&self, group_id: &str, member_id: Option<&str>, member_epoch: i32) -> i16 {
        let Some(consumer) = self.groups.get(group_id).and_then(|g| g.consumer.as_ref()) else {
            return codes::NONE;
        };
        let Some(member_id) = member_id else {
            return if member_epoch < 0 {
                codes::NONE
            } else {
                codes::UNKNOWN_MEMBER_ID
            };
        };
        match consumer.members.get(member_id) {
            None => codes::UNKNOWN_MEMBER_ID,
            Some(m) if m.member_epoch != member_epoch => codes::STALE_MEMBER_EPOCH,
            Some(_) => codes::NONE,
        }
    }

    /// The requested partitions' offsets (or all committed ones when `wanted` is `None`).
    fn fetch_group(
        &self,
        group_id: &str,
        wanted: Option<Vec<(TopicName, Vec<i32>)>>,
    ) -> Vec<(TopicName, Vec<Fetched>)> {
        let group = self.groups.get(group_id);
        let Some(wanted) = wanted else {
            let Some(group) = group else {
                return Vec::new();
            };
            return group
                .offsets
                .iter()
                .map(|(topic, partitions)| {
                    let fetched = partitions
                        .iter()
                        .map(|(p, v)| fetched(*p, Some(v)))
                        .collect();
                    (TopicName(s(topic)), fetched)
                })
                .collect();
        };
        wanted
            .into_iter()
            .map(|(name, partitions)| {
                let committed = group.and_then(|g| g.offsets.get(name.0.as_str()));
                let fetched = partitions
                    .into_iter()
                    .map(|p| fetched(p, committed.and_then(|c| c.get(&p))))
                    .collect();
                (name, fetched)
            })
            .collect()
    }
}

fn fetched(partition: i32, value: Option<&OffsetCommitValue>) -> Fetched {
    match value {
        Some(v) => (partition, v.offset, v.leader_epoch, v.metadata.clone()),
        None => (partition, -1, -1, String::new()),
    }
}

fn v1_partition(p: Fetched, version: i16) -> OffsetFetchResponsePartition {
    let (partition, offset, epoch, metadata) = p;
    OffsetFetchResponsePartition::default()
        .with_partition_index(partition)
        .with_committed_offset(offset)
        .with_committed_leader_epoch(if version >= 5 { epoch } else { -1 })
        .with_metadata(Some(s(&metadata)))
        .with_error_code(codes::NONE)
}

fn v8_partition(p: Fetched) -> OffsetFetchResponsePartitions {
    let (partition, offset, epoch, metadata) = p;
    OffsetFetchResponsePartitions::default()
        .with_partition_index(partition)
        .with_committed_offset(offset)
        .with_committed_leader_epoch(epoch)
        .with_metadata(Some(s(&metadata)))
        .with_error_code(codes::NONE)
}
