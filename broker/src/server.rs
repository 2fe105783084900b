//! `Server`: opens storage, binds the listener, accepts connections and shuts down gracefully.
//!
//! Shape (as in tokio's mini-redis): a broadcast channel tells every connection task to stop,
//! and each task holds a clone of an mpsc sender it drops when done, so the server knows all
//! tasks have finished when `recv` on the receiver returns `None`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};

use crate::broker::Broker;
use crate::config::{BrokerConfig, HostPort};
use crate::connection;
use crate::group::GroupCoordinator;
use crate::group_log;
use crate::producer_id_manager::ProducerIdManager;
use crate::shutdown::Shutdown;
use crate::storage::{LogManager, StorageError};

/// How long shutdown waits for requests in flight to get their responses.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Bounds on the periodic flush check. Kafka's default scheduler interval is "never"
/// (i64::MAX); we still run the check at least once a minute so topic-level `flush.ms`
/// overrides are honoured, and at most every 100 ms so a tiny setting cannot busy-loop.
const FLUSH_CHECK_MIN: Duration = Duration::from_millis(100);
const FLUSH_CHECK_MAX: Duration = Duration::from_secs(60);

/// Accept errors (out of file descriptors, say) are retried after a pause that doubles up to
/// this, so the loop neither spins nor gives up.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `log.dirs` is empty.
    #[error("log.dirs names no directory")]
    NoLogDir,
    /// Opening or closing the logs failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// `__consumer_offsets` could not be created.
    #[error("cannot create __consumer_offsets: {0}")]
    OffsetsTopic(#[from] crate::storage::TopicError),
    /// The listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The listener address.
        address: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A storage task on the blocking pool panicked or was cancelled.
    #[error("storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A bound, ready-to-run broker.
///
/// Thread-safety: owned by the task that calls [`Server::run`]; the shared state is in
/// [`Broker`].
#[derive(Debug)]
pub struct Server {
    /// The bound listener (the first of `listeners`).
    listener: TcpListener,
    /// The other plaintext listeners, each with its bound and advertised addresses.
    extra_listeners: Vec<(TcpListener, SocketAddr, HostPort)>,
    /// The address actually bound (port 0 resolved).
    local_addr: SocketAddr,
    /// State shared with every connection.
    broker: Arc<Broker>,
}

impl Server {
    /// Opens the logs and the producer id block in the first log dir, then binds the listener
    /// and fixes the advertised endpoint (`advertised.listeners`, else the bound address).
    pub async fn bind(mut config: BrokerConfig) -> Result<Server, ServerError> {
        let first_dir = config
            .log_dirs
            .first()
            .cloned()
            .ok_or(ServerError::NoLogDir)?;
        let manager_config = config.log_manager_config();
        let offsets_partitions = config.offsets_topic_num_partitions;
        let mut coordinator = GroupCoordinator::new(config.group.clone());
        // Recovery, directory scans and replaying `__consumer_offsets` are blocking file-system
        // work, all done before the listener exists so no group request sees a partial state.
        let (log_manager, producer_ids, coordinator) = tokio::task::spawn_blocking(move || {
            let log_manager = LogManager::open(manager_config)?;
            let producer_ids = ProducerIdManager::open(&first_dir)?;
            group_log::ensure_topic(&log_manager, offsets_partitions)?;
            let stats = group_log::load(&log_manager, &mut coordinator);
            tracing::info!(
                replayed = stats.replayed,
                skipped_other = stats.other,
                skipped_corrupt = stats.corrupt,
                "group coordinator loaded from {}",
                group_log::OFFSETS_TOPIC
            );
            Ok::<_, ServerError>((log_manager, producer_ids, coordinator))
        })
        .await??;

        let listener = bind_listener(&config.listener).await?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            address: format!("{}:{}", config.listener.host, config.listener.port),
            source,
        })?;
        config.advertised_listener =
            Some(advertised(config.advertised_listener.take(), local_addr));
        let mut extra_listeners = Vec::with_capacity(config.extra_listeners.len());
        for named in &config.extra_listeners {
            let extra = bind_listener(&named.bind).await?;
            let bound = extra.local_addr().map_err(|source| ServerError::Bind {
                address: format!("{}:{}", named.bind.host, named.bind.port),
                source,
            })?;
            let told = advertised(named.advertised.clone(), bound);
            tracing::info!(listener = %named.name, %bound, advertised = %format!("{}:{}", told.host, told.port), "listening");
            extra_listeners.push((extra, bound, told));
        }
        Ok(Server {
            listener,
            extra_listeners,
            local_addr,
            broker: Arc::new(Broker::with_group_log(
                config,
                Arc::new(log_manager),
                producer_ids,
                coordinator,
            )),
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The addresses the listeners after the first are bound to, in `listeners` order.
    pub fn extra_local_addrs(&self) -> Vec<SocketAddr> {
        self.extra_listeners.iter().map(|(_, a, _)| *a).collect()
    }

    /// The shared broker state.
    pub fn broker(&self) -> Arc<Broker> {
        Arc::clone(&self.broker)
    }

    /// Serves connections until `shutdown` completes, then stops accepting, waits (up to a
    /// deadline) for requests in flight to be answered, and shuts the logs down cleanly.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let (notify_shutdown, _) = broadcast::channel::<()>(1);
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let flusher = tokio::spawn(flush_periodically(
            Arc::clone(&self.broker),
            Shutdown::new(notify_shutdown.subscribe()),
        ));
        let retention = tokio::spawn(crate::log_retention_task::run(
            Arc::clone(&self.broker),
            Shutdown::new(notify_shutdown.subscribe()),
        ));
        // The cleaner runs on its own threads; its file I/O never touches the async workers.
        let cleaner = crate::storage::cleaner::LogCleaner::start(
            Arc::clone(&self.broker.log_manager),
            self.broker.config.log_cleaner.clone(),
            now_ms,
        );
        let Server {
            listener,
            extra_listeners,
            broker,
            ..
        } = self;
        // One connection limit shared by every listener, as Kafka's `max.connections`.
        let limit = Arc::new(Semaphore::new(broker.config.max_connections));
        let extra_loops: Vec<_> = extra_listeners
            .into_iter()
            .map(|(extra, _, told)| {
                let (broker, limit) = (Arc::clone(&broker), Arc::clone(&limit));
                let (notify, done) = (notify_shutdown.clone(), done_tx.clone());
                tokio::spawn(async move {
                    accept_loop(&extra, &broker, &limit, Some(told), &notify, &done).await;
                })
            })
            .collect();
        tokio::select! {
            () = accept_loop(&listener, &broker, &limit, None, &notify_shutdown, &done_tx) => {}
            () = shutdown => tracing::info!("shutting down"),
        }
        drop(listener);
        for extra in extra_loops {
            // Dropping the loop closes its listener and its `done_tx` clone.
            extra.abort();
            let _ = extra.await;
        }
        // Tell every task to stop, then wait for each one's `done_tx` clone to be dropped.
        let _ = notify_shutdown.send(());
        drop(done_tx);
        if tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("connections still busy after {SHUTDOWN_GRACE:?}; closing anyway");
        }
        if let Err(error) = flusher.await {
            tracing::error!(%error, "flush task failed");
        }
        if let Err(error) = retention.await {
            tracing::error!(%error, "retention task failed");
        }
        // Joining waits for a pass in progress: blocking, so off the async workers.
        if let Err(error) = tokio::task::spawn_blocking(move || cleaner.shutdown()).await {
            tracing::error!(%error, "log cleaner shutdown failed");
        }
        let log_manager = Arc::clone(&broker.log_manager);
        tokio::task::spawn_blocking(move || log_manager.shutdown()).await??;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// Binds `host:port`; an empty host means every interface, as in Kafka.
async fn bind_listener(listener: &HostPort) -> Result<TcpListener, ServerError> {
    let host = if listener.host.is_empty() {
        "0.0.0.0"
    } else {
        listener.host.as_str()
    };
    TcpListener::bind((host, listener.port))
        .await
        .map_err(|source| ServerError::Bind {
            address: format!("{host}:{}", listener.port),
            source,
        })
}

/// The endpoint clients are told about. Without `advertised.listeners` it is the bound
/// address; an all-interfaces bind advertises loopback, the one address sure to reach it. An
/// advertised port of 0 (tests) becomes the bound port.
fn advertised(configured: Option<HostPort>, bound: SocketAddr) -> HostPort {
    match configured {
        Some(mut hp) => {
            if hp.port == 0 {
                hp.port = bound.port();
            }
            hp
        }
        None => {
            let ip = match bound.ip() {
                ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                ip => ip,
            };
            HostPort {
                host: ip.to_string(),
                port: bound.port(),
            }
        }
    }
}

/// Accepts connections forever, one task each, while fewer than `max.connections` (`limit`)
/// are open. Connections of a listener other than the first carry its `advertised` address.
async fn accept_loop(
    listener: &TcpListener,
    broker: &Arc<Broker>,
    limit: &Arc<Semaphore>,
    advertised: Option<HostPort>,
    notify_shutdown: &broadcast::Sender<()>,
    done_tx: &mpsc::Sender<()>,
) {
    loop {
        // Waiting for a permit before accepting leaves excess clients in the listen backlog.
        let Ok(permit) = Arc::clone(limit).acquire_owned().await else {
            return; // The semaphore is never closed.
        };
        let (stream, peer) = accept(listener).await;
        let broker = Arc::clone(broker);
        let shutdown = Shutdown::new(notify_shutdown.subscribe());
        let done = done_tx.clone();
        let advertised = advertised.clone();
        tokio::spawn(async move {
            let serve = connection::serve(stream, peer, broker, shutdown);
            match advertised {
                Some(told) => crate::broker::on_listener(told, serve).await,
                None => serve.await,
            }
            drop(permit);
            drop(done);
        });
    }
}

/// Accepts one connection, retrying errors with a growing pause.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let mut backoff = Duration::from_millis(5);
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// The interval of the time-based flush check, from `log.flush.scheduler.interval.ms` and
/// `log.flush.interval.ms`, within [`FLUSH_CHECK_MIN`, `FLUSH_CHECK_MAX`].
fn flush_check_interval(config: &BrokerConfig) -> Duration {
    let ms = config
        .log_flush_scheduler_interval_ms
        .min(config.log_flush_interval_ms)
        .max(0);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
        .clamp(FLUSH_CHECK_MIN, FLUSH_CHECK_MAX)
}

/// Calls `LogManager::flush_by_time` on every tick until shutdown.
async fn flush_periodically(broker: Arc<Broker>, mut shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(flush_check_interval(&broker.config));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // The first tick is immediate; nothing is unflushed at start.
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.recv() => return,
        }
        let log_manager = Arc::clone(&broker.log_manager);
        // fsync blocks: keep it off the async threads.
        let flushed =
            tokio::task::spawn_blocking(move || log_manager.flush_by_time(now_ms())).await;
        if let Err(error) = flushed {
            tracing::error!(%error, "periodic flush failed");
        }
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use super::*;

    #[test]
    fn advertised_endpoint() {
        let bound: SocketAddr = "0.0.0.0:4242".parse().unwrap();
        assert_eq!(
            advertised(None, bound),
            HostPort {
                host: "127.0.0.1".into(),
                port: 4242
            }
        );
        let bound: SocketAddr = "[::1]:5".parse().unwrap();
        assert_eq!(advertised(None, bound).host, "::1");
        let set = HostPort {
            host: "kafka.example".into(),
            port: 0,
        };
        assert_eq!(
            advertised(Some(set), bound),
            HostPort {
                host: "kafka.example".into(),
                port: 5
            }
        );
    }

    #[test]
    fn flush_interval_is_bounded() {
        let mut c = BrokerConfig::default();
        assert_eq!(flush_check_interval(&c), FLUSH_CHECK_MAX);
        c.log_flush_scheduler_interval_ms = 1;
        assert_eq!(flush_check_interval(&c), FLUSH_CHECK_MIN);
        c.log_flush_scheduler_interval_ms = 2_000;
        assert_eq!(flush_check_interval(&c), Duration::from_secs(2));
        c.log_flush_interval_ms = 500;
        assert_eq!(flush_check_interval(&c), Duration::from_millis(500));
    }
}
