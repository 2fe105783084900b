//! The recommender binary: `up` (everything, with our broker embedded), the parts alone
//! (`simulate`, `process`, `serve`), and `eval`, the offline evaluation on a MovieLens directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use recommender::dataset::Dataset;
use recommender::eval::{self, ResultLine};
use recommender::model::{self, HybridConfig, MODEL_NAMES};
use recommender::plot::{line_chart, Series};

#[derive(Parser, Debug)]
#[command(version, about = "Netflix-style recommender over Kafka")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the whole system: broker (unless --bootstrap), simulator, processor, web server.
    Up {
        /// Use this Kafka instead of starting our broker.
        #[arg(long)]
        bootstrap: Option<String>,
        /// Where the embedded broker listens.
        #[arg(long, default_value = "127.0.0.1:9092")]
        broker_listen: SocketAddr,
        /// Data directory of the embedded broker.
        #[arg(long, default_value = "recommender-data")]
        data_dir: PathBuf,
        /// Where the web page and the API listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Simulator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated users.
        #[arg(long, default_value_t = 1000)]
        users: u64,
        /// Simulated events per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
    },
    /// Runs the user-activity simulator alone.
    Simulate {
        /// Kafka bootstrap servers.
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        /// Seed of the catalogue and users.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated users.
        #[arg(long, default_value_t = 1000)]
        users: u64,
        /// Events per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<u64>,
        /// Use a simulated clock from this time (ms since the epoch) instead of the wall clock.
        #[arg(long)]
        start_ms: Option<i64>,
        /// Fetch served rows from this `serve` (host:port, e.g. `serve:8080` in a compose
        /// network) and click them.
        #[arg(long)]
        serve: Option<String>,
    },
    /// Runs one stream processor (start several with the same group to scale out).
    Process {
        /// Kafka bootstrap servers.
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        /// Consumer group.
        #[arg(long, default_value = recommender::process::GROUP)]
        group: String,
        /// Write features to (and restore state from) this compacted topic. With a new topic
        /// and a new group, every user's features are rebuilt from offset 0 while `serve` keeps
        /// reading the old topic.
        #[arg(long, default_value = recommender::topics::USER_BEHAVIOR_FEATURES)]
        features_topic: String,
    },
    /// Measures freshness (p50/p99 at each rate), fold throughput and memory per 100k users.
    Bench {
        /// Use this Kafka instead of starting our broker.
        #[arg(long)]
        bootstrap: Option<String>,
        /// Comma-separated background rates, events/s.
        #[arg(long, default_value = "1000,10000")]
        rates: String,
        /// Probes per rate.
        #[arg(long, default_value_t = 300)]
        probes: usize,
    },
    /// Runs the HTTP API and web page alone.
    Serve {
        /// Kafka bootstrap servers.
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
    },
    /// Evaluates the models on a MovieLens directory (ml-100k or ml-latest-small), its ratings
    /// replayed through a Kafka broker.
    Eval {
        /// The data set directory.
        #[arg(long)]
        dataset: PathBuf,
        /// The Kafka broker the ratings are replayed through.
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        /// Feed the models straight from the file, without a broker (same numbers).
        #[arg(long)]
        no_broker: bool,
        /// Comma-separated models to evaluate.
        #[arg(long, default_value = "MostPop,DecayedPop,ItemKnn,Hybrid")]
        models: String,
        /// Where to write the SVG of the prequential curves (default:
        /// `prequential-<dataset>.svg` in the current directory).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Events per point of the curve.
        #[arg(long, default_value_t = 5000)]
        window: usize,
        /// Hybrid tunables as JSON, overriding the defaults (e.g. '{"w_pop":0.5}').
        #[arg(long)]
        hybrid_config: Option<String>,
        /// Skip the leave-last-one-out protocol.
        #[arg(long)]
        skip_loo: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Up {
            bootstrap,
            broker_listen,
            data_dir,
            http,
            seed,
            users,
            rate,
        } => live(|stop| {
            recommender::up::run(
                recommender::up::UpConfig {
                    bootstrap,
                    broker_listen,
                    data_dir,
                    http,
                    seed,
                    users,
                    rate,
                },
                stop,
            )
        }),
        Command::Simulate {
            bootstrap,
            seed,
            users,
            rate,
            limit,
            start_ms,
            serve,
        } => live(|stop| async move {
            let cfg = recommender::simulate::SimulateConfig {
                bootstrap,
                seed,
                users,
                rate,
                limit,
                start_ms,
                serve,
            };
            recommender::topics::create_all(&cfg.bootstrap).await?;
            let n = recommender::simulate::run(cfg, stop).await?;
            eprintln!("{n} events produced");
            Ok(())
        }),
        Command::Process {
            bootstrap,
            group,
            features_topic,
        } => live(|stop| async move {
            recommender::topics::create_all(&bootstrap).await?;
            recommender::topics::create_features_topic(&bootstrap, &features_topic).await?;
            let cfg = recommender::process::ProcessConfig {
                group,
                features_topic,
                ..recommender::process::ProcessConfig::new(&bootstrap)
            };
            recommender::process::run(cfg, stop, Default::default()).await
        }),
        Command::Bench {
            bootstrap,
            rates,
            probes,
        } => live(|stop| async move { bench(bootstrap, &rates, probes, stop).await }),
        Command::Serve { bootstrap, http } => live(|stop| async move {
            recommender::topics::create_all(&bootstrap).await?;
            let cfg = recommender::serve::ServeConfig {
                bootstrap,
                listen: http,
                progress: true,
            };
            let bound = recommender::serve::Bound::bind(cfg).await?;
            println!("serving http://{}/", bound.local_addr()?);
            bound.run(stop).await
        }),
        Command::Eval {
            dataset,
            bootstrap,
            no_broker,
            models,
            plot,
            window,
            hybrid_config,
            skip_loo,
        } => {
            let hybrid: HybridConfig = match hybrid_config {
                Some(j) => serde_json::from_str(&j).context("--hybrid-config")?,
                None => HybridConfig::default(),
            };
            let names: Vec<&str> = models.split(',').map(str::trim).collect();
            for n in &names {
                if !MODEL_NAMES.iter().any(|m| m.eq_ignore_ascii_case(n)) {
                    bail!("unknown model {n}; known: {}", MODEL_NAMES.join(","));
                }
            }
            let via = (!no_broker).then_some(bootstrap.as_str());
            run_eval(&dataset, via, &names, plot, window, &hybrid, skip_loo)
        }
    }
}

