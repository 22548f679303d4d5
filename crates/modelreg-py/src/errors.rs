//! Registry errors as the Python exceptions of `modelreg.errors`.
//!
//! The exception classes are defined in Python (`python/modelreg/errors.py`)
//! so that they can also derive from the built-in exception a Python caller
//! would catch (`NotFound` is a `LookupError`, `InvalidName` a `ValueError`,
//! `StoreError` an `OSError`); this module only picks the class and passes
//! the message, the same text the command-line tools print.

use pyo3::prelude::*;
use registry_core::RegistryError;
use registry_open::OpenError;

/// The `modelreg.errors` class and the stable code of an error.
fn classify(e: &RegistryError) -> (&'static str, &'static str) {
    use RegistryError as E;
    match e {
        E::InvalidVersion { .. } => ("InvalidName", "invalid_version"),
        E::InvalidAlias { .. } => ("InvalidName", "invalid_alias"),
        E::InvalidModelName { .. } => ("InvalidName", "invalid_model_name"),
        E::InvalidUri { .. } => ("InvalidName", "invalid_uri"),
        E::InvalidTarget { .. } => ("InvalidName", "invalid_target"),
        E::ReservedAlias { .. } => ("InvalidName", "reserved_alias"),
        E::InvalidMetric { .. } => ("InvalidName", "invalid_metric"),
        E::ModelNotFound { .. } => ("NotFound", "model_not_found"),
        E::VersionNotFound { .. } => ("NotFound", "version_not_found"),
        E::AliasNotFound { .. } => ("NotFound", "alias_not_found"),
        E::AliasDeleted { .. } => ("NotFound", "alias_deleted"),
        E::FileNotFound { .. } => ("NotFound", "file_not_found"),
        E::NoArtifact { .. } => ("NotFound", "no_single_model_file"),
        E::NoRegistry { .. } => ("NotFound", "no_registry"),
        E::OnlyPreReleases { .. } => ("NotFound", "only_pre_releases"),
        E::Empty { .. } => ("NotFound", "empty"),
        E::NothingToRollBack { .. } => ("NotFound", "nothing_to_roll_back"),
        E::NotAnEarlierTarget { .. } => ("NotFound", "not_an_earlier_target"),
        E::VersionExists { .. } => ("VersionExists", "version_exists"),
        E::AliasConflict { .. } => ("AliasConflict", "alias_conflict"),
        E::LatestNotMoved { .. } => ("AliasConflict", "latest_not_moved"),
        E::CommitLost { .. } => ("AliasConflict", "commit_lost"),
        E::PromotionRefused { .. } => ("PromotionRefused", "promotion_refused"),
        E::IntegrityMismatch { .. } => ("IntegrityError", "integrity_mismatch"),
        E::InvalidMetadata { .. } => ("IntegrityError", "invalid_metadata"),
        E::UnsupportedFormat { .. } => ("IntegrityError", "unsupported_format"),
        E::InvalidModel { .. } => ("IntegrityError", "invalid_model"),
        E::Decode { .. } => ("IntegrityError", "decode"),
        E::SignatureRefused { .. } => ("SignatureError", "signature_refused"),
        E::SignatureRequired { .. } => ("SignatureError", "signature_required"),
        E::AlreadySigned { .. } => ("RegistryError", "already_signed"),
        E::InvalidFiles { .. } => ("InvalidInput", "invalid_files"),
        E::Encode { .. } => ("InvalidInput", "encode"),
        E::OutputExists { .. } => ("OutputExists", "output_exists"),
        E::Store(_) => ("StoreError", "store"),
        // A variant added later is still a registry error.
        #[allow(unreachable_patterns)]
        _ => ("RegistryError", "registry"),
    }
}

/// An instance of `modelreg.errors.<class>(message, code)`, or the error
/// that importing it raised.
pub fn raise(class: &str, code: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("modelreg.errors")
            .and_then(|m| m.getattr(class))
            .and_then(|cls| cls.call1((message, code)));
        match made {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        }
    })
}

/// A registry error as its Python exception.
pub fn registry(e: RegistryError) -> PyErr {
    let (class, code) = classify(&e);
    raise(class, code, e.to_string())
}

/// An error opening a registry as its Python exception.
pub fn open(e: OpenError) -> PyErr {
    match e {
        OpenError::Registry(e) => registry(e),
        OpenError::InvalidLocation { .. } => raise("InvalidName", "invalid_location", e.to_string()),
        OpenError::S3NotBuilt { .. } => raise("RegistryError", "s3_not_built", e.to_string()),
        OpenError::S3Setup { .. } => raise("StoreError", "s3_setup", e.to_string()),
        OpenError::Key(_) => raise("InvalidInput", "invalid_key", e.to_string()),
    }
}

/// Bad input from the caller (`modelreg.errors.InvalidInput`, a `ValueError`).
pub fn invalid(message: impl Into<String>) -> PyErr {
    raise("InvalidInput", "invalid_input", message.into())
}
