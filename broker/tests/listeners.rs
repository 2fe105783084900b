//! Named listeners: each connection is told the advertised address of the listener it arrived
//! on (`INTERNAL://broker:29092` on one port, `EXTERNAL://localhost:<port>` on the other), as a
//! container set-up with a private network and a published port needs.

#![allow(clippy::unwrap_used)] // Tests may unwrap.

mod wire;

use broker::{BrokerConfig, Server};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

async fn told(addr: std::net::SocketAddr) -> (String, i32, String, i32) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let metadata: MetadataResponse = wire::call(
        &mut s,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(vec![])),
    )
    .await;
    let broker = &metadata.brokers[0];
    let coordinator: FindCoordinatorResponse = wire::call(
        &mut s,
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")),
    )
    .await;
    (
        broker.host.to_string(),
        broker.port,
        coordinator.host.to_string(),
        coordinator.port,
    )
}

#[tokio::test]
async fn each_listener_advertises_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = [
        ("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
        (
            "advertised.listeners",
            "INTERNAL://broker:29092,EXTERNAL://localhost:0",
        ),
        (
            "listener.security.protocol.map",
            "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
        ),
        ("log.dirs", dir.path().to_str().unwrap()),
        ("offsets.topic.num.partitions", "1"),
    ];
    let config =
        BrokerConfig::from_pairs(pairs.map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
    let server = Server::bind(config).await.unwrap();
    let internal = server.local_addr();
    let [external] = server.extra_local_addrs()[..] else {
        panic!("expected one more listener");
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let port = i32::from(external.port());
    assert_eq!(
        told(internal).await,
        ("broker".into(), 29092, "broker".into(), 29092)
    );
    assert_eq!(
        told(external).await,
        ("localhost".into(), port, "localhost".into(), port)
    );

    // DescribeConfigs reports both listeners as configured, not just the first.
    let mut s = TcpStream::connect(external).await.unwrap();
    let resource = describe_configs_request::DescribeConfigsResource::default()
        .with_resource_type(4) // BROKER
        .with_resource_name(StrBytes::from_static_str("1"))
        .with_configuration_keys(Some(vec![StrBytes::from_static_str("listeners")]));
    let configs: DescribeConfigsResponse = wire::call(
        &mut s,
        ApiKey::DescribeConfigs,
        4,
        &DescribeConfigsRequest::default().with_resources(vec![resource]),
    )
    .await;
    let value = configs.results[0].configs[0]
        .value
        .as_ref()
        .map(|v| v.to_string());
    assert_eq!(value.as_deref(), Some(pairs[0].1));

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
