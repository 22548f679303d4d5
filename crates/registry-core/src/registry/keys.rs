//! The registry's on-disk keys. Each key is built by exactly one function
//! here, so the layout FORMAT.md specifies is written down once in code.
//!
//! A registry holds one default model at its root (the seed's layout:
//! `versions/`, `aliases/`, `history/`, `latest/`) and any number of named
//! models, each with the same layout under `models/<name>/`. [`Keys`] is the
//! layout of one model: the same functions with the model's prefix.

use crate::names::{AliasName, ModelName, ModelVersion};

/// The states a version can be put in and taken out of, each a pointer
/// per version with a history (version_state.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateKind {
    Deprecation,
    Deletion,
}

impl StateKind {
    const fn dir(self) -> &'static str {
        match self {
            StateKind::Deprecation => "deprecations",
            StateKind::Deletion => "deletions",
        }
    }
}

/// The format marker at the registry's root (one per registry, shared by
/// all its models).
pub(crate) const MARKER: &str = "registry.json";
/// The registry's event log (events.rs): one for all its models.
pub(crate) const EVENTS: &str = "events/";
/// The log's head hint: the last id known to be taken.
pub(crate) const EVENTS_HEAD: &str = "events-head.json";
/// Markers of events `verify --repair` appended for records without one.
pub(crate) const EVENTS_BACKFILL: &str = "events-backfill/";
/// Named models live under this prefix.
pub(crate) const MODELS: &str = "models/";
pub(crate) use crate::metadata::METADATA_FILE;

/// The largest `metadata.json` the registry reads: the trainer's is ~2 KB;
/// a megabyte leaves room for any other tool's metrics and notes (and the
/// file list of a directory of a few thousand files), and keeps a hostile
/// 100 MB file from costing every `list` hundreds of megabytes.
pub(crate) const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// The largest history entry or `registry.json`: a few hundred bytes each.
pub(crate) const MAX_SMALL_DOCUMENT_BYTES: u64 = crate::store::MAX_POINTER_BYTES;

/// The keys of one model of the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Keys {
    /// `""` for the default model, `models/<name>/` for a named one.
    prefix: String,
}

impl Keys {
    pub(crate) fn for_model(model: Option<&ModelName>) -> Keys {
        Keys {
            prefix: model.map(|m| format!("{MODELS}{m}/")).unwrap_or_default(),
        }
    }

    /// `versions/`: every version lives under this prefix.
    pub(crate) fn versions(&self) -> String {
        format!("{}versions/", self.prefix)
    }

    /// `aliases/`: alias pointers live under this prefix.
    pub(crate) fn aliases(&self) -> String {
        format!("{}aliases/", self.prefix)
    }

    /// `history/`: alias histories live under this prefix.
    pub(crate) fn history_root(&self) -> String {
        format!("{}history/", self.prefix)
    }

    /// `versions/<v>/`: the prefix of every file of version `v`.
    pub(crate) fn version_prefix(&self, v: &ModelVersion) -> String {
        format!("{}versions/{v}/", self.prefix)
    }

    /// `versions/<v>`: the version's directory as a view target.
    pub(crate) fn version_dir(&self, v: &ModelVersion) -> String {
        format!("{}versions/{v}", self.prefix)
    }

    /// `versions/<v>/metadata.json`.
    pub(crate) fn metadata(&self, v: &ModelVersion) -> String {
        format!("{}versions/{v}/{METADATA_FILE}", self.prefix)
    }

    /// The version whose `metadata.json` `key` is, if it is one.
    pub(crate) fn metadata_of(&self, key: &str) -> Option<ModelVersion> {
        key.strip_prefix(&self.versions())?
            .strip_suffix(&format!("/{METADATA_FILE}"))?
            .parse()
            .ok()
    }

    /// `versions/<v>/<file>`: one of the version's files (`file` may
    /// contain `/`: a registered directory keeps its structure).
    pub(crate) fn version_file(&self, v: &ModelVersion, file: &str) -> String {
        format!("{}versions/{v}/{file}", self.prefix)
    }

