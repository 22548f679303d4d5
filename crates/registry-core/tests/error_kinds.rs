//! Every error variant with its kind and the kind's outside forms: exit
//! code, Python class, HTTP status. The exhaustive `match` below fails to
//! compile when a variant is added, so the new one joins this table (and
//! its snapshot) before it can ship.

use registry_core::store::StoreError;
use registry_core::{ErrorKind, RegistryError};

fn s() -> String {
    "x".into()
}

fn io() -> StoreError {
    StoreError::Io {
        location: s(),
        source: std::io::Error::other("full"),
    }
}

fn every_variant() -> Vec<RegistryError> {
    use RegistryError as E;
    let all = vec![
        E::InvalidVersion {
            input: s(),
            reason: s(),
        },
        E::InvalidAlias {
            input: s(),
            reason: s(),
        },
        E::InvalidModelName {
            input: s(),
            reason: s(),
        },
        E::ModelNotFound {
            model: s(),
            root: s(),
            available: vec![],
        },
        E::InvalidUri {
            input: s(),
            reason: s(),
        },
        E::NoArtifact {
            version: s(),
            files: vec![],
        },
        E::FileNotFound {
            version: s(),
            path: s(),
            available: vec![],
        },
        E::OutputExists { path: s() },
        E::OutputRefused { path: s(), reason: s() },
        E::InvalidOption {
            option: s(),
            reason: s(),
        },
        E::WrongModelType {
            version: s(),
            model: s(),
            held: s(),
            expected: s(),
        },
        E::InvalidFiles {
            location: s(),
            reason: s(),
        },
        E::ReservedAlias { alias: s() },
        E::VersionExists {
            version: s(),
            location: s(),
            complete: true,
        },
        E::LatestNotMoved {
            version: s(),
            source: Box::new(E::Store(io())),
        },
        E::CommitLost {
            version: s(),
            location: s(),
            reason: s(),
        },
        E::VersionNotFound {
            version: s(),
            root: s(),
            available: vec![],
        },
        E::AliasNotFound {
            alias: s(),
            root: s(),
            available: vec![],
        },
        E::AliasDeleted {
            alias: s(),
            version: s(),
            by: s(),
            at: s(),
        },
        E::NoRegistry { location: s() },
        E::OnlyPreReleases {
            root: s(),
            versions: vec![],
        },
        E::Empty { root: s() },
        E::AliasConflict {
            alias: s(),
            expected: None,
            actual: None,
        },
        E::InvalidTarget {
            input: s(),
            version_error: s(),
            alias_error: s(),
        },
        E::InvalidMetric {
            input: s(),
            reason: s(),
        },
        E::PromotionRefused {
            alias: s(),
            version: s(),
            reason: s(),
        },
        E::NotAnEarlierTarget {
            alias: s(),
            version: s(),
            current: s(),
            earlier: vec![],
        },
        E::NothingToRollBack { alias: s() },
        E::IntegrityMismatch {
            location: s(),
            what: "sha256",
            expected: s(),
            actual: s(),
        },
        E::InvalidMetadata {
            location: s(),
            reason: s(),
        },
        E::UnsupportedFormat {
            location: s(),
            found: 9,
            supported: 2,
        },
        E::InvalidModel {
            version: s(),
            model_type: s(),
            reason: s(),
        },
        E::SignatureRefused {
            version: s(),
            location: s(),
            reason: s(),
        },
        E::AlreadySigned {
            version: s(),
            location: s(),
        },
        E::SignatureRequired {
            alias: s(),
            location: s(),
        },
        E::Encode {
            version: s(),
            reason: s(),
        },
        E::Decode {
            location: s(),
            reason: s(),
        },
        E::Store(StoreError::NotFound { location: s() }),
        E::Store(StoreError::AlreadyExists { location: s() }),
        E::Store(StoreError::Conflict { location: s() }),
        E::Store(StoreError::TooLarge {
            location: s(),
            size: 2,
            limit: 1,
        }),
        E::Store(StoreError::SizeMismatch {
            location: s(),
            expected: 3,
            actual: 1,
        }),
        E::Store(StoreError::OutOfMemory {
            location: s(),
            size: 9,
            reason: s(),
        }),
        E::VersionDeleted {
            version: s(),
            at: s(),
            by: s(),
            reason: None,
            restore: s(),
        },
        E::VersionCollected { version: s(), at: s() },
        E::VersionInUse {
            version: s(),
            alias: s(),
            how: s(),
        },
        E::NotDeleted { version: s() },
        E::HookRefused {
            hook: s(),
            change: s(),
            reason: s(),
            output: s(),
        },
        E::Store(StoreError::InvalidKey { key: s(), reason: s() }),
        E::Store(StoreError::Unsafe {
            location: s(),
            reason: s(),
        }),
        E::Store(StoreError::Remote {
            location: s(),
            reason: s(),
        }),
        E::Store(io()),
    ];
    // Compiles only while every variant is listed above.
    for e in &all {
        match e {
            E::InvalidVersion { .. }
            | E::InvalidAlias { .. }
            | E::InvalidModelName { .. }
            | E::ModelNotFound { .. }
            | E::InvalidUri { .. }
            | E::NoArtifact { .. }
            | E::FileNotFound { .. }
            | E::OutputExists { .. }
            | E::OutputRefused { .. }
            | E::InvalidOption { .. }
            | E::WrongModelType { .. }
            | E::InvalidFiles { .. }
            | E::ReservedAlias { .. }
            | E::VersionExists { .. }
            | E::VersionCollected { .. }
            | E::LatestNotMoved { .. }
            | E::CommitLost { .. }
            | E::VersionNotFound { .. }
            | E::AliasNotFound { .. }
            | E::AliasDeleted { .. }
            | E::NoRegistry { .. }
            | E::OnlyPreReleases { .. }
            | E::Empty { .. }
            | E::AliasConflict { .. }
            | E::InvalidTarget { .. }
            | E::InvalidMetric { .. }
            | E::PromotionRefused { .. }
            | E::NotAnEarlierTarget { .. }
            | E::NothingToRollBack { .. }
            | E::IntegrityMismatch { .. }
            | E::InvalidMetadata { .. }
            | E::UnsupportedFormat { .. }
            | E::InvalidModel { .. }
            | E::SignatureRefused { .. }
            | E::AlreadySigned { .. }
            | E::SignatureRequired { .. }
            | E::Encode { .. }
            | E::Decode { .. }
            | E::VersionDeleted { .. }
            | E::VersionInUse { .. }
            | E::NotDeleted { .. }
            | E::HookRefused { .. }
            | E::Store(_) => {}
        }
    }
    all
}

