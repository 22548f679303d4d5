//! `gc`: removes the files of versions deleted longer ago than a grace
//! period, and what killed writers left (their temporary files, saves
//! without metadata and unfinished uploads older than an hour, the pins of
//! killed movers).
//!
//! Safe beside everything, like `repair`. A version is collected in three
//! steps, each a compare-and-swap of its deletion record, so an undelete,
//! a promotion or another gc racing it either wins before it or loses:
//! 1. claim: the record gains `collection: collecting` (from then on it
//!    cannot be undeleted, and every mover refuses it);
//! 2. look: no pin (pins.rs) and no alias names it, and the record is
//!    still the claim; otherwise the claim is taken back and it is kept;
//! 3. remove `metadata.json` first (so no reader finds half a version:
//!    from that instant it is "deleted, files removed"), then the rest,
//!    and record `collected` with the bytes freed.
//!
//! A gc killed after 1. leaves a claim the next gc finishes (after the same
//! look). The record stays for good: the number is never reused
//! (write.rs), `verify` knows the version is gone on purpose, and loads
//! say when gc removed it.
//!
//! A version is deleted only while no alias names it (delete.rs), and an
//! alias moved to it after that undoes the deletion; so a deletion older
//! than the grace period means no alias has named it for that long.

use super::Registry;
use super::delete::{Collection, CollectionState, DeletionRecord};
use super::repair::DEFAULT_GRACE;
use super::retain::RetentionOutcome;
use super::version_state::next_seq;
use crate::error::{RegistryError, Result};
use crate::names::ModelVersion;
use crate::store::{PointerTag, Store, StoreError};
use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a deleted version stays restorable unless told otherwise.
pub const DEFAULT_GC_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often one version's claim is retried against others changing its
/// record at once before it is left to the next gc.
const CLAIM_RETRIES: usize = 8;

/// What [`Registry::gc`] removed (or, with `dry_run`, would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// Deleted versions whose files were removed.
    pub collected: Vec<CollectedVersion>,
    /// Deleted versions kept, and why.
    pub kept: Vec<KeptVersion>,
    /// What killed writers left: temporary files, saves without metadata,
    /// pins of movers that are gone.
    pub leftovers_removed: Vec<String>,
    /// Unfinished uploads (S3 multipart) of killed saves, aborted.
    pub uploads_aborted: Vec<String>,
    /// The bytes of the collected versions' files.
    pub bytes_freed: u64,
    /// The model's retention policy (retention.json), applied first: what
    /// it deleted (collected once past the grace period like any other).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CollectedVersion {
    pub version: ModelVersion,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeptVersion {
    pub version: ModelVersion,
    pub reason: String,
}

/// How one version's collection ended.
enum Outcome {
    Collected {
        files: usize,
        bytes: u64,
    },
    Kept(String),
    /// Undeleted, or collected by another gc, meanwhile.
    Changed,
}

