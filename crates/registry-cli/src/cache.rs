//! `registry cache list|verify|clear`: the local cache of remote
//! registries (registry-cache), whichever registries filled it.

use cli_support::mb;
use cli_support::{Exit, Failure};
use std::fmt::Write as _;
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
pub enum CacheCommand {
    /// The cached files, most recently used first: digest, size, last use, and the versions holding each.
    List,
    /// Re-check every cached file against its digest, removing (and naming) any that fail; exit 1 if any did.
    Verify,
    /// Remove every cached file and document (nothing else in the directory).
    Clear,
}

fn io(root: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::new(Exit::Io, format!("cache directory {}: {e}", root.display()))
}

pub fn run(args: &cli_support::RegistryArgs, command: &CacheCommand, json: bool) -> Result<(), Failure> {
    let root =
        registry_cache::cache_dir(args.cache_dir.as_deref()).map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
    let max = registry_cache::max_bytes_from_env().map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
    let mut out = String::new();
    match command {
        CacheCommand::List => {
            let blobs = registry_cache::list(&root).map_err(io(&root))?;
            let total: u64 = blobs.iter().map(|b| b.size).sum();
            if json {
                let rows: Vec<_> = blobs
                    .iter()
                    .map(|b| {
                        let used = time::OffsetDateTime::from(b.last_used)
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default();
                        serde_json::json!({"blake3": b.blake3, "size": b.size, "last_used": used, "used_by": b.used_by})
                    })
                    .collect();
                let doc = serde_json::json!({"cache": root.display().to_string(), "max_bytes": max, "total_bytes": total, "blobs": rows});
                let _ = writeln!(out, "{doc}");
            } else {
                let _ = writeln!(
                    out,
                    "{}: {} file(s), {} of at most {} (MODELREG_CACHE_MAX)",
                    root.display(),
                    blobs.len(),
                    mb(total),
                    mb(max)
                );
                for b in &blobs {
                    let used = time::OffsetDateTime::from(b.last_used)
                        .format(&time::macros::format_description!(
                            "[year]-[month]-[day] [hour]:[minute]"
                        ))
                        .unwrap_or_default();
                    let holders = if b.used_by.is_empty() {
                        "(no cached version names it)".to_string()
                    } else {
                        b.used_by.join("; ")
                    };
                    let _ = writeln!(out, "{}  {:>10}  {used}  {holders}", &b.blake3[..16], mb(b.size));
                }
            }
        }
        CacheCommand::Verify => {
            let report = registry_cache::verify(&root).map_err(io(&root))?;
            if json {
                let removed: Vec<_> = report
                    .removed
                    .iter()
                    .map(|(d, why)| serde_json::json!({"blake3": d, "problem": why}))
                    .collect();
                let doc = serde_json::json!({"cache": root.display().to_string(), "checked": report.checked, "bytes": report.bytes, "removed": removed});
                let _ = writeln!(out, "{doc}");
            } else {
                let _ = writeln!(
                    out,
                    "checked {} cached file(s), {}: {} damaged",
                    report.checked,
                    mb(report.bytes),
                    report.removed.len()
                );
                for (digest, why) in &report.removed {
                    let _ = writeln!(
                        out,
                        "removed {digest}: {why} (it is fetched again from its registry when next read)"
                    );
                }
            }
            cli_support::emit(&out)?;
            if !report.removed.is_empty() {
                return Err(Failure::new(
                    Exit::Integrity,
                    format!(
                        "{} damaged cached file(s) removed from {}",
                        report.removed.len(),
                        root.display()
                    ),
                ));
            }
            return Ok(());
        }
        CacheCommand::Clear => {
            let (files, bytes) = registry_cache::clear(&root).map_err(io(&root))?;
            if json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({"cache": root.display().to_string(), "removed_files": files, "removed_bytes": bytes})
                );
            } else {
                let _ = writeln!(
                    out,
                    "removed {files} cached file(s), {} from {}",
                    mb(bytes),
                    root.display()
                );
            }
        }
    }
    cli_support::emit(&out)?;
    Ok(())
}
