//! `trainer`: train a text classifier with cross-validated grid search and
//! register it as a new version. `cargo run -p trainer` trains on the
//! bundled Rotten Tomatoes snippets and saves into `./registry`.

mod data;
mod summary;

use clap::Parser;
use cli_support::{BumpArg, Failure};
use data::{DEFAULT_DATA, load_grid, resolve_data};
use registry_core::{CodeInfo, VersionSlot};
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use summary::{PROGRESS_EVERY, progress_line, progress_message, thousands};
use textclf::{Progress, SearchConfig, Strategy};
use textclf_registry::{TrainError, TrainOptions, train_and_register};

#[derive(Parser, Debug)]
#[command(
    about = "Train a text classifier and register it as a new model version",
    disable_version_flag = true
)]
struct Args {
    /// Labelled data: TSV or CSV with `label` and `text` columns.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    #[command(flatten)]
    registry: cli_support::RegistryArgs,
    #[command(flatten)]
    sign: cli_support::SignArgs,
    /// Exact version to register (semver); default: bump the highest.
    #[arg(long, conflicts_with = "bump")]
    version: Option<String>,
    /// Which part of the highest existing version to increment.
    #[arg(long, value_enum, default_value_t = BumpArg::Patch)]
    bump: BumpArg,
    /// Seed for the train/test split and the folds.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Fraction of the data held out for the test score.
    #[arg(long, default_value_t = 0.2)]
    test_size: f64,
    /// Search space replacing the default grid (JSON, or TOML with a `grid` array).
    #[arg(long)]
    grid: Option<PathBuf>,
    /// auto: the full grid below 20,000 training rows, successive halving from there; full; halving.
    #[arg(long, default_value = "auto")]
    search: Strategy,
    /// Stop evaluating candidates when the search would take longer: 90, 90s, 15m, 1h (implies halving; the best candidates so far go on).
    #[arg(long, value_parser = cli_support::parse::duration)]
    time_budget: Option<std::time::Duration>,
    /// Run fewer folds at once rather than use more memory than this: 2G, 512M (default: the memory available at start).
    #[arg(long, value_parser = cli_support::parse::size)]
    max_memory: Option<u64>,
    /// Free-text description stored with the version.
    #[arg(long)]
    description: Option<String>,
    /// KEY=VALUE tag stored with the version (repeatable).
    #[arg(long = "tag", value_parser = cli_support::parse::key_value)]
    tags: Vec<(String, String)>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
    /// Append one JSON line per classifier fit to FILE: rows, features, non-zeros, solver passes with their stopping criterion, seconds (for finding where a search's time goes).
    #[arg(long, value_name = "FILE")]
    trace_fits: Option<PathBuf>,
}

/// Sends textclf's per-fit records to `path`, one JSON line each.
fn trace_fits_to(path: &std::path::Path) -> Result<(), Failure> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Failure::usage(format!("cannot open --trace-fits {}: {e}", path.display())))?;
    let file = std::sync::Mutex::new(file);
    textclf::trace::set_fit_trace(Box::new(move |trace| {
        if let (Ok(line), Ok(mut f)) = (serde_json::to_string(trace), file.lock()) {
            // One write per line, so concurrent fits never interleave.
            let _ = std::io::Write::write_all(&mut *f, format!("{line}\n").as_bytes());
        }
    }));
    Ok(())
}

/// Bytes in a MiB (the unit of `--max-memory 512M`).
const MIB: f64 = (1u64 << 20) as f64;

/// Bad data or a bad grid is the user's input to fix (usage); registry
/// failures keep their own kind.
fn failure(e: TrainError) -> Failure {
    match e {
        TrainError::Registry(e) => e.into(),
        TrainError::Data(e) => Failure::usage(e.to_string()),
    }
}

