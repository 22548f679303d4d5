//! Any model in and out: `add` registers files, `get` writes them back out,
//! `models` lists the registry's models.

use crate::inspect::{failure, score};
use cli_support::{Exit, Failure, printable};
use registry_core::local_files::{collect, export, fingerprint};
use registry_core::{AliasName, ModelInfo, ModelName, ModelVersion};
use registry_open::AnyRegistry;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// What `registry add` records besides the files.
#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    /// A model file, or a directory of files (keeps its structure).
    pub path: PathBuf,
    #[command(flatten)]
    pub sign: cli_support::SignArgs,
    /// Exact version (semver); default: --bump the highest existing one (1.0.0 first).
    #[arg(long, conflicts_with = "bump")]
    pub version: Option<String>,
    /// Which part of the highest existing version to increment.
    #[arg(long, value_enum, default_value_t = cli_support::BumpArg::Patch)]
    pub bump: cli_support::BumpArg,
    /// What kind of model this is (free text: sklearn, onnx, pytorch, ...).
    #[arg(long = "type")]
    pub model_type: Option<String>,
    /// A hyperparameter, KEY=VALUE (VALUE as JSON if it parses, else a string); repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = cli_support::parse::key_value)]
    pub params: Vec<(String, String)>,
    /// A metric, KEY=VALUE (VALUE as JSON if it parses, else a string); repeatable.
    #[arg(long = "metric", value_name = "KEY=VALUE", value_parser = cli_support::parse::key_value)]
    pub metrics: Vec<(String, String)>,
    /// Score on held-out test data.
    #[arg(long, value_parser = cli_support::parse::finite)]
    pub test_score: Option<f64>,
    /// Mean cross-validation score.
    #[arg(long, value_parser = cli_support::parse::finite)]
    pub cv_score: Option<f64>,
    /// The training data: recorded as path, size, sha256 and (CSV, TSV, JSON lines) rows.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub description: Option<String>,
    /// A tag, KEY=VALUE; repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = cli_support::parse::key_value)]
    pub tags: Vec<(String, String)>,
    /// A JSON object with any of: model_type, hyperparameters, metrics,
    /// test_score, cv_score, cv_std, description, tags (options given on
    /// the command line win).
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// How the file was written (pickle or joblib), recorded so that Python's `load()` returns the model, not its bytes (a single file only; this tool never unpickles anything).
    #[arg(long, value_parser = ["pickle", "joblib"])]
    pub serializer: Option<String>,
    /// The model's requirements.txt: its lines (and pinned versions) are recorded as the version's environment, as Python's save_model records them.
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<PathBuf>,
    /// Register it even though its --type differs from the model's latest version's.
    #[arg(long)]
    pub force: bool,
}

/// `0.5` and `{"a": 1}` as JSON; anything else (`rbf`) as a string.
fn json_or_string(v: &str) -> Value {
    serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()))
}

/// Reads `--metadata FILE.json` (see [`ModelInfo::from_user_json`]).
fn metadata_file(path: &Path) -> Result<ModelInfo, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read --metadata {}: {e}", path.display())))?;
    let bad = |reason: String| Failure::usage(format!("--metadata {}: {reason}", path.display()));
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(format!("{e} (expected a JSON object)")))?;
    ModelInfo::from_user_json(value).map_err(bad)
}

fn model_info(args: &AddArgs) -> Result<ModelInfo, Failure> {
    let mut info = match &args.metadata {
        Some(path) => metadata_file(path)?,
        None => ModelInfo::default(),
    };
    if let Some(t) = &args.model_type {
        info.model_type = Some(t.clone());
    }
    for (k, v) in &args.params {
        info.hyperparameters.insert(k.clone(), json_or_string(v));
    }
    for (k, v) in &args.metrics {
        info.metrics.insert(k.clone(), json_or_string(v));
    }
    info.test_score = args.test_score.or(info.test_score);
    info.cv_score = args.cv_score.or(info.cv_score);
    if let Some(d) = &args.description {
        info.description = Some(d.clone());
    }
    info.tags.extend(args.tags.iter().cloned());
    if let Some(data) = &args.data {
        info.lineage.data = Some(fingerprint(data)?);
    }
    info.serializer = args.serializer.clone();
    if let Some(path) = &args.requirements {
        let text = registry_core::local_files::read_small_text(path, 1 << 20)
            .map_err(|e| Failure::usage(format!("--requirements {}: {e}", path.display())))?;
        let name = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let environment = registry_core::Environment::from_requirements(&text, &name)
            .map_err(|e| Failure::usage(format!("--requirements {}: {e}", path.display())))?;
        info.environment = Some(environment);
    }
    Ok(info)
}

