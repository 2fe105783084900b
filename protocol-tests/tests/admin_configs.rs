//! Topic and broker configs round trip through rdkafka's AdminClient (AlterConfigs then
//! DescribeConfigs, values and sources), on either broker; on ours they also survive a restart.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use protocol_tests::clients::admin_client;
use protocol_tests::target::wait_until_serving;
use protocol_tests::wait::wait_for_async;
use protocol_tests::{unique_topic, OurBroker, Target, TestBroker};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The node id both brokers run with.
const NODE_ID: i32 = 1;

type Admin = AdminClient<DefaultClientContext>;

fn opts() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(TIMEOUT))
}

/// Creates `topic` with one override, then replaces its overrides with two others (AlterConfigs
/// sets the whole list) and sets `log.retention.bytes` dynamically for this broker.
async fn alter(admin: &Admin, topic: &str) -> Result<()> {
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("retention.ms", "3600000");
    for r in admin.create_topics([&new], &opts()).await? {
        r.map_err(|(t, e)| anyhow::anyhow!("create {t}: {e}"))?;
    }
    let topic_change = AlterConfig::new(ResourceSpecifier::Topic(topic))
        .set("retention.ms", "7200000")
        .set("cleanup.policy", "compact,delete");
    let broker_change = AlterConfig::new(ResourceSpecifier::Broker(NODE_ID))
        .set("log.retention.bytes", "1073741824");
    for r in admin
        .alter_configs([&topic_change, &broker_change], &opts())
        .await?
    {
        r.map_err(|(res, e)| anyhow::anyhow!("alter {res:?}: {e}"))?;
    }
    Ok(())
}

/// `Some(())` once DescribeConfigs shows the changes `alter` made, with their sources.
async fn shows_changes(admin: &Admin, topic: &str) -> Result<Option<()>> {
    let specs = [
        ResourceSpecifier::Topic(topic),
        ResourceSpecifier::Broker(NODE_ID),
    ];
    let results = admin.describe_configs(&specs, &opts()).await?;
    let [Ok(t), Ok(b)] = results.as_slice() else {
        bail!("describe failed: {results:?}");
    };
    let shows = |r: &rdkafka::admin::ConfigResource, k: &str, v: &str, src: ConfigSource| {
        r.get(k)
            .is_some_and(|e| e.value.as_deref() == Some(v) && e.source == src)
    };
    Ok(
        (shows(t, "retention.ms", "7200000", ConfigSource::DynamicTopic)
            && shows(
                t,
                "cleanup.policy",
                "compact,delete",
                ConfigSource::DynamicTopic,
            )
            && shows(
                b,
                "log.retention.bytes",
                "1073741824",
                ConfigSource::DynamicBroker,
            ))
        .then_some(()),
    )
}

async fn wait_for_changes(admin: &Admin, topic: &str) -> Result<()> {
    wait_for_async(
        "DescribeConfigs to show the altered configs",
        TIMEOUT,
        || shows_changes(admin, topic),
    )
    .await
}

#[tokio::test]
async fn configs_round_trip_through_the_admin_client() -> Result<()> {
    let broker = TestBroker::start(&[("node.id", "1")])?;
    let result: Result<()> = async {
        let admin = admin_client(&broker.bootstrap())?;
        let topic = unique_topic("admin-configs");
        alter(&admin, &topic).await?;
        // Apache Kafka applies changes through its metadata log: DescribeConfigs may lag.
        wait_for_changes(&admin, &topic).await?;
        // Put the broker-wide setting back, so the shared reference broker is left as found.
        let reset = AlterConfig::new(ResourceSpecifier::Broker(NODE_ID));
        for r in admin.alter_configs([&reset], &opts()).await? {
            r.map_err(|(res, e)| anyhow::anyhow!("reset {res:?}: {e}"))?;
        }
        Ok(())
    }
    .await;
    result.with_context(|| format!("broker log tail:\n{}", broker.log_tail()))
}

#[tokio::test]
async fn altered_configs_survive_a_restart() -> Result<()> {
    if !Target::ours_or_skip("altered_configs_survive_a_restart")? {
        return Ok(());
    }
    let mut broker = OurBroker::start(&[("node.id", "1")])?;
    let result: Result<()> = async {
        wait_until_serving(&broker.bootstrap())?;
        let topic = unique_topic("admin-configs-restart");
        alter(&admin_client(&broker.bootstrap())?, &topic).await?;
        let status = broker.stop()?;
        ensure!(status.success(), "the broker exited with {status}");
        broker.restart()?;
        wait_until_serving(&broker.bootstrap())?;
        let admin = admin_client(&broker.bootstrap())?;
        ensure!(
            shows_changes(&admin, &topic).await?.is_some(),
            "after a restart DescribeConfigs no longer shows the altered configs"
        );
        Ok(())
    }
    .await;
    result.with_context(|| format!("broker stderr tail:\n{}", broker.stderr_tail()))
}
