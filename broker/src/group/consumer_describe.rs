//! ConsumerGroupDescribe v0-1 (KIP-848): members, epochs, assignments and targets.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as WireAssignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, TopicName,
};

use super::assignor::Assignment;
use super::codes;
use super::consumer_group::ConsumerGroup;
use super::coordinator::GroupCoordinator;
use super::rebalance::s;

/// Operations on a group (READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS) as a
/// KIP-430 bit field: with no authorizer every client may do all of them.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

/// `member_type` of a member using the consumer protocol (v1+).
const CONSUMER_MEMBER_TYPE: i8 = 1;

impl GroupCoordinator {
    /// ConsumerGroupDescribe v0-1: GROUP_ID_NOT_FOUND for unknown and classic groups, as
    /// Kafka 4.1 answers.
    pub fn consumer_group_describe(
        &self,
        request: ConsumerGroupDescribeRequest,
    ) -> ConsumerGroupDescribeResponse {
        let operations = if request.include_authorized_operations {
            GROUP_OPERATIONS
        } else {
            i32::MIN
        };
        let groups = request
            .group_ids
            .into_iter()
            .map(|id| {
                let group = self.groups.get(id.0.as_str());
                let described = match group.and_then(|g| g.consumer.as_ref()) {
                    Some(consumer) => describe(consumer).with_authorized_operations(operations),
                    None => {
                        let message = if group.is_some() {
                            format!("group {} uses the classic protocol", id.0.as_str())
                        } else {
                            format!("no group {}", id.0.as_str())
                        };
                        DescribedGroup::default()
                            .with_error_code(codes::GROUP_ID_NOT_FOUND)
                            .with_error_message(Some(s(&message)))
                            .with_group_state(s("Dead"))
                            .with_authorized_operations(operations)
                    }
                };
                described.with_group_id(id)
            })
            .collect();
        ConsumerGroupDescribeResponse::default().with_groups(groups)
    }
}

fn describe(group: &ConsumerGroup) -> DescribedGroup {
    let wire = |a: &Assignment| {
        WireAssignment::default().with_topic_partitions(
            a.iter()
                .map(|(id, ps)| {
                    let name = group
                        .subscribed_metadata
                        .iter()
                        .find(|(_, info)| info.id == *id)
                        .map(|(name, _)| name.as_str())
                        .unwrap_or_default();
                    TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_topic_name(TopicName(s(name)))
                        .with_partitions(ps.iter().copied().collect())
                })
                .collect(),
        )
    };
    let members = group
        .members
        .values()
        .map(|m| {
            Member::default()
                .with_member_id(s(&m.member_id))
                .with_instance_id(m.instance_id.as_deref().map(s))
                .with_rack_id(m.rack_id.as_deref().map(s))
                .with_member_epoch(m.member_epoch)
                .with_client_id(s(&m.client_id))
                .with_client_host(s(&m.client_host))
                .with_subscribed_topic_names(
                    m.subscribed_topics
                        .iter()
                        .map(|t| TopicName(s(t)))
                        .collect(),
                )
                .with_subscribed_topic_regex(m.subscribed_topic_regex.as_deref().map(s))
                .with_assignment(wire(&m.assigned))
                .with_target_assignment(wire(
                    &group.target.get(&m.member_id).cloned().unwrap_or_default(),
                ))
                .with_member_type(CONSUMER_MEMBER_TYPE)
        })
        .collect();
    DescribedGroup::default()
        .with_error_code(codes::NONE)
        .with_group_state(s(group.state().name()))
        .with_group_epoch(group.group_epoch)
        .with_assignment_epoch(group.assignment_epoch)
        .with_assignor_name(s(&group.assignor))
        .with_members(members)
}
