//! Retiring: `alias delete`, `deprecate` and `delete` (each recorded,
//! each undone by `rollback` / `deprecate --undo` / `undelete`).

use crate::inspect::{failure, record_json};
use cli_support::{Failure, printable};
use registry_core::{AliasName, Expect};
use registry_open::AnyRegistry;

pub fn delete_alias(registry: &AnyRegistry, alias: &str, expect: Option<&str>, json: bool) -> Result<(), Failure> {
    let alias: AliasName = alias.parse()?;
    let expect = match expect {
        None => Expect::Anything,
        Some(v) => Expect::Version(v.parse()?),
    };
    let record = registry.delete_alias(&alias, expect).map_err(failure)?;
    if json {
        return cli_support::emit(&format!("{}\n", record_json(&record)));
    }
    cli_support::emit(&format!(
        "deleted alias {alias} (it named {}); `registry rollback {alias}` restores it\n",
        record.version
    ))
}

pub fn deprecate(
    registry: &AnyRegistry,
    target: &str,
    reason: Option<&str>,
    undo: bool,
    json: bool,
) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let record = registry.set_deprecated(&version, !undo, reason).map_err(failure)?;
    let latest = registry.resolve(&AliasName::latest()).ok().map(|r| r.version);
    if json {
        let mut value = serde_json::to_value(&record).unwrap_or_default();
        if let serde_json::Value::Object(m) = &mut value {
            m.insert("latest".into(), serde_json::json!(latest.map(|v| v.to_string())));
        }
        return cli_support::emit(&format!("{value}\n"));
    }
    let latest = latest.map_or_else(|| "nothing".to_string(), |v| v.to_string());
    let text = if undo {
        format!("version {version} is no longer deprecated; latest is {latest}\n")
    } else {
        format!(
            "deprecated version {version}{}: hidden from `registry list` (--all shows it), never latest (latest is {latest}), promoted only with --force; `registry deprecate {version} --undo` restores it\n",
            record
                .reason
                .as_deref()
                .map(|r| format!(" ({})", printable(r, false)))
                .unwrap_or_default()
        )
    };
    cli_support::emit(&text)
}

/// `registry delete TARGET [--reason TEXT]`.
pub fn delete(registry: &AnyRegistry, target: &str, reason: Option<&str>, json: bool) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let record = registry.delete_version(&version, reason).map_err(failure)?;
    if json {
        return cli_support::emit(&format!("{}\n", serde_json::to_value(&record).unwrap_or_default()));
    }
    cli_support::emit(&format!(
        "deleted version {version}{}: absent from `registry list` and never latest, every load of it refused; `registry undelete {version}` restores it until `registry gc` removes its files\n",
        record
            .reason
            .as_deref()
            .map(|r| format!(" ({})", printable(r, false)))
            .unwrap_or_default()
    ))
}

/// `registry undelete TARGET`.
pub fn undelete(registry: &AnyRegistry, target: &str, json: bool) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let record = registry.undelete_version(&version).map_err(failure)?;
    if json {
        return cli_support::emit(&format!("{}\n", serde_json::to_value(&record).unwrap_or_default()));
    }
    cli_support::emit(&format!("version {version} is restored: listed and loadable again\n"))
}