/// The `bench` subcommand: each measurement on a fresh embedded broker (or `--bootstrap`).
async fn bench(
    bootstrap: Option<String>,
    rates: &str,
    probes: usize,
    _stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), recommender::error::EdgeError> {
    use recommender::bench;
    let fold = tokio::task::spawn_blocking(|| bench::fold_throughput(200_000)).await?;
    println!(
        "{}",
        serde_json::json!({ "fold_events_per_s_one_core": fold.round() })
    );
    let mem = tokio::task::spawn_blocking(|| bench::memory_per_100k_users(30)).await?;
    println!(
        "{}",
        serde_json::json!({ "rss_bytes_per_100k_users_30_events_each": mem })
    );
    for rate in rates
        .split(',')
        .filter_map(|r| r.trim().parse::<f64>().ok())
    {
        let dir = std::env::temp_dir().join(format!("recommender-bench-{}", std::process::id()));
        let embedded = match &bootstrap {
            Some(_) => None,
            None => Some(
                recommender::up::EmbeddedBroker::start(
                    std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    dir.clone(),
                )
                .await?,
            ),
        };
        let b = match (&bootstrap, &embedded) {
            (Some(b), _) => b.clone(),
            (None, Some(e)) => e.address.to_string(),
            (None, None) => continue,
        };
        recommender::topics::create_all(&b).await?;
        let f = bench::freshness(&b, rate, probes).await?;
        println!("{}", serde_json::to_string(&f)?);
        if let Some(e) = embedded {
            e.stop().await?;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    if bootstrap.is_none() {
        // The processor through Kafka, on a fresh broker of its own.
        let dir = std::env::temp_dir().join(format!("recommender-bench-p-{}", std::process::id()));
        let e = recommender::up::EmbeddedBroker::start(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.clone(),
        )
        .await?;
        recommender::topics::create_all(&e.address.to_string()).await?;
        let t = bench::process_throughput(&e.address.to_string(), 200_000).await?;
        println!(
            "{}",
            serde_json::json!({ "process_events_per_s_through_kafka": t.round() })
        );
        e.stop().await?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Runs a live part on a multi-threaded runtime with logs on stderr, until Ctrl-C or SIGTERM.
fn live<F, Fut>(part: F) -> Result<()>
where
    F: FnOnce(tokio::sync::watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = Result<(), recommender::error::EdgeError>>,
{
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = tx.send(true);
        });
        part(rx).await.map_err(anyhow::Error::from)
    })
}

/// Completes on the first SIGINT or SIGTERM (never, if neither can be listened for).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if r.is_err() {
                std::future::pending::<()>().await;
            }
        }
        () = term => {}
    }
    tracing::info!("stopping");
}

