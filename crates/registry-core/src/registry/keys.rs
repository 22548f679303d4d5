//! The registry's on-disk keys. Each key is built by exactly one function
//! here, so the layout FORMAT.md specifies is written down once in code.

use crate::names::{AliasName, ModelVersion};

/// The format marker at the registry's root.
pub(crate) const MARKER: &str = "registry.json";
/// Every version lives under this prefix.
pub(crate) const VERSIONS: &str = "versions/";
/// Alias pointers live under this prefix.
pub(crate) const ALIASES: &str = "aliases/";
/// Alias histories live under this prefix.
pub(crate) const HISTORY: &str = "history/";
/// A version's metadata file, its commit point.
pub(crate) const METADATA_FILE: &str = "metadata.json";

/// The largest `metadata.json` the registry reads: the trainer's is ~2 KB;
/// a megabyte leaves room for any other tool's metrics and notes, and keeps
/// a hostile 100 MB file from costing every `list` hundreds of megabytes.
pub(crate) const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// The largest history entry or `registry.json`: a few hundred bytes each.
pub(crate) const MAX_SMALL_DOCUMENT_BYTES: u64 = crate::store::MAX_POINTER_BYTES;

/// `versions/<v>/`: the prefix of every file of version `v`.
pub(crate) fn version_prefix(v: &ModelVersion) -> String {
    format!("{VERSIONS}{v}/")
}

/// `versions/<v>`: the version's directory as a view target.
pub(crate) fn version_dir(v: &ModelVersion) -> String {
    format!("{VERSIONS}{v}")
}

/// `versions/<v>/metadata.json`.
pub(crate) fn metadata(v: &ModelVersion) -> String {
    format!("{VERSIONS}{v}/{METADATA_FILE}")
}

/// `versions/<v>/<file>`: one of the version's model files.
pub(crate) fn version_file(v: &ModelVersion, file: &str) -> String {
    format!("{VERSIONS}{v}/{file}")
}

/// `aliases/<alias>.json`.
pub(crate) fn alias(a: &AliasName) -> String {
    format!("{ALIASES}{a}.json")
}

/// The alias a pointer key names, if it is a well-formed pointer key.
pub(crate) fn alias_of(key: &str) -> Option<AliasName> {
    key.strip_prefix(ALIASES)?.strip_suffix(".json")?.parse().ok()
}

/// `history/<alias>/`: the prefix of every recorded state of an alias.
pub(crate) fn history_prefix(a: &AliasName) -> String {
    format!("{HISTORY}{a}/")
}

/// `history/<alias>/<seq>.json`, zero-padded so keys sort by sequence.
pub(crate) fn history(a: &AliasName, seq: u64) -> String {
    format!("{HISTORY}{a}/{seq:010}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_documented_layout() {
        let v: ModelVersion = "1.2.3".parse().unwrap();
        let a: AliasName = "production".parse().unwrap();
        assert_eq!(version_prefix(&v), "versions/1.2.3/");
        assert_eq!(version_dir(&v), "versions/1.2.3");
        assert_eq!(metadata(&v), "versions/1.2.3/metadata.json");
        assert_eq!(version_file(&v, "model.bin"), "versions/1.2.3/model.bin");
        assert_eq!(alias(&a), "aliases/production.json");
        assert_eq!(alias_of("aliases/production.json"), Some(a.clone()));
        assert_eq!(alias_of("aliases/Bad Name.json"), None);
        assert_eq!(history(&a, 7), "history/production/0000000007.json");
        assert_eq!(history_prefix(&a), "history/production/");
    }
}
