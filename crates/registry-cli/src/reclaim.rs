//! Reclaiming space: `retain` and `gc` (the policies and their safety
//! live in registry-core's retain.rs and gc.rs; this prints what they did).

use crate::inspect::failure;
use crate::register::model_label;
use crate::register::{labelled, models_to_visit};
use cli_support::{Failure, mb};
use registry_core::{GcReport, ModelName, RetentionOutcome, RetentionPolicy};
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
    if let Some(retention) = &report.retention {
        describe_retention(retention, of, out);
    }
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

/// `registry retain`'s options.
pub struct RetainArgs {
    pub keep_last: Option<usize>,
    pub keep_within: Option<Duration>,
    pub dry_run: bool,
    pub save: bool,
    pub clear: bool,
}

/// `registry retain [--keep-last N] [--keep-within D] [--dry-run] [--save | --clear]`:
/// without --keep-*, the model's saved policy.
pub fn retain(registry: &AnyRegistry, args: &RetainArgs, json: bool) -> Result<(), Failure> {
    let model = model_label(registry).to_string();
    if args.clear {
        registry.set_retention_policy(None).map_err(failure)?;
        return cli_support::emit(&format!(
            "model {model} has no retention policy now: gc deletes nothing by one\n"
        ));
    }
    let policy = if args.keep_last.is_none() && args.keep_within.is_none() {
        match registry.retention_policy().map_err(failure)? {
            Some(stored) => stored.policy,
            None => {
                return Err(Failure::usage(format!(
                    "model {model} has no saved retention policy: give --keep-last N and/or --keep-within DURATION (--save keeps it for gc)"
                )));
            }
        }
    } else {
        RetentionPolicy {
            keep_last: args.keep_last,
            keep_within_secs: args.keep_within.map(|d| d.as_secs()),
        }
    };
    if args.save {
        registry.set_retention_policy(Some(&policy)).map_err(failure)?;
    }
    let outcome = registry.retain(&policy, args.dry_run).map_err(failure)?;
    let mut out = String::new();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&outcome).unwrap_or_default());
        return cli_support::emit(&out);
    }
    let _ = writeln!(out, "retention of model {model}: {}", outcome.plan.policy);
    if args.save {
        let _ = writeln!(out, "saved as the model's policy: every `registry gc` applies it");
    }
    describe_retention(&outcome, "", &mut out);
    cli_support::emit(&out)
}

fn describe_retention(outcome: &RetentionOutcome, of: &str, out: &mut String) {
    let verb = if outcome.dry_run { "would delete" } else { "delete" };
    for p in &outcome.plan.delete {
        let _ = writeln!(out, "{of}{verb} {}: {}", p.version, p.reason);
    }
    for p in &outcome.plan.keep {
        let _ = writeln!(out, "{of}keep {}: {}", p.version, p.reason);
    }
    for p in &outcome.refused {
        let _ = writeln!(out, "{of}not deleted {}: {}", p.version, p.reason);
    }
    let n = outcome.plan.delete.len();
    if outcome.dry_run {
        let _ = writeln!(
            out,
            "{of}dry run: retention would delete {n} version(s); nothing was deleted"
        );
    } else {
        let _ = writeln!(
            out,
            "{of}retention deleted {} version(s) (`registry undelete` restores one until `registry gc` removes its files)",
            outcome.deleted.len()
        );
    }
}
