//! The subcommands that only read: list, show, history, diff.

use cli_support::{Failure, printable};
use registry_core::diff::FieldDiff;
use registry_core::query::Query;
use registry_core::{AliasName, AliasRecord, CatalogRow, ModelMetadata, ModelVersion, RegistryError};
use registry_open::AnyRegistry;
use registry_report::ModelCard;
use serde_json::{Value, json};
use std::fmt::Write;

/// A registry error as the CLI says it: an empty registry gets the command
/// that fills it.
pub fn failure(e: RegistryError) -> Failure {
    match e {
        RegistryError::Empty { root } => Failure::new(
            cli_support::Exit::NotFound,
            format!(
                "registry {root} has no versions yet; train one with `trainer`, or register a model file with `registry add FILE`"
            ),
        ),
        other => other.into(),
    }
}

/// A score to four decimals, `-` if absent. Written out by hand: `{:.4}`
/// takes the exact (slow) path of float formatting, which was a tenth of
/// listing 10,000 versions.
pub fn score(v: Option<f64>) -> String {
    match v {
        Some(s) if s.is_finite() && s.abs() < 1e12 => {
            let scaled = (s.abs() * 10_000.0).round() as u64;
            let sign = if s < 0.0 && scaled > 0 { "-" } else { "" };
            format!("{sign}{}.{:04}", scaled / 10_000, scaled % 10_000)
        }
        Some(s) => format!("{s:.4}"),
        None => "-".into(),
    }
}

/// RFC 3339 in UTC to the second: what a table needs (metadata keeps the
/// full precision).
pub fn seconds(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

pub fn record_json(r: &AliasRecord) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn aliases_of(aliases: &[AliasRecord], md: &ModelMetadata) -> Vec<String> {
    aliases
        .iter()
        .filter(|a| a.version == md.version)
        .map(|a| a.alias.to_string())
        .collect()
}

/// What `list` shows.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Include deprecated versions.
    #[arg(long)]
    pub all: bool,
    /// Only versions meeting FIELD OP VALUE (repeatable, all must hold):
    /// test_score>=0.8, version>=2.0.0, created>=2026-11-01, f1>0.7.
    #[arg(long = "where", value_name = "CONDITION")]
    pub conditions: Vec<String>,
    /// Only versions with this tag, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = cli_support::parse::key_value)]
    pub tags: Vec<(String, String)>,
    /// Only versions of this model type (as recorded, e.g. sklearn).
    #[arg(long = "type")]
    pub model_type: Option<String>,
    /// Only versions saved at or after this date or time (2026-11-29, RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Order by: version (default), created, test_score, cv_score, size or a metric.
    #[arg(long)]
    pub sort: Option<String>,
    /// Reverse the order (newest or best first).
    #[arg(long)]
    pub desc: bool,
    /// At most this many versions.
    #[arg(long)]
    pub limit: Option<usize>,
}

impl ListArgs {
    fn query(&self) -> Result<Query, Failure> {
        let usage = |e: registry_core::query::QueryError| Failure::usage(e.to_string());
        Ok(Query {
            conditions: self
                .conditions
                .iter()
                .map(|c| c.parse())
                .collect::<Result<_, _>>()
                .map_err(usage)?,
            tags: self.tags.clone(),
            model_type: self.model_type.clone(),
            since: self
                .since
                .as_deref()
                .map(registry_core::query::parse_time)
                .transpose()
                .map_err(|e| Failure::usage(format!("invalid --since: {e}")))?,
            sort: self.sort.as_deref().map(str::parse).transpose().map_err(usage)?,
            descending: self.desc,
            limit: self.limit,
        })
    }
}

/// `tiny.tsv@e3d0048f`: which data a score was measured on, short enough
/// for a table column.
fn data_column(row: &CatalogRow) -> String {
    row.data.as_ref().map_or_else(
        || "-".to_string(),
        |d| format!("{}@{}", d.name, d.sha256.get(..8).unwrap_or(&d.sha256)),
    )
}

