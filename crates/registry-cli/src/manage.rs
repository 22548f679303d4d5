//! The subcommands that change something: promote, rollback, verify
//! (--repair), copy, report.

use crate::inspect::{failure, record_json};
use cli_errors::{Exit, Failure};
use registry_core::{AliasName, Expect, ModelVersion, PromotionGate};
use registry_open::{AnyRegistry, OpenOptions};
use registry_report::{ReportData, render_html};
use serde_json::json;
use std::fmt::Write;
use std::path::Path;

pub fn promote(
    registry: &AnyRegistry,
    target: &str,
    to: &str,
    expect: Option<&str>,
    if_better: bool,
    json: bool,
) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let alias: AliasName = to.parse()?;
    let expect = match expect {
        None => Expect::Anything,
        Some("none") => Expect::Nothing,
        Some(v) => Expect::Version(v.parse()?),
    };
    let record = registry
        .promote(&alias, &version, expect, &PromotionGate { if_better })
        .map_err(failure)?;
    if json {
        return cli_errors::emit(&format!("{}\n", record_json(&record)));
    }
    cli_errors::emit(&format!(
        "{alias}: {} -> {}\n",
        record.previous.map_or("(new)".into(), |p| p.to_string()),
        record.version
    ))
}

pub fn rollback(registry: &AnyRegistry, alias: &str, json: bool) -> Result<(), Failure> {
    let alias: AliasName = alias.parse()?;
    let record = registry.rollback(&alias).map_err(failure)?;
    if json {
        return cli_errors::emit(&format!("{}\n", record_json(&record)));
    }
    cli_errors::emit(&format!(
        "{alias}: rolled back {} -> {}\n",
        record.previous.map_or("?".into(), |p| p.to_string()),
        record.version
    ))
}

pub fn verify(registry: &AnyRegistry, repair: bool, json: bool) -> Result<(), Failure> {
    let mut out = String::new();
    if repair {
        let r = registry.repair().map_err(failure)?;
        if !json {
            for removed in &r.removed {
                let _ = writeln!(out, "removed {removed}");
            }
            if let Some(v) = &r.latest_moved_to {
                let _ = writeln!(out, "moved latest to {v}");
            }
        }
    }
    let report = registry.verify().map_err(failure)?;
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        for p in &report.problems {
            let _ = writeln!(out, "PROBLEM  {}: {}", p.location, p.message);
        }
        for l in &report.leftovers {
            let _ = writeln!(out, "leftover {}: {}", l.location, l.message);
        }
        let _ = writeln!(
            out,
            "checked {} versions and {} aliases: {} problems, {} leftovers",
            report.versions_checked,
            report.aliases_checked,
            report.problems.len(),
            report.leftovers.len()
        );
    }
    cli_errors::emit(&out)?;
    if !report.is_ok() {
        return Err(Failure::new(
            Exit::Integrity,
            format!(
                "verification found {} problem(s) in {}",
                report.problems.len(),
                registry.location().trim_end_matches('/')
            ),
        ));
    }
    Ok(())
}

pub fn copy(options: &OpenOptions, from: &str, to: &str, aliases: bool, json: bool) -> Result<(), Failure> {
    let source = registry_open::open(from, options)?;
    let destination = registry_open::open(to, options)?;
    let report = registry_core::copy::copy(&source, &destination, aliases).map_err(failure)?;
    let mut out = String::new();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let list = |vs: &[ModelVersion]| vs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "copied {} version(s) to {to}: {}",
            report.copied.len(),
            list(&report.copied)
        );
        if !report.present.is_empty() {
            let _ = writeln!(out, "already there (identical): {}", list(&report.present));
        }
        for (alias, before, after) in &report.aliases_moved {
            let before = before.as_ref().map_or("(new)".to_string(), ToString::to_string);
            let _ = writeln!(out, "{alias}: {before} -> {after}");
        }
    }
    cli_errors::emit(&out)?;
    if !report.conflicting.is_empty() {
        let names: Vec<String> = report.conflicting.iter().map(ToString::to_string).collect();
        return Err(Failure::new(
            Exit::Refused,
            format!(
                "{} exist(s) in both registries with different contents; left unchanged in {to} (compare with `registry diff`, or save under a new version)",
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

pub fn report(registry: &AnyRegistry, out: &Path, json: bool) -> Result<(), Failure> {
    let data = ReportData::collect(registry).map_err(failure)?;
    let page = render_html(&data);
    if out.as_os_str() == "-" {
        return cli_errors::emit(&page);
    }
    write_file(out, page.as_bytes())?;
    if json {
        cli_errors::emit(&format!(
            "{}\n",
            json!({"path": out.display().to_string(), "versions": data.versions.len(), "bytes": page.len()})
        ))?;
    } else {
        cli_errors::emit(&format!(
            "wrote {} ({} versions, {} aliases, {} KB)\n",
            out.display(),
            data.versions.len(),
            data.aliases.len(),
            page.len().div_ceil(1024)
        ))?;
    }
    if !data.unreadable.is_empty() {
        eprintln!(
            "warning: {} version(s) could not be read and are listed at the top of the report; run `registry verify`",
            data.unreadable.len()
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
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}
