//! `registry import-mlflow`: a running MLflow server's registered models
//! into this registry (the `mlflow-import` crate), with progress on stderr.

use cli_support::{Exit, Failure};
use mlflow_import::{Client, ImportError, Progress};
use registry_open::AnyRegistry;
use serde_json::json;

fn failure(e: ImportError) -> Failure {
    Failure::new(Exit::of(e.kind()), e.to_string())
}

/// `models`: the global --model, as a comma-separated list of MLflow names.
pub fn import_mlflow(registry: &AnyRegistry, uri: &str, models: Option<&str>, json: bool) -> Result<(), Failure> {
    let client = Client::new(uri).map_err(failure)?;
    let only: Vec<String> = models
        .map(|m| {
            m.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut done = 0usize;
    let mut progress = |p: Progress<'_>| match p {
        Progress::Model { name, versions } => eprintln!("{name}: {versions} version(s) on {uri}"),
        Progress::Version {
            model,
            number,
            files,
            bytes,
        } => {
            done += 1;
            eprintln!("  [{done}] {model} {number} -> {number}.0.0: {files} file(s), {bytes} bytes");
        }
    };
    let report = mlflow_import::import(registry, &client, &only, &mut progress).map_err(failure)?;
    if json {
        return cli_support::emit(&format!("{}\n", json!(report)));
    }
    let mut out = format!(
        "imported {} version(s) ({} already here), moved {} alias(es) ({} already in place) from {uri}\n",
        report.added.len(),
        report.present,
        report.aliases_moved.len(),
        report.aliases_unchanged
    );
    for (model, alias, version) in &report.aliases_moved {
        out.push_str(&format!("  {model}@{alias} -> {version}\n"));
    }
    for (model, what, why) in &report.skipped {
        out.push_str(&format!("  skipped {model} {what}: {why}\n"));
    }
    cli_support::emit(&out)
}