/// Every version, one line each, from the catalog (one read however many
/// versions); deprecated ones only with `--all`. A version whose metadata
/// cannot be read gets a line saying so (finding damage is `verify`'s job,
/// and one bad version must not hide the good ones).
pub fn list(registry: &AnyRegistry, args: &ListArgs, json: bool) -> Result<(), Failure> {
    let query = args.query()?;
    let aliases = registry.list_aliases().map_err(failure)?;
    let deprecated = registry.deprecated_versions().map_err(failure)?;
    let entries = registry.catalog().map_err(failure)?;
    let shown = |v: &ModelVersion| args.all || !deprecated.contains_key(v);
    let rows: Vec<&CatalogRow> = query.apply(
        entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .filter(|r| shown(&r.version)),
    );
    let damaged: Vec<&(ModelVersion, String)> = entries.iter().filter_map(|e| e.as_ref().err()).collect();
    let aliases_of = |v: &ModelVersion| -> Vec<String> {
        aliases
            .iter()
            .filter(|a| a.version == *v)
            .map(|a| a.alias.to_string())
            .collect()
    };
    let mut out = String::new();
    if json {
        let mut docs: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({"version": r.version.to_string(), "timestamp": seconds(r.timestamp),
                       "model_type": r.model_type, "test_score": r.test_score, "cv_score": r.cv_score,
                       "data": r.data, "tags": r.tags, "files": r.files, "size": r.size,
                       "aliases": aliases_of(&r.version),
                       "deprecated": deprecated.get(&r.version).map(|d| json!({"reason": d.reason}))})
            })
            .collect();
        docs.extend(
            damaged
                .iter()
                .map(|(v, error)| json!({"version": v.to_string(), "error": error})),
        );
        let _ = writeln!(out, "{}", Value::Array(docs));
        return cli_support::emit(&out);
    }
    if rows.is_empty() && damaged.is_empty() {
        let hidden = entries.len();
        let _ = if hidden == 0 {
            writeln!(
                out,
                "no versions in {} (train one with `trainer`, or register a model file with `registry add FILE`)",
                registry.location().trim_end_matches('/')
            )
        } else {
            writeln!(out, "no versions match (of {hidden}; --all also shows deprecated ones)")
        };
        return cli_support::emit(&out);
    }
    let _ = writeln!(
        out,
        "{:<16} {:<20} {:>8} {:>8}  {:<28} ALIASES",
        "VERSION", "CREATED", "TEST", "CV", "DATA"
    );
    for r in &rows {
        let mut notes = aliases_of(&r.version);
        if deprecated.contains_key(&r.version) {
            notes.push("(deprecated)".into());
        }
        let _ = writeln!(
            out,
            "{:<16} {:<20} {:>8} {:>8}  {:<28} {}",
            r.version.to_string(),
            seconds(r.timestamp),
            score(r.test_score),
            score(r.cv_score),
            printable(&data_column(r), false),
            notes.join(", ")
        );
    }
    for (v, error) in damaged {
        let _ = writeln!(
            out,
            "{:<16} DAMAGED: {} (see `registry verify`)",
            v.to_string(),
            printable(error, false)
        );
    }
    if args.all {
        // The catalog leaves deleted versions out; --all names them, so
        // there is a way to find what `undelete` can restore.
        let deleted = registry.deleted_versions().map_err(failure)?;
        if !deleted.is_empty() {
            let names: Vec<String> = deleted.keys().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "deleted (until gc; `registry undelete VERSION` restores one): {}",
                names.join(", ")
            );
        }
    }
    cli_support::emit(&out)
}