#[test]
fn every_variant_has_a_kind_exit_code_python_class_and_http_status() {
    let mut table = String::from("code | kind | exit | python | http | mlflow\n");
    for e in every_variant() {
        let k = e.kind();
        table.push_str(&format!(
            "{} | {:?} | {} | {} | {} | {}\n",
            e.code(),
            k,
            k.exit_code(),
            k.python_class(),
            k.http_status(),
            k.mlflow_code()
        ));
    }
    insta::assert_snapshot!(table);
}

#[test]
fn codes_are_unique_and_every_kind_is_used() {
    let all = every_variant();
    let mut codes: Vec<&str> = all.iter().map(RegistryError::code).collect();
    codes.sort_unstable();
    let n = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), n, "two variants share a code");
    for kind in ErrorKind::ALL {
        assert!(all.iter().any(|e| e.kind() == kind), "{kind:?} is never used");
    }
}

#[test]
fn a_latest_not_moved_takes_the_kind_of_its_cause() {
    let e = RegistryError::LatestNotMoved {
        version: "1.0.0".into(),
        source: Box::new(RegistryError::Store(io())),
    };
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert_eq!(e.kind().exit_code(), 5);
}

#[test]
fn no_client_error_is_a_5xx() {
    for kind in [
        ErrorKind::InvalidName,
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::VersionExists,
        ErrorKind::AliasConflict,
        ErrorKind::PromotionRefused,
        ErrorKind::Refused,
        ErrorKind::OutputExists,
        ErrorKind::SignatureRefused,
        ErrorKind::SignatureRequired,
        ErrorKind::Deleted,
    ] {
        assert!((400..500).contains(&kind.http_status()), "{kind:?}");
    }
}

#[test]
fn a_full_disk_after_the_commit_says_only_what_is_true() {
    let e = RegistryError::LatestNotMoved {
        version: "1.0.0".into(),
        source: Box::new(RegistryError::Store(StoreError::Io {
            location: "registry/aliases/latest.json".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        })),
    };
    let text = e.to_string();
    assert!(text.contains("was saved and is complete"), "{text}");
    assert!(text.contains("this file was not written"), "{text}");
    assert!(!text.contains("nothing was changed"), "{text}");
}
