//! Registered models and model versions: a registered model is a named
//! model of the registry, a model version one of its immutable versions,
//! an alias an alias (moved by compare-and-swap, with history).

use crate::Server;
use crate::error::{ApiError, ApiResult};
use crate::records::{PREFIX, now_ms};
use crate::request::strings;
use crate::tracking::KeyValue;
use crate::versions::{
    ModelNotes, VersionView, aliases_by_version, download_uri, model_handle, ms, notes_key, resolve_version,
    update_notes,
};
use registry_core::{AliasName, CatalogRow, Expect, ModelName, RegistryError};
use registry_open::AnyRegistry;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A registered model's own record: what MLflow keeps about a model
/// besides its versions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelRecord {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

pub fn record_key(name: &str) -> String {
    format!("{PREFIX}registered-models/{name}")
}

/// Every registered model: the registry's models (the default one if it
/// has versions) and those created here without a version yet.
pub fn model_names(s: &Server) -> ApiResult<Vec<String>> {
    let mut names: Vec<String> = s.registry.list_models()?.iter().map(ToString::to_string).collect();
    if !s.registry.with_model(None).list_versions()?.is_empty() {
        names.push(ModelName::DEFAULT.to_string());
    }
    for key in s.records().list(&format!("{PREFIX}registered-models/"))? {
        if let Some(name) = key.rsplit('/').next() {
            names.push(name.to_string());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Whether the model exists for MLflow (a record, or versions).
pub(crate) fn exists(s: &Server, name: &str, registry: &AnyRegistry) -> ApiResult<bool> {
    if s.records().read::<ModelRecord>(&record_key(name))?.is_some() {
        return Ok(true);
    }
    Ok(!registry.list_versions()?.is_empty())
}

fn require(s: &Server, name: &str) -> ApiResult<AnyRegistry> {
    let registry = model_handle(s, name)?;
    if !exists(s, name, &registry)? {
        return Err(ApiError::not_found(format!("registered model {name:?} not found")));
    }
    Ok(registry)
}

/// A model's versions as MLflow shows them, lowest number first.
pub struct ModelState {
    pub name: String,
    pub registry: AnyRegistry,
    pub rows: Vec<(u64, CatalogRow)>,
    pub notes: ModelNotes,
    pub aliases: BTreeMap<registry_core::ModelVersion, Vec<String>>,
}

impl ModelState {
    pub fn load(s: &Server, name: &str) -> ApiResult<ModelState> {
        let registry = model_handle(s, name)?;
        let catalog: Vec<CatalogRow> = registry.catalog()?.into_iter().filter_map(Result::ok).collect();
        if catalog.is_empty() && s.records().read::<ModelRecord>(&record_key(name))?.is_none() {
            return Err(ApiError::not_found(format!("registered model {name:?} not found")));
        }
        let numbers = registry.number_rows(&catalog, !s.options.read_only)?;
        let mut rows: Vec<(u64, CatalogRow)> = catalog
            .into_iter()
            .filter_map(|row| numbers.number(&row.version).map(|n| (n, row)))
            .collect();
        rows.sort_by_key(|(n, _)| *n);
        Ok(ModelState {
            notes: s.records().read(&notes_key(name))?.unwrap_or_default(),
            aliases: aliases_by_version(&registry)?,
            name: name.to_string(),
            registry,
            rows,
        })
    }

    pub fn view<'a>(&'a self, number: u64, row: &'a CatalogRow) -> VersionView<'a> {
        VersionView {
            name: &self.name,
            number,
            row,
            description: None,
            notes: self.notes.get(&row.version.to_string()),
            aliases: self.aliases.get(&row.version).cloned().unwrap_or_default(),
            user: None,
        }
    }
}

/// One version, from its metadata (so the signature policy and the
/// metadata's own description apply).
pub fn version_json(s: &Server, name: &str, version: &str) -> ApiResult<Value> {
    let registry = model_handle(s, name)?;
    let (number, semver) = resolve_version(s, &registry, name, version)?;
    let metadata = registry.metadata(&semver)?;
    let row = CatalogRow::of(&metadata);
    let notes: ModelNotes = s.records().read(&notes_key(name))?.unwrap_or_default();
    let aliases = aliases_by_version(&registry)?;
    let view = VersionView {
        name,
        number,
        row: &row,
        description: metadata.info.description.as_deref(),
        notes: notes.get(&semver.to_string()),
        aliases: aliases.get(&semver).cloned().unwrap_or_default(),
        user: metadata.info.lineage.created_by.as_ref().map(|a| a.user.as_str()),
    };
    Ok(view.json())
}

pub(crate) fn model_json(s: &Server, name: &str) -> ApiResult<Value> {
    let state = ModelState::load(s, name)?;
    let record: Option<ModelRecord> = s.records().read(&record_key(name))?;
    let first = state.rows.first().map(|(_, r)| ms(r.timestamp));
    let last = state.rows.last().map(|(_, r)| ms(r.timestamp));
    let latest: Vec<Value> = state
        .rows
        .last()
        .map(|(n, r)| state.view(*n, r).json())
        .into_iter()
        .collect();
    let mut aliases = Vec::new();
    for (n, row) in &state.rows {
        for a in state.aliases.get(&row.version).into_iter().flatten() {
            aliases.push(json!({"alias": a, "version": n.to_string()}));
        }
    }
    let created = record.as_ref().map(|r| r.creation_timestamp).or(first).unwrap_or(0);
    let updated = record
        .as_ref()
        .map(|r| r.last_updated_timestamp)
        .into_iter()
        .chain(last)
        .max()
        .unwrap_or(created);
    Ok(json!({
        "name": name,
        "creation_timestamp": created,
        "last_updated_timestamp": updated,
        "description": record.as_ref().map(|r| r.description.as_str()).unwrap_or(""),
        "latest_versions": latest,
        "tags": record.as_ref().map(|r| r.tags.clone()).unwrap_or_default(),
        "aliases": aliases,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRegisteredModel {
    name: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    deployment_job_id: Option<String>,
}

pub fn create_registered_model(s: &Server, r: CreateRegisteredModel) -> ApiResult<Value> {
    if r.deployment_job_id.as_deref().is_some_and(|d| !d.is_empty()) {
        return Err(ApiError::invalid(
            "deployment jobs are not supported by `registry serve`",
        ));
    }
    let registry = model_handle(s, &r.name)?;
    let exists_error = || ApiError::exists(format!("registered model (name={}) already exists", r.name));
    if !registry.list_versions()?.is_empty() {
        return Err(exists_error());
    }
    let now = now_ms();
    let record = ModelRecord {
        name: r.name.clone(),
        creation_timestamp: now,
        last_updated_timestamp: now,
        description: r.description.unwrap_or_default(),
        tags: r.tags,
    };
    if !s.records().create(&record_key(&r.name), &record)? {
        return Err(exists_error());
    }
    Ok(json!({"registered_model": model_json(s, &r.name)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByName {
    name: String,
}

pub fn get_registered_model(s: &Server, r: ByName) -> ApiResult<Value> {
    Ok(json!({"registered_model": model_json(s, &r.name)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRegisteredModel {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    deployment_job_id: Option<String>,
}

/// Changes (or creates, for a model that only has versions) the model's record.
fn change_record(s: &Server, name: &str, change: impl Fn(&mut ModelRecord)) -> ApiResult<()> {
    require(s, name)?;
    s.records().upsert(
        &record_key(name),
        || ModelRecord {
            name: name.to_string(),
            creation_timestamp: now_ms(),
            ..ModelRecord::default()
        },
        |r| {
            change(r);
            r.last_updated_timestamp = now_ms();
            Ok(())
        },
    )?;
    Ok(())
}

pub fn update_registered_model(s: &Server, r: UpdateRegisteredModel) -> ApiResult<Value> {
    if r.deployment_job_id.as_deref().is_some_and(|d| !d.is_empty()) {
        return Err(ApiError::invalid(
            "deployment jobs are not supported by `registry serve`",
        ));
    }
    change_record(s, &r.name, |m| {
        if let Some(d) = &r.description {
            m.description = d.clone();
        }
    })?;
    Ok(json!({"registered_model": model_json(s, &r.name)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelTag {
    name: String,
    key: String,
    #[serde(default)]
    value: Option<String>,
}

pub fn set_registered_model_tag(s: &Server, r: ModelTag) -> ApiResult<Value> {
    let tag = KeyValue {
        key: r.key.clone(),
        value: r.value.clone().unwrap_or_default(),
    };
    change_record(s, &r.name, |m| {
        m.tags.retain(|t| t.key != tag.key);
        m.tags.push(tag.clone());
    })?;
    Ok(json!({}))
}

pub fn delete_registered_model_tag(s: &Server, r: ModelTag) -> ApiResult<Value> {
    change_record(s, &r.name, |m| m.tags.retain(|t| t.key != r.key))?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByVersion {
    name: String,
    version: String,
}

pub fn get_model_version(s: &Server, r: ByVersion) -> ApiResult<Value> {
    Ok(json!({"model_version": version_json(s, &r.name, &r.version)?}))
}

pub fn get_download_uri(s: &Server, r: ByVersion) -> ApiResult<Value> {
    let registry = model_handle(s, &r.name)?;
    let (_, semver) = resolve_version(s, &registry, &r.name, &r.version)?;
    // Through the read path: a version the policy refuses has no URI.
    registry.metadata(&semver)?;
    Ok(json!({"artifact_uri": download_uri(&r.name, &semver)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateModelVersion {
    name: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
}

pub fn update_model_version(s: &Server, r: UpdateModelVersion) -> ApiResult<Value> {
    let (_, semver) = numbered(s, &r.name, &r.version)?;
    if let Some(d) = &r.description {
        update_notes(s, &r.name, &semver, |n| n.description = Some(d.clone()))?;
    }
    Ok(json!({"model_version": version_json(s, &r.name, &r.version)?}))
}

fn numbered(s: &Server, name: &str, version: &str) -> ApiResult<(u64, registry_core::ModelVersion)> {
    let registry = model_handle(s, name)?;
    resolve_version(s, &registry, name, version)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionTag {
    name: String,
    version: String,
    key: String,
    #[serde(default)]
    value: Option<String>,
}

pub fn set_model_version_tag(s: &Server, r: VersionTag) -> ApiResult<Value> {
    if r.key.is_empty() || r.key.len() > 250 {
        return Err(ApiError::invalid("a tag key must be 1 to 250 characters"));
    }
    let (_, semver) = numbered(s, &r.name, &r.version)?;
    let value = r.value.clone().unwrap_or_default();
    update_notes(s, &r.name, &semver, |n| {
        n.tags.insert(r.key.clone(), Some(value.clone()));
    })?;
    Ok(json!({}))
}

pub fn delete_model_version_tag(s: &Server, r: VersionTag) -> ApiResult<Value> {
    let (_, semver) = numbered(s, &r.name, &r.version)?;
    update_notes(s, &r.name, &semver, |n| {
        n.tags.insert(r.key.clone(), None);
    })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAlias {
    name: String,
    alias: String,
    #[serde(default)]
    version: Option<String>,
}

fn alias_name(alias: &str) -> ApiResult<AliasName> {
    let alias: AliasName = alias.parse()?;
    if alias.is_latest() {
        return Err(ApiError::invalid(
            "the alias 'latest' is reserved: the registry moves it to every new version",
        ));
    }
    Ok(alias)
}

pub fn set_alias(s: &Server, r: SetAlias) -> ApiResult<Value> {
    let alias = alias_name(&r.alias)?;
    let version = r
        .version
        .as_deref()
        .ok_or_else(|| ApiError::invalid("version is missing"))?;
    let (_, semver) = numbered(s, &r.name, version)?;
    let registry = model_handle(s, &r.name)?;
    // `promote` without a gate: what `registry promote` does, so the
    // deprecation check, the signature policy and the history apply.
    registry.promote(
        &alias,
        &semver,
        Expect::Anything,
        &registry_core::PromotionGate::default(),
    )?;
    Ok(json!({}))
}

pub fn delete_alias(s: &Server, r: SetAlias) -> ApiResult<Value> {
    let alias = alias_name(&r.alias)?;
    let registry = require(s, &r.name)?;
    match registry.delete_alias(&alias, Expect::Anything) {
        Ok(_) => Ok(json!({})),
        Err(e @ RegistryError::AliasNotFound { .. }) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

pub fn get_by_alias(s: &Server, r: SetAlias) -> ApiResult<Value> {
    let alias = alias_name(&r.alias)?;
    let registry = model_handle(s, &r.name)?;
    let record = registry.resolve(&alias)?;
    Ok(json!({"model_version": version_json(s, &r.name, &record.version.to_string())?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestVersions {
    name: String,
    #[serde(default, deserialize_with = "strings")]
    stages: Vec<String>,
}

/// MLflow's stages, which aliases replaced: `None` (or no stage) is the
/// highest-numbered version, `Production` and `Staging` what the alias of
/// that name (lower-cased) names, and a semver the version itself, so that
/// `models:/spam/1.0.2` loads it.
pub fn get_latest_versions(s: &Server, r: LatestVersions) -> ApiResult<Value> {
    let state = ModelState::load(s, &r.name)?;
    let stages = if r.stages.is_empty() {
        vec!["None".to_string()]
    } else {
        r.stages
    };
    let mut out = Vec::new();
    for stage in &stages {
        let found = if stage.eq_ignore_ascii_case("none") {
            state.rows.last()
        } else if let Ok(v) = stage.parse::<registry_core::ModelVersion>() {
            state.rows.iter().find(|(_, row)| row.version == v)
        } else {
            let alias: AliasName = stage.to_ascii_lowercase().parse()?;
            match state.registry.resolve(&alias) {
                Ok(record) => state.rows.iter().find(|(_, row)| row.version == record.version),
                Err(RegistryError::AliasNotFound { .. } | RegistryError::AliasDeleted { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some((n, row)) = found {
            out.push(state.view(*n, row).json());
        }
    }
    Ok(json!({"model_versions": out}))
}
