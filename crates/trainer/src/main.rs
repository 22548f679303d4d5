//! `trainer`: train a text classifier with cross-validated grid search and
//! register it as a new version. `cargo run -p trainer` trains on the
//! bundled Rotten Tomatoes snippets and saves into `./registry`.

use clap::Parser;
use cli_errors::Failure;
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use textclf::{Progress, SearchConfig, Strategy};
use trainer::{DEFAULT_DATA, TrainError, TrainOptions, load_grid, train_and_register};

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
    registry: registry_open::RegistryArgs,
    #[command(flatten)]
    sign: registry_open::SignArgs,
    /// Exact version to register (semver); default: bump the highest.
    #[arg(long, conflicts_with = "bump")]
    version: Option<String>,
    /// Which part of the highest existing version to increment.
    #[arg(long, default_value = "patch", value_parser = ["major", "minor", "patch"])]
    bump: String,
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
    #[arg(long, value_parser = parse_duration)]
    time_budget: Option<std::time::Duration>,
    /// Run fewer folds at once rather than use more memory than this: 2G, 512M (default: the memory available at start).
    #[arg(long, value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Free-text description stored with the version.
    #[arg(long)]
    description: Option<String>,
    /// KEY=VALUE tag stored with the version (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

/// `90`, `90s`, `15m`, `1h`: a positive duration.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(s.trim().len()),
    );
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (90, 90s, 15m, 1h)"))?;
    let seconds = value
        * match unit {
            "" | "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown unit {other:?} in {s:?}: use s, m or h")),
        };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{s:?}: the budget must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// `2G`, `512M`, `100000K`, or bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size (2G, 512M, bytes)"))?;
    let factor = match unit.to_ascii_uppercase().trim_end_matches('B').trim_end_matches('I') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit {other:?} in {s:?}: use K, M or G")),
    };
    let bytes = value * factor;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("{s:?}: the limit must be positive"));
    }
    Ok(bytes as u64)
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("tag {s:?} is not KEY=VALUE")),
    }
}

/// How often a plain progress line is printed when stderr is not a terminal.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// `trainer: round 2/3, 6 candidates on 30,000 rows, 120/540 fits (22%), 14 s elapsed, ETA 49 s`.
fn progress_line(p: Progress, elapsed: std::time::Duration) -> String {
    format!("trainer: {}, {}", progress_message(p), timing(p, elapsed))
}

/// What the search is doing: the round, its candidates and rows.
fn progress_message(p: Progress) -> String {
    let round = if p.rounds > 1 {
        format!("round {}/{}, ", p.round + 1, p.rounds)
    } else {
        String::new()
    };
    format!("{round}{} candidates on {} rows", p.candidates, thousands(p.rows))
}

fn timing(p: Progress, elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let eta = if p.done == 0 {
        "unknown".to_string()
    } else {
        format!("{:.0} s", secs / p.done as f64 * p.total.saturating_sub(p.done) as f64)
    };
    format!(
        "{}/{} fits ({:.0}%), {secs:.0} s elapsed, ETA {eta}",
        p.done,
        p.total,
        100.0 * p.done as f64 / p.total.max(1) as f64
    )
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bad data or a bad grid is the user's input to fix (usage); registry
/// failures keep their own kind.
fn failure(e: TrainError) -> Failure {
    match e {
        TrainError::Registry(e) => e.into(),
        TrainError::Open(e) => e.into(),
        other => Failure::usage(other.to_string()),
    }
}

fn try_main(args: Args) -> Result<(), Failure> {
    let options = TrainOptions {
        data: args.data.clone(),
        registry: args.registry.registry.clone(),
        open_options: args.registry.options(),
        version: args.version.as_deref().map(str::parse).transpose()?,
        bump: args.bump.parse().map_err(Failure::usage)?,
        search: SearchConfig {
            folds: args.folds,
            test_size: args.test_size,
            seed: args.seed,
            grid: args.grid.as_deref().map(load_grid).transpose().map_err(failure)?,
            strategy: args.search,
            time_budget: args.time_budget,
            max_memory: args.max_memory,
        },
        description: args.description.clone(),
        tags: args.tags.iter().cloned().collect(),
        model: args.registry.model(None)?,
        grid_file: args.grid.clone(),
        signer: args
            .sign
            .signer()?
            .map(|s| s as std::sync::Arc<dyn registry_core::VersionSigner>),
    };
    // A bar on a terminal; elsewhere (CI logs, `2> log`) a plain line
    // every few seconds, so a long search is visibly alive.
    let on_terminal = std::io::stderr().is_terminal();
    let bar = (!args.quiet && on_terminal).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} fits, ETA {eta} ({msg})") {
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
            bar.set_message(progress_message(p));
        } else if !args.quiet
            && let Ok(mut last) = last_line.lock()
            && last.elapsed() >= PROGRESS_EVERY
            && p.done < p.total
        {
            *last = std::time::Instant::now();
            eprintln!("{}", progress_line(p, started.elapsed()));
        }
    };
    let outcome = train_and_register(&options, &progress).map_err(failure)?;
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
        let _ = writeln!(out, "  time:            {:.2} s", outcome.seconds);
        let _ = writeln!(out, "  saved to:        {}", outcome.location);
        if let Some(latest) = &outcome.latest {
            let _ = writeln!(out, "  latest:          {latest}");
        }
    }
    cli_errors::emit(&out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    cli_errors::finish_as(try_main(args), json)
}
