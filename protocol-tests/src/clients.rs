//! rdkafka client configurations used by the tests. Only settings a test depends on are set;
//! everything else keeps librdkafka's defaults, as an ordinary application would.

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaResult;

/// A producer with `acks=all` and a short linger, the durable configuration most apps use.
pub fn producer_config(bootstrap: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        // Long enough for a slow CI machine, short enough that a broken broker fails the test.
        .set("message.timeout.ms", "60000");
    cfg
}

/// A consumer for `assign()`-based reading: no subscription, no commits, CRCs checked.
pub fn consumer_config(bootstrap: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        // librdkafka refuses assign() without a group.id ("Unknown group"); with assign() the
        // group is never joined, so one shared name is harmless.
        .set("group.id", "protocol-tests-assign")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        // The point of several tests is that what we stored is intact.
        .set("check.crcs", "true");
    cfg
}

/// An admin client.
pub fn admin_client(bootstrap: &str) -> KafkaResult<AdminClient<DefaultClientContext>> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
}
