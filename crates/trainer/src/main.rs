//! `trainer`: train a text classifier with cross-validated grid search and
//! register it as a new version. `cargo run -p trainer` trains on the
//! bundled Rotten Tomatoes snippets and saves into `./registry`.

use clap::Parser;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use textclf::{Progress, SearchConfig};
use trainer::{DEFAULT_DATA, TrainOptions, load_grid, train_and_register};

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

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("tag {s:?} is not KEY=VALUE")),
    }
}

fn run(args: Args) -> Result<(), String> {
    let options = TrainOptions {
        data: args.data.clone(),
        registry: args.registry.registry.clone(),
        open_options: args.registry.options(),
        version: args
            .version
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("{e}"))?,
        bump: args.bump.parse()?,
        search: SearchConfig {
            folds: args.folds,
            test_size: args.test_size,
            seed: args.seed,
            grid: args
                .grid
                .as_deref()
                .map(load_grid)
                .transpose()
                .map_err(|e| e.to_string())?,
        },
        description: args.description.clone(),
        tags: args.tags.iter().cloned().collect(),
    };
    let bar = (!args.quiet && !args.json && std::io::stdout().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} fits, ETA {eta}") {
            bar.set_style(style);
        }
        bar
    });
    let progress = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        }
    };
    let outcome = train_and_register(&options, &progress).map_err(|e| e.to_string())?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let winner = outcome.report.winner();
    if args.json {
        let out = serde_json::json!({
            "version": outcome.metadata.version.to_string(),
            "test_score": outcome.report.test.accuracy,
            "cv_score": winner.mean,
            "cv_std": winner.std,
            "hyperparameters": winner.hyperparameters,
            "path": outcome.location,
            "data": {"name": outcome.data_name, "sha256": outcome.data_sha256, "rows": outcome.data_rows},
            "seconds": outcome.seconds,
        });
        println!("{out}");
    } else if !args.quiet {
        let hp: Vec<String> = winner.hyperparameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("registered version {}", outcome.metadata.version);
        println!(
            "  data:            {} ({} rows, sha256 {})",
            outcome.data_name,
            outcome.data_rows,
            &outcome.data_sha256[..12]
        );
        println!("  hyperparameters: {}", hp.join(" "));
        println!(
            "  cv accuracy:     {:.4} ± {:.4} ({} folds, {} candidates)",
            winner.mean,
            winner.std,
            args.folds,
            outcome.report.candidates.len()
        );
        println!(
            "  test accuracy:   {:.4} ({} held out)",
            outcome.report.test.accuracy, outcome.report.n_test
        );
        println!("  time:            {:.2} s", outcome.seconds);
        println!("  saved to:        {}", outcome.location);
        if let Some(latest) = &outcome.latest {
            println!("  latest:          {latest}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
