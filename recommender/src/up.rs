//! `up`: the whole system in one process — our broker (unless `--bootstrap` names an existing
//! Kafka), the topics, the simulator, one processor and the server with its web page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use broker::{BrokerConfig, Server};
use tokio::sync::watch;

use crate::error::EdgeError;
use crate::process::{self, ProcessConfig, ProcessCounters};
use crate::serve::{Bound, ServeConfig};
use crate::simulate::{self, SimulateConfig};
use crate::topics;

/// How to run everything.
#[derive(Debug, Clone)]
pub struct UpConfig {
    /// An existing Kafka; `None` starts our broker in-process.
    pub bootstrap: Option<String>,
    /// Where the in-process broker listens.
    pub broker_listen: SocketAddr,
    /// Where the in-process broker keeps its logs.
    pub data_dir: PathBuf,
    /// Where the web page and API listen.
    pub http: SocketAddr,
    /// Simulator seed.
    pub seed: u64,
    /// Simulated users.
    pub users: u64,
    /// Simulated events per second.
    pub rate: f64,
}

/// A broker running in this process.
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// The address clients bootstrap from.
    pub address: SocketAddr,
    /// Stops it.
    stop: watch::Sender<bool>,
    /// Its task.
    task: tokio::task::JoinHandle<Result<(), EdgeError>>,
}

impl EmbeddedBroker {
    /// Starts our broker on `listen` with its logs in `data_dir`.
    pub async fn start(listen: SocketAddr, data_dir: PathBuf) -> Result<EmbeddedBroker, EdgeError> {
        let pairs = [
            ("listeners", format!("PLAINTEXT://{listen}")),
            ("log.dirs", data_dir.display().to_string()),
            ("num.partitions", topics::USER_PARTITIONS.to_string()),
        ];
        let config = BrokerConfig::from_pairs(pairs.map(|(k, v)| (k.to_string(), v)))
            .map_err(|e| EdgeError::Broker(e.to_string()))?;
        let server = Server::bind(config)
            .await
            .map_err(|e| EdgeError::Broker(e.to_string()))?;
        let address = server.local_addr();
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                // A dropped sender also means stop.
                let _ = stopped.wait_for(|s| *s).await;
            };
            server
                .run(shutdown)
                .await
                .map_err(|e| EdgeError::Broker(e.to_string()))
        });
        tracing::info!(%address, "broker started in-process");
        Ok(EmbeddedBroker {
            address,
            stop,
            task,
        })
    }

    /// Shuts it down cleanly.
    pub async fn stop(self) -> Result<(), EdgeError> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}

/// Runs everything until `stop` turns true.
pub async fn run(cfg: UpConfig, stop: watch::Receiver<bool>) -> Result<(), EdgeError> {
    let embedded = match &cfg.bootstrap {
        Some(_) => None,
        None => Some(EmbeddedBroker::start(cfg.broker_listen, cfg.data_dir.join("kafka")).await?),
    };
    let bootstrap = match (&cfg.bootstrap, &embedded) {
        (Some(b), _) => b.clone(),
        (None, Some(e)) => e.address.to_string(),
        (None, None) => return Err(EdgeError::Broker("no broker".into())),
    };
    topics::create_all(&bootstrap).await?;
    let sim = tokio::spawn(simulate::run(
        SimulateConfig {
            bootstrap: bootstrap.clone(),
            seed: cfg.seed,
            users: cfg.users,
            rate: cfg.rate,
            limit: None,
            start_ms: None,
            serve: Some(cfg.http.to_string()),
        },
        stop.clone(),
    ));
    let proc = tokio::spawn(process::run(
        ProcessConfig::new(&bootstrap),
        stop.clone(),
        Arc::new(ProcessCounters::default()),
    ));
    let server = Bound::bind(ServeConfig {
        bootstrap: bootstrap.clone(),
        listen: cfg.http,
        progress: true,
    })
    .await?;
    println!(
        "recommender up: web page http://{}/  kafka {bootstrap}  (Ctrl-C stops)",
        server.local_addr()?
    );
    let served = server.run(stop.clone()).await;
    let simulated = sim.await?;
    let processed = proc.await?;
    if let Some(e) = embedded {
        e.stop().await?;
    }
    served?;
    simulated?;
    processed
}