/// `d` as the user would write it back (90s, 30m, 7d).
pub(super) fn exact(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s >= 86400 && s.is_multiple_of(86400) => format!("{}d", s / 86400),
        _ if s >= 3600 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s >= 60 && s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// `d` in its largest whole unit (an age: 2h, not 7384s).
pub(super) fn about(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        86400.. => format!("{}d", s / 86400),
        3600.. => format!("{}h", s / 3600),
        60.. => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

impl<S: Store> Registry<S> {
    /// Applies the model's retention policy if it has one (retain.rs),
    /// then removes the files of versions deleted at least `older_than` ago
    /// (see the module docs), and what killed writers left that is older
    /// than [`DEFAULT_GRACE`]. With `dry_run`, only reports what it would
    /// delete and remove of the versions.
    pub fn gc(&self, older_than: Duration, dry_run: bool) -> Result<GcReport> {
        let mut report = GcReport {
            dry_run,
            ..GcReport::default()
        };
        if let Some(stored) = self.retention_policy()? {
            report.retention = Some(self.retain(&stored.policy, dry_run)?);
        }
        let now = OffsetDateTime::now_utc();
        for (version, record) in self.deleted_versions()? {
            match record.collection.as_ref().map(|c| c.state) {
                Some(CollectionState::Collected) => continue,
                // A killed gc's claim: finished (after the same look).
                Some(CollectionState::Collecting) => {}
                None => {
                    // A clock behind the deleter's counts as "just now".
                    let age = Duration::try_from(now - record.at).unwrap_or_default();
                    if age < older_than {
                        report.kept.push(KeptVersion {
                            version,
                            reason: format!(
                                "deleted {} ago, within the grace period of {} (`registry undelete` can still restore it)",
                                about(age),
                                exact(older_than)
                            ),
                        });
                        continue;
                    }
                }
            }
            if dry_run {
                let (files, bytes) = self.version_size(&version);
                report.bytes_freed += bytes;
                report.collected.push(CollectedVersion { version, files, bytes });
                continue;
            }
            match self.collect(&version)? {
                Outcome::Collected { files, bytes } => {
                    report.bytes_freed += bytes;
                    report.collected.push(CollectedVersion { version, files, bytes });
                }
                Outcome::Kept(reason) => report.kept.push(KeptVersion { version, reason }),
                Outcome::Changed => {}
            }
        }
        if dry_run {
            return Ok(report);
        }
        report.leftovers_removed = self.store.remove_leftovers()?;
        let repair = self.remove_interrupted_saves(DEFAULT_GRACE)?;
        report.leftovers_removed.extend(repair.removed);
        report.uploads_aborted = self
            .store
            .abort_stale_uploads(&self.keys.versions(), DEFAULT_GRACE)?
            .aborted;
        report.leftovers_removed.extend(self.remove_stale_pins(DEFAULT_GRACE)?);
        if !report.collected.is_empty() {
            // Rows of removed versions would only be lag (readers skip
            // them); folding the segments drops them.
            let _ = self.compact_catalog();
        }
        Ok(report)
    }

    /// The files a version's metadata lists and their bytes (metadata
    /// included), for the report; (0, 0) if it cannot be read.
    fn version_size(&self, version: &ModelVersion) -> (usize, u64) {
        match self.read_metadata_unchecked(version) {
            Ok((bytes, metadata)) => {
                let files = metadata.stored_files();
                (
                    files.len() + 1,
                    files.iter().map(|f| f.size).sum::<u64>() + bytes.len() as u64,
                )
            }
            Err(_) => (0, 0),
        }
    }

    /// Claims, looks, removes (see the module docs).
    fn collect(&self, version: &ModelVersion) -> Result<Outcome> {
        let mut claimed = None;
        for _ in 0..CLAIM_RETRIES {
            match self.claim(version)? {
                Claim::Got(tag) => {
                    claimed = Some(tag);
                    break;
                }
                Claim::Changed => return Ok(Outcome::Changed),
                Claim::Kept(reason) => return Ok(Outcome::Kept(reason)),
                Claim::Retry => continue,
            }
        }
        let Some(tag) = claimed else {
            return Ok(Outcome::Kept(
                "its record kept changing while gc claimed it; the next gc tries again".into(),
            ));
        };
        let busy = if self.is_pinned(version, DEFAULT_GRACE)? {
            Some("an alias is being moved to it (a promotion or save under way); the next gc looks again".to_string())
        } else {
            self.alias_naming(version)?
                .map(|r| format!("alias {} names it (moved there meanwhile, which undeletes it)", r.alias))
        };
        if let Some(reason) = busy {
            self.unclaim(version, &tag);
            return Ok(Outcome::Kept(reason));
        }
        // Still our claim? A mover's undo (pinned before we looked, done
        // before it unpinned) or an undelete before the claim shows here.
        match self.read_state::<DeletionRecord>(version)? {
            Some((_, pointer)) if pointer.tag == tag => {}
            _ => return Ok(Outcome::Changed),
        }
        let (files, bytes) = self.remove_version_files(version)?;
        self.mark_collected(version, bytes);
        Ok(Outcome::Collected { files, bytes })
    }

    /// Step 1: the record gains the claim, unless it changed.
    fn claim(&self, version: &ModelVersion) -> Result<Claim> {
        let Some(current) = self.read_state::<DeletionRecord>(version)? else {
            return Ok(Claim::Changed);
        };
        let (record, pointer) = &current;
        if !record.deleted {
            return Ok(Claim::Changed);
        }
        match record.collection.as_ref().map(|c| c.state) {
            Some(CollectionState::Collected) => return Ok(Claim::Changed),
            Some(CollectionState::Collecting) => return Ok(Claim::Got(pointer.tag.clone())),
            None => {}
        }
        if let Some(alias) = self.alias_naming(version)? {
            return Ok(Claim::Kept(format!("alias {} names it", alias.alias)));
        }
        let claim = DeletionRecord {
            seq: next_seq(Some(&current)),
            collection: Some(Collection {
                state: CollectionState::Collecting,
                at: OffsetDateTime::now_utc(),
                by: self.actor().clone(),
                bytes: None,
            }),
            ..record.clone()
        };
        match self.swap_state(Some(&current), &claim) {
            Ok(tag) => Ok(Claim::Got(tag)),
            Err(RegistryError::Store(StoreError::Conflict { .. })) => Ok(Claim::Retry),
            Err(e) => Err(e),
        }
    }

    /// Takes a claim back (the version stays deleted and restorable). If
    /// the record changed meanwhile (a mover undid the deletion), that
    /// change stands.
    fn unclaim(&self, version: &ModelVersion, tag: &PointerTag) {
        let Ok(Some(current)) = self.read_state::<DeletionRecord>(version) else {
            return;
        };
        if current.1.tag != *tag {
            return;
        }
        let back = DeletionRecord {
            seq: next_seq(Some(&current)),
            collection: None,
            ..current.0.clone()
        };
        let _ = self.swap_state(Some(&current), &back);
    }

    /// Step 3's record: best effort (a claim left behind is finished, with
    /// nothing left to remove, by the next gc).
    fn mark_collected(&self, version: &ModelVersion, bytes: u64) {
        for _ in 0..CLAIM_RETRIES {
            let Ok(Some(current)) = self.read_state::<DeletionRecord>(version) else {
                return;
            };
            let Some(collection) = &current.0.collection else {
                return;
            };
            if collection.state == CollectionState::Collected {
                return;
            }
            let done = DeletionRecord {
                seq: next_seq(Some(&current)),
                collection: Some(Collection {
                    state: CollectionState::Collected,
                    at: OffsetDateTime::now_utc(),
                    by: self.actor().clone(),
                    bytes: Some(bytes),
                }),
                ..current.0.clone()
            };
            match self.swap_state(Some(&current), &done) {
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                _ => return,
            }
        }
    }

    /// Removes a claimed version's files, `metadata.json` first, and its
    /// catalog segment. Returns how many files it removed, and the bytes
    /// its metadata says they held.
    fn remove_version_files(&self, version: &ModelVersion) -> Result<(usize, u64)> {
        let (_, bytes) = self.version_size(version);
        let mut removed = 0;
        let mut remove = |key: &str| match self.store.delete(key) {
            Ok(()) => {
                removed += 1;
                Ok(())
            }
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        };
        remove(&self.keys.metadata(version))?;
        for key in self.store.list(&self.keys.version_prefix(version))? {
            remove(&key)?;
        }
        let _ = self.store.delete(&self.keys.catalog_segment(version));
        Ok((removed, bytes))
    }
}

enum Claim {
    Got(PointerTag),
    Kept(String),
    Changed,
    Retry,
}
