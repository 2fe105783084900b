//! ListGroups, DescribeGroups and DeleteGroups.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse,
};

use super::classic_group::{Group, GroupState};
use super::codes;
use super::consumer_persist;
use super::coordinator::{Effects, GroupCoordinator, RequestContext};
use super::rebalance::s;
use super::records::{GroupRecord, OffsetCommitKey};

/// A group's type and state names as ListGroups v5 reports them (KIP-848's group types).
fn type_and_state(group: &Group) -> (&'static str, &'static str) {
    match &group.consumer {
        Some(consumer) => ("consumer", consumer.state().name()),
        None => ("classic", group.state.name()),
    }
}

/// Operations on a group (READ, DELETE, DESCRIBE) as a KIP-430 bit field: with no authorizer
/// every client may do all of them.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

impl GroupCoordinator {
    /// ListGroups v0-5; `states_filter` (v4+) and `types_filter` (v5+) match case-insensitively
    /// and an empty filter matches everything.
    pub fn list_groups(&self, api_version: i16, request: ListGroupsRequest) -> ListGroupsResponse {
        let matches = |filter: &[kafka_protocol::protocol::StrBytes], value: &str| {
            filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
        };
        let mut groups: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| api_version < 4 || matches(&request.states_filter, type_and_state(g).1))
            .filter(|g| api_version < 5 || matches(&request.types_filter, type_and_state(g).0))
            .collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        let listed = groups
            .into_iter()
            .map(|g| {
                let (group_type, state) = type_and_state(g);
                let listed = ListedGroup::default()
                    .with_group_id(GroupId(s(&g.group_id)))
                    .with_protocol_type(s(g.protocol_type.as_deref().unwrap_or_default()));
                let listed = if api_version >= 4 {
                    listed.with_group_state(s(state))
                } else {
                    listed
                };
                if api_version >= 5 {
                    listed.with_group_type(s(group_type))
                } else {
                    listed
                }
            })
            .collect();
        ListGroupsResponse::default()
            .with_error_code(codes::NONE)
            .with_groups(listed)
    }

    /// DescribeGroups v0-5. An unknown group (or a KIP-848 consumer group) is reported as Dead
    /// (v0-5 have no "not found").
    /// Members' metadata and assignments are shown only in Stable, when they are final.
    pub fn describe_groups(
        &self,
        api_version: i16,
        request: DescribeGroupsRequest,
    ) -> DescribeGroupsResponse {
        let operations = if api_version >= 3 && request.include_authorized_operations {
            GROUP_OPERATIONS
        } else {
            i32::MIN
        };
        let groups = request
            .groups
            .into_iter()
            .map(|id| {
                // Kafka 4.1 describes a consumer group here as it does an unknown one (before
                // v6, which reports GROUP_ID_NOT_FOUND): a Dead classic group.
                let classic = self
                    .groups
                    .get(id.0.as_str())
                    .filter(|g| g.consumer.is_none());
                let described = match classic {
                    Some(group) => describe(group),
                    None => DescribedGroup::default()
                        .with_group_state(s(GroupState::Dead.name()))
                        .with_protocol_type(s(""))
                        .with_protocol_data(s("")),
                };
                described
                    .with_group_id(id)
                    .with_error_code(codes::NONE)
                    .with_authorized_operations(operations)
            })
            .collect();
        DescribeGroupsResponse::default().with_groups(groups)
    }

    /// DeleteGroups v0-2: only empty groups go (NON_EMPTY_GROUP otherwise), with tombstones
    /// for their offsets and their membership.
    pub fn delete_groups(
        &mut self,
        ctx: &RequestContext<'_>,
        request: DeleteGroupsRequest,
        _now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let mut results = Vec::with_capacity(request.groups_names.len());
        for id in request.groups_names {
            let code = self.delete_group(id.0.as_str(), &mut fx);
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(id)
                    .with_error_code(code),
            );
        }
        fx.respond(
            ctx.token,
            DeleteGroupsResponse::default().with_results(results),
        );
        self.finish(fx)
    }

    fn delete_group(&mut self, group_id: &str, fx: &mut Effects) -> i16 {
        if group_id.is_empty() {
            return codes::INVALID_GROUP_ID;
        }
        let Some(group) = self.groups.get(group_id) else {
            return codes::GROUP_ID_NOT_FOUND;
        };
        match group.state {
            _ if group.has_consumer_members() => return codes::NON_EMPTY_GROUP,
            GroupState::Empty => {}
            GroupState::Dead => return codes::GROUP_ID_NOT_FOUND,
            _ => return codes::NON_EMPTY_GROUP,
        }
        for (topic, partitions) in &group.offsets {
            for partition in partitions.keys() {
                fx.records.push(GroupRecord::OffsetCommit {
                    key: OffsetCommitKey {
                        group_id: group_id.to_string(),
                        topic: topic.clone(),
                        partition: *partition,
                    },
                    value: None,
                });
            }
        }
        match &group.consumer {
            Some(consumer) => consumer_persist::tombstones(group_id, consumer, &mut fx.records),
            None => fx.records.push(GroupRecord::GroupMetadata {
                group_id: group_id.to_string(),
                value: None,
            }),
        }
        self.remove_group(group_id);
        codes::NONE
    }
}

fn describe(group: &Group) -> DescribedGroup {
    let stable = group.state == GroupState::Stable;
    let protocol = group.protocol.as_deref().unwrap_or_default();
    let members = group
        .members
        .values()
        .map(|m| {
            let member = DescribedGroupMember::default()
                .with_member_id(s(&m.member_id))
                .with_group_instance_id(m.group_instance_id.as_deref().map(s))
                .with_client_id(s(&m.client_id))
                .with_client_host(s(&m.client_host));
            if stable {
                member
                    .with_member_metadata(m.metadata(protocol).cloned().unwrap_or_default())
                    .with_member_assignment(m.assignment.clone())
            } else {
                member
            }
        })
        .collect();
    DescribedGroup::default()
        .with_group_state(s(group.state.name()))
        .with_protocol_type(s(group.protocol_type.as_deref().unwrap_or_default()))
        .with_protocol_data(s(if stable { protocol } else { "" }))
        .with_members(members)
}