pub fn show(registry: &AnyRegistry, target: &str, card: bool, json: bool) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let md = registry.metadata(&version).map_err(failure)?;
    let aliases = registry.list_aliases().map_err(failure)?;
    if card {
        return cli_support::emit(&printable(&ModelCard::new(&md, &aliases).to_markdown(), true));
    }
    let metadata_location = registry.metadata_location(&version);
    let onnx = onnx_signature(registry, &md);
    if json {
        let mut v = serde_json::to_value(&md).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("path".into(), json!(metadata_location));
            match &onnx {
                Some(Ok(signature)) => {
                    m.insert("onnx".into(), serde_json::to_value(signature).unwrap_or(Value::Null));
                }
                Some(Err(reason)) => {
                    m.insert("onnx".into(), json!({ "error": reason }));
                }
                None => {}
            }
        }
        return cli_support::emit(&format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()));
    }
    let mut out = String::new();
    let l = &md.info.lineage;
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{:<17}{}", format!("{label}:"), printable(&value, false));
    };
    line("version", md.version.to_string());
    line("aliases", aliases_of(&aliases, &md).join(", "));
    if let Some(d) = registry.deprecation(&version).map_err(failure)? {
        line(
            "deprecated",
            format!(
                "{}since {} by {}@{}",
                d.reason.map(|r| format!("{r}; ")).unwrap_or_default(),
                seconds(d.at),
                d.by.user,
                d.by.host
            ),
        );
    }
    line("created", seconds(md.timestamp));
    if let Some(by) = &l.created_by {
        line("trained by", format!("{}@{}", by.user, by.host));
    }
    line("model type", md.info.model_type.clone().unwrap_or_else(|| "-".into()));
    if let Some(serializer) = &md.info.serializer {
        line(
            "serializer",
            format!("{serializer} (saved from Python: modelreg loads it)"),
        );
    }
    if let Some(env) = &md.info.environment {
        environment_lines(env, &mut line);
    }
    let hp: Vec<String> = md
        .info
        .hyperparameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !hp.is_empty() {
        line("hyperparameters", hp.join(" "));
    }
    if let Some(cv) = md.info.cv_score {
        let std = md.info.cv_std.map(|s| format!(" ± {s:.4}")).unwrap_or_default();
        line("cv score", format!("{cv:.4}{std}"));
    }
    if let Some(test) = md.info.test_score {
        line("test score", format!("{test:.4}"));
    }
    for (name, value) in &md.info.metrics {
        line("metric", format!("{name}={}", metric_text(value)));
    }
    if let Some(d) = &l.data {
        line("data", data_text(d));
    }
    if let Some(seed) = l.seed {
        line(
            "seed / folds",
            format!("{seed} / {}", l.folds.map_or("-".into(), |f| f.to_string())),
        );
    }
    if let (Some(path), Some(sha)) = (&l.grid_path, &l.grid_sha256) {
        line("grid", format!("{path} (sha256 {sha})"));
    }
    if let Some(c) = &l.code {
        line("code", c.to_string());
    }
    if let Some(p) = &l.parent_version {
        line("parent version", p.to_string());
    }
    if let Some(d) = &md.info.description {
        line("description", d.clone());
    }
    for (k, v) in &md.info.tags {
        line("tag", format!("{k}={v}"));
    }
    for file in md.stored_files() {
        line(
            "file",
            format!("{} ({} bytes, sha256 {})", file.path, file.size, file.sha256),
        );
    }
    match &onnx {
        Some(Ok(signature)) => {
            for t in &signature.inputs {
                line("input", tensor_text(t));
            }
            for t in &signature.outputs {
                line("output", tensor_text(t));
            }
        }
        Some(Err(reason)) => line("onnx graph", format!("not readable: {reason}")),
        None => {}
    }
    line("signature", signature_line(registry, &md));
    line("metadata", metadata_location);
    cli_support::emit(&out)
}

