//! The `broker` binary: `broker [server.properties] [--override key=value]...`.
//!
//! Logs go to stderr (`RUST_LOG`, default `info`). Once the listener is bound, exactly one line,
//! `listening on <ip:port>`, goes to stdout so scripts and tests can find the port. SIGINT or
//! SIGTERM starts a graceful shutdown.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use broker::alloc::GuardedAllocator;
use broker::{BrokerConfig, Server};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Keeps a lying array count in a request from aborting the process (see `broker::alloc`).
#[global_allocator]
static ALLOCATOR: GuardedAllocator = GuardedAllocator;

/// Command line.
#[derive(Debug, Parser)]
#[command(version, about = "A single-node Kafka-compatible broker")]
struct Args {
    /// A Kafka `server.properties` file.
    config: Option<PathBuf>,
    /// `key=value`, overriding the file (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = BrokerConfig::load(args.config.as_deref(), &args.overrides)
        .context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: BrokerConfig) -> anyhow::Result<()> {
    let server = Server::bind(config)
        .await
        .context("cannot start the broker")?;
    let address = server.local_addr();
    tracing::info!(%address, "broker started");
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {address}").context("cannot write to stdout")?;
        stdout.flush().context("cannot write to stdout")?;
    }
    server
        .run(shutdown_signal())
        .await
        .context("broker failed")?;
    Ok(())
}

/// Completes on the first SIGINT or SIGTERM. If a handler cannot be installed, that signal is
/// simply not waited for (the other one still works).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            None
        }
    };
    let sigterm = async {
        match terminate.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let sigint = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = sigint => {}
        () = sigterm => {}
    }
    tracing::info!("signal received");
}