pub fn add(registry: &AnyRegistry, args: &AddArgs, json: bool) -> Result<(), Failure> {
    let info = model_info(args)?;
    let files = collect(&args.path)?;
    if let Some(serializer) = &args.serializer
        && files.len() != 1
    {
        return Err(Failure::usage(format!(
            "--serializer {serializer} describes one file, and {} holds {}: register the file itself",
            printable(&args.path.display().to_string(), false),
            files.len()
        )));
    }
    let version = args.version.as_deref().map(str::parse::<ModelVersion>).transpose()?;
    if !args.force {
        refuse_type_change(registry, version.as_ref(), info.model_type.as_deref())?;
    }
    let metadata = match &version {
        Some(v) => registry.save_files(v, &files, info)?,
        None => registry.save_files_next(args.bump.into(), &files, info)?,
    };
    let latest = registry.resolve(&AliasName::latest()).ok().map(|r| r.version);
    let mut out = String::new();
    if json {
        let doc = json!({
            "model": model_label(registry),
            "version": metadata.version.to_string(),
            "files": metadata.files.iter().map(|f| json!({"path": f.path, "size": f.size, "sha256": f.sha256})).collect::<Vec<_>>(),
            "location": registry.version_location(&metadata.version),
            "latest": latest.map(|v| v.to_string()),
        });
        let _ = writeln!(out, "{doc}");
    } else {
        let _ = writeln!(
            out,
            "registered {} as version {} of model {} ({} file{}, {} bytes) in {}",
            printable(&args.path.display().to_string(), false),
            metadata.version,
            model_label(registry),
            metadata.files.len(),
            if metadata.files.len() == 1 { "" } else { "s" },
            metadata.total_size(),
            registry.version_location(&metadata.version)
        );
        if latest.as_ref() != Some(&metadata.version) {
            let _ = writeln!(
                out,
                "latest stays at {} (a pre-release, or an older version than latest)",
                latest.map_or("nothing".into(), |v| v.to_string())
            );
        }
    }
    cli_support::emit(&out)
}

/// A version of another type than the model's latest, which `latest`
/// would move to, would break a reader of the old type (predictor,
/// model-server on the trainer's models): refused unless `--force`. A
/// pre-release or an older version does not move `latest`.
fn refuse_type_change(
    registry: &AnyRegistry,
    version: Option<&ModelVersion>,
    new: Option<&str>,
) -> Result<(), Failure> {
    let Ok(latest) = registry.resolve(&AliasName::latest()) else {
        return Ok(());
    };
    if version.is_some_and(|v| v.is_prerelease() || *v <= latest.version) {
        return Ok(());
    }
    let Ok(metadata) = registry.metadata(&latest.version) else {
        return Ok(());
    };
    let old = metadata.info.model_type.as_deref();
    if old == new {
        return Ok(());
    }
    let kind = |t: Option<&str>| t.map_or("an untyped".to_string(), |t| format!("a {t}"));
    Err(Failure::new(
        cli_support::Exit::Refused,
        format!(
            "model {}'s latest version ({}) is {} model and this would be {} one: latest would move to it, and what reads latest expects the former; register it as a model of its own (--model NAME), or give --force",
            model_label(registry),
            latest.version,
            kind(old),
            kind(new)
        ),
    ))
}

/// The default model, then every named model of the registry.
pub fn every_model(registry: &AnyRegistry) -> Result<Vec<Option<ModelName>>, Failure> {
    let named = registry.list_models().map_err(failure)?;
    Ok(std::iter::once(None).chain(named.into_iter().map(Some)).collect())
}

/// The models a whole-registry command (verify, gc) works on: every one
/// with `all_models` (no `--model` given), else the one opened.
pub fn models_to_visit(registry: &AnyRegistry, all_models: bool) -> Result<Vec<Option<ModelName>>, Failure> {
    if all_models {
        every_model(registry)
    } else {
        Ok(vec![registry.model_name().cloned()])
    }
}

/// `report` as a JSON object with a `"model": label` field added: one
/// model's part of a command's `--json` document.
pub fn labelled(report: &impl serde::Serialize, label: &str) -> Value {
    let mut doc = serde_json::to_value(report).unwrap_or_default();
    if let Value::Object(map) = &mut doc {
        map.insert("model".into(), json!(label));
    }
    doc
}

/// `default` or the model's name, for messages.
pub fn model_label(registry: &AnyRegistry) -> &str {
    registry.model_name().map_or(ModelName::DEFAULT, ModelName::as_str)
}

/// From this size `get --out -` checks a file in an unnamed temporary
/// file rather than in memory (or a mapping as large as the file).
const SPOOL_FROM: u64 = 64 << 20;