    /// `latest`: the view (a symbolic link in a local registry) mirroring
    /// what the `latest` alias names.
    pub(crate) fn latest_view(&self) -> String {
        format!("{}{}", self.prefix, AliasName::LATEST)
    }

    /// `aliases/<alias>.json`.
    pub(crate) fn alias(&self, a: &AliasName) -> String {
        format!("{}aliases/{a}.json", self.prefix)
    }

    /// The alias a pointer key names, if it is a well-formed pointer key.
    pub(crate) fn alias_of(&self, key: &str) -> Option<AliasName> {
        key.strip_prefix(&self.aliases())?.strip_suffix(".json")?.parse().ok()
    }

    /// `catalog.json`: the derived summary of every version (see catalog.rs).
    pub(crate) fn catalog(&self) -> String {
        format!("{}catalog.json", self.prefix)
    }

    /// `catalog.d/`: the catalog's segments, one row each (see catalog.rs).
    pub(crate) fn catalog_segments(&self) -> String {
        format!("{}catalog.d/", self.prefix)
    }

    /// `catalog.d/<v>.json`: the segment a save of `v` writes.
    pub(crate) fn catalog_segment(&self, v: &ModelVersion) -> String {
        format!("{}catalog.d/{v}.json", self.prefix)
    }

    /// `policy.json`: the model's signature policy (see signatures.rs).
    pub(crate) fn policy(&self) -> String {
        format!("{}policy.json", self.prefix)
    }

    /// `version-numbers.json`: the model's integer version numbers (numbers.rs).
    pub(crate) fn version_numbers(&self) -> String {
        format!("{}version-numbers.json", self.prefix)
    }

    /// `retention.json`: the model's retention policy (see retain.rs).
    pub(crate) fn retention(&self) -> String {
        format!("{}retention.json", self.prefix)
    }

    /// `deprecations/` or `deletions/`: the state pointers of that kind,
    /// one per version whose state ever changed.
    pub(crate) fn states(&self, kind: StateKind) -> String {
        format!("{}{}/", self.prefix, kind.dir())
    }

    /// `deprecations/<v>.json` (or `deletions/`): version `v`'s state now.
    pub(crate) fn state(&self, kind: StateKind, v: &ModelVersion) -> String {
        format!("{}{}/{v}.json", self.prefix, kind.dir())
    }

    /// The version a state pointer key names, if it is one.
    pub(crate) fn state_of(&self, kind: StateKind, key: &str) -> Option<ModelVersion> {
        key.strip_prefix(&self.states(kind))?
            .strip_suffix(".json")?
            .parse()
            .ok()
    }

    /// `deprecations-history/` (or `deletions-history/`): every state of
    /// every version's pointer of that kind.
    pub(crate) fn state_history_root(&self, kind: StateKind) -> String {
        format!("{}{}-history/", self.prefix, kind.dir())
    }

    /// The version and seq a state history key names, if it is one.
    pub(crate) fn state_history_of(&self, kind: StateKind, key: &str) -> Option<(ModelVersion, u64)> {
        let (v, seq) = key.strip_prefix(&self.state_history_root(kind))?.split_once('/')?;
        Some((v.parse().ok()?, seq.strip_suffix(".json")?.parse().ok()?))
    }

    /// The alias and seq a history key names, if it is one.
    pub(crate) fn history_of(&self, key: &str) -> Option<(AliasName, u64)> {
        let (a, seq) = key.strip_prefix(&self.history_root())?.split_once('/')?;
        Some((a.parse().ok()?, seq.strip_suffix(".json")?.parse().ok()?))
    }

    /// `deprecations-history/<v>/` (or `deletions-history/`): the prefix
    /// of every state that pointer has had.
    pub(crate) fn state_history_prefix(&self, kind: StateKind, v: &ModelVersion) -> String {
        format!("{}{}-history/{v}/", self.prefix, kind.dir())
    }

    /// `deprecations-history/<v>/<seq>.json`: one state of that pointer.
    pub(crate) fn state_history(&self, kind: StateKind, v: &ModelVersion, seq: u64) -> String {
        format!("{}{seq:010}.json", self.state_history_prefix(kind, v))
    }

