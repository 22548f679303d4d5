//! Validated version and alias names.
//!
//! Both become storage keys, so validation is also the registry's first
//! defence against path traversal: a value of these types can never contain
//! `/`, `..`, NUL or anything else that could lead outside the registry root.

use crate::error::{RegistryError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A model version: a semver version without build metadata.
///
/// Build metadata (`+build.5`) is rejected because semver gives
/// `1.0.0+a` and `1.0.0+b` the same precedence, which would make "the newest
/// version" ambiguous. Ordering is semver precedence, so pre-releases sort
/// before their release (`1.0.0-rc.1 < 1.0.0`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelVersion(semver::Version);

impl ModelVersion {
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        ModelVersion(semver::Version::new(major, minor, patch))
    }

    pub fn semver(&self) -> &semver::Version {
        &self.0
    }

    /// A pre-release (`2.0.0-rc.1`): never becomes `latest` by itself, as
    /// cargo never picks a pre-release unasked.
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// The version after this one for a `bump`, following npm's rules for
    /// pre-releases (`1.2.0-rc.1` bumped by patch is `1.2.0`).
    pub fn bumped(&self, bump: Bump) -> ModelVersion {
        let v = &self.0;
        let pre = !v.pre.is_empty();
        let next = match bump {
            Bump::Major if pre && v.minor == 0 && v.patch == 0 => semver::Version::new(v.major, 0, 0),
            Bump::Major => semver::Version::new(v.major + 1, 0, 0),
            Bump::Minor if pre && v.patch == 0 => semver::Version::new(v.major, v.minor, 0),
            Bump::Minor => semver::Version::new(v.major, v.minor + 1, 0),
            Bump::Patch if pre => semver::Version::new(v.major, v.minor, v.patch),
            Bump::Patch => semver::Version::new(v.major, v.minor, v.patch + 1),
        };
        ModelVersion(next)
    }
}

impl FromStr for ModelVersion {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: String| RegistryError::InvalidVersion {
            input: s.to_string(),
            reason,
        };
        if s.len() > 128 {
            return Err(invalid("longer than 128 characters".into()));
        }
        let v = semver::Version::parse(s).map_err(|e| invalid(e.to_string()))?;
        if !v.build.is_empty() {
            return Err(invalid(
                "build metadata (+...) is not allowed, since it does not order versions".into(),
            ));
        }
        Ok(ModelVersion(v))
    }
}

impl TryFrom<String> for ModelVersion {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ModelVersion> for String {
    fn from(v: ModelVersion) -> String {
        v.to_string()
    }
}

impl fmt::Display for ModelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which part of the version [`crate::Registry::next_version`] increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bump {
    Major,
    Minor,
    #[default]
    Patch,
}

impl FromStr for Bump {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "major" => Ok(Bump::Major),
            "minor" => Ok(Bump::Minor),
            "patch" => Ok(Bump::Patch),
            other => Err(format!("unknown bump {other:?}: use major, minor or patch")),
        }
    }
}

/// The version a save takes: exactly this one, or the next one after
/// bumping the highest existing version ([`crate::Registry::next_version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSlot {
    Exact(ModelVersion),
    Next(Bump),
}

impl VersionSlot {
    /// From what a caller gives: a version, or a bump (`major`, `minor`,
    /// `patch`; none: `patch`), not both.
    pub fn parse(version: Option<&str>, bump: Option<&str>) -> Result<VersionSlot> {
        match (version, bump) {
            (Some(_), Some(b)) => Err(RegistryError::InvalidOption {
                option: format!("bump={b:?}"),
                reason: "give a version or a bump, not both: a bump picks the version after the highest one".into(),
            }),
            (Some(v), None) => Ok(VersionSlot::Exact(v.parse()?)),
            (None, b) => {
                let b = b.unwrap_or("patch");
                b.parse()
                    .map(VersionSlot::Next)
                    .map_err(|reason| RegistryError::InvalidOption {
                        option: format!("bump={b:?}"),
                        reason,
                    })
            }
        }
    }
}

/// A named pointer to a version: `latest`, `production`, `staging`, ….
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AliasName(String);

impl AliasName {
    /// The alias the registry moves itself on every save.
    pub const LATEST: &'static str = "latest";

    pub fn latest() -> Self {
        AliasName(Self::LATEST.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_latest(&self) -> bool {
        self.0 == Self::LATEST
    }
}

impl FromStr for AliasName {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        check_name(s).map_err(|reason| RegistryError::InvalidAlias {
            input: s.to_string(),
            reason,
        })?;
        Ok(AliasName(s.to_string()))
    }
}

/// The rules alias and model names share: 1-64 characters, a lower-case
/// letter first, then lower-case letters, digits, `-` and `_`. Both become
/// storage keys and appear in `models:/NAME@ALIAS`, so neither may contain
/// `/`, `@`, `.` or anything a shell or a URL would need to quote.
fn check_name(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > 64 {
        return Err("it is longer than 64 characters".into());
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("it must start with a lower-case letter".into());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    {
        return Err(format!("character {c:?} is not allowed"));
    }
    Ok(())
}

impl TryFrom<String> for AliasName {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<AliasName> for String {
    fn from(a: AliasName) -> String {
        a.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of one of a registry's models (`sentiment`, `spam`): the same
/// rules as alias names. The registry's root holds the default model, named
/// [`ModelName::DEFAULT`]; a value of this type is never that name, so
/// "no name" and "default" cannot mean two different places.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelName(String);

impl ModelName {
    /// How the default model (the registry's root) is named on the command
    /// line and in `models:/default@production`.
    pub const DEFAULT: &'static str = "default";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `None` for [`ModelName::DEFAULT`], else the named model.
    pub fn parse_optional(s: &str) -> Result<Option<ModelName>> {
        if s == Self::DEFAULT {
            return Ok(None);
        }
        s.parse().map(Some)
    }
}

impl FromStr for ModelName {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: String| RegistryError::InvalidModelName {
            input: s.to_string(),
            reason,
        };
        check_name(s).map_err(invalid)?;
        if s == Self::DEFAULT {
            return Err(invalid(format!(
                "{:?} names the registry's default model, not a named one",
                Self::DEFAULT
            )));
        }
        Ok(ModelName(s.to_string()))
    }
}

impl TryFrom<String> for ModelName {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ModelName> for String {
    fn from(m: ModelName) -> String {
        m.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
