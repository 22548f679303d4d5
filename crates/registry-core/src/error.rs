//! The registry's one error type. Every message names the thing, the place
//! and what to do about it; callers match on the variants.

use crate::store::StoreError;

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid version {input:?}: {reason} (versions are semver, like 1.2.0 or 2.0.0-rc.1)")]
    InvalidVersion { input: String, reason: String },

    #[error(
        "invalid alias name {input:?}: {reason} (aliases are 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter, like production)"
    )]
    InvalidAlias { input: String, reason: String },

    #[error(
        "invalid model name {input:?}: {reason} (model names follow the alias rules: 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter, like spam; \"default\" is the registry's default model)"
    )]
    InvalidModelName { input: String, reason: String },

    #[error(
        "no model named {model:?} in {root} (models: {}; a model is created by its first save, e.g. `registry add FILE --model {model}`)",
        list_or_none(available)
    )]
    ModelNotFound {
        model: String,
        root: String,
        available: Vec<String>,
    },

    #[error(
        "invalid model URI {input:?}: {reason} (write models:/NAME@ALIAS or models:/NAME/VERSION, e.g. models:/spam@production)"
    )]
    InvalidUri { input: String, reason: String },

    #[error(
        "version {version} holds registered files ({}), not a model this program decodes; fetch them with `registry get {version} --out PATH`",
        files.join(", ")
    )]
    NoArtifact { version: String, files: Vec<String> },

    #[error("version {version} has no file {path:?} (its files: {})", list_or_none(available))]
    FileNotFound {
        version: String,
        path: String,
        available: Vec<String>,
    },

    #[error("{path} already exists; nothing was written (choose another --out, or pass --force to replace it)")]
    OutputExists { path: String },

    #[error("{option}: {reason}")]
    InvalidOption { option: String, reason: String },

    #[error(
        "version {version} of model {model} holds {held}, but this program runs {expected} models; fetch its files with `registry get models:/{model}/{version} --out PATH`, or pick a version trained by this build's `trainer`"
    )]
    WrongModelType {
        version: String,
        model: String,
        held: String,
        expected: String,
    },

    #[error("not writing {path}: {reason}")]
    OutputRefused { path: String, reason: String },

    #[error("cannot register {location}: {reason}")]
    InvalidFiles { location: String, reason: String },

    #[error(
        "alias {alias:?} is managed by the registry (it always names the newest version) and cannot be set by hand; promote to another alias such as production"
    )]
    ReservedAlias { alias: String },

    #[error("version {version} already exists in {location} (versions are immutable; pick a new version or use --bump){}",
        if *complete { "" } else { "; its save has not finished: it is in progress elsewhere, or was interrupted (then `registry verify --repair` removes it)" })]
    VersionExists {
        version: String,
        location: String,
        complete: bool,
    },

    #[error(
        "version {version} was saved and is complete, but `latest` could not be moved to it: {source} (`registry verify --repair` moves it once the cause is fixed; the next save moves it too)"
    )]
    LatestNotMoved {
        version: String,
        #[source]
        source: Box<RegistryError>,
    },

    #[error(
        "version {version} was committed, but its model file {location} is no longer the one this save wrote ({reason}); someone removed or replaced it meanwhile (a `verify --repair --older-than` shorter than a save takes?). The version is damaged: `registry verify` reports it; save again under a new version"
    )]
    CommitLost {
        version: String,
        location: String,
        reason: String,
    },

    #[error("version {version} not found in {root} (available: {})", list_or_none(available))]
    VersionNotFound {
        version: String,
        root: String,
        available: Vec<String>,
    },

    #[error(
        "alias {alias:?} not found in {root} (existing aliases: {}; create it with `registry promote VERSION --to {alias}`)",
        list_or_none(available)
    )]
    AliasNotFound {
        alias: String,
        root: String,
        available: Vec<String>,
    },

    #[error(
        "alias {alias:?} was deleted (at {at} by {by}; it named {version}); `registry rollback {alias}` restores it, `registry promote VERSION --to {alias}` sets it anew"
    )]
    AliasDeleted {
        alias: String,
        version: String,
        by: String,
        at: String,
    },

    #[error(
        "no registry at {location}: nothing was ever saved there (no registry.json, no versions/); check --registry or MODELREG_DIR (a registry is created by its first save: `trainer`, `registry copy`)"
    )]
    NoRegistry { location: String },

    #[error(
        "registry {root} has only pre-release versions ({}), and latest names the newest release; ask for one with its version or an alias (e.g. `predictor --version {}`), or save a release",
        versions.join(", "), versions.last().map(String::as_str).unwrap_or("")
    )]
    OnlyPreReleases { root: String, versions: Vec<String> },

    #[error("registry {root} has no model versions yet; save (train) one first")]
    Empty { root: String },

    #[error(
        "alias {alias:?} was moved by someone else: expected it to point to {}, but it points to {}; nothing was changed (check `registry history {alias}` and retry)",
        expected.as_deref().unwrap_or("nothing"), actual.as_deref().unwrap_or("nothing"))]
    AliasConflict {
        alias: String,
        expected: Option<String>,
        actual: Option<String>,
    },

    #[error("{input:?} is neither a version nor an alias:\n  {version_error}\n  {alias_error}")]
    InvalidTarget {
        input: String,
        version_error: String,
        alias_error: String,
    },

    #[error("invalid metric {input:?}: {reason} (for example test_score, f1:max or rmse:min)")]
    InvalidMetric { input: String, reason: String },

    #[error("not promoting {version} to {alias}: {reason} (alias unchanged)")]
    PromotionRefused {
        alias: String,
        version: String,
        reason: String,
    },

    #[error(
        "{version} is not an earlier target of alias {alias:?} (it points to {current}; earlier targets: {}; see `registry history {alias}`)",
        list_or_none(earlier)
    )]
    NotAnEarlierTarget {
        alias: String,
        version: String,
        current: String,
        earlier: Vec<String>,
    },

    #[error("alias {alias:?} has no earlier target to roll back to (see `registry history {alias}`)")]
    NothingToRollBack { alias: String },

    #[error(
        "version {version} was deleted on {at} by {by}{}; {restore}",
        reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    VersionDeleted {
        version: String,
        at: String,
        by: String,
        reason: Option<String>,
        /// How to restore it, or why it cannot be.
        restore: String,
    },

    #[error(
        "version {version} cannot be saved: it was deleted and `registry gc` removed its files on {at}, and a version number is never reused (a reader pinned to {version} must never get other bytes); save it as another version (without --version, the next free one)"
    )]
    VersionCollected { version: String, at: String },

    #[error("version {version} cannot be deleted: {alias} names it; {how}, then delete it")]
    VersionInUse {
        version: String,
        alias: String,
        how: String,
    },

    #[error(
        "the {hook} hook refused to {change}: {reason}; nothing was changed{}",
        if output.trim().is_empty() { String::new() } else { format!("; it said:\n{}", output.trim_end()) }
    )]
    HookRefused {
        hook: String,
        /// What it refused: "promote version 1.0.1".
        change: String,
        reason: String,
        output: String,
    },

    #[error("version {version} is not deleted: nothing to undelete")]
    NotDeleted { version: String },

    #[error(
        "integrity check failed for {location}: expected {what} {expected}, found {actual}; the file was changed or damaged after it was saved (restore it from a backup, or save a new version)"
    )]
    IntegrityMismatch {
        location: String,
        what: &'static str,
        expected: String,
        actual: String,
    },

    #[error("{location} is not valid registry metadata: {reason}")]
    InvalidMetadata { location: String, reason: String },

    #[error(
        "{location} has format_version {found}, but this build reads at most {supported}; upgrade modelreg to read it"
    )]
    UnsupportedFormat {
        location: String,
        found: u32,
        supported: u32,
    },

    #[error(
        "version {version} claims to be a {model_type} model, but it is not a valid one: {reason} (its digests match, so it was sealed like this: do not promote or serve it; save a new version)"
    )]
    InvalidModel {
        version: String,
        model_type: String,
        reason: String,
    },

    #[error(
        "version {version} is refused: {reason} ({location}); only versions signed by a trusted key (--trusted-key, MODELREG_TRUSTED_KEYS) are loaded or promoted"
    )]
    SignatureRefused {
        version: String,
        location: String,
        reason: String,
    },

    #[error("version {version} is already signed ({location}); a version is signed once")]
    AlreadySigned { version: String, location: String },

    #[error(
        "alias {alias} may only name signed versions (the policy in {location}), but no trusted key is configured: give --trusted-key PUB.pem or set MODELREG_TRUSTED_KEYS"
    )]
    SignatureRequired { alias: String, location: String },

    #[error("could not encode the model for version {version}: {reason}")]
    Encode { version: String, reason: String },

    #[error(
        "could not decode the model in {location} as the requested type: {reason} (was it saved by a different model type or format?)"
    )]
    Decode { location: String, reason: String },

    #[error(transparent)]
    Store(#[from] StoreError),
}