/// An ONNX version's inputs and outputs, read through the registry's
/// checked path (digests, signature policy) and the checks model-server
/// makes before it builds the graph; `None` for other model types.
fn onnx_signature(registry: &AnyRegistry, md: &ModelMetadata) -> Option<Result<onnx_graph::Signature, String>> {
    if md.info.model_type.as_deref() != Some(onnx_graph::MODEL_TYPE) {
        return None;
    }
    let Some((path, size)) = onnx_graph::onnx_file(md) else {
        return Some(Err("the version holds no .onnx file".into()));
    };
    if size > onnx_graph::MAX_ONNX_BYTES {
        return Some(Err(format!(
            "{path} declares {size} bytes, more than the {} an ONNX model may have; nothing was read",
            onnx_graph::MAX_ONNX_BYTES
        )));
    }
    Some(
        registry
            .read_version_file(md, &path, onnx_graph::signature)
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| format!("{path}: {e}"))),
    )
}

/// `probabilities FP32 [-1, 3] labels setosa, versicolor, virginica`.
fn tensor_text(t: &onnx_graph::TensorDecl) -> String {
    let dims: Vec<String> = t.shape.iter().map(ToString::to_string).collect();
    let mut text = format!("{} {} [{}]", t.name, t.datatype, dims.join(", "));
    if let Some(labels) = &t.labels {
        let shown: Vec<&str> = labels.iter().take(20).map(String::as_str).collect();
        let more = if labels.len() > shown.len() {
            format!(", … ({} in all; see --json)", labels.len())
        } else {
            String::new()
        };
        let _ = write!(text, " labels {}{more}", shown.join(", "));
    }
    if let Some(note) = &t.note {
        let _ = write!(text, " ({note})");
    }
    text
}

/// A metric's value on one line: numbers and strings as they are, lists and
/// tables as compact JSON, cut at 100 characters (`--json` has them whole).
fn metric_text(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 100 {
        let cut: String = text.chars().take(100).collect();
        format!("{cut}… (see --json)")
    } else {
        text
    }
}

/// `d1/train.tsv (12752 rows, 1.6 MB, sha256 7dc937f5…)`.
pub fn data_text(d: &registry_core::DataFingerprint) -> String {
    let name = d.path.as_deref().unwrap_or(&d.name);
    let rows = if d.rows > 0 {
        format!("{} rows, ", d.rows)
    } else {
        String::new()
    };
    let size = d.size.map(|s| format!("{s} bytes, ")).unwrap_or_default();
    format!("{name} ({rows}{size}sha256 {})", d.sha256)
}

pub fn history(registry: &AnyRegistry, alias: &str, json: bool) -> Result<(), Failure> {
    let alias: AliasName = alias.parse()?;
    let history = registry.alias_history(&alias).map_err(failure)?;
    let mut out = String::new();
    if json {
        let _ = writeln!(out, "{}", Value::Array(history.iter().map(record_json).collect()));
        return cli_support::emit(&out);
    }
    let version_width = history
        .iter()
        .flat_map(|r| {
            [
                r.version.to_string().len(),
                r.previous.as_ref().map_or(1, |p| p.to_string().len()),
            ]
        })
        .max()
        .unwrap_or(0)
        .max(4);
    let w = version_width;
    let _ = writeln!(
        out,
        "{:>4}  {:<20} {:<9} {:<w$} {:<w$} BY",
        "SEQ", "WHEN", "ACTION", "FROM", "TO"
    );
    for r in history {
        let _ = writeln!(
            out,
            "{:>4}  {:<20} {:<9} {:<w$} {:<w$} {}@{}",
            r.seq,
            seconds(r.moved_at),
            format!("{:?}", r.action).to_lowercase(),
            r.previous.map_or("-".into(), |p| p.to_string()),
            r.version.to_string(),
            printable(&r.moved_by.user, false),
            printable(&r.moved_by.host, false)
        );
    }
    cli_support::emit(&out)
}

