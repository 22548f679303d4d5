//! How the registry's versions look to an MLflow client: a model version
//! numbered as MLflow numbers them (registry-core's version numbers), with
//! the notes (description, tags) MLflow lets a client change on a version
//! the registry keeps immutable.

use crate::Server;
use crate::error::{ApiError, ApiResult};
use crate::records::{PREFIX, now_ms};
use registry_core::{CatalogRow, ModelName, ModelVersion};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tags this server records in a version's metadata for MLflow's own
/// fields, not shown among its tags.
pub const RUN_TAG: &str = "mlflow.run_id";
pub const SOURCE_TAG: &str = "mlflow.source";
pub const MODEL_ID_TAG: &str = "mlflow.model_id";
const OWN_TAGS: [&str; 3] = [RUN_TAG, SOURCE_TAG, MODEL_ID_TAG];

/// What MLflow clients changed on a version: its description and tags
/// (`None`: a tag of the metadata removed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VersionNotes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, Option<String>>,
    pub last_updated: i64,
}

/// The notes of every version of a model, by semver (one record).
pub type ModelNotes = BTreeMap<String, VersionNotes>;

pub fn notes_key(model: &str) -> String {
    format!("{PREFIX}version-notes/{model}")
}

/// A model's handle, by its MLflow name (`default`: the default model).
pub fn model_handle(s: &Server, name: &str) -> ApiResult<registry_open::AnyRegistry> {
    if name.is_empty() {
        return Err(ApiError::invalid("the registered model's name is missing"));
    }
    let model = ModelName::parse_optional(name)?;
    Ok(s.registry.with_model(model))
}

/// What a version answer is made of.
pub struct VersionView<'a> {
    pub name: &'a str,
    pub number: u64,
    pub row: &'a CatalogRow,
    pub description: Option<&'a str>,
    pub notes: Option<&'a VersionNotes>,
    pub aliases: Vec<String>,
    pub user: Option<&'a str>,
}

/// A model version as MLflow's JSON has it (typed: a search of thousands
/// serializes straight into the response).
#[derive(Debug, Clone, Serialize)]
pub struct VersionOut {
    pub name: String,
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub user_id: String,
    pub current_stage: &'static str,
    pub description: String,
    pub source: String,
    pub run_id: String,
    pub status: &'static str,
    pub tags: Vec<TagOut>,
    pub run_link: &'static str,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagOut {
    pub key: String,
    pub value: String,
}

impl VersionOut {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

impl VersionView<'_> {
    pub fn out(&self) -> VersionOut {
        let mut tags: BTreeMap<&str, &str> = self
            .row
            .tags
            .iter()
            .filter(|(k, _)| !OWN_TAGS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(notes) = self.notes {
            for (k, v) in &notes.tags {
                match v {
                    Some(v) => tags.insert(k, v),
                    None => tags.remove(k.as_str()),
                };
            }
        }
        let created = ms(self.row.timestamp);
        let description = self
            .notes
            .and_then(|n| n.description.as_deref())
            .or(self.description)
            .unwrap_or("");
        VersionOut {
            name: self.name.to_string(),
            version: self.number.to_string(),
            creation_timestamp: created,
            last_updated_timestamp: self.notes.map_or(created, |n| n.last_updated.max(created)),
            user_id: self.user.unwrap_or("").to_string(),
            current_stage: "None",
            description: description.to_string(),
            source: self
                .row
                .tags
                .get(SOURCE_TAG)
                .cloned()
                .unwrap_or_else(|| download_uri(self.name, &self.row.version)),
            run_id: self.row.tags.get(RUN_TAG).cloned().unwrap_or_default(),
            status: "READY",
            tags: tags
                .iter()
                .map(|(k, v)| TagOut {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            run_link: "",
            aliases: self.aliases.clone(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::to_value(self.out()).unwrap_or(Value::Null)
    }
}

pub fn ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Where a client downloads a version's files from.
pub fn download_uri(model: &str, version: &ModelVersion) -> String {
    format!("mlflow-artifacts:/registry/{model}/{version}")
}

/// The version an MLflow version string names: its number (`2`), or a
/// semver (`1.0.2`, for versions the registry named itself), and its number.
pub fn resolve_version(
    s: &Server,
    registry: &registry_open::AnyRegistry,
    name: &str,
    version: &str,
) -> ApiResult<(u64, ModelVersion)> {
    let persist = !s.options.read_only;
    let missing =
        |v: &dyn std::fmt::Display| ApiError::not_found(format!("Model Version (name={name}, version={v}) not found"));
    let recorded = s.recorded_numbers(name, registry)?;
    if let Ok(n) = version.trim().parse::<u64>() {
        if let Some(v) = recorded.version(n) {
            return Ok((n, v.clone()));
        }
        return match registry.version_by_number(n, persist) {
            Ok(v) => Ok((n, v)),
            Err(registry_core::RegistryError::VersionNotFound { .. }) => Err(missing(&n)),
            Err(e) => Err(e.into()),
        };
    }
    let semver: ModelVersion = version.parse().map_err(|_| {
        ApiError::invalid(format!(
            "version {version:?} is neither a version number (1, 2, ...) nor a semver version (1.0.2)"
        ))
    })?;
    if let Some(n) = recorded.number(&semver) {
        return Ok((n, semver));
    }
    match registry.number_of(&semver, persist)? {
        Some(n) => Ok((n, semver)),
        None => Err(missing(&semver)),
    }
}

/// The aliases naming each version (not `latest`, which MLflow reserves).
pub fn aliases_by_version(registry: &registry_open::AnyRegistry) -> ApiResult<BTreeMap<ModelVersion, Vec<String>>> {
    let mut out: BTreeMap<ModelVersion, Vec<String>> = BTreeMap::new();
    for record in registry.list_aliases()? {
        if !record.alias.is_latest() {
            out.entry(record.version.clone())
                .or_default()
                .push(record.alias.to_string());
        }
    }
    Ok(out)
}

/// Updates a version's notes by compare-and-swap.
pub fn update_notes(
    s: &Server,
    model: &str,
    version: &ModelVersion,
    change: impl Fn(&mut VersionNotes),
) -> ApiResult<()> {
    let key = notes_key(model);
    s.records().upsert(&key, ModelNotes::new, |all| {
        let notes = all.entry(version.to_string()).or_default();
        change(notes);
        notes.last_updated = now_ms();
        Ok(())
    })?;
    Ok(())
}
