//! The subcommands that change something: promote, rollback, verify
//! (--repair), copy, report.

use crate::inspect::{failure, record_json};
use crate::register::{every_model, labelled, models_to_visit};
use cli_support::{Exit, Failure, printable};
use registry_core::{AliasName, Expect, Metric, ModelName, ModelVersion, PromotionGate};
use registry_open::{AnyRegistry, OpenOptions};
use registry_report::{ReportData, render_html_models};
use serde_json::json;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

/// The promotion gate the flags describe.
pub fn gate(if_better: bool, metric: Option<&str>, force: bool) -> Result<PromotionGate, Failure> {
    Ok(PromotionGate {
        if_better,
        metric: metric.map(str::parse::<Metric>).transpose()?,
        force,
    })
}

pub fn promote(
    registry: &AnyRegistry,
    target: &str,
    to: &str,
    expect: Option<&str>,
    gate: &PromotionGate,
    json: bool,
) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let alias: AliasName = to.parse()?;
    let expect = Expect::from_option(expect)?;
    let moved = registry.promote(&alias, &version, expect, gate).map_err(failure)?;
    let record = moved.record;
    if json {
        let mut value = record_json(&record);
        if let serde_json::Value::Object(m) = &mut value {
            m.insert("changed".into(), json!(moved.changed));
        }
        return cli_support::emit(&format!("{value}\n"));
    }
    if !moved.changed {
        return cli_support::emit(&format!(
            "{alias} already points to {}; nothing changed\n",
            record.version
        ));
    }
    cli_support::emit(&format!(
        "{alias}: {} -> {}\n",
        record.previous.map_or("(new)".into(), |p| p.to_string()),
        record.version
    ))
}

pub fn rollback(registry: &AnyRegistry, alias: &str, to: Option<&str>, json: bool) -> Result<(), Failure> {
    let alias: AliasName = alias.parse()?;
    let record = match to {
        Some(target) => registry.rollback_to(&alias, &target.parse()?),
        None => registry.rollback(&alias),
    }
    .map_err(failure)?;
    if json {
        return cli_support::emit(&format!("{}\n", record_json(&record)));
    }
    cli_support::emit(&format!(
        "{alias}: rolled back {} -> {}\n",
        record.previous.map_or("?".into(), |p| p.to_string()),
        record.version
    ))
}

