//! `Broker`: the state every connection shares.

use std::sync::Arc;

use crate::config::BrokerConfig;
use crate::producer_id_manager::ProducerIdManager;
use crate::storage::LogManager;

/// Everything a request handler may need, shared by all connections behind an `Arc`.
///
/// Thread-safety: every field is safe to use from many tasks at once; `Broker` itself holds no
/// lock.
#[derive(Debug)]
pub struct Broker {
    /// The validated configuration this broker was started with.
    pub config: Arc<BrokerConfig>,
    /// Every partition's log, topic metadata and the cluster id.
    pub log_manager: LogManager,
    /// Allocates producer ids for InitProducerId.
    pub producer_ids: ProducerIdManager,
    /// Bumped after every append that moved a high watermark, so that long-polling fetches wake up
    /// without busy polling. Fetch subscribes before reading, then waits for a change or its
    /// deadline.
    pub data_appended: tokio::sync::watch::Sender<u64>,
}

impl Broker {
    /// Tells long-polling fetches that new data may be readable.
    pub fn notify_appended(&self) {
        self.data_appended.send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}
