//! `registry events`: the registry's event log (registry-core's
//! events.rs), every model's changes in id order.

use crate::inspect::failure;
use cli_support::{Failure, printable};
use registry_core::Event;
use registry_open::AnyRegistry;
use std::fmt::Write;
use std::time::Duration;

/// How often `--follow` looks for new events.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// How many events one read takes (and `--follow` prints at once).
const BATCH: usize = 1000;

/// `registry events [--since ID] [--follow] [--json]`: with --json, one
/// JSON array (with --follow, one JSON object per line as they come).
pub fn events(registry: &AnyRegistry, since: u64, follow: bool, json: bool) -> Result<(), Failure> {
    let mut last = since;
    let mut all = Vec::new();
    loop {
        let batch = registry.events(last, BATCH).map_err(failure)?;
        let full = batch.len() == BATCH;
        if let Some(e) = batch.last() {
            last = e.id;
        }
        if follow {
            let mut out = String::new();
            for e in &batch {
                if json {
                    let _ = writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default());
                } else {
                    line(e, &mut out);
                }
            }
            if !out.is_empty() {
                cli_support::emit(&out)?;
            }
            if !full {
                std::thread::sleep(FOLLOW_EVERY);
            }
            continue;
        }
        all.extend(batch);
        if !full {
            break;
        }
    }
    let mut out = String::new();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        for e in &all {
            line(e, &mut out);
        }
    }
    cli_support::emit(&out)
}

/// One event as a line: id, time, what, where, who.
fn line(e: &Event, out: &mut String) {
    let at =
        e.at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
    let mut what = format!("{:<12} {} {}", e.kind, e.model, e.version);
    if let Some(alias) = &e.alias {
        let _ = write!(what, " alias {alias}");
        if let Some(p) = &e.previous {
            let _ = write!(what, " (was {p})");
        }
    }
    let reason = e
        .reason
        .as_deref()
        .map(|r| format!(" ({})", printable(r, false)))
        .unwrap_or_default();
    let _ = writeln!(out, "{:>6}  {at}  {what}  by {}@{}{reason}", e.id, e.by.user, e.by.host);
}