/// `repair`: `Some(grace)` also repairs, removing unfinished saves older
/// than `grace`. With `all_models` (no `--model` given), every model of the
/// registry is checked, each reported on its own.
pub fn verify(registry: &AnyRegistry, all_models: bool, repair: Option<Duration>, json: bool) -> Result<(), Failure> {
    let models = models_to_visit(registry, all_models)?;
    let several = models.len() > 1;
    let mut out = String::new();
    let mut docs = Vec::new();
    let mut problems = 0;
    for model in models {
        let handle = registry.with_model(model.clone());
        let label = model.as_ref().map_or(ModelName::DEFAULT, ModelName::as_str);
        let report = verify_model(&handle, repair, json, &mut out)?;
        problems += report.problems.len();
        if json {
            docs.push(labelled(&report, label));
        } else {
            let of = if several {
                format!("model {label}: ")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{of}checked {} versions and {} aliases: {} problems, {} leftovers",
                report.versions_checked,
                report.aliases_checked,
                report.problems.len(),
                report.leftovers.len()
            );
        }
    }
    if json {
        let doc = if several {
            json!({ "models": docs })
        } else {
            docs.pop().unwrap_or_default()
        };
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    cli_support::emit(&out)?;
    if problems > 0 {
        return Err(Failure::new(
            Exit::Integrity,
            format!(
                "verification found {problems} problem(s) in {}",
                registry.location().trim_end_matches('/')
            ),
        ));
    }
    Ok(())
}

/// Repairs (with `repair`) and verifies one model, writing what it did and
/// found to `out` (in text form); its report.
fn verify_model(
    registry: &AnyRegistry,
    repair: Option<Duration>,
    json: bool,
    out: &mut String,
) -> Result<registry_core::VerifyReport, Failure> {
    if let Some(grace) = repair {
        let r = registry.repair_older_than(grace).map_err(failure)?;
        if !json {
            for removed in &r.removed {
                let _ = writeln!(out, "removed {removed}");
            }
            if !r.uploads_aborted.is_empty() {
                let _ = writeln!(
                    out,
                    "aborted {} unfinished upload(s) older than {}s (parts of saves killed mid-upload):",
                    r.uploads_aborted.len(),
                    grace.as_secs()
                );
                for upload in &r.uploads_aborted {
                    let _ = writeln!(out, "  {upload}");
                }
            }
            for kept in &r.kept {
                let _ = writeln!(
                    out,
                    "kept    {kept} (an unfinished save younger than {}s: it may still be running)",
                    grace.as_secs()
                );
            }
            if let Some(v) = &r.latest_moved_to {
                let _ = writeln!(out, "moved latest to {v}");
            }
            for source in &r.events_appended {
                let _ = writeln!(
                    out,
                    "logged  {source} (a change whose writer was killed before its event)"
                );
            }
        }
    }
    let mut report = registry.verify().map_err(failure)?;
    // A catalog whose rows differ from the metadata is found by verify (it
    // reads every metadata); with --repair, rewrite it and look again.
    if repair.is_some() && report.catalog_stale {
        registry.rebuild_catalog().map_err(failure)?;
        if !json {
            let _ = writeln!(out, "rebuilt the catalog");
        }
        report = registry.verify().map_err(failure)?;
    }
    if !json {
        for p in &report.problems {
            let _ = writeln!(out, "PROBLEM  {}: {}", p.location, printable(&p.message, false));
        }
        for l in &report.leftovers {
            let _ = writeln!(out, "leftover {}: {}", l.location, printable(&l.message, false));
        }
    }
    Ok(report)
}

/// Copies every model of `from` into `to` (or with `model`, only that
/// one), verifying each digest; see `registry_core::copy`.
pub fn copy(
    options: &OpenOptions,
    from: &str,
    to: &str,
    model: Option<&str>,
    aliases: bool,
    json: bool,
) -> Result<(), Failure> {
    let source = registry_open::open_existing(from, options)?;
    let destination = registry_open::open(to, options)?;
    let models: Vec<Option<ModelName>> = match model {
        Some(name) => vec![ModelName::parse_optional(name)?],
        None => every_model(&source)?,
    };
    let named = models.iter().any(Option::is_some);
    let mut out = String::new();
    let mut docs = Vec::new();
    let (mut damaged, mut conflicting) = (0, Vec::new());
    for m in models {
        let (src, dst) = (source.with_model(m.clone()), destination.with_model(m.clone()));
        src.require_model()?;
        let report = registry_core::copy::copy(&src, &dst, aliases).map_err(failure)?;
        let label = m.as_ref().map_or(ModelName::DEFAULT, ModelName::as_str).to_string();
        let of = if named {
            format!(" of model {label}")
        } else {
            String::new()
        };
        if json {
            docs.push(labelled(&report, &label));
        } else {
            let list = |vs: &[ModelVersion]| vs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                out,
                "copied {} version(s){of} to {to}: {}",
                report.copied.len(),
                list(&report.copied)
            );
            if !report.present.is_empty() {
                let _ = writeln!(out, "already there (identical): {}", list(&report.present));
            }
            if !report.deleted.is_empty() {
                let _ = writeln!(out, "left out (deleted): {}", list(&report.deleted));
            }
            for (alias, before, after) in &report.aliases_moved {
                let before = before.as_ref().map_or("(new)".to_string(), ToString::to_string);
                let _ = writeln!(out, "{alias}: {before} -> {after}");
            }
            // Said plainly: without --aliases none is set, and with it each
            // is set to its source's target as one new move (the source's
            // history stays in the source).
            if !aliases {
                let left: Vec<String> = src
                    .list_aliases()
                    .unwrap_or_default()
                    .iter()
                    .filter(|a| !a.alias.is_latest())
                    .map(|a| format!("{} -> {}", a.alias, a.version))
                    .collect();
                if !left.is_empty() {
                    let _ = writeln!(
                        out,
                        "aliases not copied{of}: {} (give --aliases to set them in {to}; their history stays in {from})",
                        left.join(", ")
                    );
                }
            }
        }
        for (version, reason) in &report.damaged {
            eprintln!("skipped {version}{of}: {}", printable(reason, false));
        }
        damaged += report.damaged.len();
        conflicting.extend(report.conflicting.iter().map(|v| format!("{v}{of}")));
    }
    if json {
        let _ = writeln!(out, "{}", json!({ "models": docs }));
    }
    cli_support::emit(&out)?;
    if damaged > 0 {
        return Err(Failure::new(
            Exit::Integrity,
            format!(
                "{damaged} damaged version(s) in {from} were not copied (listed above; see `registry verify --registry {from}`); the others were"
            ),
        ));
    }
    if !conflicting.is_empty() {
        return Err(Failure::new(
            Exit::Refused,
            format!(
                "{} exist(s) in both registries with different contents; left unchanged in {to} (compare with `registry diff`, or save under a new version)",
                conflicting.join(", ")
            ),
        ));
    }
    Ok(())
}

pub fn report(registry: &AnyRegistry, out: &Path, json: bool) -> Result<(), Failure> {
    // Without --model, every model: a registry of named models only is not
    // an empty report.
    let models = ReportData::collect_models(registry).map_err(failure)?;
    let page = render_html_models(&models);
    if out.as_os_str() == "-" {
        return cli_support::emit(&page);
    }
    write_file(out, page.as_bytes())?;
    let versions: usize = models.iter().map(|m| m.versions.len()).sum();
    if json {
        let per_model: Vec<_> = models
            .iter()
            .map(|m| json!({"model": m.model, "versions": m.versions.len(), "aliases": m.aliases.len()}))
            .collect();
        cli_support::emit(&format!(
            "{}\n",
            json!({"path": out.display().to_string(), "versions": versions, "models": per_model, "bytes": page.len()})
        ))?;
    } else {
        let counts = |m: &ReportData| {
            format!(
                "{} version{}, {} alias{}",
                m.versions.len(),
                if m.versions.len() == 1 { "" } else { "s" },
                m.aliases.len(),
                if m.aliases.len() == 1 { "" } else { "es" }
            )
        };
        let what = match models.as_slice() {
            [one] => counts(one),
            several => format!(
                "{} models: {}",
                several.len(),
                several
                    .iter()
                    .map(|m| format!("{} {}", m.model, counts(m)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        cli_support::emit(&format!(
            "wrote {} ({what}, {} KB)\n",
            out.display(),
            page.len().div_ceil(1024)
        ))?;
    }
    let unreadable: usize = models.iter().map(|m| m.unreadable.len()).sum();
    if unreadable > 0 {
        eprintln!(
            "warning: {unreadable} version(s) could not be read and are listed at the top of their model's report; run `registry verify`"
        );
    }
    Ok(())
}

/// Writes `bytes` to `path` all at once: a temporary file in the same
/// directory, renamed over the target, so a reader never sees half a page.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let failed = |e: std::io::Error| Failure::new(Exit::Io, format!("cannot write {}: {e}", path.display()));
    // 0666 before the umask, like any file a tool writes (tempfile's own
    // default, 0600, would leave a report others cannot open).
    use std::os::unix::fs::PermissionsExt;
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}
