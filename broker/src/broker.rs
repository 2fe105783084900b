//! `Broker`: the state every connection shares.

use std::sync::Arc;

use crate::config::{BrokerConfig, HostPort};
use crate::dynamic_broker_config::DynamicBrokerConfig;
use crate::group::{GroupConfig, GroupCoordinator};
use crate::group_coordinator_service::GroupCoordinatorService;
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
    /// Every partition's log, topic metadata and the cluster id. Behind an `Arc` so that handlers
    /// can move topic creation and deletion (file system work) onto `spawn_blocking`.
    pub log_manager: Arc<LogManager>,
    /// Allocates producer ids for InitProducerId.
    pub producer_ids: ProducerIdManager,
    /// Bumped after every append that moved a high watermark, so that long-polling fetches wake up
    /// without busy polling. Fetch subscribes before reading, then waits for a change or its
    /// deadline.
    pub data_appended: tokio::sync::watch::Sender<u64>,
    /// The classic consumer-group coordinator (groups and offsets, kept in `__consumer_offsets`
    /// when built with [`Broker::with_group_log`]).
    pub groups: GroupCoordinatorService,
    /// Dynamic broker configs (AlterConfigs on a broker resource); `config` stays the static one.
    pub dynamic_config: Arc<DynamicBrokerConfig>,
}

impl Broker {
    /// Assembles the shared state. `config.advertised_listener` should already hold the address
    /// clients are told to use (the server fills it in after binding).
    pub fn new(
        config: BrokerConfig,
        log_manager: LogManager,
        producer_ids: ProducerIdManager,
        groups: GroupConfig,
    ) -> Broker {
        let dynamic_config = load_dynamic_config(&config, &log_manager);
        Broker {
            dynamic_config: Arc::new(dynamic_config),
            groups: GroupCoordinatorService::new(groups),
            config: Arc::new(config),
            log_manager: Arc::new(log_manager),
            producer_ids,
            data_appended: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Like [`Broker::new`], with `coordinator` already replayed from `__consumer_offsets`
    /// (see [`crate::group_log::load`]) and its records appended there from now on.
    pub fn with_group_log(
        config: BrokerConfig,
        log_manager: Arc<LogManager>,
        producer_ids: ProducerIdManager,
        coordinator: GroupCoordinator,
    ) -> Broker {
        let dynamic_config = load_dynamic_config(&config, &log_manager);
        Broker {
            dynamic_config: Arc::new(dynamic_config),
            groups: GroupCoordinatorService::with_log(coordinator, Arc::clone(&log_manager)),
            config: Arc::new(config),
            log_manager,
            producer_ids,
            data_appended: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The host and port clients are told to connect to (Metadata, FindCoordinator,
    /// DescribeCluster): those of the listener the current connection arrived on (see
    /// [`on_listener`]), else `advertised.listeners` of the first listener, else the listener.
    pub fn advertised(&self) -> HostPort {
        LISTENER_ADVERTISED
            .try_with(HostPort::clone)
            .unwrap_or_else(|_| {
                self.config
                    .advertised_listener
                    .clone()
                    .unwrap_or_else(|| self.config.listener.clone())
            })
    }

    /// Tells long-polling fetches that new data may be readable.
    pub fn notify_appended(&self) {
        self.data_appended
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

tokio::task_local! {
    /// The advertised address of the listener a connection task serves, when it is not the
    /// first listener. A task-local rather than a parameter so that the handlers, which only
    /// see `&Broker`, answer per listener without every handler signature carrying it; a
    /// connection's requests are all handled inside its own task.
    static LISTENER_ADVERTISED: HostPort;
}

/// Runs `connection` (a connection task's future) as arriving on a listener advertised as
/// `advertised` (Kafka's per-listener `advertised.listeners`).
pub async fn on_listener<F: std::future::Future>(advertised: HostPort, connection: F) -> F::Output {
    LISTENER_ADVERTISED.scope(advertised, connection).await
}

/// Loads the persisted dynamic broker configs and, when any are set, makes them the partition
/// defaults before the first request is served.
fn load_dynamic_config(config: &BrokerConfig, log_manager: &LogManager) -> DynamicBrokerConfig {
    let dynamic_config = DynamicBrokerConfig::load(config);
    if !dynamic_config.layers().cluster_default.is_empty()
        || !dynamic_config.layers().this_broker.is_empty()
    {
        log_manager.set_default_log_config(dynamic_config.effective().log_config());
    }
    dynamic_config
}