/// `get --out -` of a large file: written into an unnamed file in the
/// temporary directory (`TMPDIR`) and checked there, as `get --out FILE`
/// does, then copied to standard output by the kernel; memory stays a
/// few blocks whatever the size, and a damaged file still prints nothing.
fn spool_to_stdout(registry: &AnyRegistry, metadata: &registry_core::ModelMetadata, path: &str) -> Result<(), Failure> {
    let dir = std::env::temp_dir();
    let cannot = |e: std::io::Error| {
        Failure::new(
            Exit::Io,
            format!(
                "cannot hold {path} in the temporary directory {} to check it before printing it: {e} (set TMPDIR to a directory with room)",
                dir.display()
            ),
        )
    };
    let mut spool = tempfile::tempfile_in(&dir).map_err(cannot)?;
    registry
        .write_version_file(metadata, path, &mut spool)
        .map_err(failure)?
        .map_err(cannot)?;
    spool.seek(std::io::SeekFrom::Start(0)).map_err(cannot)?;
    let mut stdout = std::io::stdout().lock();
    std::io::copy(&mut spool, &mut stdout)
        .and_then(|_| stdout.flush())
        .map_err(Failure::writing)
}

pub fn get(registry: &AnyRegistry, target: &str, out: &Path, force: bool, json: bool) -> Result<(), Failure> {
    let version = registry.resolve_target(target).map_err(failure)?;
    let metadata = registry.metadata(&version).map_err(failure)?;
    if out == Path::new("-") {
        let files = metadata.stored_files();
        let [only] = files.as_slice() else {
            return Err(Failure::usage(format!(
                "version {version} has {} files; --out - streams a single file: give a directory path instead",
                files.len()
            )));
        };
        // Checked before a byte is written: a damaged file prints nothing.
        if only.size >= SPOOL_FROM {
            return spool_to_stdout(registry, &metadata, only.path);
        }
        let stdout = std::io::stdout();
        let written = registry.read_version_file(&metadata, only.path, |bytes| {
            let mut lock = stdout.lock();
            lock.write_all(bytes).and_then(|()| lock.flush())
        })?;
        return written.map_err(Failure::writing);
    }
    let exported = export(registry, &metadata, out, force)?;
    let mut text = String::new();
    if json {
        let doc = json!({"version": version.to_string(), "path": exported.path.display().to_string(),
                         "files": exported.files, "bytes": exported.bytes});
        let _ = writeln!(text, "{doc}");
    } else {
        let _ = writeln!(
            text,
            "wrote version {version} ({} file{}, {} bytes, digests checked) to {}",
            exported.files,
            if exported.files == 1 { "" } else { "s" },
            exported.bytes,
            printable(&exported.path.display().to_string(), false)
        );
    }
    cli_support::emit(&text)
}

/// Every model of the registry with its version count, latest and
/// production versions.
pub fn models(registry: &AnyRegistry, json: bool) -> Result<(), Failure> {
    let names = every_model(registry)?;
    let mut rows = Vec::new();
    for name in names {
        let model = registry.with_model(name.clone());
        let versions = model.list_versions()?;
        if name.is_none() && versions.is_empty() {
            continue;
        }
        let at = |alias: &str| {
            alias
                .parse::<AliasName>()
                .ok()
                .and_then(|a| model.resolve(&a).ok())
                .map(|r| r.version.to_string())
        };
        let latest = at(AliasName::LATEST);
        let latest_score = latest
            .as_ref()
            .and_then(|v| v.parse().ok())
            .and_then(|v| model.metadata(&v).ok())
            .and_then(|md| md.info.test_score);
        rows.push((
            name.map_or(ModelName::DEFAULT.to_string(), |n| n.to_string()),
            versions.len(),
            latest,
            at("production"),
            latest_score,
        ));
    }
    let mut out = String::new();
    if json {
        let docs: Vec<Value> = rows
            .iter()
            .map(|(name, n, latest, production, score)| {
                json!({"model": name, "versions": n, "latest": latest, "production": production, "latest_test_score": score})
            })
            .collect();
        let _ = writeln!(out, "{}", Value::Array(docs));
    } else if rows.is_empty() {
        let _ = writeln!(
            out,
            "no models in {} (train one with `trainer`, or register a model file with `registry add FILE --model NAME`)",
            registry.registry_location().trim_end_matches('/')
        );
    } else {
        let _ = writeln!(
            out,
            "{:<24} {:>8}  {:<16} {:<16} {:>8}",
            "MODEL", "VERSIONS", "LATEST", "PRODUCTION", "TEST"
        );
        for (name, n, latest, production, score_) in rows {
            let _ = writeln!(
                out,
                "{:<24} {:>8}  {:<16} {:<16} {:>8}",
                name,
                n,
                latest.unwrap_or_else(|| "-".into()),
                production.unwrap_or_else(|| "-".into()),
                score(score_)
            );
        }
    }
    cli_support::emit(&out)
}
