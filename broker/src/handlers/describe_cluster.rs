//! DescribeCluster (key 60): this node is the whole cluster, and its controller.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;

/// `endpoint_type` 1 asks for broker endpoints, 2 for controller endpoints (v1+).
const ENDPOINT_TYPE_BROKERS: i8 = 1;

/// Answers DescribeCluster with this node as the only broker and the controller.
pub fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let node_id = broker.config.node_id;
    let advertised = broker.advertised();
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(
            broker.log_manager.cluster_id().to_owned(),
        ))
        .with_controller_id(BrokerId(node_id));
    if header.request_api_version >= 1 {
        response = response.with_endpoint_type(request.endpoint_type);
        if request.endpoint_type != ENDPOINT_TYPE_BROKERS {
            // Like Kafka's brokers: controller endpoints are only served by controllers, and
            // this node does not expose a controller listener.
            return response
                .with_error_code(
                    kafka_protocol::error::ResponseError::UnsupportedEndpointType.code(),
                )
                .with_error_message(Some(StrBytes::from_static_str(
                    "only broker endpoints are available",
                )));
        }
    }
    let this_node = DescribeClusterBroker::default()
        .with_broker_id(BrokerId(node_id))
        .with_host(StrBytes::from_string(advertised.host.clone()))
        .with_port(i32::from(advertised.port));
    response.with_brokers(vec![this_node])
}