fn bar(len: u64, msg: String) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len} {elapsed}") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(msg);
    b
}

/// Produces the events to a fresh topic on `bootstrap` and returns them as consumed back, with a
/// progress bar per phase.
fn replay_through(bootstrap: &str, data: &Dataset) -> Result<Vec<recommender::event::Event>> {
    use recommender::eval::replay::{round_trip, Phase};
    let t0 = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let n = data.events.len() as u64;
    let mut current: Option<(Phase, ProgressBar)> = None;
    let mut progress = |phase: Phase, done: u64| {
        if current.as_ref().map(|(p, _)| *p) != Some(phase) {
            if let Some((_, b)) = current.take() {
                b.finish_and_clear();
            }
            let what = match phase {
                Phase::Produce => "produce to",
                Phase::Consume => "consume from",
            };
            current = Some((phase, bar(n, format!("{what} {bootstrap}"))));
        }
        if let Some((_, b)) = &current {
            b.set_position(done);
        }
    };
    let events = runtime
        .block_on(round_trip(
            bootstrap,
            &data.name,
            &data.events,
            &mut progress,
        ))
        .with_context(|| {
            format!(
                "replaying {} through {bootstrap} (is a Kafka broker there? --no-broker skips it)",
                data.name
            )
        })?;
    if let Some((_, b)) = current.take() {
        b.finish_and_clear();
    }
    eprintln!(
        "{} events produced to and consumed from {bootstrap}: {:.1}s",
        events.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(events)
}

fn run_eval(
    dir: &std::path::Path,
    bootstrap: Option<&str>,
    names: &[&str],
    plot: Option<PathBuf>,
    window: usize,
    hybrid: &HybridConfig,
    skip_loo: bool,
) -> Result<()> {
    let started = Instant::now();
    let data = Dataset::load(dir).with_context(|| format!("loading {}", dir.display()))?;
    let events = match bootstrap {
        Some(b) => replay_through(b, &data)?,
        None => data.events.clone(),
    };
    let catalogue = Arc::new(data.catalogue.clone());
    let n = events.len() as u64;
    let mut lines = Vec::new();
    let mut series = Vec::new();
    for name in names {
        let mut m = model::build(name, catalogue.clone(), hybrid).context("model")?;
        let b = bar(n, format!("{} prequential", m.name()));
        let t0 = Instant::now();
        let r = eval::prequential(m.as_mut(), &events, window, &mut |p| b.set_position(p));
        b.finish_and_clear();
        eprintln!(
            "{} prequential: {:.1}s",
            m.name(),
            t0.elapsed().as_secs_f64()
        );
        lines.push(ResultLine::new(&data.name, "prequential", m.name(), &r.all));
        lines.push(ResultLine::new(
            &data.name,
            "prequential_last_half",
            m.name(),
            &r.last_half,
        ));
        let mut end = 0u64;
        let points = r
            .curve
            .iter()
            .map(|t| {
                end += t.events;
                (end as f64, t.hr())
            })
            .collect();
        series.push(Series {
            label: m.name().to_string(),
            points,
        });
        if !skip_loo {
            let mut m = model::build(name, catalogue.clone(), hybrid).context("model")?;
            let b = bar(n, format!("{} leave-last-one-out", m.name()));
            let t = eval::leave_last_one_out(m.as_mut(), &events, &mut |p| b.set_position(p));
            b.finish_and_clear();
            lines.push(ResultLine::new(
                &data.name,
                "leave_last_one_out",
                m.name(),
                &t,
            ));
        }
    }
    println!(
        "{:<12} {:<24} {:>8} {:>10} {:>9}",
        "model", "protocol", "HR@10", "NDCG@10", "events"
    );
    for l in &lines {
        println!(
            "{:<12} {:<24} {:>8.4} {:>10.4} {:>9}",
            l.model, l.protocol, l.hr_at_10, l.ndcg_at_10, l.events
        );
    }
    for l in &lines {
        println!("{}", serde_json::to_string(l)?);
    }
    let path = plot.unwrap_or_else(|| PathBuf::from(format!("prequential-{}.svg", data.name)));
    let svg = line_chart(
        &format!(
            "Prequential HR@10 on {} (windows of {window} events)",
            data.name
        ),
        "events",
        "HR@10",
        &series,
    );
    std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "plot: {}; total {:.1}s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
