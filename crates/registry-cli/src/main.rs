//! `registry`: inspect and manage a model registry: list, show, promote,
//! rollback, history, diff, verify.

mod copy;

use clap::{Parser, Subcommand};
use registry_core::{AliasName, AliasRecord, Expect, ModelMetadata, ModelVersion, RegistryError};
use registry_open::AnyRegistry;
use registry_report::{ModelCard, ReportData, render_html};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(version, about = "Inspect and manage a modelreg model registry")]
struct Cli {
    #[command(flatten)]
    registry: registry_open::RegistryArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every version: timestamp, test score, CV score, aliases.
    List,
    /// Everything recorded about a version or an alias's version.
    Show {
        /// A version (1.0.2) or an alias (production, latest).
        target: String,
        /// Print the model card as Markdown (for pull requests and READMEs).
        #[arg(long, conflicts_with = "json")]
        card: bool,
    },
    /// Write one self-contained HTML page: versions, score chart, alias history, model cards.
    Report {
        /// Where to write the page ("-": standard output).
        #[arg(long, default_value = "modelreg-report.html")]
        out: PathBuf,
    },
    /// Point an alias at a version (or at what another alias, e.g. latest, names).
    Promote {
        version: String,
        /// The alias to move, e.g. production.
        #[arg(long)]
        to: String,
        /// Only move if the alias now points to this version ("none": must not exist yet).
        #[arg(long)]
        expect: Option<String>,
        /// Refuse if the version's test score is below the alias's current one.
        #[arg(long)]
        if_better: bool,
    },
    /// Move an alias back to the version it pointed to before its last move.
    Rollback { alias: String },
    /// Every move of an alias: when, from, to, who.
    History { alias: String },
    /// Two versions side by side: hyperparameters, metrics, data, digests.
    Diff { a: String, b: String },
    /// Copy every version from one registry to another (local <-> s3://), verifying each digest.
    Copy {
        /// Source registry: a directory or s3://bucket/prefix.
        from: String,
        /// Destination registry; created if needed. Existing versions are never replaced.
        to: String,
        /// Also set the destination's aliases (production, ...) to the source's targets.
        #[arg(long)]
        aliases: bool,
    },
    /// Re-check every version and alias; non-zero exit on any damage.
    Verify {
        /// Also remove leftovers of interrupted saves (never touches complete versions).
        #[arg(long)]
        repair: bool,
    },
}

struct Failure(String);