fn try_main(args: Args) -> Result<(), Failure> {
    if let Some(path) = &args.trace_fits {
        trace_fits_to(path)?;
    }
    let mut registry = args.registry.open_model([])?;
    if let Some(signer) = args.sign.signer()? {
        registry = registry.with_signer(signer);
    }
    let slot = match &args.version {
        Some(v) => VersionSlot::Exact(v.parse()?),
        None => VersionSlot::Next(args.bump.into()),
    };
    let options = TrainOptions {
        data: resolve_data(&args.data),
        data_as_given: Some(args.data.display().to_string()),
        slot,
        search: SearchConfig {
            folds: args.folds,
            test_size: args.test_size,
            seed: args.seed,
            grid: args
                .grid
                .as_deref()
                .map(load_grid)
                .transpose()
                .map_err(Failure::usage)?,
            strategy: args.search,
            time_budget: args.time_budget,
            max_memory: args.max_memory,
        },
        description: args.description.clone(),
        tags: args.tags.iter().cloned().collect(),
        grid_file: args.grid.clone(),
        code: CodeInfo {
            name: "trainer".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: data::git_commit(),
        },
    };
    // A bar on a terminal; elsewhere (CI logs, `2> log`) a plain line
    // every few seconds, so a long search is visibly alive.
    let on_terminal = std::io::stderr().is_terminal();
    let bar = (!args.quiet && on_terminal).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        // The ETA is the search's (indicatif's own counts fits, which differ
        // in cost tenfold).
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} fits, {msg}") {
            bar.set_style(style);
        }
        bar
    });
    let started = std::time::Instant::now();
    let last_line = std::sync::Mutex::new(started);
    let progress = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!("ETA {} ({})", summary::eta(p), progress_message(p)));
        } else if !args.quiet
            && let Ok(mut last) = last_line.lock()
            && last.elapsed() >= PROGRESS_EVERY
            && p.done < p.total
        {
            *last = std::time::Instant::now();
            eprintln!("{}", progress_line(p, started.elapsed()));
        }
    };
    let outcome = train_and_register(&registry, &options, &progress).map_err(failure)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let winner = outcome.report.winner();
    let mut out = String::new();
    if args.json {
        let summary = serde_json::json!({
            "version": outcome.metadata.version.to_string(),
            "test_score": outcome.report.test.accuracy,
            "cv_score": winner.mean,
            "cv_std": winner.std,
            "hyperparameters": winner.hyperparameters,
            "path": outcome.location,
            "data": {"name": outcome.data_name, "sha256": outcome.data_sha256, "rows": outcome.data_rows},
            "seconds": outcome.seconds,
            "search": outcome.report.strategy,
        });
        let _ = writeln!(out, "{summary}");
    } else if !args.quiet {
        let hp: Vec<String> = winner.hyperparameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "registered version {}", outcome.metadata.version);
        let _ = writeln!(
            out,
            "  data:            {} ({} rows, sha256 {})",
            outcome.data_name,
            outcome.data_rows,
            &outcome.data_sha256[..12]
        );
        let _ = writeln!(out, "  hyperparameters: {}", hp.join(" "));
        let _ = writeln!(
            out,
            "  cv accuracy:     {:.4} ± {:.4} ({} folds, {} candidates)",
            winner.mean,
            winner.std,
            args.folds,
            outcome.report.candidates.len()
        );
        let _ = writeln!(
            out,
            "  test accuracy:   {:.4} ({} held out)",
            outcome.report.test.accuracy, outcome.report.n_test
        );
        let report = &outcome.report;
        if report.strategy != "full" {
            let rounds: Vec<String> = report
                .rounds
                .iter()
                .map(|r| format!("{} × {}", r.candidates, thousands(r.rows)))
                .collect();
            let budget = report.eliminated.iter().filter(|e| e.reason == "time budget").count();
            let _ = writeln!(
                out,
                "  search:          successive halving, candidates × rows {}{}",
                rounds.join(" → "),
                if budget > 0 {
                    format!(" ({budget} dropped by the time budget)")
                } else {
                    String::new()
                }
            );
        }
        if let Some(first) = report.skipped_for_memory.first() {
            let _ = writeln!(
                out,
                "  left out:        {} candidate(s) needing more than the {:.0} MiB the memory limit leaves beside the data (the largest {:.0} MiB: {})",
                report.skipped_for_memory.len(),
                first.limit as f64 / MIB,
                report.skipped_for_memory.iter().map(|s| s.needs).max().unwrap_or(0) as f64 / MIB,
                first.candidate.classifier.family()
            );
        }
        let _ = writeln!(out, "  time:            {:.2} s", outcome.seconds);
        let _ = writeln!(out, "  saved to:        {}", outcome.location);
        if let Some(latest) = &outcome.latest {
            let _ = writeln!(out, "  latest:          {latest}");
        }
    }
    cli_support::emit(&out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    cli_support::finish_as(try_main(args), json)
}