/// Two versions side by side: the fields that differ, or with `all` every
/// field.
pub fn diff(registry: &AnyRegistry, a: &str, b: &str, all: bool, json: bool) -> Result<(), Failure> {
    let (va, vb) = (
        registry.resolve_target(a).map_err(failure)?,
        registry.resolve_target(b).map_err(failure)?,
    );
    let (ma, mb) = (
        registry.metadata(&va).map_err(failure)?,
        registry.metadata(&vb).map_err(failure)?,
    );
    let rows: Vec<FieldDiff> = registry_core::diff::diff(&ma, &mb)
        .into_iter()
        .filter(|r| all || !r.same())
        .collect();
    let mut out = String::new();
    if json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| json!({"field": r.field, "a": r.a, "b": r.b, "same": r.same()}))
            .collect();
        let doc = json!({"a": va.to_string(), "b": vb.to_string(), "fields": rows});
        let _ = writeln!(out, "{doc}");
        return cli_support::emit(&out);
    }
    let width = |v: &str| v.chars().count().clamp(12, 40);
    let texts: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                printable(&r.field, false).into_owned(),
                printable(&FieldDiff::text(r.a.as_ref()), false).into_owned(),
                printable(&FieldDiff::text(r.b.as_ref()), false).into_owned(),
            )
        })
        .collect();
    let wf = texts.iter().map(|t| width(&t.0)).max().unwrap_or(12);
    let wa = texts
        .iter()
        .map(|t| width(&t.1))
        .max()
        .unwrap_or(12)
        .max(va.to_string().len());
    let _ = writeln!(out, "  {:<wf$} {:<wa$} {}", "FIELD", va.to_string(), vb);
    for (r, (field, a, b)) in rows.iter().zip(&texts) {
        let mark = if r.same() { " " } else { "*" };
        let _ = writeln!(out, "{mark} {field:<wf$} {a:<wa$} {b}");
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "  (no differences but the version, timestamp and digests; --all shows every field)"
        );
    }
    cli_support::emit(&out)
}

/// The `signature:` line of `show`: signed or not, and checked or not.
pub fn signature_line(registry: &AnyRegistry, metadata: &ModelMetadata) -> String {
    // A version saved before metadata named its model: its signature holds
    // for a copy of it in another model too.
    let binding = match &metadata.model {
        Some(model) => format!("bound to {model}@{}", metadata.version),
        None => {
            "not bound to a model: saved before metadata.json named it, so a copy in another model verifies too".into()
        }
    };
    match registry.signature(&metadata.version) {
        Ok(Some(_)) if registry.checks_signatures() => {
            format!("signed, verified with a trusted key (model.sig; {binding})")
        }
        Ok(Some(_)) => format!("signed (model.sig; {binding}; not checked: give --trusted-key PUB.pem to verify it)"),
        Ok(None) => "unsigned (`registry sign` signs it)".into(),
        Err(e) => format!("unreadable: {e}"),
    }
}

/// `registry show`'s lines for what a version was saved under.
fn environment_lines(env: &registry_core::Environment, line: &mut impl FnMut(&str, String)) {
    let saved_with: Vec<&str> = [env.python.as_deref(), env.platform.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !saved_with.is_empty() {
        line("saved with", saved_with.join(" on "));
    }
    if !env.requirements.is_empty() {
        let from = env
            .source
            .as_deref()
            .map(|s| format!(" (from {s})"))
            .unwrap_or_default();
        line("requirements", format!("{}{from}", env.requirements.join(" ")));
    }
    if !env.local_modules.is_empty() {
        line(
            "local modules",
            format!("{} (not from any installed package)", env.local_modules.join(" ")),
        );
    }
    if let Some(script) = &env.script {
        let commit = match (&env.git_commit, env.git_dirty) {
            (Some(c), Some(true)) => format!(" at {c} (with uncommitted changes)"),
            (Some(c), _) => format!(" at {c}"),
            _ => String::new(),
        };
        line("saved by", format!("{script}{commit}"));
    }
}
