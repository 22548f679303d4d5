//! Integer version numbers, as MLflow names versions (`1`, `2`, ...), for
//! a model's semver versions: what `registry serve` answers MLflow clients
//! with, and what `models:/NAME/2` resolves through.
//!
//! A version gets its number the first time numbers are asked for after
//! it was saved: the next one after the highest ever given, versions
//! without one taking theirs in save order (timestamp, then version). The
//! numbers live in `version-numbers.json`, moved by compare-and-swap like
//! an alias, and only ever grow: a number once given is never changed,
//! and never given again, even after gc removed its version.

use super::CatalogRow;
use super::Registry;
use crate::error::{RegistryError, Result};
use crate::metadata::{FORMAT_VERSION, from_map, parse_versioned};
use crate::names::ModelVersion;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `version-numbers.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct NumbersDoc {
    format_version: u32,
    /// Number to version; a JSON object with decimal keys.
    numbers: BTreeMap<u64, ModelVersion>,
}

/// A model's version numbers, both ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionNumbers {
    by_number: BTreeMap<u64, ModelVersion>,
    by_version: BTreeMap<ModelVersion, u64>,
}

impl VersionNumbers {
    fn from_doc(doc: &NumbersDoc) -> VersionNumbers {
        VersionNumbers {
            by_version: doc.numbers.iter().map(|(n, v)| (v.clone(), *n)).collect(),
            by_number: doc.numbers.clone(),
        }
    }

    pub fn number(&self, version: &ModelVersion) -> Option<u64> {
        self.by_version.get(version).copied()
    }

    pub fn version(&self, number: u64) -> Option<&ModelVersion> {
        self.by_number.get(&number)
    }

    /// Every (number, version), lowest number first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &ModelVersion)> {
        self.by_number.iter().map(|(n, v)| (*n, v))
    }

    /// The highest number given (0: none yet).
    pub fn highest(&self) -> u64 {
        self.by_number.keys().next_back().copied().unwrap_or(0)
    }
}

/// The largest `version-numbers.json` read: ~30 bytes a version.
const MAX_NUMBERS_BYTES: u64 = crate::store::MAX_LARGE_POINTER_BYTES;

impl<S: Store> Registry<S> {
    /// The model's version numbers, giving one to every version that has
    /// none yet (`persist`: recorded, so that they never change; without,
    /// as a read-only server shows them: the numbers the next recording
    /// will give, unless a save lands first).
    pub fn version_numbers(&self, persist: bool) -> Result<VersionNumbers> {
        let rows: Vec<CatalogRow> = self.catalog()?.into_iter().filter_map(|e| e.ok()).collect();
        self.number_rows(&rows, persist)
    }

    /// [`Registry::version_numbers`] for the versions of `rows` (the
    /// caller's [`Registry::catalog`], read once for both).
    pub fn number_rows(&self, rows: &[CatalogRow], persist: bool) -> Result<VersionNumbers> {
        let key = self.keys.version_numbers();
        loop {
            let (current, mut doc) = self.read_numbers()?;
            let known = VersionNumbers::from_doc(&doc);
            let mut missing: Vec<_> = rows
                .iter()
                .filter(|row| known.number(&row.version).is_none())
                .map(|row| (row.timestamp, row.version.clone()))
                .collect();
            if missing.is_empty() {
                return Ok(known);
            }
            missing.sort();
            let mut next = known.highest();
            for (_, version) in missing {
                next += 1;
                doc.numbers.insert(next, version);
            }
            if !persist {
                return Ok(VersionNumbers::from_doc(&doc));
            }
            let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| RegistryError::Encode {
                version: "version-numbers.json".into(),
                reason: e.to_string(),
            })?;
            match self.store.swap_pointer(&key, current.as_ref().map(|p| &p.tag), &bytes) {
                Ok(_) => return Ok(VersionNumbers::from_doc(&doc)),
                // Another writer numbered meanwhile: start over from theirs.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The numbers as recorded, without numbering anything: the fast path
    /// of a look-up, which needs the whole catalog only for a version
    /// saved since the last numbering.
    pub fn recorded_numbers(&self) -> Result<VersionNumbers> {
        Ok(VersionNumbers::from_doc(&self.read_numbers()?.1))
    }

    fn read_numbers(&self) -> Result<(Option<crate::store::Pointer>, NumbersDoc)> {
        let key = self.keys.version_numbers();
        let current = self.store.read_pointer_limited(&key, MAX_NUMBERS_BYTES)?;
        let doc = self.parse_numbers(current.as_ref())?;
        Ok((current, doc))
    }

    fn parse_numbers(&self, pointer: Option<&crate::store::Pointer>) -> Result<NumbersDoc> {
        let Some(p) = pointer else {
            return Ok(NumbersDoc {
                format_version: FORMAT_VERSION,
                numbers: BTreeMap::new(),
            });
        };
        let location = self.store.location(&self.keys.version_numbers());
        // Straight into the document (a look-up's hot path); what does not
        // parse so, or is of a newer format, goes the checked way for its
        // message.
        match serde_json::from_slice::<NumbersDoc>(&p.bytes) {
            Ok(doc) if doc.format_version <= FORMAT_VERSION => Ok(doc),
            _ => from_map::<NumbersDoc>(parse_versioned(&p.bytes, &location)?, &location),
        }
    }

    /// The recorded numbers if they changed since `known` (the tag this
    /// returned before): `None` when unchanged, for a server that keeps
    /// them between requests.
    pub fn recorded_numbers_if_changed(
        &self,
        known: Option<&crate::store::PointerTag>,
    ) -> Result<Option<(Option<crate::store::PointerTag>, VersionNumbers)>> {
        let key = self.keys.version_numbers();
        // (Not read_pointer_if_changed: its default reads at most a
        // small pointer, and the numbers of 2,000 versions are larger.)
        let pointer = self.store.read_pointer_limited(&key, MAX_NUMBERS_BYTES)?;
        if let (Some(p), Some(k)) = (&pointer, known)
            && p.tag == *k
        {
            return Ok(None);
        }
        let doc = self.parse_numbers(pointer.as_ref())?;
        Ok(Some((pointer.map(|p| p.tag), VersionNumbers::from_doc(&doc))))
    }

    /// Gives `version` (just saved) the next number, unless it has one,
    /// without the catalog: a version registered through an API takes its
    /// number as it is saved. (Versions saved meanwhile without a number
    /// get theirs at the next [`Registry::version_numbers`].)
    pub fn number_saved(&self, version: &ModelVersion) -> Result<u64> {
        let key = self.keys.version_numbers();
        loop {
            let (current, mut doc) = self.read_numbers()?;
            if let Some((n, _)) = doc.numbers.iter().find(|(_, v)| *v == version) {
                return Ok(*n);
            }
            let next = doc.numbers.keys().next_back().copied().unwrap_or(0) + 1;
            doc.numbers.insert(next, version.clone());
            let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| RegistryError::Encode {
                version: "version-numbers.json".into(),
                reason: e.to_string(),
            })?;
            match self.store.swap_pointer(&key, current.as_ref().map(|p| &p.tag), &bytes) {
                Ok(_) => return Ok(next),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The number of `version`, numbering first if it has none yet.
    pub fn number_of(&self, version: &ModelVersion, persist: bool) -> Result<Option<u64>> {
        if let Some(n) = self.recorded_numbers()?.number(version) {
            return Ok(Some(n));
        }
        Ok(self.version_numbers(persist)?.number(version))
    }

    /// The version numbered `number`, with the numbers for the error.
    pub fn version_by_number(&self, number: u64, persist: bool) -> Result<ModelVersion> {
        if let Some(v) = self.recorded_numbers()?.version(number) {
            return Ok(v.clone());
        }
        let numbers = self.version_numbers(persist)?;
        numbers
            .version(number)
            .cloned()
            .ok_or_else(|| RegistryError::VersionNotFound {
                version: number.to_string(),
                root: self.location(),
                available: numbers.iter().map(|(n, v)| format!("{n} ({v})")).collect(),
            })
    }
}