impl From<registry_open::OpenError> for Failure {
    fn from(e: registry_open::OpenError) -> Self {
        match e {
            registry_open::OpenError::Registry(e) => e.into(),
            other => Failure(other.to_string()),
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure(match e {
            RegistryError::Empty { root } => {
                format!("registry {root} has no models yet; train one with `cargo run -p trainer`")
            }
            other => other.to_string(),
        })
    }
}

/// A version or an alias name, resolved to a version.
fn resolve(registry: &AnyRegistry, target: &str) -> Result<ModelVersion, Failure> {
    let version_error = match target.parse::<ModelVersion>() {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    match target.parse::<AliasName>() {
        Ok(alias) => Ok(registry.resolve(&alias)?.version),
        Err(alias_error) => Err(Failure(format!(
            "{target:?} is neither a version nor an alias:\n  {version_error}\n  {alias_error}"
        ))),
    }
}

fn score(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.4}"))
}

/// RFC 3339 in UTC to the second: what a table needs (metadata keeps the
/// full precision).
fn seconds(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

fn timestamp(md: &ModelMetadata) -> String {
    seconds(md.timestamp)
}

fn aliases_by_version(registry: &AnyRegistry) -> Result<Vec<AliasRecord>, Failure> {
    Ok(registry.list_aliases()?)
}

fn record_json(r: &AliasRecord) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// Writes `bytes` to `path` all at once: a temporary file in the same
/// directory, renamed over the target, so a reader never sees half a page.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let failed = |e: std::io::Error| Failure(format!("cannot write {}: {e}", path.display()));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

fn run_copy(cli: &Cli, from: &str, to: &str, aliases: bool) -> Result<(), Failure> {
    let options = cli.registry.options();
    let source = registry_open::open(from, &options)?;
    let destination = registry_open::open(to, &options)?;
    let report = copy::copy(&source, &destination, aliases)?;
    if cli.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let list = |vs: &[ModelVersion]| vs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        println!(
            "copied {} version(s) to {to}: {}",
            report.copied.len(),
            list(&report.copied)
        );
        if !report.present.is_empty() {
            println!("already there (identical): {}", list(&report.present));
        }
        for (alias, before, after) in &report.aliases_moved {
            let before = before.as_ref().map_or("(new)".to_string(), ToString::to_string);
            println!("{alias}: {before} -> {after}");
        }
    }
    if !report.conflicting.is_empty() {
        let names: Vec<String> = report.conflicting.iter().map(ToString::to_string).collect();
        return Err(Failure(format!(
            "{} exist(s) in both registries with different contents; left unchanged in {to} (compare with `registry diff`, or save under a new version)",
            names.join(", ")
        )));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Copy { from, to, aliases } = &cli.command {
        return run_copy(&cli, from, to, *aliases);
    }
    let registry = cli.registry.open()?;
    match cli.command {
        Command::List => {
            let aliases = aliases_by_version(&registry)?;
            let mut rows = Vec::new();
            for v in registry.list_versions()? {
                let md = registry.metadata(&v)?;
                let names: Vec<String> = aliases
                    .iter()
                    .filter(|a| a.version == v)
                    .map(|a| a.alias.to_string())
                    .collect();
                rows.push((md, names));
            }
            if cli.json {
                let out: Vec<Value> = rows
                    .iter()
                    .map(|(md, names)| {
                        json!({"version": md.version.to_string(), "timestamp": timestamp(md),
                               "test_score": md.info.test_score, "cv_score": md.info.cv_score, "aliases": names})
                    })
                    .collect();
                println!("{}", Value::Array(out));
            } else if rows.is_empty() {
                println!(
                    "no versions in {} (train one with `cargo run -p trainer`)",
                    registry.location().trim_end_matches('/')
                );
            } else {
                println!("{:<16} {:<20} {:>8} {:>8}  ALIASES", "VERSION", "CREATED", "TEST", "CV");
                for (md, names) in rows {
                    println!(
                        "{:<16} {:<20} {:>8} {:>8}  {}",
                        md.version.to_string(),
                        timestamp(&md),
                        score(md.info.test_score),
                        score(md.info.cv_score),
                        names.join(", ")
                    );
                }
            }
        }
        Command::Show { target, card } => {
            let version = resolve(&registry, &target)?;
            let md = registry.metadata(&version)?;
            if card {
                print!("{}", ModelCard::new(&md, &registry.list_aliases()?).to_markdown());
                return Ok(());
            }
            let metadata_location = format!("{}versions/{version}/metadata.json", registry.location());
            if cli.json {
                let mut v = serde_json::to_value(&md).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("path".into(), json!(metadata_location));
                }
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                let aliases: Vec<String> = aliases_by_version(&registry)?
                    .into_iter()
                    .filter(|a| a.version == version)
                    .map(|a| a.alias.to_string())
                    .collect();
                let l = &md.info.lineage;
                println!("version:         {}", md.version);
                println!("aliases:         {}", aliases.join(", "));
                println!("created:         {}", timestamp(&md));
                if let Some(by) = &l.created_by {
                    println!("trained by:      {}@{}", by.user, by.host);
                }
                println!("model type:      {}", md.info.model_type.as_deref().unwrap_or("-"));
                println!(
                    "hyperparameters: {}",
                    md.info
                        .hyperparameters
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!(
                    "cv score:        {} ± {}",
                    score(md.info.cv_score),
                    score(md.info.cv_std)
                );
                println!("test score:      {}", score(md.info.test_score));
                if let Some(d) = &l.data {
                    println!("data:            {} ({} rows, sha256 {})", d.name, d.rows, d.sha256);
                }
                if let Some(seed) = l.seed {
                    println!(
                        "seed / folds:    {seed} / {}",
                        l.folds.map_or("-".into(), |f| f.to_string())
                    );
                }
                if let Some(c) = &l.code {
                    println!("code:            {c}");
                }
                if let Some(p) = &l.parent_version {
                    println!("parent version:  {p}");
                }
                if let Some(d) = &md.info.description {
                    println!("description:     {d}");
                }
                for (k, v) in &md.info.tags {
                    println!("tag:             {k}={v}");
                }
                println!(
                    "artifact:        {} ({} bytes, sha256 {})",
                    md.artifact.file, md.artifact.size, md.artifact.sha256
                );
                println!("metadata:        {metadata_location}");
            }
        }
        Command::Promote {
            version,
            to,
            expect,
            if_better,
        } => {
            let version = resolve(&registry, &version)?;
            let alias: AliasName = to.parse()?;
            let expect = match expect.as_deref() {
                None => Expect::Anything,
                Some("none") => Expect::Nothing,
                Some(v) => Expect::Version(v.parse()?),
            };
            if if_better && let Ok(current) = registry.resolve(&alias) {
                let candidate = registry.metadata(&version)?.info.test_score;
                let incumbent = registry.metadata(&current.version)?.info.test_score;
                if let (Some(c), Some(i)) = (candidate, incumbent)
                    && c < i
                {
                    return Err(Failure(format!(
                        "not promoting {version} to {alias}: its test score {c:.4} is below {}'s {i:.4} (alias unchanged)",
                        current.version
                    )));
                }
            }
            let record = registry.set_alias(&alias, &version, expect)?;
            if cli.json {
                println!("{}", record_json(&record));
            } else {
                println!(
                    "{alias}: {} -> {}",
                    record.previous.map_or("(new)".into(), |p| p.to_string()),
                    record.version
                );
            }
        }
        Command::Rollback { alias } => {
            let alias: AliasName = alias.parse()?;
            let record = registry.rollback(&alias)?;
            if cli.json {
                println!("{}", record_json(&record));
            } else {
                println!(
                    "{alias}: rolled back {} -> {}",
                    record.previous.map_or("?".into(), |p| p.to_string()),
                    record.version
                );
            }
        }
        Command::History { alias } => {
            let alias: AliasName = alias.parse()?;
            let history = registry.alias_history(&alias)?;
            if cli.json {
                println!("{}", Value::Array(history.iter().map(record_json).collect()));
            } else {
                println!(
                    "{:>4}  {:<26} {:<9} {:<12} {:<12} BY",
                    "SEQ", "WHEN", "ACTION", "FROM", "TO"
                );
                for r in history {
                    println!(
                        "{:>4}  {:<26} {:<9} {:<12} {:<12} {}@{}",
                        r.seq,
                        r.moved_at
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                        format!("{:?}", r.action).to_lowercase(),
                        r.previous.map_or("-".into(), |p| p.to_string()),
                        r.version.to_string(),
                        r.moved_by.user,
                        r.moved_by.host
                    );
                }
            }
        }
        Command::Diff { a, b } => {
            let (va, vb) = (resolve(&registry, &a)?, resolve(&registry, &b)?);
            let (ma, mb) = (registry.metadata(&va)?, registry.metadata(&vb)?);
            let flat = |md: &ModelMetadata| {
                let mut out = std::collections::BTreeMap::new();
                flatten("", &serde_json::to_value(md).unwrap_or(Value::Null), &mut out);
                out
            };
            let (fa, fb) = (flat(&ma), flat(&mb));
            let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
            let rows: Vec<(&String, String, String)> = keys
                .into_iter()
                .filter(|k| !k.starts_with("metrics.per_label") && !k.starts_with("metrics.cv_fold"))
                .map(|k| {
                    (
                        k,
                        fa.get(k).cloned().unwrap_or_else(|| "-".into()),
                        fb.get(k).cloned().unwrap_or_else(|| "-".into()),
                    )
                })
                .collect();
            if cli.json {
                let out: Vec<Value> = rows
                    .iter()
                    .map(|(k, x, y)| json!({"field": k, "a": x, "b": y, "same": x == y}))
                    .collect();
                println!("{}", Value::Array(out));
            } else {
                println!("{:<34} {:<40} {:<40}", "FIELD", va.to_string(), vb.to_string());
                for (k, x, y) in rows {
                    let mark = if x == y { " " } else { "*" };
                    println!("{mark}{:<33} {:<40} {:<40}", k, x, y);
                }
            }
        }
        Command::Report { out } => {
            let data = ReportData::collect(&registry)?;
            let page = render_html(&data);
            if out.as_os_str() == "-" {
                print!("{page}");
            } else {
                write_file(&out, page.as_bytes())?;
                let message = format!(
                    "wrote {} ({} versions, {} aliases, {} KB)",
                    out.display(),
                    data.versions.len(),
                    data.aliases.len(),
                    page.len().div_ceil(1024)
                );
                if cli.json {
                    println!(
                        "{}",
                        json!({"path": out.display().to_string(), "versions": data.versions.len(), "bytes": page.len()})
                    );
                } else {
                    println!("{message}");
                }
                if !data.unreadable.is_empty() {
                    eprintln!(
                        "warning: {} version(s) could not be read and are listed at the top of the report; run `registry verify`",
                        data.unreadable.len()
                    );
                }
            }
        }
        // Copy works on two registries of its own, not on --registry.
        Command::Copy { .. } => {}
        Command::Verify { repair } => {
            if repair {
                let r = registry.repair()?;
                if !cli.json {
                    for removed in &r.removed {
                        println!("removed {removed}");
                    }
                    if let Some(v) = &r.latest_moved_to {
                        println!("moved latest to {v}");
                    }
                }
            }
            let report = registry.verify()?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                for p in &report.problems {
                    println!("PROBLEM  {}: {}", p.location, p.message);
                }
                for l in &report.leftovers {
                    println!("leftover {}: {}", l.location, l.message);
                }
                println!(
                    "checked {} versions and {} aliases: {} problems, {} leftovers",
                    report.versions_checked,
                    report.aliases_checked,
                    report.problems.len(),
                    report.leftovers.len()
                );
            }
            if !report.is_ok() {
                return Err(Failure(format!(
                    "verification found {} problem(s) in {}",
                    report.problems.len(),
                    registry.location().trim_end_matches('/')
                )));
            }
        }
    }
    Ok(())
}

fn flatten(prefix: &str, v: &Value, out: &mut std::collections::BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