    /// `pins/`: every version's pins (pins.rs).
    pub(crate) fn pins_root(&self) -> String {
        format!("{}pins/", self.prefix)
    }

    /// `pins/<v>/`: the pins on version `v`.
    pub(crate) fn pins(&self, v: &ModelVersion) -> String {
        format!("{}pins/{v}/", self.prefix)
    }

    /// `pins/<v>/<id>.json`: one mover's pin on `v`.
    pub(crate) fn pin(&self, v: &ModelVersion, id: &str) -> String {
        format!("{}pins/{v}/{id}.json", self.prefix)
    }

    /// `history/<alias>/`: the prefix of every recorded state of an alias.
    pub(crate) fn history_prefix(&self, a: &AliasName) -> String {
        format!("{}history/{a}/", self.prefix)
    }

    /// `history/<alias>/<seq>.json`, zero-padded so keys sort by sequence.
    pub(crate) fn history(&self, a: &AliasName, seq: u64) -> String {
        format!("{}history/{a}/{seq:010}.json", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_documented_layout() {
        let v: ModelVersion = "1.2.3".parse().unwrap();
        let a: AliasName = "production".parse().unwrap();
        let k = Keys::for_model(None);
        assert_eq!(k.version_prefix(&v), "versions/1.2.3/");
        assert_eq!(k.version_dir(&v), "versions/1.2.3");
        assert_eq!(k.metadata(&v), "versions/1.2.3/metadata.json");
        assert_eq!(k.version_file(&v, "model.bin"), "versions/1.2.3/model.bin");
        assert_eq!(k.alias(&a), "aliases/production.json");
        assert_eq!(k.alias_of("aliases/production.json"), Some(a.clone()));
        assert_eq!(k.alias_of("aliases/Bad Name.json"), None);
        assert_eq!(k.history(&a, 7), "history/production/0000000007.json");
        assert_eq!(k.history_prefix(&a), "history/production/");
        assert_eq!(k.latest_view(), "latest");
        assert_eq!(k.state(StateKind::Deprecation, &v), "deprecations/1.2.3.json");
        assert_eq!(k.state(StateKind::Deletion, &v), "deletions/1.2.3.json");
        assert_eq!(k.state_of(StateKind::Deletion, "deletions/1.2.3.json"), Some(v.clone()));
        assert_eq!(k.pin(&v, "h-1-2"), "pins/1.2.3/h-1-2.json");
        assert_eq!(k.pins(&v), "pins/1.2.3/");
        assert_eq!(
            k.state_history_of(StateKind::Deletion, "deletions-history/1.2.3/0000000002.json"),
            Some((v.clone(), 2))
        );
        assert_eq!(k.history_of("history/production/0000000007.json"), Some((a.clone(), 7)));
        assert_eq!(k.history_of("history/production/x.json"), None);
        assert_eq!(k.metadata_of("versions/1.2.3/metadata.json"), Some(v.clone()));
        assert_eq!(k.metadata_of("versions/1.2.3/model.bin"), None);
        assert_eq!(k.state_of(StateKind::Deletion, "deprecations/1.2.3.json"), None);
        assert_eq!(
            k.state_history(StateKind::Deletion, &v, 2),
            "deletions-history/1.2.3/0000000002.json"
        );
    }

    #[test]
    fn named_models_live_under_models() {
        let v: ModelVersion = "1.2.3".parse().unwrap();
        let a: AliasName = "production".parse().unwrap();
        let spam: ModelName = "spam".parse().unwrap();
        let k = Keys::for_model(Some(&spam));
        assert_eq!(k.metadata(&v), "models/spam/versions/1.2.3/metadata.json");
        assert_eq!(k.alias(&a), "models/spam/aliases/production.json");
        assert_eq!(k.alias_of("models/spam/aliases/production.json"), Some(a.clone()));
        assert_eq!(k.alias_of("aliases/production.json"), None);
        assert_eq!(k.history(&a, 1), "models/spam/history/production/0000000001.json");
        assert_eq!(k.latest_view(), "models/spam/latest");
    }
}
