//! The recommender binary. For now one subcommand: `eval`, the offline evaluation on a
//! MovieLens directory.

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
    /// Evaluates the models on a MovieLens directory (ml-100k or ml-latest-small).
    Eval {
        /// The data set directory.
        #[arg(long)]
        dataset: PathBuf,
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
        Command::Eval {
            dataset,
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
            run_eval(&dataset, &names, plot, window, &hybrid, skip_loo)
        }
    }
}

fn bar(len: u64, msg: String) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len} {elapsed}") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(msg);
    b
}

fn run_eval(
    dir: &std::path::Path,
    names: &[&str],
    plot: Option<PathBuf>,
    window: usize,
    hybrid: &HybridConfig,
    skip_loo: bool,
) -> Result<()> {
    let started = Instant::now();
    let data = Dataset::load(dir).with_context(|| format!("loading {}", dir.display()))?;
    let catalogue = Arc::new(data.catalogue.clone());
    let n = data.events.len() as u64;
    let mut lines = Vec::new();
    let mut series = Vec::new();
    for name in names {
        let mut m = model::build(name, catalogue.clone(), hybrid).context("model")?;
        let b = bar(n, format!("{} prequential", m.name()));
        let t0 = Instant::now();
        let r = eval::prequential(m.as_mut(), &data.events, window, &mut |p| b.set_position(p));
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
            let t = eval::leave_last_one_out(m.as_mut(), &data.events, &mut |p| b.set_position(p));
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
