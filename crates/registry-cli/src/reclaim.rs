//! Reclaiming space: `gc` (the policy and its safety live in
//! registry-core's gc.rs; this prints what it did).

use crate::inspect::failure;
use crate::register::{labelled, models_to_visit};
use cli_support::{Failure, mb};
use registry_core::{GcReport, ModelName};
use registry_open::AnyRegistry;
use serde_json::json;
use std::fmt::Write;
use std::time::Duration;

/// `registry gc [--older-than D] [--dry-run]`: every model of the
/// registry without --model.
pub fn gc(
    registry: &AnyRegistry,
    all_models: bool,
    older_than: Duration,
    dry_run: bool,
    json: bool,
) -> Result<(), Failure> {
    let models = models_to_visit(registry, all_models)?;
    let several = models.len() > 1;
    let mut out = String::new();
    let mut docs = Vec::new();
    let (mut versions, mut bytes) = (0, 0);
    for model in models {
        let handle = registry.with_model(model.clone());
        let label = model.as_ref().map_or(ModelName::DEFAULT, ModelName::as_str);
        let report = handle.gc(older_than, dry_run).map_err(failure)?;
        versions += report.collected.len();
        bytes += report.bytes_freed;
        if json {
            docs.push(labelled(&report, label));
        } else {
            let of = if several {
                format!("model {label}: ")
            } else {
                String::new()
            };
            describe(&report, &of, &mut out);
        }
    }
    if json {
        let doc = if several {
            json!({ "dry_run": dry_run, "models": docs, "bytes_freed": bytes })
        } else {
            docs.pop().unwrap_or_default()
        };
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else if dry_run {
        let _ = writeln!(
            out,
            "dry run: gc would remove {versions} version(s), {}; nothing was removed",
            mb(bytes)
        );
    } else {
        let _ = writeln!(out, "gc removed {versions} version(s): {} freed", mb(bytes));
    }
    cli_support::emit(&out)
}

fn describe(report: &GcReport, of: &str, out: &mut String) {
    let verb = if report.dry_run { "would remove" } else { "removed" };
    for v in &report.collected {
        let _ = writeln!(
            out,
            "{of}{verb} version {} ({} files, {})",
            v.version,
            v.files,
            mb(v.bytes)
        );
    }
    for k in &report.kept {
        let _ = writeln!(out, "{of}kept deleted version {}: {}", k.version, k.reason);
    }
    for l in &report.leftovers_removed {
        let _ = writeln!(out, "{of}removed {l} (left by a killed writer)");
    }
    for u in &report.uploads_aborted {
        let _ = writeln!(out, "{of}aborted {u} (an upload a killed save left)");
    }
}
